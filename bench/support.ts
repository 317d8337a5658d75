/** Helpers shared by the benchmark scripts: argument parsing, statistics, the results file. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../audit/random';
import { quantile } from '../audit/reactivity';
import { PROJECT_ROOT } from '../common/paths';

/** `--name`'s value as a positive integer, `fallback` when the option was not given. */
export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

/** The median of `values` (the mean of the middle two for an even count). */
export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * A percentile bootstrap interval for `statistic` over `items` (benchmark rounds): `samples`
 * resamples of the rounds with replacement, drawn from mulberry32(`seed`), and the
 * (1 − confidence)/2 and 1 − (1 − confidence)/2 quantiles of the statistic over them. It says how
 * far the figure moves with the rounds that happened to be measured, not how another day's
 * machine would do.
 */
export function bootstrapInterval<T>(
  items: readonly T[],
  statistic: (sample: readonly T[]) => number,
  { samples = 2000, seed = 1, confidence = 0.95 }: { samples?: number; seed?: number; confidence?: number } = {},
): [number, number] {
  if (items.length === 0) return [Number.NaN, Number.NaN];
  const random = mulberry32(seed);
  const values = Float64Array.from({ length: samples }, () =>
    statistic(Array.from({ length: items.length }, () => items[Math.floor(random() * items.length)]!)),
  ).sort();
  const tail = (1 - confidence) / 2;
  return [quantile(values, tail), quantile(values, 1 - tail)];
}

/** The machine a report was measured on (Node, platform, CPU), followed by `extra`'s fields in their order. */
export function environment<T extends object>(
  extra: T,
): { node: string; platform: string; cpu: string; cpuCount: number } & T {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpuCount: cpus().length,
    ...extra,
  };
}

/**
 * Writes `{ benchmark, date, ...body }` to bench/results/<benchmark>-<timestamp>.json, prints `wrote <file>` and
 * returns the file.
 */
export async function writeReport(benchmark: string, body: object): Promise<string> {
  const now = new Date();
  const resultsDir = join(PROJECT_ROOT, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const file = join(
    resultsDir,
    `${benchmark}-${now
      .toISOString()
      .replace(/:/g, '')
      .replace(/\.\d+Z$/, 'Z')}.json`,
  );
  await writeFile(file, `${JSON.stringify({ benchmark, date: now.toISOString(), ...body }, null, 2)}\n`);
  console.log(`wrote ${file}`);
  return file;
}

/** Runs a script's `main` and exits: 0 when it resolves, 1 (error printed) when it rejects. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/** The value after `--name` in `argv`, or undefined when the flag is absent. */
export function argValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/**
 * `--name a,b,c` as numbers (`fallback` when absent); a value that is not a finite number, or with
 * `positive` not above 0, is an error naming the flag and what it got.
 */
export function numberList(
  argv: readonly string[],
  name: string,
  fallback: number[],
  { positive = false }: { positive?: boolean } = {},
): number[] {
  const v = argValue(argv, name);
  if (v === undefined) return fallback;
  const parsed = v.split(',').map(Number);
  if (parsed.some((n) => !Number.isFinite(n) || (positive && n <= 0)))
    throw new Error(`--${name} must be ${positive ? 'positive ' : ''}numbers separated by commas, got "${v}"`);
  return parsed;
}
