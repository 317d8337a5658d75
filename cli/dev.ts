/** `fairline dev` (embedded stack + worker) and `fairline worker` (production worker). */
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stateDir } from '../common/paths';
import { openStore } from '../store';
import type { FairlineConfig } from '../temporal.config';
import { createWorkers, type Workers } from '../worker/create';
import { defaultGpuConcurrency } from '../worker/gpus';
import { DEFAULT_CPU_CONCURRENCY } from '../worker/create';
import { startEmbeddedStack, type EmbeddedStack } from './stack';

const say = (line: string): void => void process.stderr.write(`${line}\n`);

/**
 * Serves `GET /healthz` on 0.0.0.0:`port` for Kubernetes probes: 200 while every worker polls
 * (state RUNNING), 503 once one has stopped or failed, so a wedged worker gets restarted.
 */
function serveHealth(port: number, workers: Workers): Server {
  const server = createServer((request, response) => {
    const states = workers.workers.map((w) => w.getState());
    const healthy = request.url === '/healthz' && states.every((state) => state === 'RUNNING');
    response.writeHead(request.url === '/healthz' ? (healthy ? 200 : 503) : 404, {
      'content-type': 'application/json',
    });
    response.end(JSON.stringify({ states }));
  });
  server.listen(port, '0.0.0.0');
  return server;
}

/** Runs workers until SIGINT/SIGTERM, then shuts them down gracefully (activities may heartbeat a last checkpoint). */
async function runWorkersUntilSignal(
  config: FairlineConfig,
  queues: ('cpu' | 'gpu')[],
  max: Partial<Record<'cpu' | 'gpu', number>>,
  healthPort?: number,
): Promise<void> {
  const store = openStore(config);
  const workers = await createWorkers({ config, queues, activities: { store, config }, maxConcurrentActivities: max });
  const health = healthPort === undefined ? undefined : serveHealth(healthPort, workers);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C: no more waiting. Exit hooks and the parent-death signal take the servers along.
      say(`${signal} again: exiting now`);
      process.exit(130);
    }
    stopping = true;
    say(`${signal}: shutting down workers (running activities get the grace period to finish)…`);
    workers.shutdown();
  };
  // Registered for the whole run, not once: a server restarted under `fairline dev` adds its own
  // signal listener later, and re-delivers the signal (ending us at once) when it finds no other.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const limits = queues.map(
    (q) =>
      `${config.taskQueues[q]} (at most ${max[q] ?? (q === 'gpu' ? defaultGpuConcurrency() : DEFAULT_CPU_CONCURRENCY)} activities at once)`,
  );
  say(`worker: polling ${limits.join(', ')} in namespace ${config.temporal.namespace}`);
  try {
    await workers.run();
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    health?.close();
    await store.close();
  }
}

/** Exit code of `fairline dev` when another dev stack is alive on the same state folder. */
export const EXIT_STACK_RUNNING = 3;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Claims the state folder for this dev stack (`<state>/dev.pid`, created exclusively). Returns the
 * pid of a live stack that holds it instead; a record left by a dead one is taken over.
 */
function claimStateDir(file: string): number | undefined {
  mkdirSync(dirname(file), { recursive: true });
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) return holder;
      rmSync(file, { force: true });
    }
  }
  return undefined;
}

export async function devCommand(config: FairlineConfig): Promise<number> {
  const lock = join(stateDir(), 'dev.pid');
  const holder = claimStateDir(lock);
  if (holder !== undefined) {
    say(
      `a fairline dev stack (pid ${holder}) is already running on ${stateDir()}: use it (its Web UI: ${config.temporal.uiUrl}), stop it, or set FAIRLINE_STATE_DIR for a second one`,
    );
    return EXIT_STACK_RUNNING;
  }
  let stack: EmbeddedStack | undefined;
  try {
    stack = await startEmbeddedStack(config, say, { supervise: true });
    say('dev stack up; Ctrl-C stops it all');
    await runWorkersUntilSignal(config, ['cpu', 'gpu'], { cpu: DEFAULT_CPU_CONCURRENCY, gpu: defaultGpuConcurrency() });
    return 0;
  } finally {
    await stack?.stop();
    rmSync(lock, { force: true });
    say('dev stack stopped');
  }
}

export async function workerCommand(
  config: FairlineConfig,
  opts: { queues: string; maxCpu: string; maxGpu?: string | undefined; healthPort?: string | undefined },
): Promise<number> {
  const queues = opts.queues
    .split(',')
    .map((q) => q.trim())
    .filter(Boolean);
  const valid = queues.filter((q): q is 'cpu' | 'gpu' => q === 'cpu' || q === 'gpu');
  if (valid.length !== queues.length || valid.length === 0) {
    say(`--queues takes cpu, gpu or cpu,gpu; got ${JSON.stringify(opts.queues)}`);
    return 2;
  }
  const maxCpu = Number(opts.maxCpu);
  const maxGpu = opts.maxGpu === undefined ? defaultGpuConcurrency() : Number(opts.maxGpu);
  if (!Number.isInteger(maxCpu) || maxCpu < 1 || !Number.isInteger(maxGpu) || maxGpu < 1) {
    say('--max-cpu and --max-gpu take positive integers');
    return 2;
  }
  const healthPort = opts.healthPort === undefined ? undefined : Number(opts.healthPort);
  if (healthPort !== undefined && (!Number.isInteger(healthPort) || healthPort < 1 || healthPort > 65_535)) {
    say('--health-port takes a port number');
    return 2;
  }
  await runWorkersUntilSignal(config, valid, { cpu: maxCpu, gpu: maxGpu }, healthPort);
  return 0;
}
