/**
 * The workflow bundle a worker loads, kept between processes. Temporal's bundler (webpack) takes
 * seconds (about 12 s on a loaded 2-core machine), and every `fairline run` on the embedded stack
 * starts a worker: without a kept bundle, a fully cached rerun spent most of its time bundling the
 * same code again.
 *
 * The bundle is stored under `<cache>/workflow-bundles/<key>.js`, where the key covers everything
 * its code is made of: the content of every project file the workflows import, directly or not
 * (their import graph as esbuild resolves it, as for stage fingerprints), package-lock.json (the
 * packages the bundler inlines: the SDK, zod) and the checkout's path (the bundle's source map
 * names its files). Edited workflow code therefore gets a new bundle; nothing else does. Written
 * under a temporary name and renamed, so a bundle on disk is always whole; where the cache folder
 * cannot be written (a read-only image), the fresh bundle is used without keeping it.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { WorkflowBundle } from '@temporalio/worker';
import { fingerprintOf, importGraph } from '../activities/stages/fingerprint';
import { cacheDir, PROJECT_ROOT } from '../common/paths';

/** Pins the packages the bundler inlines. */
const LOCK_FILE = 'package-lock.json';

/**
 * The cache key of the bundle of `workflowsPath` (under `root`): the content of the project files it
 * imports and of the lock file, and where the checkout is.
 */
export function workflowBundleKey(workflowsPath: string, root = PROJECT_ROOT): string {
  const entry = relative(root, workflowsPath);
  const files = [...importGraph([entry], root).get(entry)!, LOCK_FILE];
  return createHash('sha256').update(root).update('\0').update(fingerprintOf(files, root)).digest('hex').slice(0, 32);
}

/** The bundle of `workflowsPath`: read from the cache when it holds this code's bundle, else built and kept. */
export async function cachedWorkflowBundle(
  workflowsPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<WorkflowBundle> {
  const dir = join(cacheDir(env), 'workflow-bundles');
  const path = join(dir, `${workflowBundleKey(workflowsPath)}.js`);
  try {
    return { code: await readFile(path, 'utf8') };
  } catch {
    // Not built for this code yet.
  }
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
  });
  const partial = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(partial, code);
    await rename(partial, path);
  } catch {
    // A cache that cannot be written only costs the next start the bundling again.
    await rm(partial, { force: true }).catch(() => undefined);
  }
  return { code };
}
