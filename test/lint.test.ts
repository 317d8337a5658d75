import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import { PROJECT_ROOT } from '../common/paths';

/** Lints a snippet as if it were a file at `path` in the repository. */
async function lint(path: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: PROJECT_ROOT });
  const [result] = await eslint.lintText(code, { filePath: join(PROJECT_ROOT, path) });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports')
    .map((m) => m.message);
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
    ["import { canonicalRows } from '../pipeline/rows';", /Node-side modules/],
    ["import { ensureBuiltinModel } from '../models/builtin';", /Node-side modules/],
    ["import { audit } from '../stages/audit/implementation';", /Stage implementations run in activities/],
    ["import { builtinStages } from '../stages/implementations';", /Stage implementations run in activities/],
  ] as const;
  for (const [code, message] of forbidden) {
    test(`rejects \`${code}\` inside workflows/`, async () => {
      const messages = await lint('workflows/example.ts', `${code}\nexport const x = 1;\n`);
      assert.equal(messages.length, 1, `expected one violation, got ${JSON.stringify(messages)}`);
      assert.match(messages[0]!, message);
    });
  }

  test('allows stage contracts and stage errors in workflows/', async () => {
    assert.deepEqual(
      await lint(
        'workflows/example.ts',
        "import { STAGE_TYPES } from '../stages';\nimport { gatedModel } from '../stages/audit/contract';\nimport { isBuiltinModelName } from '../models/names';\nexport const x = [STAGE_TYPES, gatedModel, isBuiltinModelName];\n",
      ),
      [],
    );
  });

  test('allows type-only imports of Node-side modules in workflows/', async () => {
    assert.deepEqual(
      await lint(
        'workflows/example.ts',
        "import type { ArtifactRef } from '../store/types';\nexport type X = ArtifactRef;\n",
      ),
      [],
    );
  });

  test('allows the same imports outside workflows/', async () => {
    assert.deepEqual(
      await lint('activities/example.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n"),
      [],
    );
  });
});

describe('the layering lint rule: no module imports from a layer above its own', () => {
  const refused: [file: string, code: string][] = [
    ['store/example.ts', "import { runSpecSchema } from '../pipeline/run-spec';"],
    ['common/example.ts', "import type { FairlineConfig } from '../temporal.config';"],
    ['common/example.ts', "import { MODEL_MANIFEST } from '../models/builtin';"],
    ['common/example.ts', "import { runBootstrap } from '../infra/bootstrap';"],
    ['models/builtin.ts', "import { runBootstrap } from '../infra/bootstrap';"],
    ['models/builtin.ts', "import { classifyModel } from '../pipeline/model-ref';"],
    ['infra/bootstrap.ts', "import { classifyModel } from '../pipeline/model-ref';"],
    ['infra/bootstrap.ts', "import { loadConfig } from '../temporal.config';"],
    ['temporal.config.ts', "import { openStore } from './store';"],
    ['pipeline/example.ts', "import { Engine } from '../inference/engine';"],
    ['report/example.ts', "import { reactivity } from '../audit/reactivity';"],
    ['inference/example.ts', "import type { StageContext } from '../activities/stages/context';"],
    ['inference/engine.ts', "import type { StageContext } from '../activities/stages/context';"],
    ['inference/engine.ts', "import { localPath } from '../activities/stages/files';"],
    ['mining/example.ts', "import { readCanonicalRows } from '../activities/stages/rows';"],
    ['mining/pool.ts', "import { createActivities } from '../activities';"],
    ['mining/pool.ts', "import { defineStage } from '../activities/stages/define';"],
    ['stages/dataset/example.ts', "import { createWorkers } from '../../worker/create';"],
    // Stage contracts are workflow-safe: nothing below activities reaches an implementation.
    ['pipeline/example.ts', "import { audit } from '../stages/audit/implementation';"],
    ['audit/example.ts', "import { BUILTIN_STAGE_CODE } from '../stages/implementations';"],
    ['store/example.ts', "import { STAGE_TYPES } from '../stages';"],
    ['stages/audit/contract.ts', "import { audit } from './implementation';"],
    ['stages/audit/contract.ts', "import { parseCsv } from '../dataset/csv';"],
    ['stages/index.ts', "import { audit } from './audit/implementation';"],
    ['worker/example.ts', "import { runCommand } from '../cli/run';"],
  ];
  for (const [file, code] of refused) {
    test(`refuses \`${code}\` in ${file}`, async () => {
      const messages = await lint(file, `${code}\nexport const x = 1;\n`);
      assert.equal(messages.length, 1, JSON.stringify(messages));
      assert.match(messages[0]!, /Layering: \S+ sits below \S+; move what both need down instead/);
    });
  }

  const allowed: [file: string, code: string][] = [
    ['activities/stages/example.ts', "import { defaultGroups } from '../../audit/pairs';"],
    ['stages/audit/implementation.ts', "import { defaultGroups } from '../../audit/pairs';"],
    ['pipeline/example.ts', "import { STAGE_TYPES } from '../stages';"],
    ['audit/example.ts', "import { auditGroupsSchema } from '../stages/audit/contract';"],
    ['stages/audit/contract.ts', "import { fileInputSchema } from '../ner-mask/contract';"],
    ['stages/audit/contract.ts', "import { inferenceOptionsSchema } from '../../pipeline/inference';"],
    ['stages/index.ts', "import { auditContract } from './audit/contract';"],
    ['stages/implementations.ts', "import { audit } from './audit/implementation';"],
    ['pipeline/example.ts', "import { inferenceSchema } from './inference';"],
    ['mining/pool.ts', "import { canonicalRows } from '../pipeline/rows';"],
    ['report/example.ts', "import { runSpecSchema } from '../pipeline/run-spec';"],
    ['cli/example.ts', "import { createWorkers } from '../worker/create';"],
    // Bootstrap prebuilds the built-in models, which need only common/: models/ sits between them.
    ['infra/bootstrap.ts', "import { ensureBuiltinModel } from '../models/builtin';"],
    ['infra/bootstrap.ts', "import { BUILTIN_MODEL_NAMES } from '../models/names';"],
    ['pipeline/model-ref.ts', "import { isBuiltinModelName } from '../models/names';"],
    ['models/builtin.ts', "import { childEnv } from '../common/child-env';"],
    ['inference/engine.ts', "import { artifactName } from '../store/materialize';"],
    ['activities/stages/classifier.ts', "import { Classifier, readClassifierBundle } from '../../inference/engine';"],
  ];
  for (const [file, code] of allowed) {
    test(`allows \`${code}\` in ${file}`, async () => {
      assert.deepEqual(await lint(file, `${code}\nexport const x = 1;\n`), []);
    });
  }
});
