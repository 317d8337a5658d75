/**
 * What only the S3 backend has to show: multipart uploads, conditional writes under contention,
 * a server that dies mid-upload, and error messages that never carry credentials. Runs against
 * real MinIO servers this file starts.
 *
 *   node --import tsx --test test/store/s3-store.test.ts
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, openSync, writeSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inspect } from 'node:util';
import { HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { FairlineError } from '../../common/errors';
import { ArtifactConflict, StoreBucketMissing, StorePermissionDenied, StoreUnavailable } from '../../store/errors';
import { startMinio, type MinioServer } from '../../infra/minio';
import { freePort } from '../../infra/ports';
import { digestOf } from '../../store/digest';
import { createS3Store, PART_SIZE, type S3ArtifactStore } from '../../store/s3-store';

const MiB = 1024 * 1024;
const BIG_BYTES = 64 * MiB;
const credentials = { accessKeyId: 'AKFAIRLINETEST0001', secretAccessKey: randomBytes(20).toString('hex') };
const BUCKET_URI = 's3://fairline-s3-test/runs';
const sha256Of = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');

let scratch = '';
let minio: MinioServer;
let store: S3ArtifactStore;
/** A ≥ 64 MiB file of random bytes: eight 8 MiB parts, so a multipart upload. */
let bigFile = '';
const cleanups: (() => Promise<void>)[] = [];

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'fairline-s3-store-'));
  minio = await startMinio({
    dataDir: join(scratch, 'minio'),
    accessKey: credentials.accessKeyId,
    secretKey: credentials.secretAccessKey,
  });
  store = createS3Store({ uri: BUCKET_URI, endpoint: minio.endpoint, credentials });
  await store.ensureBucket();
  bigFile = join(scratch, 'big.bin');
  const out = createWriteStream(bigFile);
  for (let written = 0; written < BIG_BYTES; written += MiB) {
    if (!out.write(randomBytes(MiB))) await new Promise<void>((resume) => out.once('drain', () => resume()));
  }
  await new Promise<void>((done, fail) => out.end((error?: Error | null) => (error ? fail(error) : done())));
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await store?.close();
  await minio?.stop();
  await rm(scratch, { recursive: true, force: true });
});

test('a 64 MiB file round-trips through a multipart upload with its digest', async () => {
  const expected = await digestOf({ path: bigFile });
  const ref = await store.putAt('big/model.bin', { path: bigFile }, { kind: 'model' });
  assert.equal(ref.sha256, expected.sha256);
  assert.equal(ref.bytes, BIG_BYTES);

  // A multipart object's ETag ends in -<part count>: proof it did not go up as one PutObject.
  const raw = await store.client.send(
    new HeadObjectCommand({ Bucket: store.bucket, Key: store.objectKey('big/model.bin') }),
  );
  assert.match(raw.ETag ?? '', new RegExp(`-${Math.ceil(BIG_BYTES / PART_SIZE)}"?$`));
  assert.equal(raw.Metadata?.sha256, expected.sha256);

  const copy = join(scratch, 'big-copy.bin');
  await store.download(ref, copy);
  assert.deepEqual(await digestOf({ path: copy }), expected);
  await rm(copy);
});

