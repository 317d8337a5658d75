/**
 * Sentence embeddings on KLUE: runs pipelines/embedding/klue-e5.yaml (multilingual-e5-small,
 * MNRL on KLUE-NLI, through data mirrors to ../shared/data) once per seed and prints three rows,
 * untrained / random negatives / mined hard negatives, with KLUE-STS Spearman (each seed's
 * bootstrap interval; mean ± sd over seeds when there are several) and retrieval recall@1/5/10
 * and MRR@10 on the 200 held-out NLI pairs. Results go to bench/results/embedding-<time>.json;
 * docs/embedding.md holds the table that was run.
 *
 *   npx tsx bench/embedding.ts                          # seed 42
 *   npx tsx bench/embedding.ts --seeds 42,43,44
 *   npx tsx bench/embedding.ts --model scratch --max-steps 3 --max-length 32   # smoke
 *
 * Options: --seeds 42 · --model multilingual-e5-small · --max-steps 0 (the epoch) · --max-length 64.
 * The untrained row does not depend on the seed (its stage is cached after the first seed).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../common/paths';
import { reportSchema } from '../report/schema';
import type { EmbeddingEvaluation } from '../report/embedding';
import { SHARED_DATA, SHARED_FILES } from '../test/shared-data';
import { argValue, environment, runMain, writeReport } from './support';

interface Options {
  seeds: number[];
  model: string;
  maxSteps: number;
  maxLength: number;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string): string | undefined => argValue(argv, name);
  const seeds = (get('seeds') ?? '42').split(',').map(Number);
  if (seeds.some((s) => !Number.isInteger(s))) throw new Error(`--seeds must be integers separated by commas`);
  const int = (name: string, fallback: number): number => {
    const v = Number(get(name) ?? fallback);
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer`);
    return v;
  };
  return {
    seeds,
    model: get('model') ?? 'multilingual-e5-small',
    maxSteps: int('max-steps', 0),
    maxLength: int('max-length', 64),
  };
}

/**
 * An embedded stack of this benchmark's own (its ports, its state folder: the store and the dev
 * server's history, so a second seed reuses the first one's datasets and untrained model), so
 * that its stages never land on another dev stack's workers on the default port; the caller's
 * FAIRLINE_TEMPORAL_* and FAIRLINE_STATE_DIR win when set.
 */
function ownStack(): Record<string, string> {
  return {
    FAIRLINE_TEMPORAL_ADDRESS: process.env.FAIRLINE_TEMPORAL_ADDRESS ?? '127.0.0.1:7391',
    FAIRLINE_TEMPORAL_UI_URL: process.env.FAIRLINE_TEMPORAL_UI_URL ?? 'http://127.0.0.1:8391',
    FAIRLINE_TEMPORAL_EMBEDDED: process.env.FAIRLINE_TEMPORAL_EMBEDDED ?? 'true',
    FAIRLINE_STATE_DIR: process.env.FAIRLINE_STATE_DIR ?? join(tmpdir(), 'fairline-bench-embedding'),
  };
}

/** One run of the pipeline for one seed: its embedding evaluation and wall time. */
function runSeed(o: Options, seed: number): { evaluation: EmbeddingEvaluation; seconds: number } {
  const id = `bench-embedding-${seed}-${Date.now()}`;
  const mirrors = Object.fromEntries(
    Object.entries(SHARED_FILES).map(([url, path]) => [url, pathToFileURL(join(SHARED_DATA, path)).href]),
  );
  const set = [
    `params.model=${o.model}`,
    `params.seed=${seed}`,
    `params.maxSteps=${o.maxSteps}`,
    `params.maxLength=${o.maxLength}`,
  ].flatMap((s) => ['--set', s]);
  const started = Date.now();
  const result = spawnSync(
    'npx',
    ['tsx', 'cli/main.ts', 'run', 'pipelines/embedding/klue-e5.yaml', '--id', id, ...set],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...ownStack(), FAIRLINE_DATA_MIRRORS: JSON.stringify(mirrors) },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const manifest = /^manifest: (\S+)$/m.exec(result.stdout ?? '')?.[1];
  if (result.status !== 0 || !manifest)
    throw new Error(
      `run ${id} failed (exit ${result.status}):\n${(result.stdout ?? '').slice(-2000)}\n${(result.stderr ?? '').slice(-3000)}`,
    );
  const stages: { uses: string; outputs?: Record<string, { uri?: string }> }[] = JSON.parse(
    readFileSync(fileURLToPath(manifest), 'utf8'),
  ).stages;
  const uri = stages.find((s) => s.uses === 'report')?.outputs?.report?.uri;
  if (!uri?.startsWith('file://')) throw new Error(`run ${id}: no report.json in the file store (${manifest})`);
  const report = reportSchema.parse(JSON.parse(readFileSync(fileURLToPath(uri), 'utf8')));
  if (!report.embedding) throw new Error(`run ${id}: the report has no embedding section`);
  return { evaluation: report.embedding, seconds: (Date.now() - started) / 1000 };
}

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const sd = (xs: number[]): number =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const f4 = (x: number | null | undefined): string => (x === null || x === undefined ? '—' : x.toFixed(4));

runMain(async () => {
  const o = parseArgs(process.argv.slice(2));
  const runs = o.seeds.map((seed) => {
    console.error(`seed ${seed}: running pipelines/embedding/klue-e5.yaml …`);
    const run = runSeed(o, seed);
    console.error(`seed ${seed}: ${run.seconds.toFixed(0)} s`);
    return { seed, ...run };
  });
  const names = runs[0]!.evaluation.models.map((m) => m.name);
  const lines = [
    `| model | STS Spearman${runs.length > 1 ? ' (mean ± sd over seeds)' : ''} | per seed [95% bootstrap CI] | R@1 | R@5 | R@10 | MRR@10 |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const name of names) {
    const per = runs.map((r) => r.evaluation.models.find((m) => m.name === name)!);
    const rho = per.map((m) => m.sts.spearman ?? Number.NaN);
    const metric = (k: 'recall_at_1' | 'recall_at_5' | 'recall_at_10' | 'mrr_at_10'): string => {
      const xs = per.map((m) => m.retrieval?.[k] ?? Number.NaN);
      return runs.length > 1 ? `${f4(mean(xs))} ± ${f4(sd(xs))}` : f4(xs[0]);
    };
    lines.push(
      `| ${name} | ${runs.length > 1 ? `${f4(mean(rho))} ± ${f4(sd(rho))}` : f4(rho[0])} | ${per
        .map((m, i) => `${runs[i]!.seed}: ${f4(m.sts.spearman)} [${f4(m.sts.ci_low)}, ${f4(m.sts.ci_high)}]`)
        .join(
          '; ',
        )} | ${metric('recall_at_1')} | ${metric('recall_at_5')} | ${metric('recall_at_10')} | ${metric('mrr_at_10')} |`,
    );
  }
  console.log(lines.join('\n'));
  await writeReport(
    'embedding',
    environment({
      options: o,
      table: lines,
      runs: runs.map((r) => ({ seed: r.seed, seconds: r.seconds, evaluation: r.evaluation })),
    }),
  );
});
