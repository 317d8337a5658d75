/**
 * The ETHOS learning curve: runs pipelines/ethos/ethos.yaml (label = isHate ≥ median, fairline's
 * seeded shuffle with seed 32, train on the first N, test on the rest; LoRA and full fine-tuning
 * of all-MiniLM-L6-v2 on the same rows) through `fairline run` (the real dev server, the trainer,
 * onnxruntime), once per N and training seed, and prints per N and method the binary F1 of class
 * hate and the ROC-AUC of its score (mean over seeds with a 95 % t interval), next to the
 * published LLM-with-LoRA reference, plus trainable parameters, training time and peak memory.
 *
 *   npx tsx bench/ethos.ts                                   # N 50..800 × seeds 1 2 3
 *   npx tsx bench/ethos.ts --sizes 50 --seeds 1 --epochs 1   # smoke
 *   npx tsx bench/ethos.ts --from bench/results/ethos-a.json,bench/results/ethos-b.json   # tabulate only
 *
 * Options: --sizes 50,100,200,400,800 · --seeds 1,2,3 · --epochs 3 · --batch 8 · --max-length 128 ·
 * --lr-full 1e-4 · --lr-lora 1e-3 · --r 8 · --alpha 16 · --threads 1 (OMP_NUM_THREADS of the
 * trainer: on a shared 2-core machine one thread trains ~3× faster than two fighting for it).
 * Every hyperparameter is fixed here, up front: nothing is chosen by looking at the test rows.
 *
 * Writes bench/results/ethos-<time>.json (every run's figures, written after each run, so an
 * interrupted bench keeps what it measured) and ethos-<time>-f1.svg / -roc-auc.svg (the curves).
 * Each run gets its own temporary store, removed once its numbers are read.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { PROJECT_ROOT } from '../common/paths';
import { evaluationSchema } from '../report/schema';
import { learningCurveSvgs, type CurvePoint } from '../report/ethos';
import { SHARED_DATA, SHARED_FILES } from '../test/shared-data';
import { argValue, environment, numberList, runMain, writeReport } from './support';

/** The agile-classifier paper's LLM-with-LoRA figures on ETHOS (binary F1 of hate, ROC-AUC). */
const REFERENCE = {
  name: 'LLM+LoRA (ref.)',
  points: [
    { n: 200, f1: 0.8, rocAuc: 0.78 },
    { n: 800, f1: 0.84, rocAuc: 0.88 },
  ],
};

const METHODS = ['full', 'lora'] as const;

interface Options {
  sizes: number[];
  seeds: number[];
  epochs: number;
  batch: number;
  maxLength: number;
  lrFull: number;
  lrLora: number;
  r: number;
  alpha: number;
  threads: number;
  from: string[];
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => argValue(argv, name);
  const numbers = (name: string, fallback: number[]): number[] => numberList(argv, name, fallback, { positive: true });
  const one = (name: string, fallback: number): number => numbers(name, [fallback])[0]!;
  return {
    sizes: numbers('sizes', [50, 100, 200, 400, 800]),
    seeds: numbers('seeds', [1, 2, 3]),
    epochs: one('epochs', 3),
    batch: one('batch', 8),
    maxLength: one('max-length', 128),
    lrFull: one('lr-full', 1e-4),
    lrLora: one('lr-lora', 1e-3),
    r: one('r', 8),
    alpha: one('alpha', 16),
    threads: one('threads', 1),
    from: get('from')?.split(',').filter(Boolean) ?? [],
  };
}

/** One trained and evaluated model of one run. */
const rowSchema = z.object({
  method: z.enum(METHODS),
  n: z.number().int(),
  seed: z.number().int(),
  testRows: z.number().int(),
  f1: z.number(),
  rocAuc: z.number(),
  macroF1: z.number(),
  trainableParameters: z.number().int(),
  totalParameters: z.number().int(),
  trainSeconds: z.number(),
  peakMemoryBytes: z.number(),
  peakMemoryKind: z.string(),
  runSeconds: z.number(),
});
type Row = z.infer<typeof rowSchema>;

const stagesSchema = z.object({
  stages: z.array(
    z.object({ id: z.string(), outputs: z.record(z.string(), z.unknown()).nullable().optional() }).passthrough(),
  ),
});
const uriSchema = z.object({ uri: z.string() }).passthrough();
const costSchema = z
  .object({
    event: z.literal('cost'),
    train_seconds: z.number(),
    trainable_parameters: z.number(),
    total_parameters: z.number(),
    peak_memory_bytes: z.number(),
    peak_memory_kind: z.string(),
  })
  .passthrough();

