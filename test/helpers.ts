/** Shared helpers of the test suite: the suite's dev server, the CLI as a subprocess, temp dirs. */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../common/paths';

/** The dev server `npm test` started for the suite (infra/run-tests.ts). */
export function suiteTemporal(): { address: string; uiUrl: string } {
  const address = process.env.FAIRLINE_TEST_TEMPORAL_ADDRESS;
  const uiUrl = process.env.FAIRLINE_TEST_TEMPORAL_UI;
  if (!address || !uiUrl) throw new Error('FAIRLINE_TEST_TEMPORAL_ADDRESS is not set: run the suite with `npm test`');
  return { address, uiUrl };
}

/**
 * Readable roots (common/read-roots.ts) for tests that read their own files: the OS temp folder
 * (where tests write fixtures), the project and the shared datasets. Production's defaults are
 * narrower; test/common/read-roots.test.ts checks those.
 */
export const TEST_READ_ROOTS: readonly string[] = [tmpdir(), PROJECT_ROOT, join(PROJECT_ROOT, '..', 'shared', 'data')];

/** Folders tempDir made in this test process: removed when it exits (a suite run left gigabytes behind). */
const made: string[] = [];
process.once('exit', () => {
  // FAIRLINE_KEEP_TEST_DIRS=1 keeps them for a look after a failure.
  if (process.env.FAIRLINE_KEEP_TEST_DIRS === '1') return;
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new folder under the OS temp folder, removed when the test process exits. */
export async function tempDir(prefix = 'fairline-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for a CLI subprocess: the caller's, minus every FAIRLINE_* and AWS_* variable. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(FAIRLINE_|AWS_)/.test(k) || k.startsWith('FAIRLINE_TEST_')) env[k] = v;
  return { ...env, ...extra };
}

/** Runs `fairline ARGS…` as a user would (cli/bin.mjs), with the given environment. */
export function fairline(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'cli', 'bin.mjs'), ...args], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`fairline ${args.join(' ')} timed out after ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/**
 * `fairline [GLOBAL ARGS] worker` as its own process, as in production; resolves once it polls.
 * `globalArgs` go before the command, e.g. `['--config', file]`.
 */
export function startWorkerProcess(
  env: NodeJS.ProcessEnv,
  globalArgs: string[] = [],
  workerArgs: string[] = [],
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [join(PROJECT_ROOT, 'cli', 'bin.mjs'), ...globalArgs, 'worker', ...workerArgs],
    { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return new Promise((ready, fail) => {
    let seen = '';
    const onData = (c: Buffer): void => {
      seen += c.toString();
      if (seen.includes('worker: polling')) ready(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => fail(new Error(`worker exited ${code}: ${seen}`)));
  });
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
