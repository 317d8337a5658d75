/**
 * fairline's production topology on one machine, for the cluster tests, the chaos benchmark and
 * `fairline cluster up`: PostgreSQL → the real Temporal server (`go.temporal.io/server`, schemas
 * set up by its own temporal-sql-tool, persistence and visibility on the postgres12 plugin) →
 * `fairline setup` (namespace + search attributes) → MinIO → fairline worker processes, one per
 * queue assignment, exactly as they run in production (`fairline worker --queues cpu`).
 *
 * Everything listens on 127.0.0.1 on free ports and lives in one folder (temporary unless given).
 * Every process is started with SIGKILL as its parent-death signal and stopped in reverse order by
 * stop(); a harness that dies takes its cluster with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import { DEFAULT_NAMESPACE, ENV } from '../common/constants';
import { PROJECT_ROOT } from '../common/paths';
import { setupNamespace } from '../common/setup';
import { ensureTemporalServer, type TemporalServerTools } from './cluster-tools';
import { startMinio, type MinioServer } from './minio';
import { freePort, freePortInRange } from './ports';
import { startPostgres, type PostgresServer } from './postgres';
import { DEV_SERVER_DYNAMIC_CONFIG } from './temporal';
import { exitedOrKilled, guardChild, parentDeathSignal } from './process';

export type WorkerQueues = 'cpu' | 'gpu' | 'cpu,gpu';

export interface ClusterOptions {
  /**
   * Holds the database, MinIO's objects, the server config and every log; a temp folder (removed on stop) when omitted.
   */
  baseDir?: string;
  namespace?: string;
  /** Worker processes to start: one entry per process. Default: one `cpu`, one `gpu`. */
  workers?: WorkerQueues[];
  /** Start MinIO and use it as the artifact store (default); false: a file store in baseDir. */
  minio?: boolean;
  /** `--max-cpu` of each worker process (default: the worker's own default). */
  maxCpu?: number;
  /** Extra environment for the worker processes. */
  workerEnv?: NodeJS.ProcessEnv;
  /** History retention of the namespace it creates (default 1 day: test clusters are thrown away). */
  retentionDays?: number;
  /** Fixed frontend port (`fairline cluster up --port`); free when omitted. */
  frontendPort?: number;
  log?: (line: string) => void;
}

export interface ClusterWorker {
  id: number;
  queues: WorkerQueues;
  process: ChildProcess;
  logFile: string;
  /** `http://127.0.0.1:<port>/healthz`, the worker's probe endpoint (`--health-port`). */
  healthUrl: string;
}

export interface TemporalServerProcess {
  address: string;
  process: ChildProcess;
  logFile: string;
  /**
   * Stops the server (SIGTERM, or SIGKILL with `hard`) and starts it again on the same ports,
   * database and config; resolves once the namespace answers again.
   */
  restart(options?: { hard?: boolean }): Promise<void>;
}

export interface Cluster {
  baseDir: string;
  namespace: string;
  postgres: PostgresServer;
  temporal: TemporalServerProcess;
  minio: MinioServer | undefined;
  /** `s3://fairline` on MinIO, or a file:// store in baseDir. */
  storeUri: string;
  /** The worker processes currently started (a killed one stays listed until replaced). */
  workers: ClusterWorker[];
  /**
   * Environment that points a fairline process (worker, CLI) at this cluster: address,
   * namespace, store, S3 endpoint, and the S3 credentials (the only secret).
   */
  env: NodeJS.ProcessEnv;
  /** The S3 secret key (tests look for it where it must never appear). */
  s3SecretKey: string | undefined;
  logsDir: string;
  startWorker(queues: WorkerQueues): Promise<ClusterWorker>;
  /** Stops everything: workers (SIGTERM, graceful), Temporal, MinIO, PostgreSQL. Safe to call twice. */
  stop(): Promise<void>;
}

const SERVER_READY_MS = 120_000;
/** Temporal stores membership ports in a smallint column: they must stay below 32768. */
const MEMBERSHIP_PORTS = [20_000, 32_767] as const;
const WORKER_READY_MS = 120_000;

