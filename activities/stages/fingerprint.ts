/**
 * Fingerprints of stage code: the sha256 of every file whose content decides a stage's output,
 * part of every cache key, so editing a stage's code invalidates exactly its results.
 *
 * Nobody lists those files by hand (hand-kept lists went stale and served stale results). A stage
 * names only its implementation module; the TypeScript files are its transitive imports as
 * esbuild resolves them (the bundler tsx already runs on), the Python files are the trainer
 * modules the stage launches and their package-relative imports, and data files are the ones its
 * code reads at run time (declared beside the reader, e.g. `DEFAULT_GROUPS_FILE`). Imports that
 * TypeScript erases (types only) do not count: they cannot change what runs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { buildSync } from 'esbuild';
import { PROJECT_ROOT } from '../../common/paths';

/** What a stage's code is, beyond its source text: where to start following imports, and what else it reads or runs. */
export interface StageCode {
  /** The implementation module, relative to the project root. */
  entry: string;
  /** Files the code reads at run time, relative to the project root. */
  data?: readonly string[];
  /**
   * Python modules the stage launches with `python -m` (`trainer`, `trainer.morph`): each is
   * followed through its package's relative imports, and the pinned requirements count too.
   */
  python?: readonly string[];
}

/** The requirements file that pins the environment every launched Python module runs in. */
const PYTHON_REQUIREMENTS = 'trainer/requirements.txt';

/** sha256 over files (relative to `root`): each file's path and content. */
export function fingerprintOf(files: readonly string[], root = PROJECT_ROOT): string {
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(join(root, file)))
      .update('\0');
  return hash.digest('hex');
}

/**
 * For each entry module, the project files it imports, directly or not (itself included), sorted
 * and relative to `root`. Packages from node_modules are left out: package-lock.json pins them.
 * One esbuild pass reads all entries, so shared modules are parsed once.
 */
export function importGraph(entries: readonly string[], root = PROJECT_ROOT): Map<string, string[]> {
  const { metafile } = buildSync({
    absWorkingDir: root,
    entryPoints: [...entries],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outdir: 'fingerprint-out',
    logLevel: 'silent',
  });
  const graph = new Map<string, string[]>();
  for (const entry of entries) {
    const seen = new Set<string>();
    const pending = [posix.normalize(entry)];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      for (const imported of metafile.inputs[file]?.imports ?? []) if (!imported.external) pending.push(imported.path);
    }
    graph.set(entry, [...seen].sort());
  }
  return graph;
}

/** Matches `from .x import`, `from . import a, b`, `from trainer.x import`, `import trainer.x`. */
const PYTHON_IMPORT = /^\s*(?:from\s+(\.+\w*|trainer(?:\.\w+)?)\s+import\s+([\w \t,()]+)|import\s+trainer\.(\w+))/gm;

/**
 * The files of the `trainer` package that `python -m <module>` runs: the package's `__init__.py`,
 * the module (a package runs its `__main__.py`), and whatever they import from the package, at
 * any depth (lazy imports inside functions too).
 */
export function pythonSources(module: string, root = PROJECT_ROOT): string[] {
  const [pkg, name] = module.split('.');
  const fileOf = (m: string): string => `${pkg}/${m}.py`;
  const seen = new Set<string>();
  const pending = [`${pkg}/__init__.py`, fileOf(name ?? '__main__')];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file) || !existsSync(join(root, file))) continue;
    seen.add(file);
    for (const match of readFileSync(join(root, file), 'utf8').matchAll(PYTHON_IMPORT)) {
      const [, from, names, direct] = match;
      if (direct) pending.push(fileOf(direct));
      else if (from === '.' || from === pkg)
        for (const n of names!.replace(/[()]/g, '').split(',')) pending.push(fileOf(n.trim().split(/\s+/)[0]!));
      else if (from) pending.push(fileOf(from.replace(/^\.+|^\w+\./, '')));
    }
  }
  return [...seen].sort();
}

/** Every file whose content decides the output of a stage with this code, relative to `root`. */
export function sourcesOf(code: StageCode, root = PROJECT_ROOT): string[] {
  return sourcesOfAll({ stage: code }, root).get('stage')!;
}

function sourcesOfAll(codes: Readonly<Record<string, StageCode>>, root: string): Map<string, string[]> {
  const graph = importGraph(
    Object.values(codes).map((c) => c.entry),
    root,
  );
  return new Map(
    Object.entries(codes).map(([name, code]) => {
      const python = (code.python ?? []).flatMap((m) => pythonSources(m, root));
      const files = [
        ...graph.get(code.entry)!,
        ...(code.data ?? []),
        ...python,
        ...(python.length > 0 ? [PYTHON_REQUIREMENTS] : []),
      ];
      return [name, [...new Set(files)].sort()];
    }),
  );
}

/** Fingerprints already computed in this process, by root and stage code. */
const computed = new Map<string, string>();

/**
 * The code fingerprint of each stage, computed once per process (a worker computes them at its
 * first activity and reuses them; the files do not change under a running worker).
 */
export function codeFingerprints(
  codes: Readonly<Record<string, StageCode>>,
  root = PROJECT_ROOT,
): Record<string, string> {
  const memoKey = (code: StageCode): string => JSON.stringify([root, code.entry, code.data ?? [], code.python ?? []]);
  const missing = Object.fromEntries(Object.entries(codes).filter(([, code]) => !computed.has(memoKey(code))));
  if (Object.keys(missing).length > 0) {
    for (const [name, files] of sourcesOfAll(missing, root))
      computed.set(memoKey(missing[name]!), fingerprintOf(files, root));
  }
  return Object.fromEntries(Object.entries(codes).map(([name, code]) => [name, computed.get(memoKey(code))!]));
}
