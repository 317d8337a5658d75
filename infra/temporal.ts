/**
 * Starts and stops the official Temporal CLI dev server: a real Temporal server (SQLite-backed,
 * Web UI on) on loopback, with fairline's namespace and search attributes registered.
 */
import { childEnv } from '../common/child-env';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { DEFAULT_NAMESPACE, SEARCH_ATTRIBUTES } from '../common/constants';
import { ensureSearchAttributes } from '../common/setup';
import { temporalBinaryPath } from '../common/paths';
import { freePort } from './ports';
import { parentDeathSignal, stopProcess } from './process';

export { stopProcess } from './process';
/** Kept here for its existing importers; it lives with `fairline setup` in common/setup.ts. */
export { ensureSearchAttributes } from '../common/setup';

export interface DevServer {
  address: string;
  uiUrl: string;
  namespace: string;
  /** The server process; undefined when the SDK started (and owns) a downloaded server. */
  process: ChildProcess | undefined;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  binary?: string;
  /** SQLite file; omit for an in-memory server (tests). */
  dbFile?: string;
  /** 0 or undefined: pick a free port. */
  port?: number;
  uiPort?: number;
  namespace?: string;
  log?: (line: string) => void;
  /** Extra `--dynamic-config-value KEY=VALUE` pairs, over DEV_SERVER_DYNAMIC_CONFIG (benchmarks: eager activities). */
  dynamicConfig?: Readonly<Record<string, string | number | boolean>>;
  /** Leave out DEV_SERVER_DYNAMIC_CONFIG: the CLI's own defaults (bench/orchestration.ts compares the two). */
  stock?: boolean;
}

/**
 * Dynamic config fairline gives every dev server it starts.
 *
 * `history.transferProcessorMaxPollRPS`: the history service moves new workflow and activity tasks
 * to matching through its transfer queue, whose reader may load at most this many times a second
 * per history shard (default 20, burst 20). A production cluster spreads workflows over hundreds
 * of shards; the dev server has one, so a single pipeline spends the burst in its first dozen
 * back-to-back tasks and then waits about 40 ms for every task after it (~95 ms per sequential
 * stage instead of ~25). The reader is woken by new tasks, so a higher cap costs nothing while
 * idle. Measured in bench/orchestration.ts (server `stock` vs `fairline`); docs/operations.md.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, string | number | boolean>> = {
  'history.transferProcessorMaxPollRPS': 1000,
};

const READY_TIMEOUT_MS = 60_000;

const searchAttributeArgs = (): string[] =>
  Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);

const dynamicConfigOf = (options: DevServerOptions): DevServerOptions['dynamicConfig'] => ({
  ...(options.stock ? {} : DEV_SERVER_DYNAMIC_CONFIG),
  ...options.dynamicConfig,
});

/** The CLI parses each dynamic config value as JSON (strings keep their quotes). */
const dynamicConfigArgs = (values: DevServerOptions['dynamicConfig']): string[] =>
  Object.entries(values ?? {}).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);

/**
 * Where no bootstrapped binary exists (a user's machine without Go, say), the Temporal SDK
 * downloads the official dev server into its own cache and runs it. This needs the internet;
 * offline, the error says to run the bootstrap instead.
 */
async function startDownloadedDevServer(
  options: DevServerOptions & { port: number; uiPort: number; namespace: string },
  missing: string,
): Promise<DevServer> {
  options.log?.(`Temporal CLI not found at ${missing}; asking the Temporal SDK to download the dev server`);
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  let env;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download' },
        ip: '127.0.0.1',
        port: options.port,
        ui: true,
        uiPort: options.uiPort,
        namespace: options.namespace,
        ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
        extraArgs: [...searchAttributeArgs(), ...dynamicConfigArgs(dynamicConfigOf(options))],
      },
    });
  } catch (error) {
    throw new Error(
      `Temporal CLI not found at ${missing}, and the SDK could not download a dev server (${(error as Error).message}): run \`npm run bootstrap\``,
    );
  }
  return {
    address: env.address,
    uiUrl: `http://127.0.0.1:${options.uiPort}`,
    namespace: options.namespace,
    process: undefined,
    stop: () => env.teardown(),
  };
}

/** Starts `temporal server start-dev` and resolves once the namespace answers. */
export async function startTemporalDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const binary = options.binary ?? temporalBinaryPath();
  const port = options.port || (await freePort());
  const uiPort = options.uiPort || (await freePort());
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  if (!existsSync(binary)) return startDownloadedDevServer({ ...options, port, uiPort, namespace }, binary);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...searchAttributeArgs(),
    ...dynamicConfigArgs(dynamicConfigOf(options)),
  ];
  if (options.dbFile) {
    await mkdir(dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  // The dev server needs no credential of the caller's (common/child-env.ts).
  // SIGKILL when its parent dies, even by SIGKILL: no orphaned server outlives `fairline dev`.
  const [command, argv] = parentDeathSignal(binary, args);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv('temporal') });
  const tail: string[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      options.log?.(line);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  const address = `127.0.0.1:${port}`;
  const server: DevServer = {
    address,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    namespace,
    process: child,
    stop: () => stopProcess(child),
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`Temporal dev server exited with code ${child.exitCode}:\n${tail.join('\n')}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        await ensureSearchAttributes(connection, namespace);
        return server;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(
          `Temporal dev server did not become ready in ${READY_TIMEOUT_MS / 1000} s: ${(error as Error).message}\n${tail.join('\n')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
