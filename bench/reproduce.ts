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
 * · --epochs 5 · --max-steps 0 · --lr 3e-5 (a scratch model wants ~1e-3).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../common/paths';
import { reportSchema, type Estimate, type Report } from '../report/schema';
import { SHARED_DATA, SHARED_FILES } from '../test/shared-data';
import { environment, runMain, writeReport } from './support';

/** The manual's figures (its section 5.2): macro F1 and male/female reactivity. */
const MANUAL = { baseline: { macroF1: 0.864, reactivity: 0.0697 }, debiased: { macroF1: 0.87, reactivity: 0.0639 } } as const;

interface Options {
  model: string;
  seeds: number[];
  presets: ('manual' | 'public')[];
  lambdas: number[];
  temperatures: number[];
  epochs: number;
  maxSteps: number;
  lr: number;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const numbers = (name: string, fallback: number[]): number[] => {
    const v = get(name);
    if (v === undefined) return fallback;
    const parsed = v.split(',').map(Number);
    if (parsed.some((n) => !Number.isFinite(n))) throw new Error(`--${name} must be numbers separated by commas, got "${v}"`);
    return parsed;
  };
  const presets = (get('presets') ?? 'manual,public').split(',');
  for (const p of presets) if (p !== 'manual' && p !== 'public') throw new Error(`--presets: "${p}" is not a preset (manual, public)`);
  return {
    model: get('model') ?? 'scratch',
    seeds: numbers('seeds', [42, 43, 44]),
    presets: presets.filter((p): p is 'manual' | 'public' => p === 'manual' || p === 'public'),
    lambdas: numbers('lambdas', [0, 0.1, 0.3, 1, 3, 10]),
    temperatures: numbers('temperatures', [1, 2]),
    epochs: numbers('epochs', [5])[0]!,
    maxSteps: numbers('max-steps', [0])[0]!,
    lr: numbers('lr', [3e-5])[0]!,
  };
}

/** One configuration of the debiased model. */
interface Variant {
  preset: 'manual' | 'public';
  lambda: number;
  temperature: number;
}

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
interface ModelResult {
  macroF1: Estimate;
  microF1: Estimate;
  /** Gender group, mean over labels of |Δp|. */
  absReactivity: Estimate;
  /** The manual's signed reactivity, mean over labels. */
  manualReactivity: number;
  /** |Δp| on pairs the masking never covered. */
  unseen: Estimate | null;
  flipRate: number;
}

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
  const mirrors = Object.fromEntries(Object.entries(SHARED_FILES).map(([url, path]) => [url, pathToFileURL(join(SHARED_DATA, path)).href]));
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
  const result = spawnSync('npx', ['tsx', 'cli/main.ts', 'run', 'pipelines/reproduce/reproduce.yaml', '--id', id, ...set], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, FAIRLINE_DATA_MIRRORS: JSON.stringify(mirrors) },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const manifest = /^manifest: (\S+)$/m.exec(result.stdout ?? '')?.[1];
  if (result.status !== 0 || !manifest) throw new Error(`run ${id} failed (exit ${result.status}):\n${(result.stderr ?? '').slice(-3000)}`);
  const stages: { uses: string; outputs?: Record<string, { uri?: string }> }[] = JSON.parse(readFileSync(fileURLToPath(manifest), 'utf8')).stages;
  const uri = stages.find((s) => s.uses === 'report')?.outputs?.report?.uri;
  if (!uri?.startsWith('file://')) throw new Error(`run ${id}: no report.json in the file store (${manifest})`);
  return reportSchema.parse(JSON.parse(readFileSync(fileURLToPath(uri), 'utf8')));
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]): number => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const ms = (xs: number[]): string => `${mean(xs).toFixed(4)} ± ${sd(xs).toFixed(4)}`;
const ci = (e: Estimate): string => `${e.value.toFixed(4)} [${e.ci_low.toFixed(4)}, ${e.ci_high.toFixed(4)}]`;

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  const rows: { variant: Variant; seed: number; baseline: ModelResult; debiased: ModelResult; seconds: number }[] = [];
  const all = variants(o);
  for (const v of all) {
    for (const seed of o.seeds) {
      const t0 = Date.now();
      const report = runOnce(o, seed, v, `repro-${stamp}-${v.preset}-l${v.lambda}-t${v.temperature}-s${seed}`);
      rows.push({ variant: v, seed, baseline: modelResult(report, 'baseline'), debiased: modelResult(report, 'debiased'), seconds: (Date.now() - t0) / 1000 });
      const last = rows[rows.length - 1]!;
      console.log(
        `${v.preset} λ=${v.lambda} T=${v.temperature} seed ${seed}: macro F1 ${ci(last.baseline.macroF1)} → ${ci(last.debiased.macroF1)}; ` +
          `|reactivity| ${ci(last.baseline.absReactivity)} → ${ci(last.debiased.absReactivity)} (${last.seconds.toFixed(0)} s)`,
      );
    }
  }
  console.log(`\nmodel ${o.model}, seeds ${o.seeds.join(' ')}, ${o.epochs} epochs${o.maxSteps ? `, at most ${o.maxSteps} steps` : ''}; mean ± sd over seeds`);
  console.log('variant | macro F1 baseline → debiased | micro F1 baseline → debiased | manual reactivity (signed) baseline → debiased | |reactivity| baseline → debiased | unseen |reactivity|');
  console.log(`manual's figures | ${MANUAL.baseline.macroF1} → ${MANUAL.debiased.macroF1} | | ${MANUAL.baseline.reactivity} → ${MANUAL.debiased.reactivity} | |`);
  for (const v of all) {
    const rs = rows.filter((r) => r.variant === v);
    const pick = (f: (r: (typeof rs)[number]) => number): number[] => rs.map(f);
    const unseen = rs.every((r) => r.baseline.unseen && r.debiased.unseen) ? `${ms(pick((r) => r.baseline.unseen!.value))} → ${ms(pick((r) => r.debiased.unseen!.value))}` : '—';
    console.log(
      `${v.preset} λ=${v.lambda} T=${v.temperature} | ${ms(pick((r) => r.baseline.macroF1.value))} → ${ms(pick((r) => r.debiased.macroF1.value))} | ` +
        `${ms(pick((r) => r.baseline.microF1.value))} → ${ms(pick((r) => r.debiased.microF1.value))} | ` +
        `${ms(pick((r) => r.baseline.manualReactivity))} → ${ms(pick((r) => r.debiased.manualReactivity))} | ` +
        `${ms(pick((r) => r.baseline.absReactivity.value))} → ${ms(pick((r) => r.debiased.absReactivity.value))} | ${unseen}`,
    );
  }
  await writeReport('reproduce', { environment: environment({ model: o.model }), options: o, manual: MANUAL, rows });
}

runMain(main);
