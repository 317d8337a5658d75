/**
 * `fairline metrics --task T --input FILE.jsonl [--labels a,b,c] [--exclude L] [--threshold P]`:
 * scores a predictions file and prints the metrics as JSON (report/schema.ts `metricsSchema`,
 * described in docs/metrics.md). The file is read line by line; a bad row is reported as
 * FILE:LINE with exit code 2, like every other input problem.
 */
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { MetricsInputInvalid } from '../eval/errors';
import { computeMetrics } from '../eval/metrics';
import { metricsRowSchema } from '../eval/input';
import { metricsTaskSchema } from '../report/schema';

/** Exit code for input that cannot be scored (bad file, bad row, bad option). */
const EXIT_BAD_INPUT = 2;

export interface MetricsCommandOptions {
  task: string;
  input: string;
  labels?: string;
  exclude?: string;
  threshold?: string;
}

/** Where the command writes; injectable so tests can capture output. */
export interface MetricsOutput {
  out(text: string): void;
  err(line: string): void;
}

const consoleOutput: MetricsOutput = {
  out: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Reads the rows of a JSONL file (or stdin for `-`), remembering each row's line number for errors. */
async function readRows(
  file: string,
): Promise<{ name: string; yTrue: (number | number[])[]; yScore: (number | number[])[]; lines: number[] }> {
  const name = file === '-' ? '<stdin>' : file;
  let input: Readable;
  let close = async (): Promise<void> => {};
  if (file === '-') input = process.stdin;
  else {
    let handle;
    try {
      handle = await open(file);
    } catch (error) {
      throw new MetricsInputInvalid(name, `cannot read: ${error instanceof Error ? error.message : String(error)}`);
    }
    input = handle.createReadStream();
    close = () => handle.close();
  }
  const yTrue: (number | number[])[] = [];
  const yScore: (number | number[])[] = [];
  const lines: number[] = [];
  let line = 0;
  try {
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      const where = `${name}:${line}`;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        throw new MetricsInputInvalid(
          where,
          `not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new MetricsInputInvalid(where, 'a row must be a JSON object {"y_true": …, "y_score": …}');
      for (const key of ['y_true', 'y_score'])
        if (!(key in value)) throw new MetricsInputInvalid(where, `missing key "${key}"`);
      const row = metricsRowSchema.safeParse(value);
      if (!row.success) {
        const issue = row.error.issues[0];
        throw new MetricsInputInvalid(
          where,
          `${issue?.path.join('.') ?? 'row'} must be a number or a vector of numbers`,
        );
      }
      yTrue.push(row.data.y_true);
      yScore.push(row.data.y_score);
      lines.push(line);
    }
  } catch (error) {
    if (error instanceof MetricsInputInvalid) throw error;
    throw new MetricsInputInvalid(name, `cannot read: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await close();
  }
  if (lines.length === 0) throw new MetricsInputInvalid(name, 'no rows to score');
  return { name, yTrue, yScore, lines };
}

/** Prints the metrics of a predictions file; returns the exit code (0, or 2 for unusable input). */
export async function metricsCommand(
  options: MetricsCommandOptions,
  output: MetricsOutput = consoleOutput,
): Promise<number> {
  try {
    const task = metricsTaskSchema.safeParse(options.task);
    if (!task.success)
      throw new MetricsInputInvalid(
        '--task',
        `must be multilabel, multiclass or binary, got ${JSON.stringify(options.task)}`,
      );
    const labels = options.labels?.split(',').map((l) => l.trim());
    if (labels?.some((l) => l === ''))
      throw new MetricsInputInvalid('--labels', `empty label name in ${JSON.stringify(options.labels)}`);
    const threshold = options.threshold === undefined ? undefined : Number(options.threshold);
    if (threshold !== undefined && (options.threshold?.trim() === '' || !Number.isFinite(threshold))) {
      throw new MetricsInputInvalid('--threshold', `must be a number, got ${JSON.stringify(options.threshold)}`);
    }
    const rows = await readRows(options.input);
    const metrics = computeMetrics(
      {
        task: task.data,
        yTrue: rows.yTrue,
        yScore: rows.yScore,
        ...(labels !== undefined ? { labels } : {}),
        ...(options.exclude !== undefined ? { exclude: options.exclude } : {}),
        ...(threshold !== undefined ? { threshold } : {}),
      },
      { rowName: (index) => `${rows.name}:${rows.lines[index]}` },
    );
    output.out(`${JSON.stringify(metrics, null, 2)}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof MetricsInputInvalid)) throw error;
    output.err(`fairline metrics: ${error.message}`);
    return EXIT_BAD_INPUT;
  }
}
