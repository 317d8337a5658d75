/**
 * Builds fairline's Temporal workers: one per task queue, all sharing one connection. The `cpu`
 * worker also runs the workflows (pipelineRun) and the run's bookkeeping activities; the `gpu`
 * worker runs the trainer's stages, one at a time per GPU by default.
 */
import { createRequire } from 'node:module';
import type { NativeConnection, Worker, WorkflowBundleOption } from '@temporalio/worker';
import type { ActivityDependencies } from '../activities';
import { connectWorker } from '../common/connections';
import type { FairlineConfig } from '../temporal.config';

const require = createRequire(import.meta.url);

/**
 * Activities at once on the cpu queue unless told otherwise: inference and data stages are light and mostly wait on
 * I/O.
 */
export const DEFAULT_CPU_CONCURRENCY = 8;

/**
 * The most time between two heartbeats a worker sends to the server (the SDK's default is
 * 0.8 × the heartbeat timeout, capped at 60 s). Cancellation reaches an activity only in a
 * heartbeat's answer, so this bounds how long `fairline cancel` takes to reach a trainer.
 */
export const HEARTBEAT_THROTTLE_MS = 2_000;

/** Path of the workflows module, for Temporal's bundler. */
export const WORKFLOWS_PATH = require.resolve('../workflows/index.ts');

export interface WorkerOptions {
  config: FairlineConfig;
  /** Logical queues to poll: `cpu`, `gpu`. */
  queues: readonly ('cpu' | 'gpu')[];
  activities: ActivityDependencies;
  connection?: NativeConnection;
  /**
   * A prebuilt bundle (tests build it once); otherwise the bundle kept in the cache for this code
   * (worker/bundle.ts), built at the first start after the workflow code changed.
   */
  workflowBundle?: WorkflowBundleOption;
  maxConcurrentActivities?: Partial<Record<'cpu' | 'gpu', number>>;
  /** How long a shutdown waits for running activities to finish or heartbeat a checkpoint. */
  shutdownGraceTimeMs?: number;
}

export interface Workers {
  workers: Worker[];
  connection: NativeConnection;
  /** Runs every worker until shutdown() (or a fatal error). */
  run(): Promise<void>;
  shutdown(): void;
}

export async function createWorkers(options: WorkerOptions): Promise<Workers> {
  // Loaded here, not at the top: every CLI command imports this file (for DEFAULT_CPU_CONCURRENCY),
  // and only `dev` and `worker` need the worker SDK and the activities behind it.
  const [{ Worker }, { createActivities, sweepScratch }, { cachedWorkflowBundle }] = await Promise.all([
    import('@temporalio/worker'),
    import('../activities'),
    import('./bundle'),
  ]);
  // Scratch folders of workers killed mid-attempt (their owner is dead) go before new ones come.
  await sweepScratch();
  const { config } = options;
  const ownConnection = !options.connection;
  const connection = options.connection ?? (await connectWorker(config));
  const activities = createActivities(options.activities);
  const workflowBundle =
    options.queues.includes('cpu') && !options.workflowBundle
      ? await cachedWorkflowBundle(WORKFLOWS_PATH)
      : options.workflowBundle;
  const workers: Worker[] = [];
  for (const queue of options.queues) {
    const isCpu = queue === 'cpu';
    workers.push(
      await Worker.create({
        connection,
        namespace: config.temporal.namespace,
        taskQueue: config.taskQueues[queue],
        activities,
        ...(isCpu && workflowBundle ? { workflowBundle } : {}),
        maxConcurrentActivityTaskExecutions:
          options.maxConcurrentActivities?.[queue] ?? (isCpu ? DEFAULT_CPU_CONCURRENCY : 1),
        shutdownGraceTime: options.shutdownGraceTimeMs ?? 10_000,
        maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
      }),
    );
  }
  return {
    workers,
    connection,
    async run() {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        if (ownConnection) await connection.close();
      }
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}
