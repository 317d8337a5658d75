/**
 * Replays recorded histories (test/histories/*.json, written by scripts/record-histories.ts)
 * against today's `pipelineRun`. A failure means the workflow now makes different decisions for a
 * run that started under the old code: deploying it would break runs in flight with a
 * nondeterminism error. Gate the change with `patched()` (see the script's header) rather than
 * re-recording. Replay is offline: no Temporal server is needed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../common/paths';
import { workflowBundle } from '../engine';

const HISTORIES_DIR = join(PROJECT_ROOT, 'test', 'histories');
const histories = readdirSync(HISTORIES_DIR)
  .filter((file) => file.endsWith('.json'))
  .sort()
  .map((file) => ({ name: basename(file, '.json'), file: join(HISTORIES_DIR, file) }));

describe('replaying recorded pipelineRun histories', () => {
  test('the histories folder holds recorded runs to replay', () => {
    assert.ok(histories.length > 0, `no *.json in ${HISTORIES_DIR}: run \`npx tsx scripts/record-histories.ts\``);
  });

  for (const { name, file } of histories) {
    test(`today's pipelineRun replays the recorded "${name}" run without a determinism error`, async () => {
      const history = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${name}`);
    });
  }
});
