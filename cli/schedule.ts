/**
 * `fairline schedule …`: a pipeline's `schedule:` block becomes a Temporal Schedule whose action
 * starts `pipelineRun` with the validated spec. Schedule ids come from the one id builder.
 *
 * `apply` is idempotent: the schedule's action carries a memo with the digest of what was applied
 * (schedule block + spec digest + queue); an equal digest means nothing changes, and a different
 * one prints what changes before updating.
 */
import { createHash } from 'node:crypto';
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleOptions,
  type ScheduleSpec as TemporalScheduleSpec,
} from '@temporalio/client';
import { z } from 'zod';
import { workflowIds } from '../common/constants';
import { withClient } from '../common/connections';
import { canonicalJson } from '../pipeline/canonical-json';
import type { Json } from '../pipeline/run-spec';
import type { ScheduleSpec } from '../pipeline/spec';
import { checkOverlap, OVERLAP_POLICIES } from '../pipeline/schedule-checks';
import { formatProblem, validatePipelineFile } from '../pipeline/validate';
import type { FairlineConfig } from '../temporal.config';
import type { PipelineRunInput } from '../workflows/pipeline-run';
import { table } from './table';
import { gitCommit, withConfiguredQueues } from '../client/start';

const say = (line: string): void => void process.stderr.write(`${line}\n`);
const print = (line: string): void => void process.stdout.write(`${line}\n`);


/** What `apply` records on the schedule, to compare the next apply against. */
const appliedSchema = z.object({ digest: z.string(), schedule: z.record(z.string(), z.unknown()), specDigest: z.string(), file: z.string() }).strict();
type Applied = z.infer<typeof appliedSchema>;

/** Maps the YAML schedule block onto Temporal's schedule spec and policies; errors name the key. */
export function temporalSchedule(schedule: ScheduleSpec): { spec: TemporalScheduleSpec; overlap: ScheduleOverlapPolicy } {
  // The validator refuses unknown names with a position (pipeline/schedule-checks.ts); this guards other callers.
  const overlap = OVERLAP_POLICIES[schedule.overlap ?? 'skip'];
  if (overlap === undefined) throw new Error(`schedule.overlap: ${checkOverlap(schedule.overlap ?? '')?.message ?? 'unknown policy'}`);
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

function readApplied(description: ScheduleDescription): Applied | undefined {
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
  if (before.specDigest !== after.specDigest) changes.push(`  pipeline spec: ${before.specDigest.slice(0, 12)} → ${after.specDigest.slice(0, 12)} (stages, params or code references changed)`);
  return changes;
}

export async function scheduleApplyCommand(config: FairlineConfig, files: string[]): Promise<number> {
  return withClient(config, async (client) => {
    let failures = 0;
    const commit = gitCommit();
    for (const file of files) {
      const validation = await validatePipelineFile(file);
      if (!validation.ok) {
        for (const p of validation.problems) say(formatProblem(p));
        failures++;
        continue;
      }
      if (!validation.schedule) {
        say(`${file}: has no schedule: block; nothing to apply`);
        failures++;
        continue;
      }
      const spec = withConfiguredQueues(validation.spec, config);
      const schedule = validation.schedule;
      const { spec: scheduleSpec, overlap } = temporalSchedule(schedule);
      const scheduleBlock: Record<string, Json> = {};
      for (const [key, value] of Object.entries(schedule)) if (value !== undefined) scheduleBlock[key] = value;
      const applied: Applied = {
        digest: createHash('sha256').update(canonicalJson({ schedule: scheduleBlock, specDigest: spec.specDigest, queue: config.taskQueues.cpu })).digest('hex'),
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
        print(`${scheduleId}: created from ${file}`);
        continue;
      }
      const before = readApplied(existing);
      if (before?.digest === applied.digest) {
        print(`${scheduleId}: unchanged`);
        continue;
      }
      const state = { paused: schedule.paused ?? false, ...(schedule.note ? { note: schedule.note } : {}) };
      await handle.update(() => ({ spec: options.spec, action: options.action, policies: options.policies, state }));
      print(`${scheduleId}: updated from ${file}`);
      for (const line of before ? describeChanges(before, applied) : ['  (applied by something other than fairline; replaced)']) print(line);
    }
    return failures > 0 ? 1 : 0;
  });
}

export async function scheduleListCommand(config: FairlineConfig, opts: { json?: boolean }): Promise<number> {
  return withClient(config, async (client) => {
    const rows = [];
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
    if (opts.json) print(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) say('no schedules');
    else print(table([['pipeline', 'paused', 'next run (UTC)', 'note'], ...rows.map((r) => [r.pipeline, r.paused ? 'yes' : 'no', r.next.replace('T', ' ').slice(0, 19), r.note])]));
    return 0;
  });
}

export async function scheduleDescribeCommand(config: FairlineConfig, name: string, opts: { json?: boolean }): Promise<number> {
  return withClient(config, async (client) => {
    const handle = client.schedule.getHandle(workflowIds.schedule(name));
    const d = await handle.describe();
    const applied = readApplied(d);
    const recent = [];
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
    const summary = {
      schedule: d.scheduleId,
      paused: d.state.paused,
      note: d.state.note ?? '',
      applied: applied ?? null,
      next: d.info.nextActionTimes.slice(0, 5).map((t) => t.toISOString()),
      recent,
    };
    if (opts.json) {
      print(JSON.stringify(summary, null, 2));
      return 0;
    }
    print(`${d.scheduleId}${d.state.paused ? ' (paused)' : ''}${d.state.note ? ` — ${d.state.note}` : ''}`);
    if (applied) print(`  from ${applied.file}: ${JSON.stringify(applied.schedule)}`);
    print('  next runs (UTC):');
    for (const t of summary.next) print(`    ${t.replace('T', ' ').slice(0, 19)}`);
    print('  last runs:');
    if (recent.length === 0) print('    none yet');
    else print(table([['scheduled (UTC)', 'workflow', 'status', 'gate'], ...recent.map((r) => [r.scheduledAt.replace('T', ' ').slice(0, 19), r.workflowId, r.status, r.gate || '-'])]).replace(/^/gm, '    '));
    return 0;
  });
}

export async function scheduleStateCommand(config: FairlineConfig, name: string, verb: 'pause' | 'unpause' | 'trigger' | 'delete', note?: string): Promise<number> {
  return withClient(config, async (client) => {
    const handle = client.schedule.getHandle(workflowIds.schedule(name));
    if (verb === 'pause') await handle.pause(note ?? `paused with fairline by ${process.env.USER ?? 'someone'}`);
    if (verb === 'unpause') await handle.unpause(note ?? 'unpaused with fairline');
    if (verb === 'trigger') await handle.trigger();
    if (verb === 'delete') await handle.delete();
    print(`${workflowIds.schedule(name)}: ${verb === 'trigger' ? 'triggered a run now' : `${verb}d`}`);
    return 0;
  });
}

export async function scheduleBackfillCommand(config: FairlineConfig, name: string, opts: { from: string; to: string }): Promise<number> {
  const start = new Date(opts.from);
  const end = new Date(opts.to);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) {
    say('--from and --to take ISO times with --to after --from, e.g. --from 2026-11-01T00:00:00Z --to 2026-11-04T00:00:00Z');
    return 2;
  }
  return withClient(config, async (client) => {
    await client.schedule.getHandle(workflowIds.schedule(name)).backfill({ start, end, overlap: ScheduleOverlapPolicy.ALLOW_ALL });
    print(`${workflowIds.schedule(name)}: backfill requested for ${start.toISOString()} … ${end.toISOString()}`);
    return 0;
  });
}
