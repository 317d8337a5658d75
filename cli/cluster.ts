/**
 * `fairline cluster up`: the production topology on this machine (infra/cluster.ts): PostgreSQL,
 * the real Temporal server, MinIO and worker processes, until Ctrl-C stops them all. The
 * connection settings, S3 key included, go to a 0600 env file that clients source; the key is
 * never printed.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCluster, type WorkerQueues } from '../infra/cluster';

const say = (line: string): void => void process.stderr.write(`${line}\n`);

const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

export async function clusterUpCommand(opts: {
  cpuWorkers: string;
  gpuWorkers: string;
  dir?: string;
  port?: string;
}): Promise<number> {
  const cpu = Number(opts.cpuWorkers);
  const gpu = Number(opts.gpuWorkers);
  const port = opts.port === undefined ? 0 : Number(opts.port);
  if (
    ![cpu, gpu].every((n) => Number.isInteger(n) && n >= 0) ||
    cpu + gpu === 0 ||
    !Number.isInteger(port) ||
    port < 0 ||
    port > 65_535
  ) {
    say('--cpu-workers and --gpu-workers take whole numbers (at least one worker in all); --port a port number');
    return 2;
  }
  const workers: WorkerQueues[] = [...Array<WorkerQueues>(cpu).fill('cpu'), ...Array<WorkerQueues>(gpu).fill('gpu')];
  const cluster = await startCluster({
    workers,
    log: say,
    retentionDays: 7,
    ...(opts.dir ? { baseDir: opts.dir } : {}),
    ...(port ? { frontendPort: port } : {}),
  });
  let stopping = false;
  const done = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      say(`${signal}: stopping the workers, Temporal, MinIO and PostgreSQL…`);
      void cluster.stop().then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  const envFile = join(cluster.baseDir, 'cluster.env');
  await writeFile(
    envFile,
    `${Object.entries(cluster.env)
      .map(([k, v]) => `export ${k}=${shellQuote(v ?? '')}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  await chmod(envFile, 0o600);
  say('');
  say(
    `Temporal frontend: ${cluster.temporal.address} (namespace ${cluster.namespace}; PostgreSQL 127.0.0.1:${cluster.postgres.port})`,
  );
  if (cluster.minio) say(`MinIO (S3):        ${cluster.minio.endpoint}, store ${cluster.storeUri}`);
  for (const w of cluster.workers)
    say(`worker ${w.id}:          --queues ${w.queues}, pid ${w.process.pid}, log ${w.logFile}`);
  say(`logs:              ${cluster.logsDir}`);
  say(`clients:           source ${envFile}   (0600: it holds the S3 key), then: npx fairline run pipelines/demo.yaml`);
  say('Ctrl-C stops it all');
  await done;
  say('cluster stopped');
  return 0;
}
