/**
 * `fairline gc` (store/gc.ts) on both backends: the filesystem store on a temporary directory
 * and the S3 store on a real MinIO this file starts. Each backend gets a store laid out as runs
 * leave it: a manifest naming a classifier bundle (which names its model, tokenizer and config),
 * a cache entry naming an hf-model bundle (which names its files), a lineage record, a
 * trainer-failure record, checkpoint bundles of a running and of an ended execution, orphans.
 *
 *   npx tsx infra/run-tests.ts test/store/gc.test.ts
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startMinio, type MinioServer } from '../../infra/minio';
import { FsArtifactStore } from '../../store/fs-store';
import { collectGarbage } from '../../store/gc';
import { createS3Store } from '../../store/s3-store';
import type { ArtifactRef, ArtifactStore } from '../../store/types';

interface Backend {
  name: string;
  open(scratch: string): Promise<{ store: ArtifactStore; stop(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'filesystem store',
    async open(scratch) {
      const store = new FsArtifactStore(join(scratch, 'artifacts'));
      return { store, stop: async () => store.close() };
    },
  },
  {
    name: 'S3 store on MinIO',
    async open(scratch) {
      const credentials = { accessKeyId: 'gc-test-user', secretAccessKey: randomBytes(16).toString('hex') };
      const minio: MinioServer = await startMinio({
        dataDir: join(scratch, 'minio'),
        accessKey: credentials.accessKeyId,
        secretKey: credentials.secretAccessKey,
      });
      const store = createS3Store({ uri: 's3://fairline-gc/artifacts', endpoint: minio.endpoint, credentials });
      await store.ensureBucket();
      return {
        store,
        stop: async () => {
          await store.close();
          await minio.stop();
        },
      };
    },
  },
];

const LIVE = 'a1b2c3d4-live-execution';
const ENDED = 'e5f6a7b8-ended-execution';

/** Stores a store as runs leave it; returns the keys gc must keep and those it must remove. */
async function layOut(store: ArtifactStore): Promise<{ keep: string[]; remove: string[]; orphanBytes: number }> {
  const key = (ref: ArtifactRef): string => store.keyOf(ref.uri);
  const put = (bytes: string, name: string, kind = 'blob'): Promise<ArtifactRef> =>
    store.put({ bytes }, { kind, name });
  const json = (value: unknown): string => JSON.stringify(value, null, 1);

  // A manifest reaches a classifier bundle, which reaches three more objects.
  const model = await put('onnx weights', 'model.onnx');
  const tokenizer = await put('{"vocab":{}}', 'tokenizer.json');
  const config = await put('{"seed":1}', 'train_config.json');
  const classifier = await put(json({ model, tokenizer, config, task: 'binary' }), 'classifier.json');
  const dataset = await put('{"text":"a"}\n', 'rows.jsonl');
  const manifest = await store.putAt(
    'runs/p/r1/exec-1/manifest.json',
    { bytes: json({ stages: [{ id: 'train', outputs: { classifier, dataset } }] }) },
    { kind: 'manifest' },
  );

  // A cache entry reaches an hf-model bundle, which reaches its files.
  const safetensors = await put('safetensors weights', 'model.safetensors');
  const hf = await put(json({ step: 7, files: { 'model.safetensors': safetensors } }), 'hf-model.json');
  const cache = await store.putAt(
    `cache/${'c'.repeat(64)}.json`,
    { bytes: json({ outputs: { huggingface: hf } }) },
    { kind: 'cache-entry' },
  );

  // A lineage record alone keeps its artifact.
  const report = await put('<html></html>', 'report.html');
  const lineage = await store.putAt(
    `lineage/${report.sha256}/p=r1=report=report.json`,
    { bytes: json({ artifact: report }) },
    { kind: 'lineage' },
  );
  const failure = await store.putAt(
    'trainer-failures/p/r1/exec-1/train/attempt-0001.json',
    { bytes: json({ attempt: 1, type: 'TrainerCrashed' }) },
    { kind: 'trainer-failure' },
  );

  // Checkpoints: a running execution's stay with their files; an ended one's go, except a file
  // something kept also names (the final weights equal the last checkpoint's).
  const liveFile = await put('live checkpoint weights', 'model.safetensors');
  const liveBundle = await store.putAt(
    `checkpoints/p/r2/${LIVE}/train/step-0000000010.json`,
    { bytes: json({ step: 10, files: { 'model.safetensors': liveFile } }) },
    { kind: 'checkpoint' },
  );
  const endedFile = await put('ended checkpoint weights', 'model.safetensors');
  const endedBundle = await store.putAt(
    `checkpoints/p/r3/${ENDED}/train/step-0000000010.json`,
    { bytes: json({ step: 10, files: { 'model.safetensors': endedFile, 'shared.bin': safetensors } }) },
    { kind: 'checkpoint' },
  );

  const orphan = await put('nobody names me', 'orphan.bin');
  const orphanJson = await put(json({ names: model }), 'orphan-bundle.json');

  return {
    keep: [
      model,
      tokenizer,
      config,
      classifier,
      dataset,
      manifest,
      safetensors,
      hf,
      cache,
      report,
      lineage,
      failure,
      liveFile,
      liveBundle,
    ].map(key),
    remove: [endedBundle, endedFile, orphan, orphanJson].map(key),
    orphanBytes: [endedBundle, endedFile, orphan, orphanJson].reduce((sum, ref) => sum + ref.bytes, 0),
  };
}

