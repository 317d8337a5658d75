/**
 * `fairline gc`: removes what the artifact store holds and nothing refers to (store/gc.ts), after
 * asking Temporal which executions still run (their checkpoints stay). Without Temporal it stops:
 * it cannot tell a live run's checkpoints from a dead one's.
 */
import type { Client } from '@temporalio/client';
import { withClient } from '../common/connections';
import { openStore } from '../store';
import { collectGarbage, type GcReport } from '../store/gc';
import type { FairlineConfig } from '../temporal.config';

const say = (line: string): void => void process.stderr.write(`${line}\n`);
const print = (line: string): void => void process.stdout.write(`${line}\n`);

/** The Temporal run ids of every execution still running in the namespace (any workflow type). */
export async function liveExecutions(client: Client): Promise<Set<string>> {
  const live = new Set<string>();
  for await (const execution of client.workflow.list({ query: `ExecutionStatus = 'Running'` }))
    live.add(execution.runId);
  return live;
}

/** Bytes as a person reads them: 1.5 MB (powers of 1000, as `du --si`). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export interface GcCommandOptions {
  dryRun?: boolean;
  minAge: string;
  keepCheckpoints?: boolean;
  json?: boolean;
}

export async function gcCommand(config: FairlineConfig, opts: GcCommandOptions): Promise<number> {
  const minAgeMinutes = Number(opts.minAge);
  if (!Number.isFinite(minAgeMinutes) || minAgeMinutes < 0) {
    say(`--min-age ${JSON.stringify(opts.minAge)}: give a number of minutes (0 or more)`);
    return 2;
  }
  const live = await withClient(config, liveExecutions);
  const store = openStore(config);
  let report: GcReport;
  try {
    report = await collectGarbage(store, {
      liveExecutions: live,
      minAgeMs: minAgeMinutes * 60_000,
      dryRun: opts.dryRun ?? false,
      keepEndedCheckpoints: opts.keepCheckpoints ?? false,
    });
  } finally {
    await store.close();
  }
  if (opts.json) {
    print(JSON.stringify({ dryRun: opts.dryRun ?? false, ...report }));
    return 0;
  }
  for (const { key, bytes } of report.removed)
    print(`${opts.dryRun ? 'would remove' : 'removed'} ${key} (${formatBytes(bytes)})`);
  print(
    opts.dryRun
      ? `dry run: ${report.removed.length} objects, ${formatBytes(report.bytes)} would be freed; ${report.kept} objects kept`
      : `freed ${formatBytes(report.bytes)} (${report.bytes} bytes) in ${report.removed.length} objects; ${report.kept} objects kept`,
  );
  return 0;
}
