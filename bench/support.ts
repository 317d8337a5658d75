/** Helpers shared by the benchmark scripts: argument parsing, statistics, the results file. */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../common/paths';

/** `--name`'s value as a positive integer, `fallback` when the option was not given. */
export function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

/** The median of `values` (the mean of the middle two for an even count). */
export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

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
