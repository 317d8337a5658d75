/**
 * The digest of a model folder's contents: what a stage's cache key sees when a pipeline names a
 * local folder, so new weights at the same path never give a stale cache hit. sha256 over every
 * regular file's relative path and sha256, in path order. Hashing 470 MB takes a second or two,
 * so results are remembered per process while every file's size, inode, mtime and ctime stay the same.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

/** Every regular file under `dir` (following no symlinked folders), sorted by relative path. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path)).isFile())) out.push(path);
  }
  return out.sort();
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const remembered = new Map<string, { signature: string; digest: string }>();

/** sha256 of the folder's contents (relative paths and file digests). Throws ENOENT for a missing folder. */
export async function folderDigest(dir: string): Promise<string> {
  const files = await filesUnder(dir);
  const stats = await Promise.all(files.map((f) => stat(f, { bigint: true })));
  // Nanosecond mtime and ctime plus the inode: a rewrite or a replaced file changes one of them.
  const signature = files
    .map((f, i) => {
      const s = stats[i]!;
      return `${relative(dir, f)}\0${s.size}\0${s.mtimeNs}\0${s.ctimeNs}\0${s.ino}`;
    })
    .join('\n');
  const known = remembered.get(dir);
  if (known?.signature === signature) return known.digest;
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(relative(dir, file).split(sep).join('/'))
      .update('\0')
      .update(await sha256Of(file))
      .update('\n');
  const digest = hash.digest('hex');
  remembered.set(dir, { signature, digest });
  return digest;
}