const WRITERS = 6;
for (const { label, size, command } of [
  { label: 'single PutObject', size: 64 * 1024, command: 'PutObjectCommand' },
  { label: 'multipart', size: PART_SIZE + MiB, command: 'CompleteMultipartUploadCommand' },
]) {
  test(`of ${WRITERS} concurrent writers of one key (${label}), the conditional write lets exactly one win`, async () => {
    // The store HEADs a key before uploading (to skip re-uploads). Hold every writer's first HEAD
    // answer until all writers have theirs, so all of them see a free key and only the server's
    // If-None-Match can decide the race; record what the server answered to show it did.
    const refusals: string[] = [];
    let headed = 0;
    let releaseHeads = (): void => {};
    const allHeaded = new Promise<void>((release) => (releaseHeads = release));
    const middleware = `raceProbe-${label}`;
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        const isHead = context.commandName === 'HeadObjectCommand';
        try {
          return await next(args);
        } catch (error) {
          if (error instanceof Error) refusals.push(`${context.commandName}:${error.name}`);
          throw error;
        } finally {
          if (isHead && ++headed === WRITERS) releaseHeads();
          if (isHead) await allHeaded;
        }
      },
      { step: 'initialize', name: middleware },
    );
    try {
      const key = `race/${label.replace(/ /g, '-')}`;
      const bodies = Array.from({ length: WRITERS }, () => randomBytes(size));
      const results = await Promise.allSettled(bodies.map((bytes) => store.putAt(key, { bytes }, { kind: 'blob' })));
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(winners.length, 1, 'exactly one writer wins');
      for (const r of results)
        if (r.status === 'rejected') assert.ok(r.reason instanceof ArtifactConflict, String(r.reason));
      assert.equal(
        refusals.filter((refusal) => refusal === `${command}:PreconditionFailed`).length,
        WRITERS - 1,
        `every loser is refused at ${command}; saw: ${refusals.join(', ')}`,
      );
      const body = bodies[winners[0] ?? -1] ?? Buffer.alloc(0);
      const sha256 = sha256Of(body);
      assert.equal((await store.head(key))?.sha256, sha256);
      assert.deepEqual(await store.read({ uri: store.uriOf(key), sha256, bytes: body.length, kind: 'blob' }), body);
    } finally {
      store.client.middlewareStack.remove(middleware);
    }
  });
}

test('list pages through more than 1000 objects', async () => {
  // ListObjectsV2 returns at most 1000 keys a page; the 1001st onwards need continuation tokens.
  const names = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
  // Seeded with plain PutObjects (what putAt sends, minus its HEAD and condition) to keep this quick.
  const seed = (key: string): Promise<unknown> =>
    store.client.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: store.objectKey(key),
        Body: key,
        Metadata: { sha256: sha256Of(key) },
      }),
    );
  for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map(seed));
  const listed = await store.list('many/');
  assert.equal(listed.length, names.length);
  assert.deepEqual(
    listed.map((info) => info.key),
    names,
  );
  assert.equal(listed[1004]?.sha256, sha256Of('many/1004'));
});

test('a source file that changes while it uploads is refused and nothing is stored', async () => {
  const source = join(scratch, 'changing.bin');
  await copyFile(bigFile, source);
  let changed = false;
  const upload = store.putAt(
    'changing/model.bin',
    { path: source },
    {
      kind: 'model',
      onProgress: () => {
        if (changed) return;
        changed = true;
        // When the first part is acknowledged at most six of eight parts have been read, so the
        // last MiB is still ahead of the reader: it will upload bytes the digest never saw.
        const handle = openSync(source, 'r+');
        try {
          writeSync(handle, randomBytes(MiB), 0, MiB, BIG_BYTES - MiB);
        } finally {
          closeSync(handle);
        }
      },
    },
  );
  await assert.rejects(upload, ArtifactConflict);
  assert.ok(changed);
  assert.equal(await store.head('changing/model.bin'), undefined, 'CompleteMultipartUpload was never sent');
  // leavePartsOnError: false, so the parts already uploaded were aborted, not left to linger.
  const pending = await store.client.send(
    new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: store.objectKey('changing/model.bin') }),
  );
  assert.deepEqual(pending.Uploads ?? [], []);
  await rm(source);
});

