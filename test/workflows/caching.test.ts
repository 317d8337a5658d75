import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startEngine, scheduledStages, type Engine } from '../engine';
import { startHttpSource, type HttpSource } from '../http-source';
import { testStages, testStageTypes } from '../stages';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * a (pinned download) → b (concat of a) → c (concat of b); d (pinned download) stands alone.
 * `params.bName` feeds b's `with` only; `params.aText` picks which body a's pin expects.
 */
function pipeline(http: HttpSource, name: string, aBody: string): string {
  http.files.set(`${name}-a.txt`, aBody);
  http.files.set(`${name}-d.txt`, `d of ${name}\n`);
  return `
name: ${name}
params: { bName: b.txt }
stages:
  - { id: a, uses: download, with: { url: "${http.url(`/files/${name}-a.txt`)}", sha256: "${sha(aBody)}" } }
  - { id: b, uses: concat, needs: [a], with: { parts: ["\${{ stages.a.outputs.dataset }}"], name: "\${{ params.bName }}" } }
  - { id: c, uses: concat, needs: [b], with: { parts: ["\${{ stages.b.outputs.dataset }}"] } }
  - { id: d, uses: download, with: { url: "${http.url(`/files/${name}-d.txt`)}", sha256: "${sha(`d of ${name}\n`)}" } }
`;
}

describe('stage caching', () => {
  let engine: Engine;
  let http: HttpSource;
  before(async () => {
    engine = await startEngine({ stages: testStages(), stageTypes: testStageTypes });
    http = await startHttpSource();
  });
  after(async () => {
    await engine?.close();
    await http?.close();
  });

  test('a second identical run executes no activity for cached stages', async () => {
    const first = await engine.run(pipeline(http, 'same', 'alpha\n'));
    assert.equal(first.status, 'succeeded');
    assert.deepEqual(scheduledStages(first.history).sort(), ['a', 'b', 'c', 'd']);
    const second = await engine.run(pipeline(http, 'same', 'alpha\n'));
    assert.equal(second.status, 'succeeded');
    assert.deepEqual(scheduledStages(second.history), [], 'no runStage activity in the second history');
    assert.ok(second.progress.stages.every((s) => s.status === 'cached' && s.cached));
    assert.deepEqual(
      second.progress.stages.map((s) => s.outputs),
      first.progress.stages.map((s) => s.outputs),
    );
  });

  test('--no-cache recomputes every stage', async () => {
    await engine.run(pipeline(http, 'nocache', 'alpha\n'));
    const again = await engine.run(pipeline(http, 'nocache', 'alpha\n'), { noCache: true });
    assert.deepEqual(scheduledStages(again.history).sort(), ['a', 'b', 'c', 'd']);
  });

  test('changing one stage’s with block reruns that stage, and not a consumer whose input bytes are unchanged', async () => {
    await engine.run(pipeline(http, 'edit', 'alpha\n'));
    const edited = await engine.run(pipeline(http, 'edit', 'alpha\n'), { set: ['params.bName=renamed.txt'] });
    assert.equal(edited.status, 'succeeded');
    // b writes the same bytes under a new name; c is keyed on their digest, so it stays cached.
    assert.deepEqual(scheduledStages(edited.history), ['b']);
  });

  test('changing an input reruns exactly the stages downstream of it', async () => {
    await engine.run(pipeline(http, 'input', 'alpha\n'));
    const changed = await engine.run(pipeline(http, 'input', 'beta\n'));
    assert.equal(changed.status, 'succeeded');
    assert.deepEqual(scheduledStages(changed.history), ['a', 'b', 'c']);
  });

  test('an unpinned download always runs, and its consumers stay cached while its bytes do not change', async () => {
    http.files.set('unpinned.txt', 'steady\n');
    const yaml = `
name: unpinned
stages:
  - { id: a, uses: download, with: { url: "${http.url('/files/unpinned.txt')}" } }
  - { id: b, uses: concat, needs: [a], with: { parts: ["\${{ stages.a.outputs.dataset }}"] } }
`;
    await engine.run(yaml);
    const same = await engine.run(yaml);
    assert.deepEqual(scheduledStages(same.history), ['a']);
    http.files.set('unpinned.txt', 'moved on\n');
    const moved = await engine.run(yaml);
    assert.deepEqual(scheduledStages(moved.history), ['a', 'b']);
  });

  test('deleting a cached artifact makes the next run recompute that stage', async () => {
    const first = await engine.run(pipeline(http, 'deleted', 'alpha\n'));
    const bOutput = first.progress.stages.find((s) => s.id === 'b')!.outputs!.dataset;
    assert.ok(bOutput && typeof bOutput === 'object' && !Array.isArray(bOutput) && typeof bOutput.uri === 'string');
    await rm(fileURLToPath(bOutput.uri));
    const second = await engine.run(pipeline(http, 'deleted', 'alpha\n'));
    assert.equal(second.status, 'succeeded');
    assert.deepEqual(scheduledStages(second.history), ['b']);
  });
});

describe('stage caching across code changes', () => {
  test('a worker with changed stage code reruns exactly the stages of that type', async () => {
    const http = await startHttpSource();
    const before = await startEngine({ stages: testStages('1'.repeat(64)), stageTypes: testStageTypes });
    let afterEdit: Engine | undefined;
    try {
      const first = await before.run(pipeline(http, 'code', 'alpha\n'));
      assert.deepEqual(scheduledStages(first.history).sort(), ['a', 'b', 'c', 'd']);
      await before.close();
      afterEdit = await startEngine({
        stages: testStages('2'.repeat(64)),
        stageTypes: testStageTypes,
        storeDir: before.storeDir,
      });
      const second = await afterEdit.run(pipeline(http, 'code', 'alpha\n'));
      assert.equal(second.status, 'succeeded');
      assert.deepEqual(scheduledStages(second.history), ['b', 'c']);
    } finally {
      await afterEdit?.close();
      await http.close();
    }
  });
});
