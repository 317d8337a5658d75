/**
 * `fairline runs`: recent pipeline runs with their bias and quality numbers, read from the search
 * attributes each run upserts (so a Temporal list filter, `--where`, narrows them exactly as it
 * does in the Temporal UI); client/runs.ts finds them.
 */
import { z } from 'zod';
import { ListFilterInvalid } from '../client/errors';
import { listRuns, type RunRow } from '../client/runs';
import { RUNS_DEFAULT_LIMIT } from '../common/constants';
import { withClient } from '../common/connections';
import type { FairlineConfig } from '../temporal.config';
import { table } from './table';

const say = (line: string): void => void process.stderr.write(`${line}\n`);
const print = (line: string): void => void process.stdout.write(`${line}\n`);

/**
 * What a table cell shows for a search attribute the run never set (no evaluate or audit stage, or it failed first).
 */
export const ABSENT = '—';

export const runsOptionsSchema = z.object({
  pipeline: z.string().min(1).optional(),
  where: z.string().optional(),
  limit: z.coerce.number().int().positive().default(RUNS_DEFAULT_LIMIT),
  json: z.boolean().optional(),
});
export type RunsOptions = z.infer<typeof runsOptionsSchema>;

function formatDuration(seconds: number): string {
  return seconds < 90
    ? `${seconds.toFixed(1)} s`
    : seconds < 90 * 60
      ? `${(seconds / 60).toFixed(1)} min`
      : `${(seconds / 3600).toFixed(1)} h`;
}

const number = (value: number | null): string => (value === null ? ABSENT : value.toFixed(3));
const gate = (value: boolean | null): string => (value === null ? ABSENT : value ? 'passed' : 'failed');

/** The runs table; a pipeline column only when the rows may come from several pipelines. */
export function formatRuns(rows: RunRow[], options: { pipelineColumn: boolean }): string {
  const header = [
    'run',
    ...(options.pipelineColumn ? ['pipeline'] : []),
    'trigger',
    'started (UTC)',
    'duration',
    'status',
    'macro F1',
    'reactivity',
    'gate',
  ];
  return table([
    header,
    ...rows.map((r) => [
      r.run,
      ...(options.pipelineColumn ? [r.pipeline] : []),
      r.trigger ?? ABSENT,
      r.started.replace('T', ' ').slice(0, 19),
      formatDuration(r.durationS),
      r.outcome,
      number(r.macroF1),
      number(r.reactivity),
      gate(r.gatePassed),
    ]),
  ]);
}

export async function runsCommand(
  config: FairlineConfig,
  raw: { pipeline?: string; where?: string; limit?: string; json?: boolean },
): Promise<number> {
  const parsed = runsOptionsSchema.safeParse(raw);
  if (!parsed.success) {
    say(`runs: ${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return 2;
  }
  const options = parsed.data;
  return withClient(config, async (client) => {
    let rows: RunRow[];
    try {
      rows = await listRuns(client, options);
    } catch (error) {
      if (!(error instanceof ListFilterInvalid)) throw error;
      say(`fairline runs: ${error.message}`);
      return 2;
    }
    if (options.json) print(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) say(options.where || options.pipeline ? 'no runs match' : 'no runs yet');
    else print(formatRuns(rows, { pipelineColumn: !options.pipeline }));
    return 0;
  });
}
