/**
 * Classification metrics with scikit-learn 1.7's semantics (docs/metrics.md): F1 three ways,
 * per-label precision/recall/F1/support, subset accuracy, Hamming loss, ROC-AUC and average
 * precision per label and macro, confusion matrices, and KLUE-RE's micro-F1 without
 * `no_relation` (plus, for multiclass, KLUE's own klue_re_micro_f1 and klue_re_auprc: eval/klue-re.ts).
 * Output names are fixed by report/schema.ts `metricsSchema`: scripts rely on them.
 *
 * Precision, recall and F1 use zero_division=0. Ranking metrics that the data leaves undefined
 * are null and their macro means skip them (scikit-learn raises, or returns 0 for average
 * precision without positives). Workflow-safe: no Node built-ins.
 */
import type { LabelCurves, Metrics, PerLabelMetrics } from '../report/schema';
import { averagePrecision, labelCurves, rocAuc } from './curves';
import { klueReAuprc } from './klue-re';
import { prepareInput, type LabelColumn, type MetricsInput, type PreparedInput, type RowNaming } from './input';

export type { MetricsInput, RowNaming } from './input';

interface Counts {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

function counts(column: LabelColumn): Counts {
  const c = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (let i = 0; i < column.truth.length; i++) {
    if (column.truth[i]) {
      if (column.predicted[i]) c.tp++;
      else c.fn++;
    } else if (column.predicted[i]) c.fp++;
    else c.tn++;
  }
  return c;
}

const divide = (numerator: number, denominator: number): number => (denominator === 0 ? 0 : numerator / denominator);

/** F1 as scikit-learn computes it: 2·tp / (true + predicted), 0 when both are 0. */
const f1Of = (c: Pick<Counts, 'tp' | 'fp' | 'fn'>): number => divide(2 * c.tp, 2 * c.tp + c.fp + c.fn);

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Mean over the labels where the metric is defined; null when it is defined for none. */
function meanDefined(values: readonly (number | null)[]): number | null {
  const defined = values.filter((v): v is number => v !== null);
  return defined.length === 0 ? null : mean(defined);
}

/**
 * Scores predictions against the truth. Throws MetricsInputInvalid (naming the row, or the
 * option) for input that does not fit the task or the labels.
 */
export function computeMetrics(input: MetricsInput, naming: RowNaming = {}): Metrics {
  return scorePredictions(input, naming).metrics;
}

/**
 * The metrics and every label's ROC and precision-recall curves, the input checked and each
 * label's scores sorted once (what the evaluate stage writes).
 */
export function scorePredictions(
  input: MetricsInput,
  naming: RowNaming = {},
): { metrics: Metrics; curves: LabelCurves[] } {
  const prepared = prepareInput(input, naming);
  const curves = prepared.labels.map((label, j) => ({
    label,
    ...labelCurves(prepared.columns[j]!.truth, prepared.columns[j]!.score),
  }));
  return { metrics: metricsOf(prepared, curves), curves };
}

function metricsOf(
  { task, labels, threshold, n, columns, classes, exclude }: PreparedInput,
  curves: readonly LabelCurves[],
): Metrics {
  const perCounts = columns.map(counts);

  const perLabel: PerLabelMetrics[] = labels.map((label, j) => {
    const c = perCounts[j]!;
    const { roc, pr } = curves[j]!;
    return {
      label,
      precision: divide(c.tp, c.tp + c.fp),
      recall: divide(c.tp, c.tp + c.fn),
      f1: f1Of(c),
      support: c.tp + c.fn,
      roc_auc: roc === null ? null : rocAuc(roc),
      average_precision: pr === null ? null : averagePrecision(pr),
    };
  });

  // Micro: pool the counts of the labels it covers (all but the excluded one, as KLUE-RE's micro F1).
  const pooled = { tp: 0, fp: 0, fn: 0 };
  labels.forEach((label, j) => {
    if (label === exclude) return;
    const c = perCounts[j]!;
    pooled.tp += c.tp;
    pooled.fp += c.fp;
    pooled.fn += c.fn;
  });
  const totalSupport = perLabel.reduce((a, p) => a + p.support, 0);

  let exact = 0;
  let mismatches = 0;
  if (classes !== null) {
    for (let i = 0; i < n; i++) if (classes.truth[i] === classes.predicted[i]) exact++;
    mismatches = n - exact;
  } else {
    for (let i = 0; i < n; i++) {
      let wrong = 0;
      for (const column of columns) if (column.truth[i] !== column.predicted[i]) wrong++;
      if (wrong === 0) exact++;
      mismatches += wrong;
    }
  }

  let confusion: number[][] | number[][][];
  if (classes !== null) {
    const matrix = labels.map(() => labels.map(() => 0));
    for (let i = 0; i < n; i++) matrix[classes.truth[i]!]![classes.predicted[i]!]!++;
    confusion = matrix;
  } else {
    confusion = perCounts.map((c) => [
      [c.tn, c.fp],
      [c.fn, c.tp],
    ]);
  }

  const metrics: Metrics = {
    task,
    labels,
    threshold,
    n,
    macro_f1: mean(perLabel.map((p) => p.f1)),
    micro_f1: f1Of(pooled),
    // A data set with no true instances of any label has no weights: 0, as scikit-learn's zero_division.
    weighted_f1: divide(
      perLabel.reduce((a, p) => a + p.f1 * p.support, 0),
      totalSupport,
    ),
    subset_accuracy: exact / n,
    hamming_loss: mismatches / (classes !== null ? n : n * labels.length),
    roc_auc_macro: meanDefined(perLabel.map((p) => p.roc_auc)),
    average_precision_macro: meanDefined(perLabel.map((p) => p.average_precision)),
    per_label: perLabel,
    confusion_matrix: confusion,
  };
  if (exclude !== undefined) {
    metrics.excluded_label = exclude;
    metrics.note = `micro_f1 leaves out ${JSON.stringify(exclude)} (as KLUE-RE's micro F1 does); every other metric covers all ${labels.length} labels.`;
    // KLUE-RE's official pair (eval/klue-re.ts), on KLUE's ×100 scale; only a single-label task has them.
    if (task === 'multiclass') {
      metrics.klue_re_micro_f1 = metrics.micro_f1 * 100;
      metrics.klue_re_auprc = klueReAuprc(curves.map((c) => c.pr));
      metrics.note += ` klue_re_micro_f1 is micro_f1 × 100; klue_re_auprc is KLUE's AUPRC (trapezoidal, every class, × 100), not average_precision_macro.`;
    }
  }
  if (task === 'binary') {
    const positive = perLabel[1]!;
    metrics.f1 = positive.f1;
    metrics.roc_auc = positive.roc_auc;
  }
  return metrics;
}
