/**
 * Starts and stops a real MinIO server on loopback: the S3 backend of `fairline dev` and of the
 * store tests. One single-drive server per data directory; restarting on the same directory and
 * port brings back the same objects (the store tests rely on that to look for partial uploads
 * after a crash).
 */
import { childEnv } from '../common/child-env';
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { minioBinaryPath } from '../common/paths';
import { freePort } from './ports';
import { parentDeathSignal, stopProcess } from './process';

export interface MinioOptions {
  /** The `minio` executable; defaults to the pinned build `npm run bootstrap` installs. */
  binary?: string;
  /** Where MinIO keeps its objects (created if missing). */
  dataDir: string;
  /** S3 API port on 127.0.0.1; 0 or undefined picks a free one. */
  port?: number;
  /** Root credentials (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD); the password needs ≥ 8 characters. */
  accessKey: string;
  secretKey: string;
  /** Receives MinIO's output line by line, with the credentials blanked out. */
  log?: (line: string) => void;
}

export interface MinioServer {
  /** `http://127.0.0.1:<port>`: the S3 endpoint. */
  endpoint: string;
  port: number;
  /** Stops the server: SIGTERM, then SIGKILL after a grace period. Safe to call twice. */
  stop(): Promise<void>;
  process: ChildProcess;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const LOG_TAIL_LINES = 30;
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Spawns `minio server` bound to 127.0.0.1 only and resolves once its liveness endpoint answers.
 * If MinIO exits or does not answer within 30 s, the error carries the last lines it printed.
 */
export async function startMinio(options: MinioOptions): Promise<MinioServer> {
  const binary = options.binary ?? minioBinaryPath();
  try {
    await access(binary, constants.X_OK);
  } catch {
    throw new Error(`MinIO not found (or not executable) at ${binary}: run \`npm run bootstrap\` to build it`);
  }
  await mkdir(options.dataDir, { recursive: true });
  const port = options.port || (await freePort());
  const consolePort = await freePort();
  // An empty certs directory of our own: MinIO would otherwise read ~/.minio/certs and switch to
  // TLS if a user happened to keep certificates there, and the endpoint below would be wrong.
  const certsDir = await mkdtemp(join(tmpdir(), 'fairline-minio-certs-'));

  // MinIO prints the root password in its startup banner; never let it reach a log or an error.
  const secrets = [options.secretKey, options.accessKey].filter((s) => s.length > 0);
  const redact = (line: string): string => secrets.reduce((text, secret) => text.split(secret).join('***'), line);
  const tail: string[] = [];

  // SIGKILL when its parent dies, even by SIGKILL (setpriv execs MinIO: `child` stays the server).
  const [command, argv] = parentDeathSignal(binary, [
    'server',
    options.dataDir,
    '--address',
    `127.0.0.1:${port}`,
    '--console-address',
    `127.0.0.1:${consolePort}`,
    '--certs-dir',
    certsDir,
  ]);
  const child = spawn(command, argv, {
    // PATH, HOME and the like (common/child-env.ts), no stray MINIO_* settings of the caller's
    // shell (a KMS or a site config there would change what this server is), none of the store
    // client's AWS_* credentials: only its own root user.
    env: childEnv('minio', {
      MINIO_ROOT_USER: options.accessKey,
      MINIO_ROOT_PASSWORD: options.secretKey,
      MINIO_BROWSER: 'off',
      // Nothing leaves the machine: no update checks, no call-home diagnostics.
      MINIO_UPDATE: 'off',
      MINIO_CALLHOME_ENABLE: 'off',
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (raw) => {
      const line = redact(raw);
      tail.push(line);
      if (tail.length > LOG_TAIL_LINES) tail.shift();
      options.log?.(line);
    });
  }

  // A test runner or CLI that exits without calling stop() must not leave MinIO running: kill it
  // when this process exits, and pass on the signals that end a process without an 'exit' event
  // (node --test sends SIGTERM to a test file that overruns its timeout).
  const killOnExit = (): void => {
    child.kill('SIGKILL');
    rmSync(certsDir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    child.kill('SIGTERM');
    // Synchronously: nothing asynchronous runs once the signal is re-delivered below.
    rmSync(certsDir, { recursive: true, force: true });
    // Our listener stopped the default action (dying). When no one else handles the signal,
    // re-deliver it with the default restored, so the host ends as it would have without us.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.once('exit', killOnExit);
  for (const signal of FORWARDED_SIGNALS) process.once(signal, onSignal);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const outputDrained = new Promise<void>((done) => child.once('close', () => done()));
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  void exited.then(async () => {
    process.removeListener('exit', killOnExit);
    for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, onSignal);
    await rm(certsDir, { recursive: true, force: true });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await stopProcess(child, STOP_GRACE_MS);
      await rm(certsDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const explain = (what: string): string =>
    `MinIO (${binary}) ${what}${tail.length ? `; its last output:\n${tail.join('\n')}` : ''}`;
  for (;;) {
    if (spawnError) {
      await stop();
      throw new Error(explain(`could not be started: ${spawnError.message}`));
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      // 'exit' can come before the last output is read; give the pipes a moment to drain.
      await Promise.race([outputDrained, new Promise((done) => setTimeout(done, 1_000))]);
      await stop();
      throw new Error(explain(`exited with ${child.exitCode ?? child.signalCode} before it was ready`));
    }
    if (await answers(`${endpoint}/minio/health/live`)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(explain(`did not answer on ${endpoint} within ${READY_TIMEOUT_MS / 1000} s`));
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  return { endpoint, port, stop, process: child };
}

/** True when a GET of `url` returns 2xx within a second. */
async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
