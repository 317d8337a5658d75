/**
 * The ArtifactStore contract (store/types.ts), checked against both backends: the filesystem
 * store on a temporary directory and the S3 store on a real MinIO this file starts.
 *
 *   node --import tsx --test test/store/contract.test.ts
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ArtifactNotFound } from '../../common/errors';
import { ArtifactConflict, ArtifactDigestMismatch, ArtifactKeyInvalid, ArtifactUriInvalid } from '../../store/errors';
import { startMinio, type MinioServer } from '../../infra/minio';
import { freePort } from '../../infra/ports';
import { readAll } from '../../store/local-io';
import { FsArtifactStore } from '../../store/fs-store';
import { createS3Store, type S3ArtifactStore } from '../../store/s3-store';
import type { ArtifactRef, ArtifactStore } from '../../store/types';

/** What each behaviour needs from a backend. */
interface Backend {
  store: ArtifactStore;
  /** A store of this kind whose every I/O would fail: proves a check happens before any I/O. */
  offline: ArtifactStore;
  /** Asserts the offline store touched nothing (no directory created, say). */
  assertOfflineUntouched(): void;
  /** Replaces an artifact's bytes behind the store's back, as corruption or tampering would. */
  tamper(ref: ArtifactRef, bytes: Buffer): Promise<void>;
  /** Scratch directory for source files and downloads. */
  scratch: string;
}

interface BackendFactory {
  name: string;
  setUp(): Promise<Backend>;
  tearDown(): Promise<void>;
}

const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex');
let counter = 0;
/** A key no other test uses, so behaviours never see each other's objects. */
const freshKey = (label: string): string => `t${++counter}-${Date.now()}/${label}`;

