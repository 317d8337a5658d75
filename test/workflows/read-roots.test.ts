import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { startEngine, type Engine } from '../engine';

/** Every string in a history, payload bytes decoded as UTF-8: what anyone with history access can read. */
function historyText(history: temporal.api.history.v1.IHistory): string {
  const out: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') out.push(value);
    else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk(history);
  return out.join('\n');
}

const PASSWD_LINES = readFileSync('/etc/passwd', 'utf8')
  .split('\n')
  .filter((line) => line.length >= 8);

describe('a pipeline naming a file outside the readable roots', () => {
  let engine: Engine;
  // Production's defaults: the suite's Temporal is on 127.0.0.1, so these are a local stack's roots.
  before(async () => (engine = await startEngine({ readRoots: 'defaults' })));
  after(async () => engine?.close());

  const cases = [
    {
      name: 'a download of file:///etc/passwd',
      yaml: 'name: steal\nstages:\n  - { id: grab, uses: download, with: { url: "file:///etc/passwd" } }\n',
    },
    {
      name: 'a relative path climbing to /etc/passwd',
      yaml: 'name: climb\nstages:\n  - { id: grab, uses: download, with: { url: "../../../../../../../../etc/passwd" } }\n',
    },
    {
      name: 'a dataset stage parsing /etc/passwd',
      yaml: 'name: parse\nstages:\n  - id: grab\n    uses: dataset\n    with: { format: csv, url: "file:///etc/passwd", mapping: { text: root, label: { column: x, classes: [a, b] } } }\n',
    },
    {
      // The validator accepts an absolute path wherever a relative one is; the read roots still decide at run time.
      name: 'a dataset source naming /etc/passwd by its absolute path',
      yaml: 'name: absolute\nstages:\n  - id: grab\n    uses: dataset\n    with: { format: csv, sources: { train: { url: "/etc/passwd" } }, mapping: { text: root, label: { column: x, classes: [a, b] } } }\n',
    },
  ];
  for (const { name, yaml } of cases) {
    test(`${name} fails once, non-retryably, naming the rule, with no line of the file in the history`, async () => {
      const outcome = await engine.run(yaml);
      assert.equal(outcome.status, 'failed');
      const stage = outcome.progress.stages[0]!;
      assert.equal(stage.status, 'failed');
      assert.match(
        stage.error ?? '',
        /refused to read .*etc\/passwd: a local stack reads only the project, the pipeline's folder and data-mirror folders .*FAIRLINE_READ_ROOTS/,
      );
      const activity = outcome.error?.cause?.cause;
      assert.ok(activity instanceof ActivityFailure);
      const cause = activity.cause;
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, 'ReadRefused');
      assert.equal(cause.nonRetryable, true);
      const events = outcome.history.events ?? [];
      const stageScheduled = new Set(
        events
          .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStage')
          .map((e) => String(e.eventId)),
      );
      const started = events.filter(
        (e) =>
          e.activityTaskStartedEventAttributes &&
          stageScheduled.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)),
      );
      assert.equal(started.length, 1, 'one stage activity');
      assert.equal(started[0]!.activityTaskStartedEventAttributes!.attempt, 1, 'on its first attempt');
      const text = historyText(outcome.history);
      const leaked = PASSWD_LINES.filter((line) => text.includes(line));
      assert.deepEqual(leaked, [], 'no line of /etc/passwd in the history');
    });
  }
});
