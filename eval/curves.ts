/**
 * ROC and precision-recall curves of one label, and the two areas computed from them (ROC-AUC,
 * average precision). Each function follows scikit-learn 1.7's `_binary_clf_curve`, `roc_curve`
 * (drop_intermediate=True), `precision_recall_curve`, `roc_auc_score` and
 * `average_precision_score` step by step, so the points and areas agree with it to rounding.
 * Where scikit-learn warns and returns NaN or a made-up value (ROC with one class only, PR with no
 * positives), these return null: a curve that is undefined for the data, never NaN.
 *
 * Workflow-safe: no Node built-ins.
 */
import type { LabelCurves } from '../report/schema';
import { prepareInput, type MetricsInput, type RowNaming } from './input';

/** Cumulative false and true positives at each distinct score, highest score first. */
interface ThresholdCounts {
  fps: number[];
  tps: number[];
}

export interface RocCurve {
  fpr: number[];
  tpr: number[];
}

export interface PrCurve {
  precision: number[];
  recall: number[];
}

/** scikit-learn's `_binary_clf_curve`: counts at the end of each run of equal scores, scores descending. */
function thresholdCounts(truth: ArrayLike<number>, score: ArrayLike<number>): ThresholdCounts {
  const n = truth.length;
  // Order within a run of equal scores does not matter: counts are read only at the run's end.
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b]! - score[a]!);
  const fps: number[] = [];
  const tps: number[] = [];
  let tp = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    tp += truth[i]!;
    const next = order[k + 1];
    if (next === undefined || score[next] !== score[i]) {
      tps.push(tp);
      fps.push(k + 1 - tp);
    }
  }
  return { fps, tps };
}

/** scikit-learn's `roc_curve` with drop_intermediate=True; null when the label has no positives or no negatives. */
function rocCurve(counts: ThresholdCounts): RocCurve | null {
  let { fps, tps } = counts;
  if (fps.length > 2) {
    // Keep the ends and every point where the curve bends (a non-zero second difference).
    const keep = fps.map(
      (_, k) =>
        k === 0 ||
        k === fps.length - 1 ||
        fps[k + 1]! - 2 * fps[k]! + fps[k - 1]! !== 0 ||
        tps[k + 1]! - 2 * tps[k]! + tps[k - 1]! !== 0,
    );
    fps = fps.filter((_, k) => keep[k]);
    tps = tps.filter((_, k) => keep[k]);
  }
  fps = [0, ...fps];
  tps = [0, ...tps];
  const negatives = fps[fps.length - 1]!;
  const positives = tps[tps.length - 1]!;
  if (negatives <= 0 || positives <= 0) return null;
  return { fpr: fps.map((f) => f / negatives), tpr: tps.map((t) => t / positives) };
}

/**
 * scikit-learn's `precision_recall_curve` (recall decreasing, ending at precision 1, recall 0); null when the label has
 * no positives.
 */
function precisionRecallCurve({ fps, tps }: ThresholdCounts): PrCurve | null {
  const positives = tps[tps.length - 1] ?? 0;
  if (positives === 0) return null;
  const precision = tps.map((t, k) => (t + fps[k]! === 0 ? 0 : t / (t + fps[k]!))).reverse();
  const recall = tps.map((t) => t / positives).reverse();
  return { precision: [...precision, 1], recall: [...recall, 0] };
}

/** Both curves of one label, from one sort of its scores. */
export function labelCurves(
  truth: ArrayLike<number>,
  score: ArrayLike<number>,
): { roc: RocCurve | null; pr: PrCurve | null } {
  const counts = thresholdCounts(truth, score);
  return { roc: rocCurve(counts), pr: precisionRecallCurve(counts) };
}

/** Trapezoidal area under the ROC curve, as `sklearn.metrics.auc(fpr, tpr)`. */
export function rocAuc(curve: RocCurve): number {
  let area = 0;
  for (let k = 1; k < curve.fpr.length; k++)
    area += ((curve.fpr[k]! - curve.fpr[k - 1]!) * (curve.tpr[k]! + curve.tpr[k - 1]!)) / 2;
  return area;
}

/** Average precision: the step integral Σ (R_k − R_{k+1}) P_k, as `average_precision_score` (clipped at 0 like it). */
export function averagePrecision(curve: PrCurve): number {
  let sum = 0;
  for (let k = 0; k + 1 < curve.recall.length; k++)
    sum += (curve.recall[k + 1]! - curve.recall[k]!) * curve.precision[k]!;
  return Math.max(0, -sum);
}

/**
 * Per label, its ROC and precision-recall points, one-vs-rest (binary: class 0 and class 1). The
 * input is validated exactly as by computeMetrics.
 */
export function computeCurves(input: MetricsInput, naming: RowNaming = {}): LabelCurves[] {
  const prepared = prepareInput(input, naming);
  return prepared.labels.map((label, j) => {
    const { truth, score } = prepared.columns[j]!;
    return { label, ...labelCurves(truth, score) };
  });
}
