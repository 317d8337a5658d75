/**
 * The manual's reproduction: runs pipelines/reproduce/reproduce.yaml (the manual's protocol on
 * ../shared/data/ethics-problems, through data mirrors) for every seed, preset, λ and T asked for,
 * and prints baseline vs debiased as mean ± sd over seeds, each seed's bootstrap CIs, next to the
 * manual's figures. Results go to bench/results/reproduce-<time>.json; docs/science.md holds the
 * tables that were run.
 *
 *   npx tsx bench/reproduce.ts --model multilingual-e5-small              # seeds 42 43 44, both presets, λ sweep
 *   npx tsx bench/reproduce.ts --model scratch --seeds 42 --presets manual --lambdas 10 --max-steps 5   # smoke
 *
 * Options: --model M (default scratch) · --seeds 42,43,44 · --presets manual,public ·
 * --lambdas 0,0.1,0.3,1,3,10 · --temperatures 1,2 (the manual preset's sweep; public keeps its T 2)
 * · --epochs 5 · --max-steps 0 · --lr 3e-5 (a scratch model wants ~1e-3) · --from a.json,b.json (no runs:
 * tabulate and plot the rows of earlier results, e.g. seeds or λ run by separate invocations).
 *
 * With two or more λ of one preset and T, it also writes bench/results/reproduce-sweep-<time>.html:
 * macro F1 and |reactivity| against λ, baseline and debiased.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { PROJECT_ROOT } from '../common/paths';
import { estimateSchema, reportSchema, type Estimate, type Report } from '../report/schema';
import { escapeHtml, sweepChart } from '../report/svg';
import { SHARED_DATA, SHARED_FILES } from '../test/shared-data';
import { argValue, environment, numberList, runMain, writeReport } from './support';

/** The manual's figures (its section 5.2): macro F1 and male/female reactivity. */
const MANUAL = {
  baseline: { macroF1: 0.864, reactivity: 0.0697 },
  debiased: { macroF1: 0.87, reactivity: 0.0639 },
} as const;

interface Options {
  model: string;
  seeds: number[];
  presets: ('manual' | 'public')[];
  lambdas: number[];
  temperatures: number[];
  epochs: number;
  maxSteps: number;
  lr: number;
  /** Earlier results to tabulate and plot instead of running. */
  from: string[];
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => argValue(argv, name);
  const numbers = (name: string, fallback: number[]): number[] => numberList(argv, name, fallback);
  const presets = (get('presets') ?? 'manual,public').split(',');
  for (const p of presets)
    if (p !== 'manual' && p !== 'public') throw new Error(`--presets: "${p}" is not a preset (manual, public)`);
  return {
    model: get('model') ?? 'scratch',
    seeds: numbers('seeds', [42, 43, 44]),
    presets: presets.filter((p): p is 'manual' | 'public' => p === 'manual' || p === 'public'),
    lambdas: numbers('lambdas', [0, 0.1, 0.3, 1, 3, 10]),
    temperatures: numbers('temperatures', [1, 2]),
    epochs: numbers('epochs', [5])[0]!,
    maxSteps: numbers('max-steps', [0])[0]!,
    lr: numbers('lr', [3e-5])[0]!,
    from: get('from')?.split(',').filter(Boolean) ?? [],
  };
}

/** One configuration of the debiased model. */
const variantSchema = z.object({ preset: z.enum(['manual', 'public']), lambda: z.number(), temperature: z.number() });
type Variant = z.infer<typeof variantSchema>;

function variants(o: Options): Variant[] {
  const out: Variant[] = [];
  for (const preset of o.presets) {
    for (const lambda of o.lambdas) {
      for (const temperature of preset === 'manual' ? o.temperatures : [2]) out.push({ preset, lambda, temperature });
    }
  }
  return out;
}

/** The numbers of one model in one run. */
const modelResultSchema = z.object({
  macroF1: estimateSchema,
  microF1: estimateSchema,
  /** Gender group, mean over labels of |Δp|. */
  absReactivity: estimateSchema,
  /** The manual's signed reactivity, mean over labels. */
  manualReactivity: z.number(),
  /** |Δp| on pairs the masking never covered. */
  unseen: estimateSchema.nullable(),
  flipRate: z.number(),
});
type ModelResult = z.infer<typeof modelResultSchema>;

function modelResult(report: Report, name: string): ModelResult {
  const m = report.evaluation?.models.find((x) => x.name === name);
  const a = report.audits.find((x) => x.name === name);
  const g = a?.groups.find((x) => x.group === 'gender');
  if (!m || !a || !g) throw new Error(`the report has no evaluation or gender audit of ${name}`);
  const point = (v: number): Estimate => ({ value: v, ci_low: v, ci_high: v });
  return {
    macroF1: m.intervals?.macro_f1 ?? point(m.metrics.macro_f1),
    microF1: m.intervals?.micro_f1 ?? point(m.metrics.micro_f1),
    absReactivity: g.absolute,
    manualReactivity: g.signed.value,
    unseen: a.masking?.slices.find((s) => s.name === 'unseen')?.reactivity?.absolute ?? null,
    flipRate: g.flip_rate,
  };
}

