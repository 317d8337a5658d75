/**
 * A store that runs out of room fails at once with StoreFull (permanent, naming `fairline gc`)
 * instead of being waited out as an outage, and keeps no partial object under a final key.
 * Both backends fill for real: each gets a small tmpfs of its own (mounting one needs root, as on
 * the development machine and in CI; elsewhere the file says why it skips).
 *
 *   node --import tsx --test test/store/full.test.ts
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startMinio, type MinioServer } from '../../infra/minio';
import { StoreFull, StoreUnavailable } from '../../store/errors';
import { FsArtifactStore } from '../../store/fs-store';
import { outageTolerant } from '../../store/outage';
import { createS3Store } from '../../store/s3-store';
import type { ArtifactStore } from '../../store/types';

const MiB = 1024 * 1024;

/** A fresh tmpfs of `size`, or why none can be mounted here. */
async function smallDisk(size: string): Promise<{ dir: string; release(): Promise<void> } | string> {
  const dir = await mkdtemp(join(tmpdir(), 'fairline-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs here (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
  }
  return {
    dir,
    async release() {
      execFileSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const probe = await smallDisk('1m');
const skip = typeof probe === 'string' ? probe : false;
if (typeof probe !== 'string') await probe.release();

const releases: (() => Promise<void>)[] = [];
after(async () => {
  for (const release of releases.reverse()) await release();
});

/**
 * Writes 1 MiB objects until the store refuses one; returns the error and the keys written. A write
 * that fails as StoreUnavailable is tried once more, as the outage wrapper would: MinIO may first
 * cut off the body of the write during which its drive filled (IncompleteBody), and say ENOSPC only
 * when that object is tried again.
 */
async function fillUp(store: ArtifactStore): Promise<{ error: unknown; written: string[] }> {
  const written: string[] = [];
  for (let i = 0; i < 64; i++) {
    const bytes = randomBytes(MiB);
    try {
      await store.putAt(`fill/${i}.bin`, { bytes }, { kind: 'test' }).catch((error: unknown) => {
        if (error instanceof StoreUnavailable) return store.putAt(`fill/${i}.bin`, { bytes }, { kind: 'test' });
        throw error;
      });
      written.push(`fill/${i}.bin`);
    } catch (error) {
      return { error, written };
    }
  }
  return { error: undefined, written };
}

const backends: { name: string; open(dir: string): Promise<ArtifactStore> }[] = [
  { name: 'the file store', open: async (dir) => new FsArtifactStore(dir) },
  {
    name: 'MinIO through the S3 store',
    async open(dir) {
      const credentials = { accessKeyId: 'AKFAIRLINETEST0001', secretAccessKey: randomBytes(20).toString('hex') };
      const minio: MinioServer = await startMinio({
        dataDir: join(dir, 'minio'),
        accessKey: credentials.accessKeyId,
        secretKey: credentials.secretAccessKey,
      });
      releases.push(() => minio.stop());
      const store = createS3Store({ uri: 's3://fairline-full-test/runs', endpoint: minio.endpoint, credentials });
      await store.ensureBucket();
      return store;
    },
  },
];

describe('a store that runs out of room', { skip }, () => {
  for (const backend of backends) {
    test(`${backend.name} fails with a permanent StoreFull that says what to do, and keeps only whole objects`, async () => {
      const disk = await smallDisk('16m');
      assert.ok(typeof disk !== 'string', String(disk));
      releases.push(() => disk.release());
      const store = await backend.open(disk.dir);
      releases.push(() => store.close());

      const { error, written } = await fillUp(store);
      assert.ok(error instanceof StoreFull, `expected StoreFull, got ${String(error)}`);
      assert.equal(error.retryable, false);
      assert.match(error.message, /is full .*fairline gc/);
      assert.ok(written.length > 0, 'some objects fit before the disk filled');

      const listed = (await store.list('fill/')).map((o) => o.key).sort();
      assert.deepEqual(listed, [...written].sort(), 'the object that did not fit is under no final key');
    });
  }

  test('the outage wrapper does not wait a full store out: it fails without a single wait', async () => {
    const disk = await smallDisk('4m');
    assert.ok(typeof disk !== 'string', String(disk));
    releases.push(() => disk.release());
    let waits = 0;
    const store = outageTolerant(new FsArtifactStore(disk.dir), {
      windowMs: 60 * 60 * 1000,
      heartbeat: () => void waits++,
      signal: new AbortController().signal,
    });
    const { error } = await fillUp(store);
    assert.ok(error instanceof StoreFull, `expected StoreFull, got ${String(error)}`);
    assert.equal(waits, 0, 'no heartbeat: the wrapper never entered its wait');
  });
});
