/**
 * A pipeline's `schedule:` block as a Temporal Schedule whose action starts `pipelineRun` with
 * the validated spec; schedule ids come from the one id builder.
 *
 * Applying is idempotent: the schedule's action carries a memo with the digest of what was
 * applied (schedule block + spec digest + queue); an equal digest means nothing changes, and a
 * different one says what changes before updating.
 */
import { createHash } from 'node:crypto';
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleSpec as TemporalScheduleSpec,
} from '@temporalio/client';
import { z } from 'zod';
import { workflowIds } from '../common/constants';
import { canonicalJson } from '../pipeline/canonical-json';
import type { Json, RunSpec } from '../pipeline/run-spec';
import { checkOverlap, OVERLAP_POLICIES } from '../pipeline/schedule-checks';
import type { ScheduleSpec } from '../pipeline/spec';
import type { FairlineConfig } from '../temporal.config';
import type { PipelineRunInput } from '../workflows/pipeline-run';

/** What `apply` records on the schedule, to compare the next apply against. */
const appliedSchema = z
  .object({ digest: z.string(), schedule: z.record(z.string(), z.unknown()), specDigest: z.string(), file: z.string() })
  .strict();
export type Applied = z.infer<typeof appliedSchema>;

/** Maps the YAML schedule block onto Temporal's schedule spec and policies; errors name the key. */
export function temporalSchedule(schedule: ScheduleSpec): {
  spec: TemporalScheduleSpec;
  overlap: ScheduleOverlapPolicy;
} {
  // The validator refuses unknown names with a position (pipeline/schedule-checks.ts); this guards other callers.
  const overlap = OVERLAP_POLICIES[schedule.overlap ?? 'skip'];
  if (overlap === undefined)
    throw new Error(`schedule.overlap: ${checkOverlap(schedule.overlap ?? '')?.message ?? 'unknown policy'}`);
  return {
    spec: {
      ...(schedule.cron ? { cronExpressions: [schedule.cron] } : {}),
      ...(schedule.every ? { intervals: [{ every: schedule.every }] } : {}),
      ...(schedule.timezone ? { timezone: schedule.timezone } : {}),
      ...(schedule.jitter ? { jitter: schedule.jitter } : {}),
    },
    overlap,
  };
}

/** What fairline recorded when it last applied this schedule; undefined when something else made it. */
export function readApplied(description: ScheduleDescription): Applied | undefined {
  const action = description.action;
  if (action.type !== 'startWorkflow') return undefined;
  const parsed = appliedSchema.safeParse(action.memo?.fairlineApplied);
  return parsed.success ? parsed.data : undefined;
}

/** Human-readable differences between what is applied and what a file asks for. */
export function describeChanges(before: Applied, after: Applied): string[] {
  const changes: string[] = [];
  const keys = new Set([...Object.keys(before.schedule), ...Object.keys(after.schedule)]);
  for (const key of [...keys].sort()) {
    const a = JSON.stringify(before.schedule[key]);
    const b = JSON.stringify(after.schedule[key]);
    if (a !== b) changes.push(`  schedule.${key}: ${a ?? '(unset)'} → ${b ?? '(unset)'}`);
  }
  if (before.specDigest !== after.specDigest)
    changes.push(
      `  pipeline spec: ${before.specDigest.slice(0, 12)} → ${after.specDigest.slice(0, 12)} (stages, params or code references changed)`,
    );
  return changes;
}

/**
 * What applying one file did: created, left unchanged, or updated (with the changes, or a note that something else made
 * it).
 */
export type ApplyResult =
  | { readonly scheduleId: string; readonly outcome: 'created' | 'unchanged' }
  | { readonly scheduleId: string; readonly outcome: 'updated'; readonly changes: readonly string[] };