const keys = async (store: ArtifactStore): Promise<string[]> => (await store.list('')).map((info) => info.key).sort();

for (const backend of BACKENDS) {
  describe(`fairline gc on the ${backend.name}`, () => {
    let scratch = '';
    let opened: { store: ArtifactStore; stop(): Promise<void> };
    before(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'fairline-gc-'));
      opened = await backend.open(scratch);
    });
    after(async () => {
      await opened?.stop();
      await rm(scratch, { recursive: true, force: true });
    });

    test('keeps all that a record reaches, removes orphans and ended checkpoints, and a dry run first removes nothing', async () => {
      const { store } = opened;
      const { keep, remove, orphanBytes } = await layOut(store);
      const before = await keys(store);
      assert.deepEqual(before, [...keep, ...remove].sort());

      const dry = await collectGarbage(store, { liveExecutions: new Set([LIVE]), minAgeMs: 0, dryRun: true });
      assert.deepEqual(dry.removed.map((r) => r.key).sort(), [...remove].sort());
      assert.equal(dry.bytes, orphanBytes);
      assert.deepEqual(await keys(store), before, 'a dry run removes nothing');

      const real = await collectGarbage(store, { liveExecutions: new Set([LIVE]), minAgeMs: 0, dryRun: false });
      assert.deepEqual(real.removed, dry.removed);
      assert.equal(real.bytes, orphanBytes);
      assert.deepEqual(await keys(store), [...keep].sort());
      // Everything kept still reads back whole: nothing a record names was touched.
      for (const info of await store.list(''))
        await store.read({ uri: info.uri, sha256: info.sha256!, bytes: info.bytes, kind: 'any' });

      const again = await collectGarbage(store, { liveExecutions: new Set([LIVE]), minAgeMs: 0, dryRun: false });
      assert.deepEqual(again.removed, [], 'a second gc finds nothing left to remove');
    });

    test('a checkpoint bundle of a running execution keeps its files; once the execution ends, both go', async () => {
      const { store } = opened;
      const file = await store.put(
        { bytes: `weights ${randomBytes(8).toString('hex')}` },
        { kind: 'checkpoint-file', name: 'model.safetensors' },
      );
      const bundleKey = 'checkpoints/p/r4/exec-running/train/step-0000000020.json';
      await store.putAt(
        bundleKey,
        { bytes: JSON.stringify({ step: 20, files: { 'model.safetensors': file } }) },
        { kind: 'checkpoint' },
      );

      const whileRunning = await collectGarbage(store, {
        liveExecutions: new Set(['exec-running']),
        minAgeMs: 0,
        dryRun: false,
      });
      assert.deepEqual(
        whileRunning.removed.map((r) => r.key).filter((k) => k === bundleKey || k === store.keyOf(file.uri)),
        [],
      );
      assert.ok(await store.head(store.keyOf(file.uri)), 'the checkpoint file of a running execution stays');

      const kept = await collectGarbage(store, {
        liveExecutions: new Set(),
        minAgeMs: 0,
        dryRun: true,
        keepEndedCheckpoints: true,
      });
      assert.deepEqual(kept.removed, [], 'asked to keep ended checkpoints, gc keeps them and their files');

      const ended = await collectGarbage(store, { liveExecutions: new Set(), minAgeMs: 0, dryRun: false });
      assert.deepEqual(
        ended.removed.map((r) => r.key),
        [bundleKey, store.keyOf(file.uri)],
        'the bundle goes before its file',
      );
      assert.equal(await store.head(bundleKey), undefined);
    });

    test('an object written within the grace period stays though nothing names it yet', async () => {
      const { store } = opened;
      const fresh = await store.put(
        { bytes: `just uploaded ${randomBytes(8).toString('hex')}` },
        { kind: 'onnx-model', name: 'model.onnx' },
      );
      const report = await collectGarbage(store, { liveExecutions: new Set(), minAgeMs: 60 * 60_000, dryRun: false });
      assert.deepEqual(report.removed, []);
      assert.ok(await store.head(store.keyOf(fresh.uri)));
      // An hour later it is an orphan like any other.
      const later = await collectGarbage(store, {
        liveExecutions: new Set(),
        minAgeMs: 60 * 60_000,
        dryRun: true,
        now: Date.now() + 2 * 60 * 60_000,
      });
      assert.deepEqual(
        later.removed.map((r) => r.key),
        [store.keyOf(fresh.uri)],
      );
    });
  });
}
