/**
 * Following a run: its progress (the workflow's `progress` query), which attempt each running
 * stage is on and what its last heartbeat said, a warning when a stage waits on a task queue no
 * worker polls, and how the run ended.
 */
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { FairlineConfig } from '../temporal.config';
import type { RunProgress } from '../workflows/pipeline-run';

const { PendingActivityState, TaskQueueType } = proto.temporal.api.enums.v1;

/** Where the Temporal UI shows a workflow. */
export function workflowUrl(config: FairlineConfig, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/** What following a run has seen so far. */
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
  warn: (line: string) => void,
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
    warn(
      `  ! stage ${stageId} is waiting on task queue "${queue}", which no worker polls: start one with \`npx fairline worker --queues ${logical}\``,
    );
  }
}

/** Reads the run's progress and its running stages' attempts and heartbeats into `live`. */
export async function poll(
  client: Client,
  workflowId: string,
  live: Live,
  warn: (line: string) => void,
): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  live.progress = await handle.query<RunProgress>('progress');
  const description = await handle.describe();
  const pending = description.raw.pendingActivities ?? [];
  for (const activity of pending) {
    // The workflow sets each stage activity's id to the stage id.
    const stageId = activity.activityId;
    if (!stageId || activity.activityType?.name !== 'runStage') continue;
    live.attempts.set(stageId, activity.attempt ?? 1);
    await warnIfUnpolled(client, live, stageId, activity, warn);
    const payloads = activity.heartbeatDetails?.payloads ?? [];
    if (payloads.length > 0)
      live.heartbeats.set(stageId, client.options.loadedDataConverter.payloadConverter.fromPayload(payloads[0]!));
  }
}

/** The progress a failed run put into its failure's details (workflows/pipeline-run.ts). */
function progressOfFailure(error: WorkflowFailedError): RunProgress | undefined {
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure)) return undefined;
  const first: unknown = cause.details?.[0];
  if (typeof first !== 'object' || first === null || !('stages' in first) || !Array.isArray(first.stages))
    return undefined;
  return first as RunProgress;
}

/** How a followed run ended; `message` says why for a failed or cancelled one. */
export type RunEnd =
  { readonly outcome: 'succeeded' } | { readonly outcome: 'failed' | 'cancelled'; readonly message: string };

/**
 * Follows a started run to its end, polling every `intervalMs` and calling `onUpdate` after each
 * poll and once at the end; `live.progress` then holds the run's final progress.
 */
export async function followRun(
  client: Client,
  handle: WorkflowHandle,
  live: Live,
  hooks: { onUpdate: () => void; warn: (line: string) => void; intervalMs?: number },
): Promise<RunEnd> {
  // One poll at a time, and the last one awaited before the connection closes: a query still
  // retrying inside the client after close() would throw from a timer and crash the process.
  let polling: Promise<void> | undefined;
  const timer = setInterval(() => {
    polling ??= poll(client, handle.workflowId, live, hooks.warn)
      .then(hooks.onUpdate)
      // A query can fail while a worker restarts; the next tick tries again.
      .catch(() => undefined)
      .finally(() => (polling = undefined));
  }, hooks.intervalMs ?? 500);
  try {
    live.progress = await handle.result();
    hooks.onUpdate();
    return { outcome: 'succeeded' };
  } catch (error) {
    if (!(error instanceof WorkflowFailedError)) throw error;
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
    return {
      outcome: error.cause instanceof CancelledFailure ? 'cancelled' : 'failed',
      message: error.cause?.message ?? error.message,
    };
  } finally {
    clearInterval(timer);
    await polling;
  }
}
