/**
 * `fairline run FILE`: validate, start `pipelineRun` on Temporal, follow its progress live and
 * end with a summary table and an exit code that reflects the result (0 succeeded, 1 failed,
 * 2 bad usage, 3 a run with this id is already running, 130 cancelled). Without a configured Temporal address it runs on the embedded dev server and,
 * when no worker polls the queues, an in-process worker.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Connection } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import { MAX_PAYLOAD_BYTES, RUN_ID_PATTERN, workflowIds } from '../common/constants';
import { PayloadTooLarge } from '../common/errors';
import { connectClient } from '../common/connections';
import { PROJECT_ROOT } from '../common/paths';
import type { RunSpec } from '../pipeline/run-spec';
import { formatProblem, validatePipelineFile } from '../pipeline/validate';
import { openStore } from '../store';
import { artifactRefSchema } from '../store/types';
import type { FairlineConfig } from '../temporal.config';
import { createWorkers, type Workers } from '../worker/create';
import type { PipelineRunInput, RunProgress, StageState } from '../workflows/pipeline-run';
import { startEmbeddedStack, type EmbeddedStack } from './stack';

/** Exit code of `fairline run` when a run with the same id is still running: not a failed run. */
export const EXIT_RUN_ID_TAKEN = 3;

export interface RunOptions {
  set?: string[];
  id?: string;
  noCache?: boolean;
  /** Do not resume from checkpoints an earlier execution of this run id left. */
  noResume?: boolean;
  detach?: boolean;
  trigger?: string;
  /** Called with the run's final progress once it has ended, while the embedded stack (and its store) still runs. */
  afterRun?: (progress: RunProgress) => Promise<void>;
}

/** A sortable, readable run id: UTC time plus 4 random hex characters. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}-${randomBytes(2).toString('hex')}`.toLowerCase();
}

export function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return undefined;
  }
}

/** Maps each stage's logical queue (cpu/gpu) to the configured task-queue name. */
export function withConfiguredQueues(spec: RunSpec, config: FairlineConfig): RunSpec {
  const queues: Record<string, string> = config.taskQueues;
  return { ...spec, stages: spec.stages.map((s) => ({ ...s, queue: queues[s.queue] ?? s.queue })) };
}

