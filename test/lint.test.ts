import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import { PROJECT_ROOT } from '../common/paths';

/** Lints a snippet as if it were a file at `path` in the repository. */
async function lint(path: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: PROJECT_ROOT });
  const [result] = await eslint.lintText(code, { filePath: join(PROJECT_ROOT, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message);
}

describe('the workflow sandbox lint rule', () => {
  const forbidden = [
    ["import { readFile } from 'node:fs/promises';", /deterministic/],
    ["import { createHash } from 'crypto';", /deterministic/],
    ["import { S3Client } from '@aws-sdk/client-s3';", /no I\/O/],
    ["import * as ort from 'onnxruntime-node';", /Inference runs in activities/],
    ["import { parse } from 'yaml';", /YAML is parsed in the client/],
    ["import { Client } from '@temporalio/client';", /@temporalio\/workflow only/],
    ["import { openStore } from '../store/index';", /Node-side modules/],
  ] as const;
  for (const [code, message] of forbidden) {
    test(`rejects \`${code}\` inside workflows/`, async () => {
      const messages = await lint('workflows/example.ts', `${code}\nexport const x = 1;\n`);
      assert.equal(messages.length, 1, `expected one violation, got ${JSON.stringify(messages)}`);
      assert.match(messages[0]!, message);
    });
  }

  test('allows type-only imports of Node-side modules in workflows/', async () => {
    assert.deepEqual(await lint('workflows/example.ts', "import type { ArtifactRef } from '../store/types';\nexport type X = ArtifactRef;\n"), []);
  });

  test('allows the same imports outside workflows/', async () => {
    assert.deepEqual(await lint('activities/example.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n"), []);
  });
});
