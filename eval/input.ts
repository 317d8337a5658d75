/**
 * What the metrics library scores, and its validation: true labels and scores of every example,
 * checked row by row and turned into one one-vs-rest column per label (truth, score, prediction).
 * Every metric and curve is computed from these columns, so the three tasks share one code path.
 *
 * Workflow-safe: no Node built-ins.
 */
import { z } from 'zod';
import { MetricsInputInvalid } from './errors';
import type { MetricsTask } from '../report/schema';

/**
 * Decision threshold on probabilities when none is given: the trainer's default
 * (trainer/config.py `threshold`). A score counts as positive when it is strictly greater, as in
 * the trainer's `classification_metrics`, so the two agree on every example.
 */
export const DEFAULT_THRESHOLD = 0.5;

/**
 * Examples to score. Per task:
 * - multilabel: `yTrue[i]` a 0/1 vector, `yScore[i]` a probability vector, one entry per label;
 * - multiclass: `yTrue[i]` a class index, `yScore[i]` a probability vector (prediction = argmax);
 * - binary: `yTrue[i]` 0 or 1, `yScore[i]` the probability of class 1.
 */
export interface MetricsInput {
  task: MetricsTask;
  yTrue: readonly (number | readonly number[])[];
  yScore: readonly (number | readonly number[])[];
  /** Label names; default `"0"`, `"1"`, … (binary: class 0, class 1). */
  labels?: readonly string[];
  /** A label left out of micro_f1 only (KLUE-RE's `no_relation`). */
  exclude?: string;
  /** multilabel, binary: positive when score > threshold; default DEFAULT_THRESHOLD. Not for multiclass. */
  threshold?: number;
}

/**
 * A row of a predictions file (`fairline metrics --input`, the evaluate stage's predictions):
 * other keys (id, text) are ignored. Which shape each task needs is checked by prepareInput.
 */
export const metricsRowSchema = z.object({
  y_true: z.union([z.number(), z.array(z.number())]),
  y_score: z.union([z.number(), z.array(z.number())]),
});

/** How errors name a row: the library says `row 7`; the command line passes `FILE:LINE`. */
export interface RowNaming {
  rowName?: (index: number) => string;
}

/** One label seen one-vs-rest: 1/0 truth, the score it is ranked by, and the thresholded or argmax prediction. */
export interface LabelColumn {
  truth: Uint8Array;
  score: Float64Array;
  predicted: Uint8Array;
}

export interface PreparedInput {
  task: MetricsTask;
  labels: string[];
  /** null for multiclass (argmax). */
  threshold: number | null;
  n: number;
  columns: LabelColumn[];
  /** multiclass and binary: the true and predicted class of each example, for the confusion matrix and accuracy. */
  classes: { truth: Int32Array; predicted: Int32Array } | null;
  exclude: string | undefined;
}

const isBit = (v: unknown): v is number => v === 0 || v === 1;
const describe = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));

function finiteVector(value: unknown, width: number, what: string, widthSource: string): string | readonly number[] {
  if (!Array.isArray(value)) return `${what} must be a vector of ${width} numbers, got ${describe(value)}`;
  if (value.length !== width) return `${what} has ${value.length} entries, expected ${width} (${widthSource})`;
  for (let j = 0; j < width; j++) {
    const v: unknown = value[j];
    if (typeof v !== 'number' || !Number.isFinite(v))
      return `${what}[${j}] must be a finite number, got ${describe(v)}`;
  }
  return value;
}

/**
 * Checks every row and builds the label columns. Throws MetricsInputInvalid naming the first bad
 * row (or option); nothing is scored from input that is only partly valid.
 */