/** Creates or updates the schedule of one validated pipeline (queues already configured). */
export async function applySchedule(
  client: Client,
  config: FairlineConfig,
  file: string,
  spec: RunSpec,
  schedule: ScheduleSpec,
  commit: string | undefined,
): Promise<ApplyResult> {
  const { spec: scheduleSpec, overlap } = temporalSchedule(schedule);
  const scheduleBlock: Record<string, Json> = {};
  for (const [key, value] of Object.entries(schedule)) if (value !== undefined) scheduleBlock[key] = value;
  const applied: Applied = {
    digest: createHash('sha256')
      .update(canonicalJson({ schedule: scheduleBlock, specDigest: spec.specDigest, queue: config.taskQueues.cpu }))
      .digest('hex'),
    schedule: scheduleBlock,
    specDigest: spec.specDigest,
    file,
  };
  const input: PipelineRunInput = {
    spec,
    // No runId: each scheduled run derives its own from the workflow id Temporal gives it.
    skipIfUnchanged: schedule.skipIfUnchanged ?? false,
    bookkeepingQueue: config.taskQueues.cpu,
    ...(commit ? { gitCommit: commit } : {}),
  };
  const scheduleId = workflowIds.schedule(spec.name);
  const options: ScheduleOptions = {
    scheduleId,
    spec: scheduleSpec,
    action: {
      type: 'startWorkflow',
      workflowType: 'pipelineRun',
      workflowId: workflowIds.scheduledRun(spec.name),
      taskQueue: config.taskQueues.cpu,
      args: [input],
      memo: { fairlineApplied: applied },
      staticSummary: `${spec.name} (scheduled): ${spec.stages.map((s) => s.id).join(' → ')}`,
    },
    policies: { overlap, ...(schedule.catchupWindow ? { catchupWindow: schedule.catchupWindow } : {}) },
    state: { paused: schedule.paused ?? false, ...(schedule.note ? { note: schedule.note } : {}) },
  };
  const handle = client.schedule.getHandle(scheduleId);
  let existing: ScheduleDescription | undefined;
  try {
    existing = await handle.describe();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
  }
  if (!existing) {
    await client.schedule.create(options);
    return { scheduleId, outcome: 'created' };
  }
  const before = readApplied(existing);
  if (before?.digest === applied.digest) return { scheduleId, outcome: 'unchanged' };
  const state = { paused: schedule.paused ?? false, ...(schedule.note ? { note: schedule.note } : {}) };
  await handle.update(() => ({ spec: options.spec, action: options.action, policies: options.policies, state }));
  return {
    scheduleId,
    outcome: 'updated',
    changes: before ? describeChanges(before, applied) : ['  (applied by something other than fairline; replaced)'],
  };
}

/** One fairline schedule as `schedule list` shows it. */
export interface ScheduleRow {
  schedule: string;
  pipeline: string;
  paused: boolean;
  note: string;
  /** ISO 8601; '' when it will not fire again. */
  next: string;
}

/** Every fairline schedule of the namespace (ids under `schedule/`). */
export async function listSchedules(client: Client): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith('schedule/')) continue;
    rows.push({
      schedule: s.scheduleId,
      pipeline: s.scheduleId.slice('schedule/'.length),
      paused: s.state.paused,
      note: s.state.note ?? '',
      next: s.info.nextActionTimes[0]?.toISOString() ?? '',
    });
  }
  return rows;
}

/** A run a schedule started, with how it ended and its bias gate. */
export interface ScheduledRun {
  scheduledAt: string;
  workflowId: string;
  status: string;
  gate: string;
}

/** A schedule as `schedule describe` shows it: state, what fairline applied, the next and the last runs. */
export interface ScheduleSummary {
  schedule: string;
  paused: boolean;
  note: string;
  applied: Applied | null;
  next: string[];
  recent: ScheduledRun[];
}

/** The schedule of pipeline `name`, with its last ten runs. */
export async function describeSchedule(client: Client, name: string): Promise<ScheduleSummary> {
  const d = await client.schedule.getHandle(workflowIds.schedule(name)).describe();
  const applied = readApplied(d);
  const recent: ScheduledRun[] = [];
  for (const action of d.info.recentActions.slice(-10)) {
    const workflowId = action.action.type === 'startWorkflow' ? action.action.workflow.workflowId : '';
    let status = '';
    let gate = '';
    try {
      const w = await client.workflow.getHandle(workflowId).describe();
      status = w.status.name.toLowerCase();
      const passed = w.searchAttributes?.FairlineGatePassed;
      gate = Array.isArray(passed) && passed.length > 0 ? (passed[0] ? 'pass' : 'fail') : '';
      const fairlineStatus = w.searchAttributes?.FairlineStatus;
      if (Array.isArray(fairlineStatus) && fairlineStatus[0] === 'skipped') status = 'skipped (unchanged)';
    } catch {
      status = 'unknown';
    }
    recent.push({ scheduledAt: action.scheduledAt.toISOString(), workflowId, status, gate });
  }
  return {
    schedule: d.scheduleId,
    paused: d.state.paused,
    note: d.state.note ?? '',
    applied: applied ?? null,
    next: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
    recent,
  };
}

/** Pauses, unpauses, triggers or deletes the schedule of pipeline `name`; returns its id. */
export async function setScheduleState(
  client: Client,
  name: string,
  verb: 'pause' | 'unpause' | 'trigger' | 'delete',
  note?: string,
): Promise<string> {
  const handle = client.schedule.getHandle(workflowIds.schedule(name));
  if (verb === 'pause') await handle.pause(note ?? `paused with fairline by ${process.env.USER ?? 'someone'}`);
  if (verb === 'unpause') await handle.unpause(note ?? 'unpaused with fairline');
  if (verb === 'trigger') await handle.trigger();
  if (verb === 'delete') await handle.delete();
  return handle.scheduleId;
}

/** Runs the schedule of pipeline `name` for every time it would have fired in [start, end]; returns its id. */
export async function backfillSchedule(client: Client, name: string, start: Date, end: Date): Promise<string> {
  const handle = client.schedule.getHandle(workflowIds.schedule(name));
  await handle.backfill({ start, end, overlap: ScheduleOverlapPolicy.ALLOW_ALL });
  return handle.scheduleId;
}
