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
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { WorkflowBundle } from '@temporalio/worker';
import { fingerprintOf, importGraph } from '../activities/stages/fingerprint';
import { cacheDir, PROJECT_ROOT } from '../common/paths';

/** Pins the packages the bundler inlines. */
const LOCK_FILE = 'package-lock.json';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * The cache key of the bundle of `workflowsPath` (under `root`): `<checkout>-<code>`, digests of where
 * the checkout is and of the content of the project files the workflows import and the lock file.
 */
export function workflowBundleKey(workflowsPath: string, root = PROJECT_ROOT): string {
  const entry = relative(root, workflowsPath);
  const files = [...importGraph([entry], root).get(entry)!, LOCK_FILE];
  return `${sha256(root).slice(0, 12)}-${fingerprintOf(files, root).slice(0, 24)}`;
}

/** The bundle of `workflowsPath`: read from the cache when it holds this code's bundle, else built and kept. */
export async function cachedWorkflowBundle(
  workflowsPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<WorkflowBundle> {
  const dir = join(cacheDir(env), 'workflow-bundles');
  const key = workflowBundleKey(workflowsPath);
  const path = join(dir, `${key}.js`);
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
    // One bundle per checkout: the ones of its earlier code (1.7 MB each) are never loaded again.
    const checkout = `${key.split('-')[0]}-`;
    const earlier = (await readdir(dir)).filter(
      (f) => f.startsWith(checkout) && f.endsWith('.js') && f !== `${key}.js`,
    );
    await Promise.all(earlier.map((f) => rm(join(dir, f), { force: true })));
  } catch {
    // A cache that cannot be written only costs the next start the bundling again.
    await rm(partial, { force: true }).catch(() => undefined);
  }
  return { code };
}
