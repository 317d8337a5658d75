/**
 * Bootstrap confidence intervals for macro and micro F1, per model and for each model's difference
 * from a reference, on the same resampled rows (a paired bootstrap: the models are scored on the
 * same examples, so their difference varies less than either F1). Pure.
 *
 * F1 of a label = 2·tp / (2·tp + fp + fn), 0 when the label is neither true nor predicted
 * (scikit-learn's zero_division=0); macro F1 = the mean over labels; micro F1 pools tp, fp, fn
 * over the labels (without `exclude`). Rows are drawn with replacement, `samples` times, from a
 * mulberry32 generator seeded with `seed`; an interval is the (1 − confidence)/2 and
 * 1 − (1 − confidence)/2 percentiles, interpolated as numpy does.
 */
import { mulberry32 } from '../audit/random';
import { quantile } from '../audit/reactivity';
import type { Estimate } from '../report/schema';
import type { PreparedInput } from './input';

export interface F1Intervals {
  macro_f1: Estimate;
  micro_f1: Estimate;
}

export interface BootstrapOptions {
  samples: number;
  seed: number;
  confidence: number;
}

/** Macro and micro F1 of one model with rows weighted by `w` (null: every row once). */
function f1Of(model: PreparedInput, w: Float64Array | null): { macro: number; micro: number } {
  let macro = 0;
  let tpAll = 0;
  let wrongAll = 0;
  model.columns.forEach((column, j) => {
    let tp = 0;
    let wrong = 0;
    for (let i = 0; i < model.n; i++) {
      const wi = w ? w[i]! : 1;
      if (wi === 0) continue;
      const t = column.truth[i]!;
      const p = column.predicted[i]!;
      if (t === 1 && p === 1) tp += wi;
      else if (t !== p) wrong += wi;
    }
    macro += 2 * tp + wrong > 0 ? (2 * tp) / (2 * tp + wrong) : 0;
    if (model.labels[j] !== model.exclude) {
      tpAll += tp;
      wrongAll += wrong;
    }
  });
  return {
    macro: model.columns.length > 0 ? macro / model.columns.length : 0,
    micro: 2 * tpAll + wrongAll > 0 ? (2 * tpAll) / (2 * tpAll + wrongAll) : 0,
  };
}

/**
 * Intervals for every model's macro/micro F1 and for each model's difference from `models[0]`
 * (model − reference). All models must be scored on the same rows, in the same order.
 */
export function f1Intervals(
  models: readonly PreparedInput[],
  options: BootstrapOptions,
): { models: F1Intervals[]; deltas: F1Intervals[] } {
  const n = models[0]?.n ?? 0;
  if (models.some((m) => m.n !== n)) throw new RangeError('every model must be scored on the same rows');
  const points = models.map((m) => f1Of(m, null));
  const B = options.samples;
  const macro = models.map(() => new Float64Array(B));
  const micro = models.map(() => new Float64Array(B));
  const random = mulberry32(options.seed);
  const w = new Float64Array(n);
  for (let b = 0; b < B; b++) {
    w.fill(0);
    for (let i = 0; i < n; i++) w[Math.floor(random() * n)]! += 1;
    models.forEach((m, k) => {
      const f = f1Of(m, w);
      macro[k]![b] = f.macro;
      micro[k]![b] = f.micro;
    });
  }
  const tail = (1 - options.confidence) / 2;
  const estimate = (value: number, values: Float64Array): Estimate => {
    const sorted = values.slice().sort();
    return { value, ci_low: quantile(sorted, tail), ci_high: quantile(sorted, 1 - tail) };
  };
  const diff = (a: Float64Array, b: Float64Array): Float64Array => a.map((x, i) => x - b[i]!);
  return {
    models: points.map((p, k) => ({ macro_f1: estimate(p.macro, macro[k]!), micro_f1: estimate(p.micro, micro[k]!) })),
    deltas: points.slice(1).map((p, k) => ({
      macro_f1: estimate(p.macro - points[0]!.macro, diff(macro[k + 1]!, macro[0]!)),
      micro_f1: estimate(p.micro - points[0]!.micro, diff(micro[k + 1]!, micro[0]!)),
    })),
  };
}
