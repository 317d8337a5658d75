/**
 * The command line's kept bundle: `fairline` loads its code as one file that esbuild built from
 * the sources, instead of running the sources through tsx's loader hooks. The hooks resolve and
 * transform every module through a loader thread, which costs about 0.3 s at every start (0.8 s
 * → 0.5 s for `fairline --help` on the development machine): much of a cached rerun's time once
 * the stack runs.
 *
 * The bundle holds the project's own modules only; packages stay `require`s and load from
 * node_modules, which is why it is kept in `node_modules/.cache/fairline-cli/` (their resolution
 * starts from the bundle's folder). It is CommonJS, loaded with `require`: the packages fairline
 * imports are CommonJS, and an ES module importing them makes Node scan each one's source for
 * its export names and load it through the ES module loader, ~0.1 s of a cached rerun's ~0.9 s
 * (bench/README.md). A module the code imports dynamically (the worker, the activities) is in the
 * same file but runs only when imported, so the packages only it needs (the worker SDK, esbuild,
 * the AWS SDK) are required only then. It is used only while every source file it was built from
 * still has the content it had then (`<name>.json` lists them with their digests, checked at each
 * start: ~20 ms), and it was built in this checkout (the key covers its path). Otherwise it is
 * built again first (~0.3 s) and kept. Every file is written under a temporary name and renamed,
 * so concurrent commands never read half a file; where nothing can be written (a read-only
 * image) or the build fails, the caller runs the sources through tsx as before.
 *
 * Each module's `import.meta.url` is replaced by its source file's URL while bundling, so paths
 * the code derives from it (the project root, the workflows' folder) are the same as from the
 * sources. Source maps are kept beside the bundle's files and enabled, so stack traces name the
 * sources.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Bump when the way bundles are built changes: older ones are then never used. */
const FORMAT = 2;
/** Bundles of earlier code kept beside the current one (about 2.5 MB each with their source maps). */
const EARLIER_KEPT = 2;
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The digest of every file in `inputs` (paths relative to `root`), or undefined when one cannot be read. */
async function digests(root, inputs) {
  try {
    const read = await Promise.all(inputs.map(async (path) => [path, sha256(await readFile(join(root, path)))]));
    return Object.fromEntries(read);
  } catch {
    return undefined;
  }
}

/**
 * Keeps packages as `require`s from node_modules, and gives each module its source file's `import.meta.url`. Records
 * the digest of each source as it was read into the bundle (`read`: absolute path → sha256), so
 * what the kept bundle is checked against is exactly what it holds.
 */
const sourcesAsTheyAre = (read) => ({
  name: 'fairline-sources-as-they-are',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, ({ path }) => ({ path, external: true }));
    build.onLoad({ filter: /\.[cm]?ts$/ }, async ({ path }) => {
      const bytes = await readFile(path);
      read.set(path, sha256(bytes));
      return {
        contents: bytes.toString('utf8').replaceAll('import.meta.url', JSON.stringify(pathToFileURL(path).href)),
        loader: 'ts',
      };
    });
  },
});

/**
 * Builds the bundle of `entry` and keeps it as `<dir>/<name>-<key>/main.cjs`; returns that file, or
 * undefined when it could not be built (a top-level await, which CommonJS cannot hold, included)
 * or kept.
 */
async function build(root, entry, dir, name) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  const staging = join(dir, `${name}.${process.pid}.tmp`);
  await rm(staging, { recursive: true, force: true });
  const read = new Map();
  try {
    const result = await esbuild.build({
      entryPoints: { main: join(root, entry) },
      absWorkingDir: root,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: join(staging, 'main.cjs'),
      sourcemap: 'external',
      metafile: true,
      logLevel: 'silent',
      plugins: [sourcesAsTheyAre(read)],
    });
    const inputs = {};
    for (const file of Object.keys(result.metafile.inputs).sort()) {
      const digest = read.get(join(root, file));
      // Every input is a TypeScript source the plugin read; anything else is not checked at start, so keep nothing.
      if (digest === undefined) return undefined;
      inputs[file] = digest;
    }
    const key = sha256(JSON.stringify({ format: FORMAT, esbuild: esbuild.version, root, inputs })).slice(0, 24);
    const kept = join(dir, `${name}-${key}`);
    try {
      await rename(staging, kept);
    } catch {
      // Another command kept the same code first: use its folder.
    }
    const pointer = join(dir, `${name}.json`);
    await writeFile(`${pointer}.${process.pid}.tmp`, JSON.stringify({ format: FORMAT, key, root, inputs }));
    await rename(`${pointer}.${process.pid}.tmp`, pointer);
    // Bundles of earlier code are not started again, but a command still running from one (a
    // `fairline dev` left open while the code was edited) may yet load its lazy parts: the
    // newest few stay.
    const earlier = [];
    for (const old of await readdir(dir)) {
      if (old.startsWith(`${name}-`) && old !== `${name}-${key}`)
        earlier.push({ old, at: (await stat(join(dir, old))).mtimeMs });
    }
    earlier.sort((a, b) => b.at - a.at);
    for (const { old } of earlier.slice(EARLIER_KEPT)) await rm(join(dir, old), { recursive: true, force: true });
    return join(kept, 'main.cjs');
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * The kept bundle of `entry` (relative to `root`) as a file path, for `require`: the one on disk
 * when its sources are unchanged, else a fresh one. Undefined when no bundle can be had; the caller then loads
 * the sources through tsx.
 */
export async function keptBundle({
  root = PROJECT_ROOT,
  entry = 'cli/main.ts',
  dir = join(root, 'node_modules', '.cache', 'fairline-cli'),
} = {}) {
  // Named after the checkout too: worktrees sharing one node_modules keep a bundle each instead
  // of replacing each other's at every command.
  const name = `${entry.replace(/\.[cm]?ts$/, '').replaceAll('/', '-')}-${sha256(root).slice(0, 8)}`;
  try {
    const kept = JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8'));
    const now =
      kept.format === FORMAT && kept.root === root ? await digests(root, Object.keys(kept.inputs)) : undefined;
    if (now && Object.entries(kept.inputs).every(([path, digest]) => now[path] === digest))
      return join(dir, `${name}-${kept.key}`, 'main.cjs');
  } catch {
    // None kept yet, or unreadable: build one.
  }
  try {
    await mkdir(dir, { recursive: true });
    return await build(root, entry, dir, name);
  } catch {
    return undefined;
  }
}