/** The Temporal server's YAML config: postgres12 for both stores, every port on loopback. */
export function temporalServerConfig(options: {
  postgres: { host: string; port: number; user: string };
  ports: Record<
    | 'frontend'
    | 'frontendHttp'
    | 'frontendMembership'
    | 'history'
    | 'historyMembership'
    | 'matching'
    | 'matchingMembership'
    | 'worker'
    | 'workerMembership',
    number
  >;
  dynamicConfigFile: string;
  historyShards: number;
}): Record<string, unknown> {
  const { postgres, ports } = options;
  const sql = (databaseName: string, maxConns: number): Record<string, unknown> => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      // Trust authentication on loopback: the harness's database has no password to leak.
      password: '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (
    grpcPort: number,
    membershipPort: number,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra },
  });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: options.historyShards,
      datastores: { 'postgres-default': sql('temporal', 20), 'postgres-visibility': sql('temporal_visibility', 5) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      pprof: { port: 0 },
    },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, { httpPort: ports.frontendHttp }),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: options.dynamicConfigFile, pollInterval: '10s' },
  };
}

/** Dynamic config: fairline's workflow ids (`pipeline/<name>/<run-id>`) may be long. */
export const CLUSTER_DYNAMIC_CONFIG = {
  'limit.maxIDLength': [{ value: 255, constraints: {} }],
  // The transfer queue's load cap per history shard (default 20/s): a run's tasks all live on one
  // shard, so the default makes every task after a run's first dozen wait ~40 ms (infra/temporal.ts).
  'history.transferProcessorMaxPollRPS': [
    { value: DEV_SERVER_DYNAMIC_CONFIG['history.transferProcessorMaxPollRPS'], constraints: {} },
  ],
};

function logStream(file: string): WriteStream {
  return createWriteStream(file, { flags: 'a' });
}

/** Runs temporal-sql-tool against the harness's PostgreSQL. */
async function sqlTool(
  tools: TemporalServerTools,
  postgres: PostgresServer,
  database: string,
  args: string[],
  log: (line: string) => void,
): Promise<void> {
  const fullArgs = [
    '--plugin',
    'postgres12',
    '--ep',
    postgres.host,
    '-p',
    String(postgres.port),
    '-u',
    postgres.user,
    '--db',
    database,
    ...args,
  ];
  await new Promise<void>((done, fail) => {
    const child = spawn(tools.sqlTool, fullArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', fail);
    child.on('exit', (code) => {
      for (const line of output.split('\n').filter(Boolean)) log(`sql-tool: ${line}`);
      if (code === 0) done();
      else
        fail(
          new Error(
            `temporal-sql-tool ${fullArgs.join(' ')} exited ${code}:\n${output.split('\n').slice(-20).join('\n')}`,
          ),
        );
    });
  });
}

/** Creates both databases and brings their schemas to the versions this server expects (idempotent). */
export async function setupTemporalSchemas(
  tools: TemporalServerTools,
  postgres: PostgresServer,
  log: (line: string) => void,
): Promise<void> {
  for (const [database, schema] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ] as const) {
    await sqlTool(tools, postgres, database, ['create-database'], log).catch((error: Error) => {
      if (!/already exists/.test(error.message)) throw error;
    });
    await sqlTool(tools, postgres, database, ['setup-schema', '-v', '0.0'], log);
    await sqlTool(
      tools,
      postgres,
      database,
      ['update-schema', '-d', join(tools.postgresSchemaDir, schema, 'versioned')],
      log,
    );
  }
}