const readUri = (value: unknown): string => {
  const uri = uriSchema.parse(value).uri;
  if (!uri.startsWith('file://')) throw new Error(`expected a file:// artifact, got ${uri}`);
  return readFileSync(fileURLToPath(uri), 'utf8');
};

/** Runs the pipeline for one N and seed in a fresh store and returns both models' rows. */
async function runOnce(o: Options, n: number, seed: number, id: string): Promise<Row[]> {
  const mirrors = Object.fromEntries(
    Object.entries(SHARED_FILES).map(([url, path]) => [url, pathToFileURL(join(SHARED_DATA, path)).href]),
  );
  const store = await mkdtemp(join(tmpdir(), 'fairline-bench-ethos-'));
  const set = [
    `params.n=${n}`,
    `params.seed=${seed}`,
    `params.epochs=${o.epochs}`,
    `params.batchSize=${o.batch}`,
    `params.maxLength=${o.maxLength}`,
    `params.lrFull=${o.lrFull}`,
    `params.lrLora=${o.lrLora}`,
    `params.r=${o.r}`,
    `params.alpha=${o.alpha}`,
  ].flatMap((s) => ['--set', s]);
  const started = Date.now();
  try {
    const result = spawnSync('npx', ['tsx', 'cli/main.ts', 'run', 'pipelines/ethos/ethos.yaml', '--id', id, ...set], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        FAIRLINE_DATA_MIRRORS: JSON.stringify(mirrors),
        FAIRLINE_STORE: pathToFileURL(store).href,
        OMP_NUM_THREADS: String(o.threads),
      },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const manifest = /^manifest: (\S+)$/m.exec(result.stdout ?? '')?.[1];
    if (result.status !== 0 || !manifest)
      throw new Error(`run ${id} failed (exit ${result.status}):\n${(result.stderr ?? '').slice(-3000)}`);
    const stages = stagesSchema.parse(JSON.parse(readFileSync(fileURLToPath(manifest), 'utf8'))).stages;
    const outputsOf = (stage: string): Record<string, unknown> => {
      const outputs = stages.find((s) => s.id === stage)?.outputs;
      if (!outputs) throw new Error(`run ${id}: stage ${stage} has no outputs in ${manifest}`);
      return outputs;
    };
    const evaluation = evaluationSchema.parse(JSON.parse(readUri(outputsOf('evaluate').evaluation)));
    const runSeconds = (Date.now() - started) / 1000;
    return METHODS.map((method) => {
      const model = evaluation.models.find((m) => m.name === method);
      if (!model) throw new Error(`run ${id}: no model ${method} in the evaluation`);
      const hate = model.metrics.per_label.find((l) => l.label === 'hate');
      if (!hate || typeof hate.roc_auc !== 'number') throw new Error(`run ${id}: no F1 / ROC-AUC of class hate`);
      const cost = readUri(outputsOf(method).metrics)
        .trim()
        .split('\n')
        .map((line) => costSchema.safeParse(JSON.parse(line)))
        .find((c) => c.success)?.data;
      if (!cost) throw new Error(`run ${id}: ${method}'s metrics.jsonl has no cost event`);
      return {
        method,
        n,
        seed,
        testRows: model.metrics.n,
        f1: hate.f1,
        rocAuc: hate.roc_auc,
        macroF1: model.metrics.macro_f1,
        trainableParameters: cost.trainable_parameters,
        totalParameters: cost.total_parameters,
        trainSeconds: cost.train_seconds,
        peakMemoryBytes: cost.peak_memory_bytes,
        peakMemoryKind: cost.peak_memory_kind,
        runSeconds,
      };
    });
  } finally {
    await rm(store, { recursive: true, force: true });
  }
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]): number =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
/** Two-sided 95 % Student t quantiles by degrees of freedom (1..10). */
const T95 = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

/**
 * Mean over seeds and its 95 % t interval, clipped to [0, 1] where both metrics live (with two or
 * three seeds the t quantile is 12.7 or 4.3, so an interval can reach past the metric's range);
 * low = high = mean with one seed: no interval.
 */
function interval(xs: number[]): { mean: number; low: number; high: number } {
  const m = mean(xs);
  if (xs.length < 2) return { mean: m, low: m, high: m };
  const half = (T95[Math.min(xs.length - 1, 10)]! * sd(xs)) / Math.sqrt(xs.length);
  return { mean: m, low: Math.max(0, m - half), high: Math.min(1, m + half) };
}