export function workflowUrl(config: FairlineConfig, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

function seconds(state: StageState): string {
  if (state.startedAt === undefined) return '';
  return `${(((state.endedAt ?? Date.now()) - state.startedAt) / 1000).toFixed(1)} s`;
}

function outputsText(state: StageState): string {
  return Object.entries(state.outputs ?? {})
    .map(([name, value]) => {
      if (value && typeof value === 'object' && !Array.isArray(value) && typeof value.uri === 'string') {
        const bytes = typeof value.bytes === 'number' ? ` (${value.bytes} B)` : '';
        return `${name}=${value.uri}${bytes}`;
      }
      return `${name}=${JSON.stringify(value)}`;
    })
    .join(' ');
}

/** The summary table printed when a run ends. */
export function summaryTable(progress: RunProgress, attempts: Map<string, number>): string {
  const rows = [['stage', 'status', 'cached', 'attempts', 'duration', 'outputs']];
  for (const s of progress.stages) {
    rows.push([s.id, s.status + (s.skippedBecause ? ` (after ${s.skippedBecause})` : ''), s.cached ? 'yes' : 'no', s.cached ? '-' : String(s.attempts ?? attempts.get(s.id) ?? 0), seconds(s), s.error ?? outputsText(s)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export interface Live {
  /** Stages already warned about waiting on a queue nobody polls. */
  warned: Set<string>;
  /** Configured task-queue name → logical queue (cpu/gpu), for the fix a warning suggests. */
  logicalQueues?: Map<string, string>;
  progress: RunProgress;
  /** Heartbeat details of running stages, by stage id. */
  heartbeats: Map<string, unknown>;
  attempts: Map<string, number>;
}

/** After this long in SCHEDULED state, a stage whose queue has no poller gets a warning. */
const UNPOLLED_WARNING_AFTER_MS = 10_000;

async function warnIfUnpolled(
  client: Client,
  live: Live,
  stageId: string,
  activity: { state?: number | null; scheduledTime?: { seconds?: unknown } | null },
): Promise<void> {
  if (live.warned.has(stageId) || activity.state !== PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED) return;
  const scheduledAt = Number(activity.scheduledTime?.seconds ?? 0) * 1000;
  if (scheduledAt === 0 || Date.now() - scheduledAt < UNPOLLED_WARNING_AFTER_MS) return;
  const queue = live.progress.stages.find((s) => s.id === stageId)?.queue;
  if (!queue) return;
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  live.warned.add(stageId);
  if ((pollers ?? []).length === 0) {
    const logical = live.logicalQueues?.get(queue) ?? queue;
    process.stderr.write(`  ! stage ${stageId} is waiting on task queue "${queue}", which no worker polls: start one with \`npx fairline worker --queues ${logical}\`\n`);
  }
}

async function poll(client: Client, workflowId: string, live: Live): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  live.progress = await handle.query<RunProgress>('progress');
  const description = await handle.describe();
  const pending = description.raw.pendingActivities ?? [];
  for (const activity of pending) {
    // The workflow sets each stage activity's id to the stage id.
    const stageId = activity.activityId;
    if (!stageId || activity.activityType?.name !== 'runStage') continue;
    live.attempts.set(stageId, activity.attempt ?? 1);
    await warnIfUnpolled(client, live, stageId, activity);
    const payloads = activity.heartbeatDetails?.payloads ?? [];
    if (payloads.length > 0) live.heartbeats.set(stageId, client.options.loadedDataConverter.payloadConverter.fromPayload(payloads[0]!));
  }
}

const { PendingActivityState, TaskQueueType } = proto.temporal.api.enums.v1;

const MARKS: Record<StageState['status'], string> = { pending: '·', running: '▶', succeeded: '✓', cached: '≡', failed: '✗', skipped: '-', cancelled: '⊘' };

function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function bar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%`;
}

/** What a stage's last heartbeat says, as a progress bar when it carries a total. */
export function heartbeatText(beat: unknown): string {
  if (beat === null || typeof beat !== 'object') return '';
  const fields = new Map(Object.entries(beat));
  const n = (key: string): number | undefined => {
    const value: unknown = fields.get(key);
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  };
  const step = n('step');
  const of = n('of');
  if (step !== undefined && of !== undefined && of > 0) {
    const epoch = n('epoch');
    const loss = n('loss');
    return `${bar(step / of)} step ${step}/${of}${epoch !== undefined ? ` epoch ${epoch}` : ''}${loss !== undefined ? ` loss ${loss.toFixed(4)}` : ''}`;
  }
  const bytes = n('bytes');
  const total = n('total');
  if (bytes !== undefined && total !== undefined && total > 0) return `${bar(bytes / total)} ${megabytes(bytes)} / ${megabytes(total)}`;
  if (bytes !== undefined) return megabytes(bytes);
  const done = n('done');
  const rows = n('rows');
  if (done !== undefined && rows !== undefined && rows > 0) return `${bar(done / rows)} ${done}/${rows} rows`;
  return '';
}

/** One line per stage: mark, id, status, and the running ones' progress. */
export function progressLines(live: Live): string[] {
  const width = Math.max(...live.progress.stages.map((s) => s.id.length), 5);
  return live.progress.stages.map((s) => {
    const detail = s.status === 'running' ? heartbeatText(live.heartbeats.get(s.id)) : '';
    const attempt = (live.attempts.get(s.id) ?? 1) > 1 ? ` (attempt ${live.attempts.get(s.id)})` : '';
    return `  ${MARKS[s.status]} ${s.id.padEnd(width)}  ${s.status}${attempt}${detail ? `  ${detail}` : ''}`;
  });
}

/**
 * Redraws the stage lines in place on a terminal; elsewhere (CI logs, pipes) prints them only
 * when they change, so logs stay readable.
 */
function createProgressPrinter(stream: NodeJS.WriteStream): (lines: string[]) => void {
  let previous: string[] = [];
  return (lines) => {
    if (lines.join('\n') === previous.join('\n')) return;
    if (stream.isTTY && previous.length > 0) stream.write(`\x1b[${previous.length}A\x1b[0J`);
    stream.write(`${lines.join('\n')}\n`);
    previous = lines;
  };
}

/** Starts the in-process worker when nothing polls the cpu queue (embedded mode only). */
async function workerIfNeeded(config: FairlineConfig, connection: Connection, say: (l: string) => void): Promise<Workers | undefined> {
  const { pollers } = await connection.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: { name: config.taskQueues.cpu },
    taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  if ((pollers ?? []).length > 0) return undefined;
  say('worker: none polling; starting one in this process (queues cpu, gpu)…');
  // The run's own progress lines are the interface here; worker chatter would drown them.
  // Loaded here: commands that find a worker polling never need the worker SDK.
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const store = openStore(config);
  const workers = await createWorkers({ config, queues: ['cpu', 'gpu'], activities: { store, config } });
  return workers;
}

/** The progress a failed run put into its failure's details (workflows/pipeline-run.ts). */
function progressOfFailure(error: WorkflowFailedError): RunProgress | undefined {
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const first: unknown = cause.details?.[0];
  if (typeof first !== 'object' || first === null || !('stages' in first) || !Array.isArray(first.stages)) return undefined;
  return first as RunProgress;
}

export async function runCommand(file: string, options: RunOptions, config: FairlineConfig): Promise<number> {
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const validation = await validatePipelineFile(file, { set: options.set ?? [] });
  if (!validation.ok) {
    for (const p of validation.problems) process.stderr.write(`${formatProblem(p)}\n`);
    return 1;
  }
  const spec = withConfiguredQueues(validation.spec, config);
  const runId = options.id ?? newRunId();
  if (!RUN_ID_PATTERN.test(runId)) {
    say(`--id ${JSON.stringify(runId)}: use letters, digits, '.', '_' and '-' (at most 128, starting with a letter or digit)`);
    return 2;
  }
  const workflowId = workflowIds.pipelineRun(spec.name, runId);

  let stack: EmbeddedStack | undefined;
  let workers: Workers | undefined;
  let workersDone: Promise<void> | undefined;
  let connection: Connection | undefined;
  try {
    if (config.temporal.embedded) stack = await startEmbeddedStack(config, say);
    connection = await connectClient(config);
    const client = new Client({ connection, namespace: config.temporal.namespace });
    if (config.temporal.embedded && !options.detach) {
      workers = await workerIfNeeded(config, connection, say);
      workersDone = workers?.run();
    } else if (options.detach && stack?.temporal) {
      say('--detach needs a dev server that outlives this command: start `npx fairline dev` in another terminal first');
      return 2;
    }
    const commit = gitCommit();
    const input: PipelineRunInput = {
      spec,
      runId,
      noCache: options.noCache ?? false,
      ...(options.noResume ? { noResume: true } : {}),
      trigger: options.trigger ?? 'cli',
      bookkeepingQueue: config.taskQueues.cpu,
      ...(commit ? { gitCommit: commit } : {}),
    };
    const inputBytes = Buffer.byteLength(JSON.stringify(input));
    if (inputBytes > MAX_PAYLOAD_BYTES) throw new PayloadTooLarge(`the run spec of ${file}`, inputBytes, MAX_PAYLOAD_BYTES);
    let handle;
    try {
      handle = await client.workflow.start('pipelineRun', {
        workflowId,
        taskQueue: config.taskQueues.cpu,
        args: [input],
        staticSummary: `${spec.name}: ${spec.stages.map((s) => s.id).join(' → ')}`,
        staticDetails: spec.description ?? '',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      say(`run ${runId} of ${spec.name} is already running (${workflowId}); follow it at ${workflowUrl(config, workflowId)} or pick another --id`);
      return EXIT_RUN_ID_TAKEN;
    }
    say(`run ${runId} started: ${workflowId}`);
    say(`watch it: ${workflowUrl(config, workflowId)}`);
    if (options.detach) {
      process.stdout.write(`${JSON.stringify({ runId, workflowId, runUrl: workflowUrl(config, workflowId) })}\n`);
      return 0;
    }

    const live: Live = {
      warned: new Set(),
      logicalQueues: new Map(Object.entries(config.taskQueues).map(([logical, name]) => [name, logical])),
      progress: { pipeline: spec.name, runId, status: 'running', stages: [] }, heartbeats: new Map(), attempts: new Map() };
    const printProgress = createProgressPrinter(process.stderr);
    // One poll at a time, and the last one awaited before the connection closes: a query still
    // retrying inside the client after close() would throw from a timer and crash the process.
    let polling: Promise<void> | undefined;
    const timer = setInterval(() => {
      polling ??= poll(client, workflowId, live)
        .then(() => printProgress(progressLines(live)))
        // A query can fail while a worker restarts; the next tick tries again.
        .catch(() => undefined)
        .finally(() => (polling = undefined));
    }, 500);
    let code = 0;
    try {
      const result = await handle.result();
      live.progress = result;
      printProgress(progressLines(live));
    } catch (error) {
      if (error instanceof WorkflowFailedError) {
        code = error.cause instanceof CancelledFailure ? 130 : 1;
        // A failed run carries its progress in the failure: no query, which would wait for a
        // worker to replay the closed workflow.
        const carried = progressOfFailure(error);
        if (carried) live.progress = carried;
        else {
          try {
            live.progress = await handle.query<RunProgress>('progress');
          } catch {
            // A closed workflow may still answer queries; if not, the table shows what we saw last.
          }
        }
        say(`run ${code === 130 ? 'cancelled' : 'failed'}: ${error.cause?.message ?? error.message}`);
      } else throw error;
    } finally {
      clearInterval(timer);
      await polling;
    }
    process.stdout.write(`\n${summaryTable(live.progress, live.attempts)}\n`);
    if (live.progress.manifest) process.stdout.write(`\nmanifest: ${live.progress.manifest.uri}\n`);
    for (const stage of live.progress.stages) {
      // Whichever stages' types say they write the report (the `report` trait names the output).
      const output = spec.stages.find((s) => s.id === stage.id)?.report;
      const html = output !== undefined ? artifactRefSchema.safeParse(stage.outputs?.[output]) : undefined;
      if (html?.success) process.stdout.write(`report: ${html.data.uri}\n`);
    }
    process.stdout.write(`run: ${workflowUrl(config, workflowId)}\n`);
    await options.afterRun?.(live.progress);
    return code;
  } finally {
    workers?.shutdown();
    await workersDone;
    await connection?.close();
    await stack?.stop();
  }
}
