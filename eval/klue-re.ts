/**
 * KLUE-RE's two official metrics, computed exactly as KLUE's script does (KLUE-baseline,
 * klue_baseline/metrics/functional.py `klue_re_micro_f1`, `klue_re_auprc`) with scikit-learn 1.7:
 *
 * - `klue_re_micro_f1`: `f1_score(y, argmax, average='micro', labels=[every class but
 *   no_relation]) × 100`: the pooled counts of the other classes, so predicting `no_relation`
 *   for a relation is a false negative and predicting a relation for `no_relation` a false positive;
 * - `klue_re_auprc`: the mean over ALL classes (no_relation included) of
 *   `auc(recall, precision)` on `precision_recall_curve(y == c, probs[:, c])`, × 100. `auc` is
 *   the trapezoidal rule between the curve's points, not average precision's step integral, so
 *   the two differ (docs/metrics.md).
 *
 * Workflow-safe: no Node built-ins.
 */
import type { PrCurve } from './curves';

/**
 * KLUE-RE's 30 relations in relation_list.json's order: a KLUE-RE row's label is its index here,
 * and a submission's probabilities come in this order.
 */
export const KLUE_RE_RELATIONS = [
  'no_relation',
  'org:dissolved',
  'org:founded',
  'org:place_of_headquarters',
  'org:alternate_names',
  'org:member_of',
  'org:members',
  'org:political/religious_affiliation',
  'org:product',
  'org:founded_by',
  'org:top_members/employees',
  'org:number_of_employees/members',
  'per:date_of_birth',
  'per:date_of_death',
  'per:place_of_birth',
  'per:place_of_death',
  'per:place_of_residence',
  'per:origin',
  'per:employee_of',
  'per:schools_attended',
  'per:alternate_names',
  'per:parents',
  'per:children',
  'per:siblings',
  'per:spouse',
  'per:other_family',
  'per:colleagues',
  'per:product',
  'per:religion',
  'per:title',
] as const;

/**
 * `sklearn.metrics.auc(x, y)`: the trapezoidal area, `direction · Σ (x_k − x_{k−1})(y_k + y_{k−1})/2`,
 * with direction −1 when x never increases (a precision-recall curve's recall decreases).
 */
export function trapezoidalArea(x: readonly number[], y: readonly number[]): number {
  let increasing = true;
  let decreasing = true;
  for (let k = 1; k < x.length; k++) {
    if (x[k]! < x[k - 1]!) increasing = false;
    if (x[k]! > x[k - 1]!) decreasing = false;
  }
  // scikit-learn raises for a non-monotonic x; a precision-recall curve is always monotonic.
  if (!increasing && !decreasing) throw new Error('trapezoidalArea: x is neither increasing nor decreasing');
  const direction = increasing ? 1 : -1;
  let area = 0;
  for (let k = 1; k < x.length; k++) area += ((x[k]! - x[k - 1]!) * (y[k]! + y[k - 1]!)) / 2;
  return direction * area;
}

/**
 * The area KLUE's script takes for one class: `auc(recall, precision)` of its precision-recall
 * curve. A class without positives has no curve in fairline (eval/curves.ts says null); scikit-learn
 * 1.7 draws one anyway: it sets recall to 1 at every threshold (with a warning), precision is 0
 * there (every example is a negative), and the appended end point is (recall 0, precision 1), so
 * the only segment with width runs from (1, 0) to (0, 1) and the area is exactly 0.5. That value
 * counts in the mean, as it does in KLUE's script run on scikit-learn 1.7.
 */
export function klueClassArea(pr: PrCurve | null): number {
  if (pr === null) return 0.5;
  return trapezoidalArea(pr.recall, pr.precision);
}

/** KLUE-RE's AUPRC × 100: the mean of klueClassArea over every class, in class order. */
export function klueReAuprc(curves: readonly (PrCurve | null)[]): number {
  if (curves.length === 0) throw new Error('klueReAuprc: no classes');
  let sum = 0;
  for (const pr of curves) sum += klueClassArea(pr);
  return (sum / curves.length) * 100;
}
