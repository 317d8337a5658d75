/**
 * `fairline compare RUN_A RUN_B`: finds each run's workflow, reads the report.json and manifest
 * its memo names from the artifact store, and prints report/compare.ts's comparison as tables
 * (B against A, the better direction marked) or as JSON.
 */
import { compareRecords, type CompareOutput } from '../client/records';
import type { Delta, ModelPair, Verdict } from '../report/compare';
import type { FairlineConfig } from '../temporal.config';
import { table } from './table';

const print = (line: string): void => void process.stdout.write(`${line}\n`);

// ---- printing ----

/** Colour only for a person at a terminal (and never with NO_COLOR set): scripts and pipes get plain text. */
function painter(stream: NodeJS.WriteStream): (verdict: Verdict, text: string) => string {
  const colour = stream.isTTY === true && !process.env.NO_COLOR;
  const codes: Partial<Record<Verdict, string>> = { better: '32', worse: '31' };
  return (verdict, text) => (colour && codes[verdict] ? `\x1b[${codes[verdict]}m${text}\x1b[0m` : text);
}

/** The verdict as a mark and a word: ▲ better, ▼ worse, = same, or where the number is missing. */
export const VERDICT_TEXT: Record<Verdict, string> = {
  better: '▲ better',
  worse: '▼ worse',
  same: '= same',
  'only-a': 'only in A',
  'only-b': 'only in B',
};

const BETTER_TEXT: Record<Delta['better'], string> = {
  higher: 'higher is better',
  lower: 'lower is better',
  'closer-to-zero': 'closer to 0 is better',
};

export const DECIMALS = 4;
const value = (v: number | null): string => (v === null ? '—' : v.toFixed(DECIMALS));
/** b − a with its sign always shown. */
export const signed = (d: number | null): string => (d === null ? '—' : `${d > 0 ? '+' : ''}${d.toFixed(DECIMALS)}`);
const short = (digest: string | null): string =>
  digest === null ? '—' : digest.length > 16 ? `${digest.slice(0, 12)}…` : digest;
const pairName = (m: ModelPair): string => (m.a === m.b ? m.a : `${m.a} → ${m.b}`);
const json = (v: unknown): string => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) groups.set(key(row), [...(groups.get(key(row)) ?? []), row]);
  return groups;
}

export function formatComparison(
  out: CompareOutput,
  paint: (verdict: Verdict, text: string) => string = (_, t) => t,
): string {
  const { a, b, comparison: c } = out;
  const mark = (d: { verdict: Verdict }): string => paint(d.verdict, VERDICT_TEXT[d.verdict]);
  const deltaCells = (d: Delta): string[] => [value(d.a), value(d.b), signed(d.delta), mark(d)];
  const lines: string[] = [];
  const section = (title: string, body: string): void => void lines.push('', title, body.replace(/^/gm, '  '));

  lines.push(`A  ${a.workflowId}`, `B  ${b.workflowId}`, '(every Δ is B − A)');
  const same = (x: { same: boolean }): string => (x.same ? 'same' : 'different');
  section(
    'digests',
    table([
      ['', 'A', 'B', ''],
      ['spec', short(c.spec.a), short(c.spec.b), same(c.spec)],
      ['dataset', short(c.dataset.a), short(c.dataset.b), same(c.dataset)],
      ...c.models.map((m) => [
        `model ${m.name}`,
        short(m.a),
        short(m.b),
        m.a === null ? 'only in B' : m.b === null ? 'only in A' : same(m),
      ]),
    ]),
  );
  section(
    'spec and params',
    c.changes.length === 0
      ? 'no changes'
      : table([['path', 'change', 'A', 'B'], ...c.changes.map((ch) => [ch.path, ch.kind, json(ch.a), json(ch.b)])]),
  );
  if (c.headline.rows.length > 0) {
    section(
      `headline (${c.headline.models.a ?? '—'} → ${c.headline.models.b ?? '—'})`,
      table([
        ['metric', 'better', 'A', 'B', 'Δ', ''],
        ...c.headline.rows.map((r) => [r.metric, BETTER_TEXT[r.better], ...deltaCells(r)]),
      ]),
    );
  }
  for (const [name, rows] of groupBy(c.metrics, (r) => pairName(r.models))) {
    section(
      `metrics: ${name} (higher is better)`,
      table([
        ['metric', 'label', 'A', 'B', 'Δ', ''],
        ...rows.map((r) => [r.metric, r.label ?? '(all)', ...deltaCells(r)]),
      ]),
    );
  }
  for (const [name, rows] of groupBy(c.reactivity, (r) => pairName(r.models))) {
    section(
      `reactivity: ${name} (absolute: lower is better; signed: closer to 0 is better)`,
      table([
        ['group', 'label', 'measure', 'A', 'B', 'Δ', ''],
        ...rows.map((r) => [r.group ?? '(all)', r.label ?? '(all)', r.measure, ...deltaCells(r)]),
      ]),
    );
  }
  for (const [name, rows] of groupBy(c.flipRates, (r) => pairName(r.models))) {
    section(
      `flip rate: ${name} (lower is better)`,
      table([['group', 'A', 'B', 'Δ', ''], ...rows.map((r) => [r.group ?? '(all)', ...deltaCells(r)])]),
    );
  }
  if (c.gates.length > 0) {
    // A gate in warn mode lets the run succeed however it judged: say so beside a failure.
    const gate = (g: { passed: boolean; mode: string } | null): string =>
      g === null ? '—' : g.passed ? 'passed' : g.mode === 'warn' ? 'failed (warn only)' : 'failed';
    section(
      'bias gate',
      table([['model', 'A', 'B', ''], ...c.gates.map((g) => [pairName(g.models), gate(g.a), gate(g.b), mark(g)])]),
    );
  }
  return lines.join('\n');
}

export async function compareCommand(
  config: FairlineConfig,
  runA: string,
  runB: string,
  opts: { pipeline?: string; json?: boolean },
): Promise<number> {
  const out = await compareRecords(config, runA, runB, { pipeline: opts.pipeline });
  if (opts.json) print(JSON.stringify(out, null, 2));
  else print(formatComparison(out, painter(process.stdout)));
  return 0;
}
