/**
 * Local-filesystem artifact store: the embedded default (`.fairline/artifacts`).
 *
 * Atomicity: content is staged in `<root>/.staging/` (same filesystem), fsynced, then hard-linked
 * to its final path. link(2) fails if the target exists, so of two concurrent writers of one key
 * exactly one wins and no reader ever sees a half-written file.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ArtifactNotFound } from '../common/errors';
import { ArtifactConflict, ArtifactUriInvalid, StoreFull, StorePermissionDenied, StoreUnavailable } from './errors';
import { digestOf, verifyingStream, type Digest } from './digest';
import { checkKey, checkPrefix, contentKey, STAGING_PREFIX } from './keys';
import { readAll, writeFileAtomically } from './local-io';
import type { ArtifactRef, ArtifactSource, ArtifactStore, ObjectInfo } from './types';

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && 'code' in error && codes.includes(String(error.code));
}

export class FsArtifactStore implements ArtifactStore {
  readonly rootUri: string;

  constructor(readonly root: string) {
    this.rootUri = pathToFileURL(root).href.replace(/\/$/, '');
  }

  uriOf(key: string): string {
    return pathToFileURL(join(this.root, checkKey(key))).href;
  }

  keyOf(uri: string): string {
    if (!uri.startsWith('file://'))
      throw new ArtifactUriInvalid(uri, `not a file:// URI (this store is ${this.rootUri})`);
    let path: string;
    try {
      path = fileURLToPath(uri);
    } catch (error) {
      throw new ArtifactUriInvalid(uri, (error as Error).message);
    }
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || rel.startsWith(sep)) {
      throw new ArtifactUriInvalid(uri, `not under the store root ${this.rootUri}`);
    }
    return checkKey(rel.split(sep).join('/'));
  }

  async put(source: ArtifactSource, options: { kind: string; name: string }): Promise<ArtifactRef> {
    const digest = await digestOf(source);
    return this.write(contentKey(digest.sha256, options.name), source, digest, options.kind);
  }

  async putAt(key: string, source: ArtifactSource, options: { kind: string }): Promise<ArtifactRef> {
    checkKey(key);
    return this.write(key, source, await digestOf(source), options.kind);
  }

  private async write(
    key: string,
    source: ArtifactSource,
    digest: { sha256: string; bytes: number },
    kind: string,
  ): Promise<ArtifactRef> {
    const final = join(this.root, key);
    const ref: ArtifactRef = { uri: this.uriOf(key), sha256: digest.sha256, bytes: digest.bytes, kind };
    const staging = join(this.root, STAGING_PREFIX, randomUUID());
    try {
      await mkdir(dirname(staging), { recursive: true });
      if ('path' in source) await this.stageFile(source.path, staging, digest, ref.uri);
      else await this.stageBytes(source.bytes, staging, digest, ref.uri);
      await mkdir(dirname(final), { recursive: true });
      try {
        await link(staging, final);
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw error;
        const existing = await digestOf({ path: final });
        if (existing.sha256 !== digest.sha256) throw new ArtifactConflict(ref.uri, existing.sha256, digest.sha256);
      }
      return ref;
    } catch (error) {
      throw this.translate(error, ref.uri);
    } finally {
      await rm(staging, { force: true });
    }
  }

  /**
   * Copies a file to `staging`, read-only and durable. The staged copy must still hash to the
   * digest computed up front: a source file that changed between the two reads would otherwise
   * be stored under a wrong digest.
   */
  private async stageFile(path: string, staging: string, digest: Digest, uri: string): Promise<void> {
    await pipeline(createReadStream(path), createWriteStream(staging, { flags: 'wx', mode: 0o444 }));
    // The bytes must be durable before the link makes them visible under the final key.
    const handle = await open(staging, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const staged = await digestOf({ path: staging });
    if (staged.sha256 !== digest.sha256) throw new ArtifactConflict(uri, digest.sha256, staged.sha256);
  }

  /**
   * Writes bytes to `staging`, read-only and durable, through one handle. They are copied and the
   * copy hashed before the write (a caller's buffer could change while the write waits), so no
   * second read of the staged file is needed: the small records (cache entries, manifests,
   * lineage) go through here several times per stage.
   */
  private async stageBytes(bytes: Uint8Array | string, staging: string, digest: Digest, uri: string): Promise<void> {
    const copy = Buffer.from(bytes);
    const sha256 = createHash('sha256').update(copy).digest('hex');
    if (sha256 !== digest.sha256) throw new ArtifactConflict(uri, digest.sha256, sha256);
    // Created read-only (the mode applies to later opens); this handle may still write.
    const handle = await open(staging, 'wx', 0o444);
    try {
      await handle.writeFile(copy);
      // The bytes must be durable before the link makes them visible under the final key.
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async open(ref: ArtifactRef): Promise<Readable> {
    const path = join(this.root, this.keyOf(ref.uri));
    try {
      await stat(path);
    } catch (error) {
      throw this.translate(error, ref.uri);
    }
    return createReadStream(path).pipe(verifyingStream(ref.uri, ref.sha256));
  }

  async read(ref: ArtifactRef): Promise<Buffer> {
    return readAll(await this.open(ref));
  }

  async download(ref: ArtifactRef, destination: string): Promise<void> {
    await writeFileAtomically(await this.open(ref), destination);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = join(this.root, checkKey(key));
    try {
      const info = await stat(path);
      if (!info.isFile()) return undefined;
      return {
        key,
        uri: this.uriOf(key),
        bytes: info.size,
        sha256: (await digestOf({ path })).sha256,
        modifiedAt: info.mtimeMs,
      };
    } catch (error) {
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw this.translate(error, this.uriOf(key));
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    const found: ObjectInfo[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isErrno(error, 'ENOENT', 'ENOTDIR')) return;
        throw this.translate(error, pathToFileURL(dir).href);
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        const key = relative(this.root, path).split(sep).join('/');
        if (key === STAGING_PREFIX) continue;
        if (entry.isDirectory()) await walk(path);
        else if (entry.isFile() && key.startsWith(prefix)) {
          const info = await this.head(key);
          if (info) found.push(info);
        }
      }
    };
    // Only the folder the prefix names can hold matching keys (`runs/p/` → runs/p, `runs/p` → runs).
    await walk(join(this.root, prefix.slice(0, prefix.lastIndexOf('/') + 1)));
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(join(this.root, checkKey(key)));
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw this.translate(error, this.uriOf(key));
    }
  }

  async close(): Promise<void> {}

  private translate(error: unknown, uri: string): unknown {
    if (!(error instanceof Error) || !('code' in error)) return error;
    if (isErrno(error, 'ENOENT')) return new ArtifactNotFound(uri);
    if (isErrno(error, 'EACCES', 'EPERM', 'EROFS')) return new StorePermissionDenied(uri, error.message);
    if (isErrno(error, 'ENOSPC', 'EDQUOT')) return new StoreFull(uri, error.message);
    if (isErrno(error, 'EIO', 'EMFILE', 'ENFILE')) return new StoreUnavailable(uri, error);
    return error;
  }
}
