/**
 * A failure carries a bounded message. A stage error the size of a stderr dump would not fit in
 * Temporal's history: above ~2 MB the server keeps only "Failure exceeds size limit", above the
 * 4 MB gRPC limit the completion is refused and the stage times out. The message keeps its start
 * and its end, and says how much is left out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { boundedMessage, MAX_FAILURE_MESSAGE } from '../../activities/failures';
import { defineStage } from '../../activities/stages/define';
import { condition } from '../../common/errors';
import { STAGE_TYPES } from '../../stages';
import { defineContract } from '../../stages/define';
import { builtinStages } from '../../stages/implementations';
import { startEngine, type Engine } from '../engine';

describe('boundedMessage', () => {
  test('leaves a message of up to MAX_FAILURE_MESSAGE characters as it is', () => {
    const message = 'y'.repeat(MAX_FAILURE_MESSAGE);
    assert.equal(boundedMessage(message), message);
  });

  test('cuts a longer one to its first and last halves of the bound, saying how many characters are left out', () => {
    const message = `HEAD${'x'.repeat(1_000_000)}TAIL`;
    const bounded = boundedMessage(message);
    const half = MAX_FAILURE_MESSAGE / 2;
    assert.equal(bounded.slice(0, half), message.slice(0, half));
    assert.equal(bounded.slice(-half), message.slice(-half));
    assert.match(bounded, new RegExp(` … \\[${message.length - MAX_FAILURE_MESSAGE} characters left out\\] … `));
    assert.ok(bounded.startsWith('HEAD') && bounded.endsWith('TAIL'));
  });
});

class StderrDump extends condition('StderrDump', false) {
  constructor(readonly size: number) {
    super(`the tool failed: ${'progress 1% '.repeat(Math.ceil(size / 12)).slice(0, size)} the real cause`);
  }
}

const shoutContract = defineContract({
  name: 'shout',
  version: '1',
  description: 'Fail with a message of `size` characters (test stage)',
  with: z.object({ size: z.number().int().positive() }).strict(),
  outputs: {},
  defaults: STAGE_TYPES.download!.defaults,
});
const shout = defineStage(shoutContract, async (spec) => {
  throw new StderrDump(spec.size);
});

describe('a stage that fails with a 3 MB message', () => {
  let engine: Engine;
  before(async () => {
    engine = await startEngine({
      stageTypes: { ...STAGE_TYPES, shout: shoutContract },
      stages: { ...builtinStages(), shout: { implementation: shout, fingerprint: 'e'.repeat(64) } },
    });
  });
  after(async () => {
    await engine?.close();
  });

  test('fails once with its own type, the start and the end of its message, not a timeout or "Failure exceeds size limit"', async () => {
    const outcome = await engine.run(`
name: loud-failure
stages:
  - { id: loud, uses: shout, with: { size: 3000000 } }
`);
    assert.equal(outcome.status, 'failed');
    const loud = outcome.progress.stages.find((s) => s.id === 'loud')!;
    assert.equal(loud.status, 'failed');
    assert.equal(loud.attempts, 1);
    const cause = outcome.error!.cause!;
    assert.match(cause.message, /^stage "loud" failed: the tool failed: progress 1% /);
    assert.match(cause.message, /characters left out\] … .* the real cause$/);
    assert.ok(cause.message.length < MAX_FAILURE_MESSAGE + 100, `message of ${cause.message.length} characters`);
  });
});
