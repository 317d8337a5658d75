/**
 * `fairline run FILE`: validate, start `pipelineRun` on Temporal, follow its progress live and
 * end with a summary table and an exit code that reflects the result (0 succeeded, 1 failed,
 * 2 bad usage, 3 a run with this id is already running, 130 cancelled). Without a configured Temporal address it runs
 * on the embedded dev server and,
 * when no worker polls the queues, an in-process worker.
 */
import { Client, type Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { followRun, workflowUrl, type Live } from '../client/follow';
import { newRunId, startRun, withConfiguredQueues } from '../client/start';
import { RUN_ID_PATTERN, workflowIds } from '../common/constants';
import { connectClient } from '../common/connections';
import { formatProblem, validatePipelineFile } from '../pipeline/validate';
import { openStore } from '../store';
import { artifactRefSchema } from '../store/types';
import type { FairlineConfig } from '../temporal.config';
import { createWorkers, type Workers } from '../worker/create';
import type { RunProgress, StageState } from '../workflows/pipeline-run';
import { startEmbeddedStack, type EmbeddedStack } from './stack';
import { table } from './table';

const { TaskQueueType } = proto.temporal.api.enums.v1;

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
    rows.push([
      s.id,
      s.status + (s.skippedBecause ? ` (after ${s.skippedBecause})` : ''),
      s.cached ? 'yes' : 'no',
      s.cached ? '-' : String(s.attempts ?? attempts.get(s.id) ?? 0),
      seconds(s),
      s.error ?? outputsText(s),
    ]);
  }
  return table(rows);
}

const MARKS: Record<StageState['status'], string> = {
  pending: '·',
  running: '▶',
  succeeded: '✓',
  cached: '≡',
  failed: '✗',
  skipped: '-',
  cancelled: '⊘',
};

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
  if (bytes !== undefined && total !== undefined && total > 0)
    return `${bar(bytes / total)} ${megabytes(bytes)} / ${megabytes(total)}`;
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
async function workerIfNeeded(
  config: FairlineConfig,
  connection: Connection,
  say: (l: string) => void,
): Promise<Workers | undefined> {
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
    say(
      `--id ${JSON.stringify(runId)}: use letters, digits, '.', '_' and '-' (at most 128, starting with a letter or digit)`,
    );
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
    const start = await startRun(client, config, {
      spec,
      runId,
      noCache: options.noCache,
      noResume: options.noResume,
      trigger: options.trigger,
      source: `the run spec of ${file}`,
    });
    if (!start.started) {
      say(
        `run ${runId} of ${spec.name} is already running (${workflowId}); follow it at ${workflowUrl(config, workflowId)} or pick another --id`,
      );
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
      progress: { pipeline: spec.name, runId, status: 'running', stages: [] },
      heartbeats: new Map(),
      attempts: new Map(),
    };
    const printProgress = createProgressPrinter(process.stderr);
    const end = await followRun(client, start.handle, live, {
      onUpdate: () => printProgress(progressLines(live)),
      warn: say,
    });
    const code = end.outcome === 'succeeded' ? 0 : end.outcome === 'cancelled' ? 130 : 1;
    if (end.outcome !== 'succeeded') say(`run ${end.outcome}: ${end.message}`);
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