async function waitForNamespace(
  address: string,
  namespace: string,
  child: ChildProcess,
  tail: () => string,
): Promise<void> {
  const deadline = Date.now() + SERVER_READY_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the Temporal server exited with ${child.exitCode ?? child.signalCode}:\n${tail()}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.withDeadline(Date.now() + 3_000, () =>
          connection.workflowService.describeNamespace({ namespace }),
        );
        return;
      } finally {
        await connection.close();
      }
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(
          `the Temporal server did not answer for namespace ${namespace} in ${SERVER_READY_MS / 1000} s: ${(error as Error).message}\n${tail()}`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Starts the whole topology; on any failure, stops what it had started and rethrows. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const log = options.log ?? ((): void => undefined);
  const ownsBase = options.baseDir === undefined;
  const baseDir = options.baseDir ?? (await mkdtemp(join(tmpdir(), 'fairline-cluster-')));
  const logsDir = join(baseDir, 'logs');
  await mkdir(logsDir, { recursive: true });
  // Under root, PostgreSQL runs as `nobody` in <baseDir>/postgres: it must be able to pass
  // through baseDir (search only, no listing; mkdtemp makes it 0700).
  if (process.getuid?.() === 0) await chmod(baseDir, 0o711);
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const stoppers: (() => Promise<void>)[] = [];
  const workers: ClusterWorker[] = [];
  let stopped: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopped ??= (async () => {
      // Workers first (SIGTERM lets them finish or checkpoint), then the services they use.
      await Promise.all(workers.map((w) => exitedOrKilled(w.process, 'SIGTERM', 20_000)));
      for (const stop of stoppers.reverse())
        await stop().catch((error: unknown) => log(`stop: ${(error as Error).message}`));
      if (ownsBase) await rm(baseDir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const tools = await ensureTemporalServer({ log });
    log('PostgreSQL: starting…');
    const pgLog = logStream(join(logsDir, 'postgres.log'));
    const postgres = await startPostgres({
      baseDir: join(baseDir, 'postgres'),
      log: (line) => pgLog.write(`${line}\n`),
    });
    stoppers.push(async () => {
      await postgres.stop();
      pgLog.end();
    });
    log(`PostgreSQL: 127.0.0.1:${postgres.port}; setting up Temporal's schemas with temporal-sql-tool…`);
    await setupTemporalSchemas(tools, postgres, (line) => pgLog.write(`${line}\n`));

    const ports = {
      frontend: options.frontendPort || (await freePort()),
      frontendHttp: await freePort(),
      frontendMembership: await freePortInRange(MEMBERSHIP_PORTS[0], MEMBERSHIP_PORTS[1]),
      history: await freePort(),
      historyMembership: await freePortInRange(MEMBERSHIP_PORTS[0], MEMBERSHIP_PORTS[1]),
      matching: await freePort(),
      matchingMembership: await freePortInRange(MEMBERSHIP_PORTS[0], MEMBERSHIP_PORTS[1]),
      worker: await freePort(),
      workerMembership: await freePortInRange(MEMBERSHIP_PORTS[0], MEMBERSHIP_PORTS[1]),
    };
    const configDir = join(baseDir, 'temporal-config');
    await mkdir(configDir, { recursive: true });
    const dynamicConfigFile = join(configDir, 'dynamic.yaml');
    await writeFile(dynamicConfigFile, stringify(CLUSTER_DYNAMIC_CONFIG));
    await writeFile(
      join(configDir, 'development.yaml'),
      stringify(temporalServerConfig({ postgres, ports, dynamicConfigFile, historyShards: 4 })),
    );
    const address = `127.0.0.1:${ports.frontend}`;
    const temporalLogFile = join(logsDir, 'temporal.log');
    const temporalLog = logStream(temporalLogFile);
    const serverTail: string[] = [];
    const spawnServer = (): ChildProcess => {
      const [command, args] = parentDeathSignal(tools.server, [
        '--root',
        baseDir,
        '--config',
        'temporal-config',
        '--env',
        'development',
        '--allow-no-auth',
        'start',
      ]);
      const child = guardChild(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
      for (const stream of [child.stdout, child.stderr]) {
        stream?.on('data', (chunk: Buffer) => {
          temporalLog.write(chunk);
          serverTail.push(
            ...chunk
              .toString()
              .split('\n')
              .filter(Boolean)
              .map((line) => line.slice(0, 400)),
          );
          serverTail.splice(0, Math.max(0, serverTail.length - 30));
        });
      }
      return child;
    };
    log(`Temporal server ${address}: starting (PostgreSQL persistence and visibility)…`);
    const temporal: TemporalServerProcess = {
      address,
      process: spawnServer(),
      logFile: temporalLogFile,
      async restart(restartOptions = {}) {
        await exitedOrKilled(temporal.process, restartOptions.hard ? 'SIGKILL' : 'SIGTERM', 20_000);
        temporal.process = spawnServer();
        await waitForNamespace(address, namespace, temporal.process, () => serverTail.join('\n'));
      },
    };
    stoppers.push(async () => {
      await exitedOrKilled(temporal.process, 'SIGTERM', 20_000);
      temporalLog.end();
    });
    await waitForNamespace(address, 'temporal-system', temporal.process, () => serverTail.join('\n'));
    const connection = await Connection.connect({ address });
    try {
      await setupNamespace(connection, namespace, {
        retentionDays: options.retentionDays ?? 1,
        log: (line) => log(`setup: ${line}`),
      });
    } finally {
      await connection.close();
    }

    let minio: MinioServer | undefined;
    let s3SecretKey: string | undefined;
    const env: NodeJS.ProcessEnv = {
      [ENV.temporalAddress]: address,
      [ENV.temporalEmbedded]: 'false',
      [ENV.temporalNamespace]: namespace,
      [ENV.stateDir]: join(baseDir, 'state'),
    };
    let storeUri: string;
    if (options.minio ?? true) {
      const accessKey = `fairline-${randomBytes(4).toString('hex')}`;
      s3SecretKey = randomBytes(18).toString('hex');
      const minioLog = logStream(join(logsDir, 'minio.log'));
      minio = await startMinio({
        dataDir: join(baseDir, 'minio'),
        accessKey,
        secretKey: s3SecretKey,
        log: (line) => minioLog.write(`${line}\n`),
      });
      const started = minio;
      stoppers.push(async () => {
        await started.stop();
        minioLog.end();
      });
      storeUri = 's3://fairline';
      Object.assign(env, {
        [ENV.storeUri]: storeUri,
        [ENV.s3Endpoint]: minio.endpoint,
        [ENV.s3AccessKeyId]: accessKey,
        [ENV.s3SecretAccessKey]: s3SecretKey,
      });
      const { createS3Store } = await import('../store/s3-store');
      const store = createS3Store({
        uri: storeUri,
        endpoint: minio.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: accessKey, secretAccessKey: s3SecretKey },
      });
      try {
        await store.ensureBucket();
      } finally {
        await store.close();
      }
      log(`MinIO: ${minio.endpoint} (bucket fairline)`);
    } else {
      storeUri = `file://${join(baseDir, 'artifacts')}`;
      env[ENV.storeUri] = storeUri;
    }

    let nextWorkerId = 1;
    const startWorker = async (queues: WorkerQueues): Promise<ClusterWorker> => {
      const id = nextWorkerId++;
      const logFile = join(logsDir, `worker-${id}-${queues.replace(',', '-')}.log`);
      const out = logStream(logFile);
      const healthPort = await freePort();
      const workerArgs = [
        'worker',
        '--queues',
        queues,
        '--health-port',
        String(healthPort),
        ...(options.maxCpu ? ['--max-cpu', String(options.maxCpu)] : []),
      ];
      const [command, args] = parentDeathSignal(process.execPath, [
        join(PROJECT_ROOT, 'cli', 'bin.mjs'),
        ...workerArgs,
      ]);
      // The caller's environment minus its own fairline and AWS settings, then this cluster's.
      const inherited = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !/^(FAIRLINE_|AWS_)/.test(name) || name === ENV.cacheDir),
      );
      const child = guardChild(
        spawn(command, args, {
          cwd: PROJECT_ROOT,
          env: { ...inherited, ...env, ...options.workerEnv },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      const worker: ClusterWorker = {
        id,
        queues,
        process: child,
        logFile,
        healthUrl: `http://127.0.0.1:${healthPort}/healthz`,
      };
      workers.push(worker);
      await new Promise<void>((ready, fail) => {
        let seen = '';
        const timer = setTimeout(
          () =>
            fail(
              new Error(
                `worker ${id} (${queues}) did not poll within ${WORKER_READY_MS / 1000} s:\n${seen.slice(-2000)}`,
              ),
            ),
          WORKER_READY_MS,
        );
        const onData = (chunk: Buffer): void => {
          out.write(chunk);
          if (seen.length < 100_000) seen += chunk.toString();
          if (seen.includes('worker: polling')) {
            clearTimeout(timer);
            ready();
          }
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('exit', (code, signal) => {
          out.end();
          clearTimeout(timer);
          fail(new Error(`worker ${id} (${queues}) exited with ${code ?? signal}:\n${seen.slice(-2000)}`));
        });
      });
      log(`worker ${id}: --queues ${queues} (pid ${child.pid})`);
      return worker;
    };

    const cluster: Cluster = {
      baseDir,
      namespace,
      postgres,
      temporal,
      minio,
      storeUri,
      workers,
      env,
      s3SecretKey,
      logsDir,
      startWorker,
      stop: stopAll,
    };
    // In parallel: each cpu worker bundles the workflow code at start, which takes a while.
    await Promise.all((options.workers ?? ['cpu', 'gpu']).map((queues) => startWorker(queues)));
    return cluster;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
