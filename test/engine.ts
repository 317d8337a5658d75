/**
 * Runs pipelines for tests the way production does: YAML validated by the client, `pipelineRun`
 * on the suite's real dev server, real workers (in this process) with a store in a temp folder.
 * Each harness polls its own task queues, so test files never steal each other's tasks.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { workflowIds } from '../common/constants';
import { withConfiguredQueues } from '../client/start';
import { validatePipelineText, type StageTypeRegistry } from '../pipeline/validate';
import { FsArtifactStore } from '../store/fs-store';
import type { ArtifactStore } from '../store/types';
import { loadConfig, type FairlineConfig } from '../temporal.config';
import type { RegisteredStage } from '../stages/implementations';
import { createWorkers, WORKFLOWS_PATH, type Workers } from '../worker/create';
import type { PipelineRunInput, RunProgress } from '../workflows/pipeline-run';
import { suiteTemporal, tempDir, TEST_READ_ROOTS } from './helpers';

// Expected failures (404s, cancellations) would otherwise fill the test output with SDK warnings.
try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // Already installed by another harness in this process.
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundles the workflows once per test process. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
  });
  return bundle;
}

export interface Outcome {
  status: 'succeeded' | 'failed' | 'cancelled';
  progress: RunProgress;
  error?: WorkflowFailedError;
  history: temporal.api.history.v1.IHistory;
}

/** How a test starts a run: as `fairline run` would, or as a nightly schedule does (`skipIfUnchanged`). */
export interface RunOptions {
  runId?: string;
  noCache?: boolean;
  set?: string[];
  skipIfUnchanged?: boolean;
}

export interface Engine {
  config: FairlineConfig;
  storeDir: string;
  store: FsArtifactStore;
  client: Client;
  /** Validates YAML and starts a run; returns its handle. */
  start(yaml: string, options?: RunOptions): Promise<WorkflowHandle>;
  /** Starts a run and waits for its end. */
  run(yaml: string, options?: RunOptions): Promise<Outcome>;
  outcome(handle: WorkflowHandle): Promise<Outcome>;
  close(): Promise<void>;
}

export interface EngineOptions {
  /** Extra or replaced stage implementations (a plugin's, or an edited one). */
  stages?: Record<string, RegisteredStage>;
  stageTypes?: StageTypeRegistry;
  /** Reuse a store folder across engines (a worker restarted with new code). */
  storeDir?: string;
  /** Temporal frontend to use; defaults to the suite's dev server (scripts and benchmarks start their own). */
  address?: string;
  /** config.dataMirrors of the workers (pipelines with public URLs read local copies). */
  dataMirrors?: FairlineConfig['dataMirrors'];
  /** The store the workers use instead of the temp-folder one (an S3 store on a MinIO the test controls). */
  activityStore?: ArtifactStore;
  /** config.readRoots of the workers: TEST_READ_ROOTS unless given; `defaults` leaves them unconfigured. */
  readRoots?: readonly string[] | 'defaults';
  /** config.store.keepCheckpoints of the workers (absent: the default, none kept). */
  keepCheckpoints?: number | 'all';
}

export async function startEngine(options: EngineOptions = {}): Promise<Engine> {
  const address = options.address ?? suiteTemporal().address;
  const storeDir = options.storeDir ?? join(await tempDir('fairline-engine-'), 'store');
  const suffix = randomUUID().slice(0, 8);
  const readRoots = options.readRoots ?? TEST_READ_ROOTS;
  const base = loadConfig(
    {
      temporal: { address },
      store: {
        uri: pathToFileURL(storeDir).href,
        ...(options.keepCheckpoints !== undefined ? { keepCheckpoints: options.keepCheckpoints } : {}),
      },
      ...(options.dataMirrors ? { dataMirrors: options.dataMirrors } : {}),
      ...(readRoots !== 'defaults' ? { readRoots: [...readRoots] } : {}),
    },
    {},
  );
  const config: FairlineConfig = { ...base, taskQueues: { cpu: `cpu-${suffix}`, gpu: `gpu-${suffix}` } };
  const store = new FsArtifactStore(storeDir);
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const workers: Workers = await createWorkers({
    config,
    queues: ['cpu', 'gpu'],
    connection: nativeConnection,
    workflowBundle: await workflowBundle(),
    activities: {
      store: options.activityStore ?? store,
      config,
      log: { info() {}, warn() {} },
      ...(options.stages ? { stages: options.stages } : {}),
      ...(options.stageTypes ? { stageTypes: options.stageTypes } : {}),
    },
    shutdownGraceTimeMs: 2_000,
  });
  const running = workers.run();

  const start: Engine['start'] = async (yaml, runOptions = {}) => {
    const result = validatePipelineText(yaml, 'test.yaml', {
      set: runOptions.set ?? [],
      ...(options.stageTypes ? { stageTypes: options.stageTypes } : {}),
    });
    if (!result.ok)
      throw new Error(
        `invalid test pipeline:\n${result.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n')}`,
      );
    const spec = withConfiguredQueues(result.spec, config);
    const runId = runOptions.runId ?? randomUUID().slice(0, 8);
    const input: PipelineRunInput = {
      spec,
      runId,
      noCache: runOptions.noCache ?? false,
      bookkeepingQueue: config.taskQueues.cpu,
      ...(runOptions.skipIfUnchanged ? { skipIfUnchanged: true, trigger: 'schedule' } : { trigger: 'cli' }),
    };
    return client.workflow.start('pipelineRun', {
      workflowId: workflowIds.pipelineRun(spec.name, runId),
      taskQueue: config.taskQueues.cpu,
      args: [input],
    });
  };

  const outcome: Engine['outcome'] = async (handle) => {
    let status: Outcome['status'] = 'succeeded';
    let error: WorkflowFailedError | undefined;
    try {
      await handle.result();
    } catch (e) {
      if (!(e instanceof WorkflowFailedError)) throw e;
      error = e;
      status = e.cause?.name === 'CancelledFailure' ? 'cancelled' : 'failed';
    }
    const progress = await handle.query<RunProgress>('progress');
    const history = await handle.fetchHistory();
    return { status, progress, history, ...(error ? { error } : {}) };
  };

  return {
    config,
    storeDir,
    store,
    client,
    start,
    outcome,
    run: async (yaml, runOptions) => outcome(await start(yaml, runOptions)),
    async close() {
      workers.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
    },
  };
}

/** The ids of stage activities (`runStage`) scheduled in a history. */
export function scheduledStages(history: temporal.api.history.v1.IHistory): string[] {
  return (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStage')
    .map((e) => e.activityTaskScheduledEventAttributes!.activityId ?? '');
}

/** Start and end times (ms) of each stage activity's last attempt, from the history. */
export function activityIntervals(
  history: temporal.api.history.v1.IHistory,
): Map<string, { start: number; end: number }> {
  const events = history.events ?? [];
  const idByScheduled = new Map<string, string>();
  const startOf = new Map<string, number>();
  const intervals = new Map<string, { start: number; end: number }>();
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
    Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);
  for (const e of events) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes)
      idByScheduled.set(id, e.activityTaskScheduledEventAttributes.activityId ?? '');
    if (e.activityTaskStartedEventAttributes)
      startOf.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), ms(e.eventTime));
    const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes;
    if (done) {
      const scheduled = String(done.scheduledEventId);
      intervals.set(idByScheduled.get(scheduled) ?? scheduled, {
        start: startOf.get(scheduled) ?? 0,
        end: ms(e.eventTime),
      });
    }
  }
  return intervals;
}
