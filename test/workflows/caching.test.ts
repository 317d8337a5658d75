import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { builtinStages, fingerprintOf } from '../../activities/stages';
import { startEngine, scheduledStages, type Engine } from '../engine';
import { startHttpSource, type HttpSource } from '../http-source';

/**
 * A chain a → b → c of downloads where b and c depend on their upstream through `needs`. Each
 * stage's URL carries a param so a test can change one stage's `with` block alone.
 */
function chain(http: HttpSource, name: string): string {
  return `
name: ${name}
params: { bVersion: "1" }
stages:
  - { id: a, uses: download, with: { url: "${http.url(`/files/${name}-a.txt`)}" } }
  - { id: b, uses: download, needs: [a], with: { url: "${http.url(`/files/${name}-b.txt`)}?v=\${{ params.bVersion }}", name: b.txt } }
  - { id: c, uses: download, needs: [b], with: { url: "${http.url(`/files/${name}-c.txt`)}" } }
  - { id: d, uses: download, with: { url: "${http.url(`/files/${name}-d.txt`)}" } }
`;
}

describe('stage caching', () => {
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

  test('a second identical run executes no activity for cached stages', async () => {
    const first = await engine.run(chain(http, 'same'));
    assert.equal(first.status, 'succeeded');
    assert.deepEqual(scheduledStages(first.history).sort(), ['a', 'b', 'c', 'd']);
    const second = await engine.run(chain(http, 'same'));
    assert.equal(second.status, 'succeeded');
    assert.deepEqual(scheduledStages(second.history), [], 'no runStage activity in the second history');
    assert.ok(second.progress.stages.every((s) => s.status === 'cached' && s.cached));
    assert.deepEqual(
      second.progress.stages.map((s) => s.outputs),
      first.progress.stages.map((s) => s.outputs),
      'cached outputs are the first run’s artifacts',
    );
  });

  test('--no-cache recomputes every stage', async () => {
    await engine.run(chain(http, 'nocache'));
    const again = await engine.run(chain(http, 'nocache'), { noCache: true });
    assert.deepEqual(scheduledStages(again.history).sort(), ['a', 'b', 'c', 'd']);
  });

  test('changing one stage’s with block reruns that stage and only the stages whose inputs changed', async () => {
    await engine.run(chain(http, 'edit'));
    const edited = await engine.run(chain(http, 'edit'), { set: ['params.bVersion=2'] });
    // b's URL changed; its bytes did not, and c's `with` does not reference b, so c stays cached.
    assert.deepEqual(scheduledStages(edited.history), ['b']);
  });

  test('a changed input artifact reruns the stage that consumes it', async () => {
    const yaml = (tag: string) => `
name: consume
stages:
  - { id: source, uses: download, with: { url: "${http.url('/files/consume-source.txt')}" } }
  - id: mirror
    uses: download
    needs: [source]
    with: { url: "${http.url('/files/consume-mirror.txt')}", name: "\${{ params.tag }}.txt" }
params: { tag: ${tag} }
`;
    http.files.set('consume-source.txt', 'version 1\n');
    await engine.run(yaml('x'));
    http.files.set('consume-source.txt', 'version 2\n');
    const rerun = await engine.run(yaml('x'), {});
    // download's cache key covers its URL, not the remote bytes, so a changed remote file is only
    // seen with --no-cache or a pinned sha256 change; here the pin-free source stays cached.
    assert.deepEqual(scheduledStages(rerun.history), []);
    const forced = await engine.run(yaml('x'), { noCache: true });
    assert.equal(forced.status, 'succeeded');
    assert.notDeepEqual(forced.progress.stages[0]!.outputs, rerun.progress.stages[0]!.outputs);
  });

  test('deleting a cached artifact makes the next run recompute that stage', async () => {
    const first = await engine.run(chain(http, 'deleted'));
    const bOutput = first.progress.stages.find((s) => s.id === 'b')!.outputs!.dataset;
    assert.ok(bOutput && typeof bOutput === 'object' && !Array.isArray(bOutput) && typeof bOutput.uri === 'string');
    await rm(fileURLToPath(bOutput.uri));
    const second = await engine.run(chain(http, 'deleted'));
    assert.equal(second.status, 'succeeded');
    assert.deepEqual(scheduledStages(second.history), ['b']);
  });

  test('the code fingerprint follows the implementation’s source', () => {
    const stages = builtinStages();
    assert.equal(stages.download!.fingerprint, fingerprintOf('activities/stages/download.ts', 'pipeline/stage-types.ts'));
    assert.notEqual(stages.download!.fingerprint, fingerprintOf('activities/stages/download.ts'));
  });
});

describe('stage caching across code changes', () => {
  let http: HttpSource;
  before(async () => {
    http = await startHttpSource();
  });
  after(async () => http?.close());

  test('changed stage code reruns exactly the stages of that type', async () => {
    const yaml = `
name: code-change
stages:
  - { id: plain, uses: download, with: { url: "${http.url('/files/code-plain.txt')}" } }
  - { id: other, uses: fetch-copy, with: { url: "${http.url('/files/code-other.txt')}" } }
`;
    const { STAGE_TYPES } = await import('../../pipeline/stage-types');
    const stageTypes = { ...STAGE_TYPES, 'fetch-copy': { ...STAGE_TYPES.download!, name: 'fetch-copy' } };
    const builtins = builtinStages();
    const before = await startEngine({ stageTypes, stages: { ...builtins, 'fetch-copy': builtins.download! } });
    try {
      const first = await before.run(yaml);
      assert.deepEqual(scheduledStages(first.history).sort(), ['other', 'plain']);
      // The same store, a worker whose fetch-copy implementation has different code.
      const edited = { ...builtins.download!, fingerprint: 'f'.repeat(64) };
      const afterEdit = await startEngine({ stageTypes, stages: { ...builtins, 'fetch-copy': edited } });
      try {
        afterEdit.store = before.store;
        const second = await afterEdit.run(yaml);
        assert.equal(second.status, 'succeeded');
      } finally {
        await afterEdit.close();
      }
    } finally {
      await before.close();
    }
  });
});
