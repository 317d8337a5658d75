import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { heartbeatText, progressLines } from '../../cli/run';

describe('live progress', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'a download with a known size shows a bar and both sizes',
      { bytes: 512 * 1024, total: 2 * 1024 * 1024 },
      /^\[#####-{15}\]  25% 512\.0 KiB \/ 2\.0 MiB$/,
    ],
    ['a download of unknown size shows the bytes so far', { bytes: 3 * 1024 * 1024 }, /^3\.0 MiB$/],
    [
      'a training step shows step, epoch and loss',
      { epoch: 2, step: 50, of: 200, loss: 0.123456 },
      /^\[#####-{15}\]  25% step 50\/200 epoch 2 loss 0\.1235$/,
    ],
    ['row processing shows rows done', { done: 10, rows: 40 }, /25% 10\/40 rows$/],
    ['an unknown heartbeat shows nothing', { hello: 'world' }, /^$/],
    ['no heartbeat shows nothing', undefined, /^$/],
  ];
  for (const [name, beat, expected] of cases) test(name, () => assert.match(heartbeatText(beat), expected));

  test('each stage gets a line with its status, and retried stages say which attempt', () => {
    const lines = progressLines({
      warned: new Set(),
      progress: {
        pipeline: 'p',
        runId: 'r',
        status: 'running',
        stages: [
          { id: 'data', uses: 'download', queue: 'cpu', status: 'succeeded', cached: false },
          { id: 'baseline', uses: 'train', queue: 'gpu', status: 'running', cached: false },
          { id: 'audit', uses: 'audit', queue: 'cpu', status: 'pending', cached: false },
        ],
      },
      heartbeats: new Map([['baseline', { step: 1, of: 4 }]]),
      attempts: new Map([['baseline', 2]]),
    });
    assert.deepEqual(lines, [
      '  ✓ data      succeeded',
      '  ▶ baseline  running (attempt 2)  [#####---------------]  25% step 1/4',
      '  · audit     pending',
    ]);
  });
});
