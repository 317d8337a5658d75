/**
 * defineStage ties a stage's implementation to its contract: the compiler checks the returned
 * outputs against the declared output schemas (the `@ts-expect-error` lines below fail the
 * typecheck if that check ever goes), and at run time a result that breaks the contract is
 * refused before it leaves the worker, naming the stage and the key. Through a pipeline run, the
 * refusal fails the stage once, without retries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { defineStage } from '../../../activities/stages/define';
import { StageInputInvalid, StageOutputInvalid } from '../../../common/errors';
import { STAGE_TYPES } from '../../../stages';
import { artifactOutput, defineContract } from '../../../stages/define';
import { BUILTIN_STAGE_CODE, builtinStages } from '../../../stages/implementations';
import { directContext, type DirectContext } from '../../classifier';
import { startEngine, type Engine } from '../../engine';

const countContract = defineContract({
  name: 'count',
  version: '1',
  description: 'Count the bytes of an artifact (test stage)',
  with: z
    .object({ dataset: artifactOutput, mode: z.enum(['right', 'string', 'missing', 'extra']).default('right') })
    .strict(),
  outputs: { dataset: artifactOutput, bytes: z.number().int() },
  defaults: STAGE_TYPES.download!.defaults,
});

// The compiler refuses implementations whose outputs break the contract.
// @ts-expect-error `bytes` must be a number
defineStage(countContract, async (spec) => ({ dataset: spec.dataset, bytes: 'three' }));
// @ts-expect-error `bytes` is declared and missing
defineStage(countContract, async (spec) => ({ dataset: spec.dataset }));

/**
 * A stage that returns what its `with.mode` asks for, past the compiler (JSON.parse gives `any`, as plain JavaScript
 * would).
 */
const count = defineStage(countContract, async (spec, context) => {
  const bytes = (await context.store.read(spec.dataset)).length;
  const outputs = {
    right: { dataset: spec.dataset, bytes },
    string: { dataset: spec.dataset, bytes: String(bytes) },
    missing: { dataset: spec.dataset },
    extra: { dataset: spec.dataset, bytes, lines: 1 },
  }[spec.mode];
  return JSON.parse(JSON.stringify(outputs));
});

describe('defineStage', () => {
  let direct: DirectContext;
  before(async () => {
    direct = await directContext('counter');
  });

  test('passes the parsed `with` to the implementation (defaults applied) and returns its outputs as it made them', async () => {
    const dataset = await direct.dataset(['abc']);
    assert.deepEqual(await count({ dataset }, direct.context), { dataset, bytes: 4 });
  });

  test('refuses a bad `with` as StageInputInvalid naming the key, before the implementation runs', async () => {
    await assert.rejects(
      count({ dataset: 'not a ref' }, direct.context),
      (error: unknown) =>
        error instanceof StageInputInvalid && /stage "counter": invalid input: dataset: /.test(error.message),
    );
  });

  const broken: [mode: string, message: RegExp][] = [
    [
      'string',
      /^stage "counter" \(count\) returned outputs that break its contract: bytes: Invalid input: expected number, received string$/,
    ],
    [
      'missing',
      /^stage "counter" \(count\) returned outputs that break its contract: bytes: Invalid input: expected number, received undefined$/,
    ],
    [
      'extra',
      /^stage "counter" \(count\) returned outputs that break its contract: \(outputs\): Unrecognized key: "lines"$/,
    ],
  ];
  for (const [mode, message] of broken) {
    test(`refuses outputs that break the contract (${mode}) as a non-retryable StageOutputInvalid naming the stage and the key`, async () => {
      const dataset = await direct.dataset(['abc']);
      await assert.rejects(count({ dataset, mode }, direct.context), (error: unknown) => {
        assert.ok(error instanceof StageOutputInvalid, String(error));
        assert.match(error.message, message);
        assert.equal(error.retryable, false);
        return true;
      });
    });
  }

  test('every registered implementation is defined against the registered contract of its name', () => {
    assert.deepEqual(Object.keys(BUILTIN_STAGE_CODE).sort(), Object.keys(STAGE_TYPES).sort());
    for (const [name, { implementation }] of Object.entries(BUILTIN_STAGE_CODE)) {
      assert.equal('contract' in implementation ? implementation.contract : undefined, STAGE_TYPES[name], name);
    }
  });
});

describe('defineStage in a pipeline run', () => {
  let engine: Engine;
  before(async () => {
    const stageTypes = { ...STAGE_TYPES, count: countContract };
    engine = await startEngine({
      stageTypes,
      stages: { ...builtinStages(), count: { implementation: count, fingerprint: 'd'.repeat(64) } },
    });
  });
  after(async () => {
    await engine?.close();
  });

  test('a stage whose result breaks its contract fails once, naming the stage and the key, and is not retried', async () => {
    const direct = await directContext('file');
    const file = await direct.dataset(['abc']);
    const outcome = await engine.run(`
name: broken-outputs
stages:
  - { id: source, uses: download, with: { url: "${file.uri}" } }
  - { id: counter, uses: count, needs: [source], with: { dataset: "\${{ stages.source.outputs.dataset }}", mode: string } }
`);
    assert.equal(outcome.status, 'failed');
    const counter = outcome.progress.stages.find((s) => s.id === 'counter')!;
    assert.equal(counter.status, 'failed');
    assert.match(
      outcome.error!.cause!.message,
      /stage "counter" \(count\) returned outputs that break its contract: bytes: Invalid input: expected number, received string/,
    );
    assert.equal(counter.attempts, 1);
  });
});