/** Runs the pipeline once (a fresh embedded stack, the shared data through mirrors) and returns its report. */
function runOnce(o: Options, seed: number, v: Variant, id: string): Report {
  const mirrors = Object.fromEntries(
    Object.entries(SHARED_FILES).map(([url, path]) => [url, pathToFileURL(join(SHARED_DATA, path)).href]),
  );
  const set = [
    `params.model=${o.model}`,
    `params.seed=${seed}`,
    `params.epochs=${o.epochs}`,
    `params.maxSteps=${o.maxSteps}`,
    `params.lr=${o.lr}`,
    `params.loss=${v.preset}`,
    `params.lambda=${v.lambda}`,
    `params.temperature=${v.temperature}`,
  ].flatMap((s) => ['--set', s]);
  const result = spawnSync(
    'npx',
    ['tsx', 'cli/main.ts', 'run', 'pipelines/reproduce/reproduce.yaml', '--id', id, ...set],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, FAIRLINE_DATA_MIRRORS: JSON.stringify(mirrors) },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const manifest = /^manifest: (\S+)$/m.exec(result.stdout ?? '')?.[1];
  if (result.status !== 0 || !manifest)
    throw new Error(`run ${id} failed (exit ${result.status}):\n${(result.stderr ?? '').slice(-3000)}`);
  const stages: { uses: string; outputs?: Record<string, { uri?: string }> }[] = JSON.parse(
    readFileSync(fileURLToPath(manifest), 'utf8'),
  ).stages;
  const uri = stages.find((s) => s.uses === 'report')?.outputs?.report?.uri;
  if (!uri?.startsWith('file://')) throw new Error(`run ${id}: no report.json in the file store (${manifest})`);
  return reportSchema.parse(JSON.parse(readFileSync(fileURLToPath(uri), 'utf8')));
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]): number =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const ms = (xs: number[]): string => `${mean(xs).toFixed(4)} ± ${sd(xs).toFixed(4)}`;
const ci = (e: Estimate): string => `${e.value.toFixed(4)} [${e.ci_low.toFixed(4)}, ${e.ci_high.toFixed(4)}]`;

const rowSchema = z.object({
  variant: variantSchema,
  seed: z.number(),
  baseline: modelResultSchema,
  debiased: modelResultSchema,
  seconds: z.number(),
});
type Row = z.infer<typeof rowSchema>;

const variantKey = (v: Variant): string => `${v.preset} λ=${v.lambda} T=${v.temperature}`;

