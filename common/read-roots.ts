/**
 * Which local files a worker may read for a pipeline: `file://` URLs and paths in `with` blocks
 * (download and dataset sources, ner-mask lexicons, tokenizers and models). Without this, any
 * pipeline could read any file the worker can (`url: file:///etc/shadow`), and on a shared worker
 * that is an exfiltration path.
 *
 * The rule: the real path of the file (symlinks resolved) lies under the real path of one of the
 * readable roots. Roots come from config `readRoots` (FAIRLINE_READ_ROOTS); unconfigured, a local
 * stack (Temporal on a loopback address) reads the project, the pipeline's own folder and the
 * local targets of data mirrors, and a cluster worker reads nothing local.
 */
import { realpathSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactNotFound, ReadRefused } from './errors';
import { PROJECT_ROOT } from './paths';

/** The roots a worker reads under, and how to say where they came from (the rule). */
export interface ReadPolicy {
  readonly roots: readonly string[];
  readonly rule: string;
}

/** True for Temporal addresses of this machine: a local dev stack, where the defaults apply. */
export function isLocalAddress(address: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]):\d+$/.test(address);
}

/** What the policy needs from the config (structural, so the workflow-free config type is not imported here). */
export interface ReadRootsConfig {
  temporal: { address: string };
  readRoots?: readonly string[] | undefined;
  dataMirrors: readonly { from: string; to: string }[];
}

const realOrResolved = (path: string): string => {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
};

/**
 * The readable roots for a stage of a pipeline whose YAML sat in `pipelineDir` (absent when the
 * run did not come from a file). Configured roots replace the defaults entirely.
 */
export function readPolicy(config: ReadRootsConfig, pipelineDir?: string): ReadPolicy {
  if (config.readRoots !== undefined) {
    const roots = config.readRoots.map(realOrResolved);
    return {
      roots,
      rule: `only files under the configured readable roots may be read (readRoots / FAIRLINE_READ_ROOTS: ${roots.length ? roots.join(', ') : 'none'})`,
    };
  }
  if (!isLocalAddress(config.temporal.address)) {
    return {
      roots: [],
      rule: 'a worker of a remote Temporal cluster reads no local files unless readRoots / FAIRLINE_READ_ROOTS names them',
    };
  }
  const mirrors = config.dataMirrors.filter((m) => m.to.startsWith('file://')).map((m) => fileURLToPath(m.to));
  // A pipeline at the filesystem root would make everything readable; its folder then does not count.
  const own = pipelineDir && resolve(pipelineDir) !== resolve('/') ? [pipelineDir] : [];
  const roots = [...new Set([PROJECT_ROOT, ...own, ...mirrors].map(realOrResolved))];
  return {
    roots,
    rule: `a local stack reads only the project, the pipeline's folder and data-mirror folders (${roots.join(', ')}); set readRoots / FAIRLINE_READ_ROOTS to allow others`,
  };
}

const within = (path: string, root: string): boolean => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/**
 * The real path of `source` (a `file://` URL or a path) if the policy lets it be read; else
 * ReadRefused naming the rule. A missing file under a root is ArtifactNotFound; a missing file
 * outside every root is refused too, so the answer says nothing about what exists there. Callers
 * open the returned real path, not the name they were given.
 */
export async function checkReadable(source: string, policy: ReadPolicy): Promise<string> {
  const path = resolve(source.startsWith('file://') ? fileURLToPath(source) : source);
  let real: string;
  try {
    real = await realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    // The folder's real path decides for a file that does not exist (a symlinked folder still counts).
    const folder = realOrResolved(dirname(path));
    if (!policy.roots.some((root) => within(folder, root))) throw new ReadRefused(source, policy.rule);
    throw new ArtifactNotFound(source);
  }
  if (!policy.roots.some((root) => within(real, root))) throw new ReadRefused(source, policy.rule);
  return real;
}