function curve(rows: Row[]): CurvePoint[] {
  const points: CurvePoint[] = [];
  for (const method of METHODS)
    for (const n of [...new Set(rows.map((r) => r.n))].sort((a, b) => a - b)) {
      const rs = rows.filter((r) => r.method === method && r.n === n);
      if (rs.length === 0) continue;
      points.push({
        method: method === 'lora' ? 'LoRA' : 'full FT',
        n,
        f1: interval(rs.map((r) => r.f1)),
        rocAuc: interval(rs.map((r) => r.rocAuc)),
        seeds: rs.length,
      });
    }
  return points;
}

const f4 = (v: number): string => v.toFixed(3);
const withInterval = (p: { mean: number; low: number; high: number }, seeds: number): string =>
  seeds < 2 ? f4(p.mean) : `${f4(p.mean)} [${f4(p.low)}, ${f4(p.high)}]`;

function printTable(rows: Row[]): void {
  const sizes = [...new Set(rows.map((r) => r.n))].sort((a, b) => a - b);
  console.log(
    '\nN | method | seeds | test rows | F1 (hate), mean [95 % t] | ROC-AUC, mean [95 % t] | trainable / total params | train s (mean) | peak memory MiB (mean, kind)',
  );
  console.log('---|---|---|---|---|---|---|---|---');
  for (const n of sizes) {
    for (const method of METHODS) {
      const rs = rows.filter((r) => r.method === method && r.n === n);
      if (rs.length === 0) continue;
      const f1 = interval(rs.map((r) => r.f1));
      const auc = interval(rs.map((r) => r.rocAuc));
      console.log(
        `${n} | ${method === 'lora' ? 'LoRA' : 'full'} | ${rs.length} | ${rs[0]!.testRows} | ${withInterval(f1, rs.length)} | ${withInterval(auc, rs.length)} | ` +
          `${rs[0]!.trainableParameters.toLocaleString('en')} / ${rs[0]!.totalParameters.toLocaleString('en')} | ` +
          `${mean(rs.map((r) => r.trainSeconds)).toFixed(0)} | ${(mean(rs.map((r) => r.peakMemoryBytes)) / 2 ** 20).toFixed(0)} (${rs[0]!.peakMemoryKind})`,
      );
    }
    const ref = REFERENCE.points.find((p) => p.n === n);
    if (ref) console.log(`${n} | LLM + LoRA, published | | | ${ref.f1.toFixed(2)} | ${ref.rocAuc.toFixed(2)} | | |`);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  let rows: Row[] = [];
  if (o.from.length > 0) {
    for (const file of o.from)
      rows.push(...z.object({ rows: z.array(rowSchema) }).parse(JSON.parse(await readFile(file, 'utf8'))).rows);
  } else {
    const stamp = new Date().toISOString().replace(/[:.]/g, '').slice(0, 15);
    const load = { before: loadavg() };
    let file: string | undefined;
    for (const seed of o.seeds)
      for (const n of o.sizes) {
        const id = `bench-${stamp}-n${n}-s${seed}`;
        console.log(
          `run ${id} (load average ${loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')})`,
        );
        const got = await runOnce(o, n, seed, id);
        for (const r of got)
          console.log(
            `  ${r.method}: F1 ${f4(r.f1)}, ROC-AUC ${f4(r.rocAuc)}, ${r.trainableParameters} trainable, ${r.trainSeconds.toFixed(0)} s training, run ${r.runSeconds.toFixed(0)} s`,
          );
        rows = [...rows, ...got];
        // Rewritten after every run: an interrupted bench keeps what it measured.
        if (file) await rm(file, { force: true });
        file = await writeReport('ethos', {
          environment: environment({ threads: o.threads }),
          load: { ...load, now: loadavg() },
          options: o,
          reference: REFERENCE,
          rows,
        });
      }
  }
  printTable(rows);
  const svgs = learningCurveSvgs(curve(rows), REFERENCE);
  const base = join(
    PROJECT_ROOT,
    'bench',
    'results',
    `ethos-${new Date().toISOString().replace(/[:.]/g, '').slice(0, 15)}`,
  );
  await writeFile(`${base}-f1.svg`, `${svgs.f1}\n`);
  await writeFile(`${base}-roc-auc.svg`, `${svgs.rocAuc}\n`);
  console.log(`wrote ${base}-f1.svg, ${base}-roc-auc.svg`);
}

runMain(main);