/** Rows saved by earlier runs (bench/results/reproduce-*.json), so one table can join several invocations. */
async function loadRows(files: string[]): Promise<Row[]> {
  const rows: Row[] = [];
  for (const file of files) {
    const parsed = z.object({ rows: z.array(rowSchema) }).safeParse(JSON.parse(await readFile(file, 'utf8')));
    if (!parsed.success)
      throw new Error(
        `${file}: not a reproduce result: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
      );
    rows.push(...parsed.data.rows);
  }
  return rows;
}

function printTable(o: Options, rows: Row[]): void {
  const keys = [...new Set(rows.map((r) => variantKey(r.variant)))];
  const seeds = [...new Set(rows.map((r) => r.seed))].sort();
  console.log(
    `\nmodel ${o.model}, seeds ${seeds.join(' ')}, ${o.epochs} epochs${o.maxSteps ? `, at most ${o.maxSteps} steps` : ''}; mean ± sd over seeds (n per row)`,
  );
  console.log(
    'variant | n | macro F1 baseline → debiased | micro F1 baseline → debiased | manual reactivity (signed) baseline → debiased | |reactivity| baseline → debiased | unseen |reactivity|',
  );
  console.log(
    `manual's figures | | ${MANUAL.baseline.macroF1} → ${MANUAL.debiased.macroF1} | | ${MANUAL.baseline.reactivity} → ${MANUAL.debiased.reactivity} | |`,
  );
  for (const key of keys) {
    const rs = rows.filter((r) => variantKey(r.variant) === key);
    const pick = (f: (r: Row) => number): number[] => rs.map(f);
    const unseen = rs.every((r) => r.baseline.unseen && r.debiased.unseen)
      ? `${ms(pick((r) => r.baseline.unseen!.value))} → ${ms(pick((r) => r.debiased.unseen!.value))}`
      : '—';
    console.log(
      `${key} | ${rs.length} | ${ms(pick((r) => r.baseline.macroF1.value))} → ${ms(pick((r) => r.debiased.macroF1.value))} | ` +
        `${ms(pick((r) => r.baseline.microF1.value))} → ${ms(pick((r) => r.debiased.microF1.value))} | ` +
        `${ms(pick((r) => r.baseline.manualReactivity))} → ${ms(pick((r) => r.debiased.manualReactivity))} | ` +
        `${ms(pick((r) => r.baseline.absReactivity.value))} → ${ms(pick((r) => r.debiased.absReactivity.value))} | ${unseen}`,
    );
  }
  console.log('\nper seed, with 95 % bootstrap CIs over the test rows:');
  for (const r of rows) {
    console.log(
      `${variantKey(r.variant)} seed ${r.seed}: macro F1 ${ci(r.baseline.macroF1)} → ${ci(r.debiased.macroF1)}; ` +
        `|reactivity| ${ci(r.baseline.absReactivity)} → ${ci(r.debiased.absReactivity)}; flip rate ${r.baseline.flipRate.toFixed(3)} → ${r.debiased.flipRate.toFixed(3)} (${r.seconds.toFixed(0)} s)`,
    );
  }
}

/**
 * F1 and |reactivity| against λ, one pair of charts per preset and T that was run at two or more
 * λ: each point the mean over seeds, its whisker the 95 % CI when one seed ran and ± sd otherwise.
 */
function sweepHtml(rows: Row[]): string | null {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = `${r.variant.preset} preset, T = ${r.variant.temperature}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const sections: string[] = [];
  for (const [key, rs] of groups) {
    const lambdas = [...new Set(rs.map((r) => r.variant.lambda))].sort((a, b) => a - b);
    if (lambdas.length < 2) continue;
    const point = (metric: (m: ModelResult) => Estimate, model: 'baseline' | 'debiased') =>
      lambdas.map((lambda) => {
        const at = rs.filter((r) => r.variant.lambda === lambda).map((r) => metric(r[model]));
        if (at.length === 0) return null;
        if (at.length === 1) return { value: at[0]!.value, low: at[0]!.ci_low, high: at[0]!.ci_high };
        const values = at.map((e) => e.value);
        return { value: mean(values), low: mean(values) - sd(values), high: mean(values) + sd(values) };
      });
    const chart = (title: string, metric: (m: ModelResult) => Estimate, yLabel: string): string =>
      sweepChart({
        title: `${title}, ${key}`,
        categories: lambdas.map(String),
        series: [
          { name: 'baseline', points: point(metric, 'baseline') },
          { name: 'debiased', points: point(metric, 'debiased') },
        ],
        xLabel: 'λ (L_debias weight)',
        yLabel,
      });
    const seeds = [...new Set(rs.map((r) => r.seed))].sort();
    sections.push(
      `<h2>${escapeHtml(key)}</h2><p>seeds ${seeds.join(', ')}; whiskers: ${seeds.length === 1 ? '95 % bootstrap CI over test rows' : '± sd over seeds'}</p>` +
        chart('macro F1 against λ', (m) => m.macroF1, 'macro F1') +
        chart('gender |reactivity| against λ', (m) => m.absReactivity, '|reactivity|'),
    );
  }
  if (sections.length === 0) return null;
  return `<!doctype html><meta charset="utf-8"><title>fairline reproduction: λ sweep</title><h1>λ sweep</h1>${sections.join('')}\n`;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const rows: Row[] = o.from.length ? await loadRows(o.from) : [];
  if (o.from.length === 0) {
    for (const v of variants(o)) {
      for (const seed of o.seeds) {
        const t0 = Date.now();
        const report = runOnce(o, seed, v, `repro-${stamp}-${v.preset}-l${v.lambda}-t${v.temperature}-s${seed}`);
        rows.push({
          variant: v,
          seed,
          baseline: modelResult(report, 'baseline'),
          debiased: modelResult(report, 'debiased'),
          seconds: (Date.now() - t0) / 1000,
        });
        const last = rows[rows.length - 1]!;
        console.log(
          `${variantKey(v)} seed ${seed}: macro F1 ${ci(last.baseline.macroF1)} → ${ci(last.debiased.macroF1)}; ` +
            `|reactivity| ${ci(last.baseline.absReactivity)} → ${ci(last.debiased.absReactivity)} (${last.seconds.toFixed(0)} s)`,
        );
      }
    }
  }
  printTable(o, rows);
  const html = sweepHtml(rows);
  if (html) {
    const file = join(PROJECT_ROOT, 'bench', 'results', `reproduce-sweep-${stamp}.html`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, html);
    console.log(`wrote ${file} (F1 and |reactivity| against λ)`);
  }
  if (o.from.length === 0)
    await writeReport('reproduce', { environment: environment({ model: o.model }), options: o, manual: MANUAL, rows });
}

runMain(main);
