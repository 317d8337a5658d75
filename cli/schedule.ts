/**
 * `fairline schedule …`: a pipeline's `schedule:` block becomes a Temporal Schedule whose action
 * starts `pipelineRun` with the validated spec (client/schedules.ts). `apply` is idempotent and
 * prints what changes.
 */
import {
  applySchedule,
  backfillSchedule,
  describeSchedule,
  listSchedules,
  setScheduleState,
} from '../client/schedules';
import { gitCommit, withConfiguredQueues } from '../client/start';
import { withClient } from '../common/connections';
import { formatProblem, validatePipelineFile } from '../pipeline/validate';
import type { FairlineConfig } from '../temporal.config';
import { table } from './table';

const say = (line: string): void => void process.stderr.write(`${line}\n`);
const print = (line: string): void => void process.stdout.write(`${line}\n`);

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
      const result = await applySchedule(
        client,
        config,
        file,
        withConfiguredQueues(validation.spec, config),
        validation.schedule,
        commit,
      );
      if (result.outcome === 'unchanged') print(`${result.scheduleId}: unchanged`);
      else print(`${result.scheduleId}: ${result.outcome} from ${file}`);
      if (result.outcome === 'updated') for (const line of result.changes) print(line);
    }
    return failures > 0 ? 1 : 0;
  });
}

export async function scheduleListCommand(config: FairlineConfig, opts: { json?: boolean }): Promise<number> {
  return withClient(config, async (client) => {
    const rows = await listSchedules(client);
    if (opts.json) print(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) say('no schedules');
    else
      print(
        table([
          ['pipeline', 'paused', 'next run (UTC)', 'note'],
          ...rows.map((r) => [r.pipeline, r.paused ? 'yes' : 'no', r.next.replace('T', ' ').slice(0, 19), r.note]),
        ]),
      );
    return 0;
  });
}

export async function scheduleDescribeCommand(
  config: FairlineConfig,
  name: string,
  opts: { json?: boolean },
): Promise<number> {
  return withClient(config, async (client) => {
    const summary = await describeSchedule(client, name);
    if (opts.json) {
      print(JSON.stringify(summary, null, 2));
      return 0;
    }
    const { applied, recent } = summary;
    print(`${summary.schedule}${summary.paused ? ' (paused)' : ''}${summary.note ? ` — ${summary.note}` : ''}`);
    if (applied) print(`  from ${applied.file}: ${JSON.stringify(applied.schedule)}`);
    print('  next runs (UTC):');
    for (const t of summary.next) print(`    ${t.replace('T', ' ').slice(0, 19)}`);
    print('  last runs:');
    if (recent.length === 0) print('    none yet');
    else
      print(
        table([
          ['scheduled (UTC)', 'workflow', 'status', 'gate'],
          ...recent.map((r) => [r.scheduledAt.replace('T', ' ').slice(0, 19), r.workflowId, r.status, r.gate || '-']),
        ]).replace(/^/gm, '    '),
      );
    return 0;
  });
}

export async function scheduleStateCommand(
  config: FairlineConfig,
  name: string,
  verb: 'pause' | 'unpause' | 'trigger' | 'delete',
  note?: string,
): Promise<number> {
  return withClient(config, async (client) => {
    const scheduleId = await setScheduleState(client, name, verb, note);
    print(`${scheduleId}: ${verb === 'trigger' ? 'triggered a run now' : `${verb}d`}`);
    return 0;
  });
}

export async function scheduleBackfillCommand(
  config: FairlineConfig,
  name: string,
  opts: { from: string; to: string },
): Promise<number> {
  const start = new Date(opts.from);
  const end = new Date(opts.to);
  if (Number.isNaN(start.getTime()) || Number.isNaN(end.getTime()) || end <= start) {
    say(
      '--from and --to take ISO times with --to after --from, e.g. --from 2026-11-01T00:00:00Z --to 2026-11-04T00:00:00Z',
    );
    return 2;
  }
  return withClient(config, async (client) => {
    const scheduleId = await backfillSchedule(client, name, start, end);
    print(`${scheduleId}: backfill requested for ${start.toISOString()} … ${end.toISOString()}`);
    return 0;
  });
}