test('an upload cut off by a crashed server is StoreUnavailable and leaves no partial object', async () => {
  const dataDir = join(scratch, 'crash-minio');
  const start = (port?: number): Promise<MinioServer> =>
    startMinio({ dataDir, port, accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey });
  let server = await start();
  cleanups.push(() => server.stop());
  const port = server.port;
  const crashStore = createS3Store({ uri: BUCKET_URI, endpoint: server.endpoint, credentials });
  cleanups.push(() => crashStore.close());
  await crashStore.ensureBucket();

  // Kill the server the moment the first part is acknowledged: parts 2-4 are then in flight and
  // 5-8 not yet sent, so CompleteMultipartUpload can never have been reached.
  let killed = false;
  const started = Date.now();
  const upload = crashStore.putAt(
    'crash/model.bin',
    { path: bigFile },
    {
      kind: 'model',
      onProgress: (uploaded) => {
        if (!killed && uploaded > 0) {
          killed = true;
          server.process.kill('SIGKILL');
        }
      },
    },
  );
  await assert.rejects(upload, (error: unknown) => {
    assert.ok(error instanceof StoreUnavailable, `expected StoreUnavailable, got ${inspect(error)}`);
    assert.equal(error.retryable, true);
    return true;
  });
  assert.ok(killed, 'the server was killed mid-upload');
  assert.ok(Date.now() - started < 15_000, 'a dead server fails the upload within seconds');

  server = await start(port);
  assert.equal(await crashStore.head('crash/model.bin'), undefined, 'no partial object under the final key');
  assert.deepEqual(await crashStore.list('crash/'), []);
  // The retry that Temporal would make now succeeds against the restarted server.
  const ref = await crashStore.putAt('crash/model.bin', { path: bigFile }, { kind: 'model' });
  assert.equal((await crashStore.head('crash/model.bin'))?.sha256, ref.sha256);
});

test('errors name what failed but never the credentials', async () => {
  const wrongSecret = randomBytes(20).toString('hex');
  const deadEndpoint = `http://127.0.0.1:${await freePort()}`;
  const cases: { what: string; store: S3ArtifactStore; expect: new (...args: never[]) => FairlineError }[] = [
    {
      what: 'a wrong secret key',
      store: createS3Store({
        uri: BUCKET_URI,
        endpoint: minio.endpoint,
        credentials: { ...credentials, secretAccessKey: wrongSecret },
      }),
      expect: StorePermissionDenied,
    },
    {
      what: 'a server that is not running',
      store: createS3Store({ uri: BUCKET_URI, endpoint: deadEndpoint, credentials }),
      expect: StoreUnavailable,
    },
    {
      what: 'a bucket that does not exist',
      store: createS3Store({ uri: 's3://no-such-bucket-here', endpoint: minio.endpoint, credentials }),
      expect: StoreBucketMissing,
    },
  ];
  for (const { what, store: failing, expect } of cases) {
    try {
      const error = await failing.putAt('secrets/probe', { bytes: 'probe' }, { kind: 'text' }).then(
        () => assert.fail(`${what}: the write succeeded`),
        (reason: unknown) => reason,
      );
      assert.ok(error instanceof expect, `${what}: expected ${expect.name}, got ${inspect(error)}`);
      // Everything a log line, a Temporal failure or a debugger could show of the error.
      const shown = [String(error), JSON.stringify(error), inspect(error, { depth: Infinity, showHidden: true })].join(
        '\n',
      );
      for (const secret of [credentials.secretAccessKey, wrongSecret, credentials.accessKeyId]) {
        assert.equal(shown.includes(secret), false, `${what}: the error shows a credential:\n${shown}`);
      }
      if (error instanceof StoreBucketMissing) assert.match(error.message, /no-such-bucket-here/);
    } finally {
      await failing.close();
    }
  }
});

test('objects are stored with the content type of their name: report.html opens in a browser', async () => {
  const cases = [
    { name: 'report.html', type: 'text/html; charset=utf-8' },
    { name: 'manifest.json', type: 'application/json' },
    { name: 'train.jsonl', type: 'application/x-ndjson' },
    { name: 'model.onnx', type: 'application/octet-stream' },
  ];
  for (const { name, type } of cases) {
    const ref = await store.put({ bytes: `content of ${name}` }, { kind: 'test', name });
    const head = await store.client.send(
      new HeadObjectCommand({ Bucket: store.bucket, Key: store.objectKey(store.keyOf(ref.uri)) }),
    );
    assert.equal(head.ContentType, type, name);
  }
});
