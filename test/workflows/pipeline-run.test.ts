import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEngine, activityIntervals, scheduledStages, type Engine } from '../engine';
import { startHttpSource, type HttpSource } from '../http-source';
import { endlessPipeline, fastRetry, missingPipeline } from '../pipelines';

describe('pipelineRun on the real dev server', () => {
  let engine: Engine;
  let http: HttpSource;

  before(async () => {
    engine = await startEngine();
    http = await startHttpSource();
  });
  after(async () => {
    await engine?.close();
    await http?.close();
  });

  test('a diamond DAG runs its two middle stages concurrently', async () => {
    const outcome = await engine.run(`
name: diamond
stages:
  - { id: top, uses: download, with: { url: "${http.url('/files/top.txt')}" } }
  - { id: left, uses: download, needs: [top], with: { url: "${http.url('/slow/left.txt?ms=1500')}" } }
  - { id: right, uses: download, needs: [top], with: { url: "${http.url('/slow/right.txt?ms=1500')}" } }
  - { id: bottom, uses: download, needs: [left, right], with: { url: "${http.url('/files/bottom.txt')}" } }
`);
    assert.equal(outcome.status, 'succeeded');
    const spans = activityIntervals(outcome.history);
    const left = spans.get('left')!;
    const right = spans.get('right')!;
    const top = spans.get('top')!;
    const bottom = spans.get('bottom')!;
    assert.ok(
      left.start < right.end && right.start < left.end,
      `left ${JSON.stringify(left)} and right ${JSON.stringify(right)} overlap`,
    );
    assert.ok(top.end <= Math.min(left.start, right.start), 'top finishes before the middle starts');
    assert.ok(bottom.start >= Math.max(left.end, right.end), 'bottom starts after both middle stages');
  });

  test('the run is findable by its search attributes, and each stage activity carries a summary naming its stage', async () => {
    const handle = await engine.start(`
name: searchable
stages:
  - { id: fetch-train, uses: download, with: { url: "${http.url('/files/s.txt')}" } }
`);
    const outcome = await engine.outcome(handle);
    assert.equal(outcome.status, 'succeeded');
    const summaries = (outcome.history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStage')
      .map((e) => e.userMetadata?.summary?.data);
    assert.equal(summaries.length, 1);
    assert.match(Buffer.from(summaries[0]!).toString(), /fetch-train \(download\)/);
    // Visibility is eventually consistent: poll briefly.
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = [];
      for await (const w of engine.client.workflow.list({
        query: `FairlinePipeline = "searchable" AND FairlineStatus = "succeeded" AND FairlineStage = "fetch-train"`,
      }))
        found.push(w.workflowId);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(found, [handle.workflowId]);
    const { memo } = await handle.describe();
    assert.match(String(memo?.summary), /^searchable .*: succeeded \(1 succeeded\)$/);
    assert.match(String(memo?.manifest), /^file:\/\/.*\/manifest\.json$/);
  });

  test('the run writes its manifest as a local activity in the workflow task after its last stage, never as a task on the cpu queue', async () => {
    const outcome = await engine.run(`
name: manifest-local
stages:
  - { id: only, uses: download, with: { url: "${http.url('/files/only.txt')}" } }
`);
    assert.equal(outcome.status, 'succeeded');
    const events = outcome.history.events ?? [];
    const scheduled = events.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
    assert.deepEqual(scheduled, ['runStage'], 'the stage is the only activity task');
    const markers = events.map((e) => e.markerRecordedEventAttributes?.markerName).filter(Boolean);
    assert.ok(markers.includes('core_local_activity'), `a local activity marker among ${JSON.stringify(markers)}`);
    const lastStage = events.findIndex((e) => e.activityTaskCompletedEventAttributes);
    const tasksAfter = events.slice(lastStage).filter((e) => e.workflowTaskCompletedEventAttributes).length;
    assert.equal(tasksAfter, 1, 'one workflow task after the stage writes the manifest and completes the run');
    assert.match(outcome.progress.manifest?.uri ?? '', /^file:\/\/.*\/manifest-local\/.*\/manifest\.json$/);
  });

  test('a transient failure (503 once) is retried and the run succeeds', async () => {
    const outcome = await engine.run(`
name: flaky
stages:
  - id: data
    uses: download
    ${fastRetry}
    with: { url: "${http.url('/flaky/flaky.txt')}" }
`);
    assert.equal(outcome.status, 'succeeded');
    assert.equal(http.hits.get('/flaky/flaky.txt'), 2);
    assert.equal(outcome.progress.stages[0]!.attempts, 2);
  });

  test('a 404 fails at once, non-retryable, and the stages downstream are skipped, never started', async () => {
    const outcome = await engine.run(missingPipeline(http));
    assert.equal(outcome.status, 'failed');
    assert.equal(http.hits.get('/missing/nothing.txt'), 1, 'no retry after a 404');
    assert.match(
      outcome.error!.cause!.message,
      /stage "data" failed: download of .*\/missing\/nothing\.txt failed with HTTP 404/,
    );
    const byId = new Map(outcome.progress.stages.map((s) => [s.id, s]));
    assert.equal(byId.get('data')!.status, 'failed');
    assert.equal(byId.get('after')!.status, 'skipped');
    assert.equal(byId.get('after')!.skippedBecause, 'data');
    assert.equal(byId.get('independent')!.status, 'succeeded');
    assert.deepEqual(scheduledStages(outcome.history).sort(), ['data', 'independent']);
    assert.equal(http.hits.get('/files/after.txt'), undefined);
  });

  test('a sha256 mismatch fails non-retryably, naming both digests', async () => {
    http.files.set('pinned.txt', 'actual content\n');
    const outcome = await engine.run(`
name: pinned
stages:
  - id: data
    uses: download
    ${fastRetry}
    with: { url: "${http.url('/files/pinned.txt')}", sha256: "${'a'.repeat(64)}" }
`);
    assert.equal(outcome.status, 'failed');
    assert.match(
      outcome.error!.cause!.message,
      new RegExp(`pins ${'a'.repeat(64)}, the download hashes to [0-9a-f]{64}`),
    );
    assert.equal(http.hits.get('/files/pinned.txt'), 1);
  });
});

describe('cancelling a run', () => {
  let engine: Engine;
  let http: HttpSource;
  before(async () => {
    engine = await startEngine();
    http = await startHttpSource();
  });
  after(async () => {
    await engine?.close();
    await http?.close();
  });

  test('cancel during a running stage ends the run as cancelled within the heartbeat timeout', async () => {
    const handle = await engine.start(endlessPipeline(http));
    // Wait until the stage is running and has heartbeated.
    for (let i = 0; i < 100; i++) {
      const description = await handle.describe();
      if ((description.raw.pendingActivities ?? []).some((a) => a.heartbeatDetails)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const requested = Date.now();
    await handle.cancel();
    const outcome = await engine.outcome(handle);
    const took = Date.now() - requested;
    assert.equal(outcome.status, 'cancelled');
    assert.ok(took < 3_000 + 2_000, `cancelled in ${took} ms`);
    const byId = new Map(outcome.progress.stages.map((s) => [s.id, s.status]));
    assert.equal(byId.get('trickle'), 'cancelled');
    assert.equal(byId.get('after'), 'cancelled');
    const events = outcome.history.events ?? [];
    assert.ok(
      events.some((e) => e.activityTaskCanceledEventAttributes),
      'the stage activity acknowledged the cancellation',
    );
    assert.equal(http.hits.get('/files/never.txt'), undefined);
    assert.ok(outcome.progress.manifest, 'a cancelled run still writes its manifest');
  });
});