function fsBackend(): BackendFactory {
  let scratch = '';
  return {
    name: 'filesystem store',
    async setUp() {
      scratch = await mkdtemp(join(tmpdir(), 'fairline-contract-fs-'));
      const missingRoot = join(scratch, 'never-created');
      return {
        store: new FsArtifactStore(join(scratch, 'artifacts')),
        offline: new FsArtifactStore(missingRoot),
        assertOfflineUntouched: () => assert.equal(existsSync(missingRoot), false, 'the store created its root'),
        async tamper(ref, bytes) {
          // Stored files are read-only (0444); corruption does not ask permission.
          const path = fileURLToPath(ref.uri);
          await chmod(path, 0o644);
          await writeFile(path, bytes);
        },
        scratch,
      };
    },
    async tearDown() {
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

function s3Backend(): BackendFactory {
  const credentials = { accessKeyId: 'contract-test-user', secretAccessKey: randomBytes(16).toString('hex') };
  let scratch = '';
  let minio: MinioServer | undefined;
  let stores: S3ArtifactStore[] = [];
  return {
    name: 'S3 store on MinIO',
    async setUp() {
      scratch = await mkdtemp(join(tmpdir(), 'fairline-contract-s3-'));
      minio = await startMinio({
        dataDir: join(scratch, 'minio'),
        accessKey: credentials.accessKeyId,
        secretKey: credentials.secretAccessKey,
      });
      // A prefix, so that key ↔ object-key mapping is exercised too.
      const store = createS3Store({ uri: 's3://fairline-contract/artifacts', endpoint: minio.endpoint, credentials });
      await store.ensureBucket();
      // Nothing listens on a port we just freed: any request there is refused.
      const offline = createS3Store({
        uri: 's3://fairline-contract/artifacts',
        endpoint: `http://127.0.0.1:${await freePort()}`,
        credentials,
      });
      stores = [store, offline];
      return {
        store,
        offline,
        assertOfflineUntouched: () => {},
        async tamper(ref, bytes) {
          // A raw overwrite that even keeps the recorded digest: only hashing the bytes can tell.
          const key = store.objectKey(store.keyOf(ref.uri));
          await store.client.send(
            new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: bytes, Metadata: { sha256: ref.sha256 } }),
          );
        },
        scratch,
      };
    },
    async tearDown() {
      for (const store of stores) await store.close();
      await minio?.stop();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

const UNSAFE_KEYS = ['../x', '/abs', 'a//b', 'a\u0001b', 'a/./b', '', 'a/', 'a\\b', '.staging/x'];

/** The behaviours every backend must show, as a table. */
const behaviours: { name: string; run(b: Backend): Promise<void> }[] = [
  {
    name: 'put stores bytes under their digest and read returns them',
    async run({ store }) {
      const body = `hello ${randomBytes(8).toString('hex')}`;
      const ref = await store.put({ bytes: body }, { kind: 'text', name: 'hello.txt' });
      assert.deepEqual(ref, {
        uri: store.uriOf(`objects/${sha256(body)}/hello.txt`),
        sha256: sha256(body),
        bytes: Buffer.byteLength(body),
        kind: 'text',
      });
      assert.equal((await store.read(ref)).toString(), body);
    },
  },
  {
    name: 'put streams a file source and download writes a verified copy',
    async run({ store, scratch }) {
      const body = randomBytes(300_000);
      const source = join(scratch, `source-${++counter}.bin`);
      await writeFile(source, body);
      const ref = await store.put({ path: source }, { kind: 'dataset', name: 'data.bin' });
      assert.equal(ref.sha256, sha256(body));
      assert.equal(ref.bytes, body.length);
      const destination = join(scratch, `download-${counter}`, 'copy.bin');
      await store.download(ref, destination);
      assert.deepEqual(await readFile(destination), body);
    },
  },
  {
    name: 'putAt stores under the chosen key and head reports its size, digest and time of writing',
    async run({ store }) {
      const key = freshKey('manifest.json');
      const body = JSON.stringify({ run: key });
      // Whole seconds: S3 reports Last-Modified to the second.
      const before = Math.floor(Date.now() / 1000) * 1000 - 1000;
      const ref = await store.putAt(key, { bytes: body }, { kind: 'manifest' });
      assert.equal(ref.uri, store.uriOf(key));
      const { modifiedAt, ...info } = (await store.head(key))!;
      assert.deepEqual(info, { key, uri: store.uriOf(key), bytes: Buffer.byteLength(body), sha256: sha256(body) });
      assert.ok(
        modifiedAt !== undefined && modifiedAt >= before && modifiedAt <= Date.now() + 60_000,
        `modifiedAt ${modifiedAt}`,
      );
    },
  },
  {
    name: 'an empty artifact round-trips from bytes and from a file',
    async run({ store, scratch }) {
      const fromBytes = await store.putAt(freshKey('empty'), { bytes: '' }, { kind: 'text' });
      const source = join(scratch, `empty-${++counter}`);
      await writeFile(source, '');
      const fromFile = await store.putAt(freshKey('empty-file'), { path: source }, { kind: 'text' });
      for (const ref of [fromBytes, fromFile]) {
        assert.equal(ref.bytes, 0);
        assert.equal(ref.sha256, sha256(''));
        assert.equal((await store.read(ref)).length, 0);
      }
    },
  },
  {
    name: 'keys with every allowed punctuation and non-ASCII letters round-trip',
    async run({ store }) {
      const key = `${freshKey('chars')}/a.b_c-d=e+f@g,h~i/données-ü`;
      const ref = await store.putAt(key, { bytes: 'odd name' }, { kind: 'text' });
      assert.equal(store.keyOf(ref.uri), key);
      assert.equal((await store.read(ref)).toString(), 'odd name');
      assert.deepEqual(
        (await store.list(`${key.slice(0, key.lastIndexOf('/'))}/`)).map((info) => info.key),
        [key],
      );
    },
  },
  {
    name: 'open streams the verified bytes',
    async run({ store }) {
      const body = randomBytes(70_000);
      const ref = await store.putAt(freshKey('blob'), { bytes: body }, { kind: 'blob' });
      assert.deepEqual(await readAll(await store.open(ref)), body);
    },
  },
  {
    name: 'writing identical bytes again is a no-op',
    async run({ store, scratch }) {
      const key = freshKey('same');
      const first = await store.putAt(key, { bytes: 'same bytes' }, { kind: 'text' });
      const source = join(scratch, `same-${++counter}.txt`);
      await writeFile(source, 'same bytes');
      assert.deepEqual(await store.putAt(key, { path: source }, { kind: 'text' }), first);
      const put = await store.put({ bytes: 'content addressed' }, { kind: 'text', name: 'c.txt' });
      assert.deepEqual(await store.put({ bytes: 'content addressed' }, { kind: 'text', name: 'c.txt' }), put);
      assert.equal((await store.read(first)).toString(), 'same bytes');
    },
  },
  {
    name: 'other bytes under a taken key are an ArtifactConflict and the original stays',
    async run({ store }) {
      const key = freshKey('taken');
      const original = await store.putAt(key, { bytes: 'original' }, { kind: 'text' });
      await assert.rejects(store.putAt(key, { bytes: 'replacement' }, { kind: 'text' }), (error: unknown) => {
        assert.ok(error instanceof ArtifactConflict);
        assert.equal(error.existing, sha256('original'));
        assert.equal(error.attempted, sha256('replacement'));
        return true;
      });
      assert.equal((await store.read(original)).toString(), 'original');
    },
  },
  {
    name: 'unsafe keys are rejected before any I/O',
    async run({ offline, assertOfflineUntouched }) {
      for (const key of UNSAFE_KEYS) {
        const label = JSON.stringify(key);
        await assert.rejects(
          offline.putAt(key, { bytes: 'x' }, { kind: 'text' }),
          ArtifactKeyInvalid,
          `putAt ${label}`,
        );
        await assert.rejects(offline.head(key), ArtifactKeyInvalid, `head ${label}`);
        await assert.rejects(offline.delete(key), ArtifactKeyInvalid, `delete ${label}`);
        assert.throws(() => offline.uriOf(key), ArtifactKeyInvalid, `uriOf ${label}`);
      }
      await assert.rejects(offline.list('../'), ArtifactKeyInvalid);
      await assert.rejects(offline.put({ bytes: 'x' }, { kind: 'text', name: '../escape' }), ArtifactKeyInvalid);
      assertOfflineUntouched();
    },
  },
  {
    name: 'keyOf inverts uriOf and refuses URIs outside the root',
    async run({ store }) {
      assert.equal(store.keyOf(store.uriOf('runs/r1/manifest.json')), 'runs/r1/manifest.json');
      assert.throws(() => store.keyOf('https://example.com/x'), ArtifactUriInvalid);
      assert.throws(() => store.keyOf(`${store.rootUri}-other/x`), ArtifactUriInvalid);
      // Escaping through '..' fails either as a URI outside the root or as an unsafe key.
      assert.throws(
        () => store.keyOf(`${store.rootUri}/a/../../x`),
        (error: unknown) => error instanceof ArtifactUriInvalid || error instanceof ArtifactKeyInvalid,
      );
    },
  },
  {
    name: 'a missing artifact is ArtifactNotFound and heads as undefined',
    async run({ store, scratch }) {
      const key = freshKey('missing');
      const ref: ArtifactRef = { uri: store.uriOf(key), sha256: sha256(''), bytes: 0, kind: 'text' };
      await assert.rejects(store.open(ref), ArtifactNotFound);
      await assert.rejects(store.read(ref), ArtifactNotFound);
      await assert.rejects(store.download(ref, join(scratch, 'missing.bin')), ArtifactNotFound);
      assert.equal(existsSync(join(scratch, 'missing.bin')), false);
      assert.equal(await store.head(key), undefined);
    },
  },
  {
    name: 'a digest mismatch is detected on read',
    async run({ store, tamper }) {
      const ref = await store.putAt(freshKey('tampered'), { bytes: 'the real bytes' }, { kind: 'text' });
      await tamper(ref, Buffer.from('forged bytes!!'));
      await assert.rejects(store.read(ref), (error: unknown) => {
        assert.ok(error instanceof ArtifactDigestMismatch);
        assert.equal(error.expected, ref.sha256);
        assert.equal(error.actual, sha256('forged bytes!!'));
        return true;
      });
      await assert.rejects(readAll(await store.open(ref)), ArtifactDigestMismatch);
    },
  },
  {
    name: 'download writes the file only when verified',
    async run({ store, tamper, scratch }) {
      const ref = await store.putAt(freshKey('download'), { bytes: randomBytes(100_000) }, { kind: 'blob' });
      await tamper(ref, randomBytes(100_000));
      const folder = join(scratch, `verified-${++counter}`);
      await assert.rejects(store.download(ref, join(folder, 'out.bin')), ArtifactDigestMismatch);
      assert.deepEqual(await readdir(folder), [], 'neither the file nor a temporary file may remain');
    },
  },
  {
    name: 'list returns the objects under a prefix sorted by key, with their digests',
    async run({ store }) {
      const folder = freshKey('list');
      for (const name of ['b', 'a/2', 'a/1', 'c'])
        await store.putAt(`${folder}/${name}`, { bytes: name }, { kind: 'text' });
      const listed = await store.list(`${folder}/`);
      assert.deepEqual(
        listed.map((info) => [info.key, info.sha256, info.bytes]),
        ['a/1', 'a/2', 'b', 'c'].map((name) => [`${folder}/${name}`, sha256(name), name.length]),
      );
      assert.deepEqual(
        (await store.list(`${folder}/a/`)).map((info) => info.key),
        [`${folder}/a/1`, `${folder}/a/2`],
      );
      assert.deepEqual(await store.list(`${folder}/none/`), []);
      const all = (await store.list('')).map((info) => info.key);
      assert.ok(all.includes(`${folder}/c`));
      assert.deepEqual(all, [...all].sort());
    },
  },
  {
    name: 'delete removes an object and deleting a missing one is fine',
    async run({ store }) {
      const key = freshKey('doomed');
      await store.putAt(key, { bytes: 'bye' }, { kind: 'text' });
      await store.delete(key);
      assert.equal(await store.head(key), undefined);
      await store.delete(key);
    },
  },
  ...[
    { size: 1024, label: 'small' },
    // Above the S3 part size: the S3 backend takes the multipart path, decided at CompleteMultipartUpload.
    { size: 12 * 1024 * 1024, label: 'multipart-sized' },
  ].map(({ size, label }) => ({
    name: `two concurrent writers of one key (${label}) leave exactly one intact object`,
    async run({ store, scratch }: Backend) {
      const key = freshKey(`race-${label}`);
      const bodies = [randomBytes(size), randomBytes(size)];
      const sources = await Promise.all(
        bodies.map(async (body, i) => {
          const path = join(scratch, `race-${counter}-${i}.bin`);
          await writeFile(path, body);
          return path;
        }),
      );
      const results = await Promise.allSettled(sources.map((path) => store.putAt(key, { path }, { kind: 'blob' })));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ ref: r.value, body: bodies[i] }] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      assert.equal(won.length, 1, 'exactly one writer wins');
      assert.equal(lost.length, 1);
      assert.ok(lost[0] instanceof ArtifactConflict, `the loser gets ArtifactConflict, not ${String(lost[0])}`);
      const winner = won[0];
      assert.ok(winner?.body);
      const info = await store.head(key);
      assert.equal(info?.sha256, winner.ref.sha256, 'the recorded digest is the winner’s');
      const stored = await store.read(winner.ref);
      assert.equal(sha256(stored), info?.sha256, 'the stored bytes hash to the recorded digest');
      assert.deepEqual(stored, winner.body);
    },
  })),
];

for (const backend of [fsBackend(), s3Backend()]) {
  describe(backend.name, () => {
    let ctx: Backend | undefined;
    before(async () => {
      ctx = await backend.setUp();
    });
    after(() => backend.tearDown());
    for (const behaviour of behaviours) {
      test(behaviour.name, async () => {
        assert.ok(ctx, 'backend set up');
        await behaviour.run(ctx);
      });
    }
  });
}
