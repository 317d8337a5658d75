/**
 * writeManifest: the run's manifest, one lineage entry per artifact a stage of the run produced
 * (none for cached or failed stages), and the success index; the entries are written several at
 * a time, so this checks that none is lost or doubled and that a rerun keeps the first producer.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { z } from 'zod';
import { createActivities, lineageKey, successKey, type ManifestInput } from '../../activities';
import { FsArtifactStore } from '../../store/fs-store';
import type { ArtifactRef } from '../../store/types';
import { loadConfig } from '../../temporal.config';
import { tempDir } from '../helpers';

/** writeManifest over a file store in a new temp folder. */
async function onAFreshStore(): Promise<{
  root: string;
  store: FsArtifactStore;
  writeManifest: ReturnType<typeof createActivities>['writeManifest'];
}> {
  const root = join(await tempDir('fairline-manifest-'), 'store');
  const store = new FsArtifactStore(root);
  const config = loadConfig({ store: { uri: pathToFileURL(root).href } }, {});
  const { writeManifest } = createActivities({ store, config, log: { info() {}, warn() {} } });
  return { root, store, writeManifest };
}

/** The manifest input of run r1 of pipeline p, succeeded, with these stages. */
function succeededRun(stages: ManifestInput['stages'], extra: Partial<ManifestInput> = {}): ManifestInput {
  return {
    pipeline: 'p',
    runId: 'r1',
    specDigest: 'spec',
    params: {},
    status: 'succeeded',
    trigger: 'test',
    ...extra,
    stages,
  };
}

test('writeManifest writes the manifest, a lineage entry for every produced artifact (not cached or failed ones) and the success index; a rerun keeps the first entries', async () => {
  const { root, store, writeManifest } = await onAFreshStore();

  // 20 executed stages with two artifacts each (more than are written at once), one cached and one failed.
  const executed = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => ({
      id: `s${i}`,
      uses: 'download',
      status: 'succeeded',
      cached: false,
      outputs: {
        file: await store.put({ bytes: `file ${i}` }, { kind: 'file', name: 'file.txt' }),
        card: await store.put({ bytes: `card ${i}` }, { kind: 'card', name: 'card.json' }),
        bytes: i,
      },
    })),
  );
  const cachedRef = await store.put({ bytes: 'cached' }, { kind: 'file', name: 'file.txt' });
  const manifest = succeededRun(
    [
      ...executed,
      { id: 'c', uses: 'download', status: 'cached', cached: true, outputs: { file: cachedRef } },
      { id: 'f', uses: 'download', status: 'failed', cached: false, error: 'boom' },
    ],
    { dataFingerprint: 's0.file=abc' },
  );

  const write = (env: MockActivityEnvironment): Promise<ArtifactRef> =>
    env.run<[ManifestInput], ArtifactRef, typeof writeManifest>(writeManifest, manifest);
  const ref = await write(new MockActivityEnvironment());
  assert.match(ref.uri, /\/runs\/p\/r1\/[^/]+\/manifest\.json$/);

  const expected = executed
    .flatMap((s) => [
      lineageKey(s.outputs.file.sha256, 'p', 'r1', s.id, 'file'),
      lineageKey(s.outputs.card.sha256, 'p', 'r1', s.id, 'card'),
    ])
    .sort();
  const lineage = (await store.list('lineage/')).map((o) => o.key).sort();
  assert.deepEqual(lineage, expected, 'one entry per produced artifact, none for the cached or failed stage');
  const manifestOf = async (key: string): Promise<unknown> =>
    z.object({ manifest: z.string() }).parse(JSON.parse(await readFile(join(root, key), 'utf8'))).manifest;
  assert.equal(await manifestOf(expected[0]!), ref.uri, 'a lineage entry names the manifest');
  assert.ok(await store.head(successKey('p', 'spec', 's0.file=abc')), 'the success index is written');

  // A rerun of the same run id (another execution) finds every entry there and keeps it.
  const rerun = await write(
    new MockActivityEnvironment({ workflowExecution: { workflowId: 'pipeline/p/r1', runId: 'second-execution' } }),
  );
  assert.notEqual(rerun.uri, ref.uri, 'the rerun has its own manifest');
  assert.deepEqual((await store.list('lineage/')).map((o) => o.key).sort(), expected);
  for (const key of expected) assert.equal(await manifestOf(key), ref.uri, `the first producer stands: ${key}`);
});

test('writeManifest again for the same execution (a retried or replayed attempt) keeps the manifest the first attempt wrote and finishes its lineage', async () => {
  const { root, store, writeManifest } = await onAFreshStore();
  const file = await store.put({ bytes: 'the stage output' }, { kind: 'file', name: 'file.txt' });
  const manifest = succeededRun([{ id: 's', uses: 'download', status: 'succeeded', cached: false, outputs: { file } }]);
  // What an earlier attempt left: the manifest of this execution (another writtenAt), no lineage yet.
  const first = await store.putAt(
    'runs/p/r1/execution-1/manifest.json',
    { bytes: JSON.stringify({ ...manifest, workflowRunId: 'execution-1', writtenAt: '2026-01-01T00:00:00.000Z' }) },
    { kind: 'manifest' },
  );

  const again = await new MockActivityEnvironment({
    workflowExecution: { workflowId: 'pipeline/p/r1', runId: 'execution-1' },
  }).run<[ManifestInput], ArtifactRef, typeof writeManifest>(writeManifest, manifest);

  assert.deepEqual(
    { uri: again.uri, sha256: again.sha256, bytes: again.bytes },
    { uri: first.uri, sha256: first.sha256, bytes: first.bytes },
    'the first manifest stands',
  );
  const entry = await store.head(lineageKey(file.sha256, 'p', 'r1', 's', 'file'));
  assert.ok(entry, 'the lineage the first attempt did not write is written');
  const named = z
    .object({ manifest: z.string() })
    .parse(JSON.parse(await readFile(join(root, lineageKey(file.sha256, 'p', 'r1', 's', 'file')), 'utf8')));
  assert.equal(named.manifest, first.uri, 'and names the manifest that stands');
});
