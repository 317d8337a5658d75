/**
 * `fairline run FILE`: validate, start `pipelineRun` on Temporal, follow its progress live and
 * end with a summary table and an exit code that reflects the result (0 succeeded, 1 failed,
 * 130 cancelled). Without a configured Temporal address it runs on the embedded dev server and,
 * when no worker polls the queues, an in-process worker.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Client, WorkflowFailedError, type Connection } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { workflowIds } from '../common/constants';
import { connectClient } from '../common/connections';
import { PROJECT_ROOT } from '../common/paths';
import type { RunSpec } from '../pipeline/run-spec';
import { formatProblem, validatePipelineFile } from '../pipeline/validate';
import { openStore } from '../store';
import type { FairlineConfig } from '../temporal.config';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createWorkers, type Workers } from '../worker/create';
import type { PipelineRunInput, RunProgress, StageState } from '../workflows/pipeline-run';
import { startEmbeddedStack, type EmbeddedStack } from './stack';

export interface RunOptions {
  set?: string[];
  id?: string;
  noCache?: boolean;
  detach?: boolean;
  trigger?: string;
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

interface Live {
  progress: RunProgress;
  /** Heartbeat details of running stages, by stage id. */
  heartbeats: Map<string, unknown>;
  attempts: Map<string, number>;
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
    const payloads = activity.heartbeatDetails?.payloads ?? [];
    if (payloads.length > 0) live.heartbeats.set(stageId, client.options.loadedDataConverter.payloadConverter.fromPayload(payloads[0]!));
  }
}

function progressLine(live: Live): string {
  const parts = live.progress.stages.map((s) => {
    const beat = live.heartbeats.get(s.id);
    let detail = '';
    if (s.status === 'running' && beat && typeof beat === 'object' && 'bytes' in beat && typeof beat.bytes === 'number') {
      const total = 'total' in beat && typeof beat.total === 'number' ? beat.total : undefined;
      detail = total ? ` ${Math.round((100 * beat.bytes) / total)}%` : ` ${beat.bytes} B`;
    }
    const mark = { pending: '·', running: '▶', succeeded: '✓', cached: '≡', failed: '✗', skipped: '-', cancelled: '⊘' }[s.status];
    return `${mark} ${s.id}${detail}`;
  });
  return parts.join('  ');
}

/** Starts the in-process worker when nothing polls the cpu queue (embedded mode only). */
async function workerIfNeeded(config: FairlineConfig, connection: Connection, say: (l: string) => void): Promise<Workers | undefined> {
  const { pollers } = await connection.workflowService.describeTaskQueue({
    namespace: config.temporal.namespace,
    taskQueue: { name: config.taskQueues.cpu },
    taskQueueType: 1, // workflow
  });
  if ((pollers ?? []).length > 0) return undefined;
  say('worker: none polling; starting one in this process (queues cpu, gpu)…');
  // The run's own progress lines are the interface here; worker chatter would drown them.
  Runtime.install({ logger: new DefaultLogger('WARN') });
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
    const input: PipelineRunInput = {
      spec,
      runId,
      noCache: options.noCache ?? false,
      trigger: options.trigger ?? 'cli',
      bookkeepingQueue: config.taskQueues.cpu,
      ...(gitCommit() ? { gitCommit: gitCommit() } : {}),
    };
    const handle = await client.workflow.start('pipelineRun', {
      workflowId,
      taskQueue: config.taskQueues.cpu,
      args: [input],
      staticSummary: `${spec.name}: ${spec.stages.map((s) => s.id).join(' → ')}`,
      staticDetails: spec.description ?? '',
    });
    say(`run ${runId} started: ${workflowId}`);
    say(`watch it: ${workflowUrl(config, workflowId)}`);
    if (options.detach) {
      process.stdout.write(`${JSON.stringify({ runId, workflowId, runUrl: workflowUrl(config, workflowId) })}\n`);
      return 0;
    }

    const live: Live = { progress: { pipeline: spec.name, runId, status: 'running', stages: [] }, heartbeats: new Map(), attempts: new Map() };
    let lastLine = '';
    const timer = setInterval(() => {
      poll(client, workflowId, live)
        .then(() => {
          const line = progressLine(live);
          if (line !== lastLine) {
            lastLine = line;
            say(`  ${line}`);
          }
        })
        .catch(() => undefined);
    }, 1_000);
    let code = 0;
    try {
      const result = await handle.result();
      live.progress = result;
    } catch (error) {
      if (error instanceof WorkflowFailedError) {
        code = error.cause instanceof CancelledFailure ? 130 : 1;
        try {
          live.progress = await handle.query<RunProgress>('progress');
        } catch {
          // A closed workflow may still answer queries; if not, the table shows what we saw last.
        }
        say(`run ${code === 130 ? 'cancelled' : 'failed'}: ${error.cause?.message ?? error.message}`);
      } else throw error;
    } finally {
      clearInterval(timer);
    }
    process.stdout.write(`\n${summaryTable(live.progress, live.attempts)}\n`);
    if (live.progress.manifest) process.stdout.write(`\nmanifest: ${live.progress.manifest.uri}\n`);
    process.stdout.write(`run: ${workflowUrl(config, workflowId)}\n`);
    return code;
  } finally {
    workers?.shutdown();
    await workersDone;
    await connection?.close();
    await stack?.stop();
  }
}