export function prepareInput(input: MetricsInput, naming: RowNaming = {}): PreparedInput {
  const rowName = naming.rowName ?? ((i: number) => `row ${i}`);
  const { task, yTrue, yScore } = input;
  if (yTrue.length !== yScore.length)
    throw new MetricsInputInvalid('input', `y_true has ${yTrue.length} rows but y_score has ${yScore.length}`);
  const n = yTrue.length;
  if (n === 0) throw new MetricsInputInvalid('input', 'no rows to score');

  let width: number;
  let widthSource: string;
  if (task === 'binary') {
    width = 2;
    widthSource = 'binary';
  } else if (input.labels !== undefined) {
    width = input.labels.length;
    widthSource = `one per label: ${input.labels.length} labels given`;
  } else {
    const first = yScore[0];
    if (!Array.isArray(first))
      throw new MetricsInputInvalid(
        rowName(0),
        `y_score must be a probability vector for ${task}, got ${describe(first)}`,
      );
    width = first.length;
    widthSource = `as in ${rowName(0)}`;
  }
  if (task === 'multiclass' && width < 2)
    throw new MetricsInputInvalid(
      input.labels ? 'labels' : rowName(0),
      `multiclass needs at least 2 classes, got ${width}`,
    );
  if (task === 'multilabel' && width < 1)
    throw new MetricsInputInvalid(input.labels ? 'labels' : rowName(0), 'multilabel needs at least 1 label');

  const labels = input.labels ? [...input.labels] : Array.from({ length: width }, (_, j) => String(j));
  if (labels.length !== width)
    throw new MetricsInputInvalid('labels', `binary has 2 classes (0, 1), got ${labels.length} label names`);
  const seen = new Set<string>();
  for (const label of labels) {
    if (seen.has(label)) throw new MetricsInputInvalid('labels', `label ${JSON.stringify(label)} appears twice`);
    seen.add(label);
  }
  if (input.exclude !== undefined) {
    if (!seen.has(input.exclude))
      throw new MetricsInputInvalid(
        'exclude',
        `${JSON.stringify(input.exclude)} is not one of the labels (${labels.join(', ')})`,
      );
    if (labels.length === 1)
      throw new MetricsInputInvalid('exclude', 'excluding the only label leaves nothing for micro_f1');
  }

  let threshold: number | null;
  if (task === 'multiclass') {
    if (input.threshold !== undefined)
      throw new MetricsInputInvalid('threshold', 'multiclass predictions are the argmax; a threshold does not apply');
    threshold = null;
  } else {
    threshold = input.threshold ?? DEFAULT_THRESHOLD;
    if (!Number.isFinite(threshold))
      throw new MetricsInputInvalid('threshold', `must be a finite number, got ${describe(input.threshold)}`);
  }

  const columns: LabelColumn[] = labels.map(() => ({
    truth: new Uint8Array(n),
    score: new Float64Array(n),
    predicted: new Uint8Array(n),
  }));
  const classes = task === 'multilabel' ? null : { truth: new Int32Array(n), predicted: new Int32Array(n) };
  const bad = (i: number, detail: string): MetricsInputInvalid => new MetricsInputInvalid(rowName(i), detail);

  for (let i = 0; i < n; i++) {
    const t: unknown = yTrue[i];
    const s: unknown = yScore[i];
    if (task === 'binary') {
      if (!isBit(t)) throw bad(i, `y_true must be 0 or 1 for binary, got ${describe(t)}`);
      if (typeof s !== 'number' || !Number.isFinite(s))
        throw bad(i, `y_score must be one finite probability (of class 1) for binary, got ${describe(s)}`);
      const positive = s > threshold! ? 1 : 0;
      // Class 0 is ranked by −p rather than 1 − p: the same order, but rounding cannot merge distinct scores into ties.
      setCell(columns, 0, i, t === 0 ? 1 : 0, -s, 1 - positive);
      setCell(columns, 1, i, t, s, positive);
      classes!.truth[i] = t;
      classes!.predicted[i] = positive;
      continue;
    }
    const scores = finiteVector(s, width, 'y_score', widthSource);
    if (typeof scores === 'string') throw bad(i, scores);
    if (task === 'multiclass') {
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= width)
        throw bad(i, `y_true must be a class index 0..${width - 1}, got ${describe(t)}`);
      // argmax with ties to the lowest index, as numpy's argmax (and the trainer's torch argmax on CPU) picks.
      let best = 0;
      for (let j = 1; j < width; j++) if (scores[j]! > scores[best]!) best = j;
      for (let j = 0; j < width; j++) setCell(columns, j, i, t === j ? 1 : 0, scores[j]!, best === j ? 1 : 0);
      classes!.truth[i] = t;
      classes!.predicted[i] = best;
    } else {
      if (!Array.isArray(t))
        throw bad(i, `y_true must be a 0/1 vector of ${width} entries for multilabel, got ${describe(t)}`);
      if (t.length !== width) throw bad(i, `y_true has ${t.length} entries, expected ${width} (${widthSource})`);
      for (let j = 0; j < width; j++) {
        const bit: unknown = t[j];
        if (!isBit(bit)) throw bad(i, `y_true[${j}] must be 0 or 1, got ${describe(bit)}`);
        setCell(columns, j, i, bit, scores[j]!, scores[j]! > threshold! ? 1 : 0);
      }
    }
  }
  return { task, labels, threshold, n, columns, classes, exclude: input.exclude };
}

function setCell(
  columns: LabelColumn[],
  label: number,
  row: number,
  truth: number,
  score: number,
  predicted: number,
): void {
  const column = columns[label]!;
  column.truth[row] = truth;
  column.score[row] = score;
  column.predicted[row] = predicted;
}
