/**
 * What the filesystem store promises beyond the shared contract (test/store/contract.test.ts):
 * how its files sit on disk.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ArtifactConflict } from '../../store/errors';
import { FsArtifactStore } from '../../store/fs-store';

describe('the filesystem store on disk', () => {
  let dir = '';
  let store: FsArtifactStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fairline-fs-store-'));
    store = new FsArtifactStore(join(dir, 'artifacts'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a stored file is read-only, whether it was written from bytes or from a file', async () => {
    const source = join(dir, 'source.txt');
    await writeFile(source, 'from a file\n');
    const fromFile = await store.putAt('modes/file.txt', { path: source }, { kind: 'test' });
    const fromBytes = await store.putAt('modes/bytes.json', { bytes: '{"from":"bytes"}' }, { kind: 'test' });
    for (const ref of [fromFile, fromBytes]) {
      const { mode } = await stat(fileURLToPath(ref.uri));
      assert.equal(mode & 0o222, 0, `${ref.uri} has no write permission (mode ${(mode & 0o777).toString(8)})`);
    }
  });

  test('bytes the caller changes while the write is under way are refused, and nothing is stored under the key', async () => {
    const bytes = new TextEncoder().encode('{"version":1}');
    const writing = store.putAt('changing/entry.json', { bytes }, { kind: 'test' });
    // The digest was taken when putAt was called; the write itself is still waiting for its folder.
    bytes.set(new TextEncoder().encode('2'), 11);
    await assert.rejects(writing, ArtifactConflict);
    assert.equal(existsSync(join(dir, 'artifacts', 'changing', 'entry.json')), false);
  });

  test('no staging file is left behind once writes have ended', async () => {
    await store.putAt('staging/a.json', { bytes: 'a' }, { kind: 'test' });
    await assert.rejects(store.putAt('staging/a.json', { bytes: 'b' }, { kind: 'test' }), ArtifactConflict);
    assert.deepEqual(await readdir(join(dir, 'artifacts', '.staging')), []);
  });
});
