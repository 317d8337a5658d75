/**
 * Fingerprints of stage code: the sha256 of a stage's source files (and the data files it reads,
 * such as default lexicons), part of every cache key, so editing a stage's code invalidates
 * exactly its results. Each stage names its files; whole folders come through `filesIn`, so a
 * file added to a library the stage uses is covered without anyone remembering to list it.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../common/paths';

/** Fingerprint of files, relative to the project root. */
export function fingerprintOf(...files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update('\0').update(readFileSync(join(PROJECT_ROOT, file))).update('\0');
  return hash.digest('hex');
}

/** The files of one folder (not its subfolders) ending in `extension`, relative to the project root, sorted. */
export function filesIn(folder: string, extension = '.ts'): string[] {
  return readdirSync(join(PROJECT_ROOT, folder))
    .filter((f) => f.endsWith(extension))
    .sort()
    .map((f) => `${folder}/${f}`);
}
