/**
 * A throwaway PostgreSQL server for the cluster harness: Debian's binaries, a fresh data folder,
 * TCP on 127.0.0.1 only, trust authentication for one role (nothing but this machine's loopback
 * can reach it). PostgreSQL refuses to run as root, so under root it runs as `nobody`, and the
 * data folder is handed to that user.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensurePostgres } from './cluster-tools';
import { freePort } from './ports';
import { exitedOrKilled, guardChild, unprivileged } from './process';

export interface PostgresOptions {
  /** Folder that holds the data folder and the socket; a temp folder when omitted (removed on stop). */
  baseDir?: string;
  port?: number;
  /** The superuser role Temporal connects as. */
  user?: string;
  log?: (line: string) => void;
}

export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  process: ChildProcess;
  /** Fast shutdown (SIGINT: clients are disconnected, nothing waits for them), then removes a temp base folder. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

/** initdb + postgres; resolves once the server accepts connections. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const bin = await ensurePostgres(options.log ? { log: options.log } : {});
  const ownsBase = options.baseDir === undefined;
  const base = options.baseDir ?? (await mkdtemp(join(tmpdir(), 'fairline-pg-')));
  await mkdir(base, { recursive: true });
  const user = options.user ?? 'temporal';
  const port = options.port || (await freePort());
  const runAs = unprivileged();
  if (runAs) await chown(base, runAs.uid, runAs.gid);
  const dataDir = join(base, 'data');
  const say = options.log ?? ((): void => undefined);

  await new Promise<void>((done, fail) => {
    const [command, args] = runAs
      ? runAs.wrap(join(bin, 'initdb'), [
          '-D',
          dataDir,
          '-U',
          user,
          '--auth=trust',
          '-E',
          'UTF8',
          '--no-sync',
          '--locale=C',
        ])
      : [join(bin, 'initdb'), ['-D', dataDir, '-U', user, '--auth=trust', '-E', 'UTF8', '--no-sync', '--locale=C']];
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? done() : fail(new Error(`initdb exited ${code}:\n${output}`))));
  });

  const serverArgs = [
    '-D',
    dataDir,
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    // The socket in our own folder: /var/run/postgresql may not exist or not be writable.
    '-k',
    base,
    // A test cluster: durability across power loss is not wanted, speed is.
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=200',
  ];
  const [command, args] = runAs ? runAs.wrap(join(bin, 'postgres'), serverArgs) : [join(bin, 'postgres'), serverArgs];
  const child = guardChild(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  const tail: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      say(line);
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await exitedOrKilled(child, 'SIGINT', 10_000);
      if (ownsBase) await rm(base, { recursive: true, force: true });
    })();
    return stopping;
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `PostgreSQL exited with ${child.exitCode ?? child.signalCode} before it was ready:\n${tail.join('\n')}`,
      );
    }
    if (tail.some((line) => line.includes('database system is ready to accept connections'))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`PostgreSQL did not become ready in ${READY_TIMEOUT_MS / 1000} s:\n${tail.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: '127.0.0.1', port, user, process: child, stop };
}
