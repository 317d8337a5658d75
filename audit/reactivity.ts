/**
 * Reactivity: how much a model's output moves when only the identity term changes. Pure functions
 * over probabilities; definitions (also in report/schema.ts and stages/audit/README.md):
 *
 * - For a case (sentence s, pair (a, b)) and label y: d_y = p(y | s with a) − p(y | s with b).
 * - A slice (overall, a group, a pair) averages over its cases: signed_y = mean d_y,
 *   absolute_y = mean |d_y|; its summary over labels is the mean over labels of those.
 * - max_abs_reactivity = max over groups of the group's absolute summary.
 * - Flip rate: the share of a slice's cases whose thresholded decision vector differs between a
 *   and b (CheckList's invariance test failure rate). `flip_rate` of the audit is the max over
 *   groups, like max_abs_reactivity, so the gate and the headline number judge the same thing.
 * - Confidence intervals: a percentile bootstrap that resamples sentence units with replacement,
 *   each keeping all its cases (pairs, insert positions): the units are the independent draws,
 *   and a unit's cases share its sentence. Percentiles by linear interpolation between order
 *   statistics (numpy's default), on a seeded generator, so a seed gives the same interval.
 */
import type { AuditBootstrap, AuditGate } from '../stages/audit/contract';
import type { Estimate, ReactivitySlice } from '../report/schema';
import type { IdentityPair } from './pairs';
import { mulberry32 } from './random';
import type { AuditSentences } from './sentences';

/** One scored case: unit and pair indices, d per label, and whether the decision changed. */
export interface ScoredCase {
  readonly unit: number;
  readonly pair: number;
  readonly d: readonly number[];
  readonly flipped: boolean;
}

/** Cases scored from per-text probabilities and thresholded decisions (both indexed like `sentences.texts`). */
export function scoreCases(
  sentences: AuditSentences,
  probabilities: readonly (readonly number[])[],
  decisions: readonly (readonly number[])[],
): ScoredCase[] {
  return sentences.cases.map(({ unit, pair, a, b }) => {
    const pa = probabilities[a]!;
    const pb = probabilities[b]!;
    const da = decisions[a]!;
    const db = decisions[b]!;
    return { unit, pair, d: pa.map((p, y) => p - pb[y]!), flipped: da.some((v, y) => v !== db[y]) };
  });
}

export interface ReactivityInput {
  readonly labels: readonly string[];
  readonly pairs: readonly IdentityPair[];
  /** Number of sentence units; every case's `unit` is below it. */
  readonly units: number;
  readonly cases: readonly ScoredCase[];
}

export interface ReactivityResult {
  overall: ReactivitySlice;
  groups: (ReactivitySlice & { group: string })[];
  pairs: (ReactivitySlice & { group: string; a: string; b: string })[];
  /**
   * The extra slices asked for (e.g. pairs seen in masking vs unseen), in the order given; a subset without pairs is
   * null.
   */
  subsets: ({ name: string; slice: ReactivitySlice } | { name: string; slice: null })[];
  max_abs_reactivity: number;
  flip_rate: number;
}

/** An extra slice of the audit: a name and the indices (into `pairs`) of the pairs it averages over. */
export interface PairSubset {
  readonly name: string;
  readonly pairs: readonly number[];
}

/**
 * Per-unit sums, the sufficient statistics of every estimate: a bootstrap replicate weights each
 * unit by how often it was drawn, so a replicate costs one pass over these, not over the cases.
 */
class UnitSums {
  /** [unit][pair][label] sums of d and |d|. */
  readonly d: Float64Array;
  readonly abs: Float64Array;
  /** [unit][pair] case and flip counts. */
  readonly n: Float64Array;
  readonly flips: Float64Array;

  constructor(
    readonly units: number,
    readonly pairs: number,
    readonly labels: number,
    cases: readonly ScoredCase[],
  ) {
    this.d = new Float64Array(units * pairs * labels);
    this.abs = new Float64Array(units * pairs * labels);
    this.n = new Float64Array(units * pairs);
    this.flips = new Float64Array(units * pairs);
    for (const c of cases) {
      if (c.unit < 0 || c.unit >= units || c.pair < 0 || c.pair >= pairs || c.d.length !== labels) {
        throw new RangeError(
          `case (unit ${c.unit}, pair ${c.pair}) does not fit ${units} units × ${pairs} pairs × ${labels} labels`,
        );
      }
      const up = c.unit * pairs + c.pair;
      this.n[up]! += 1;
      if (c.flipped) this.flips[up]! += 1;
      c.d.forEach((d, y) => {
        this.d[up * labels + y]! += d;
        this.abs[up * labels + y]! += Math.abs(d);
      });
    }
  }

  /** Per-pair weighted totals for unit weights `w` (null: every unit once). */
  pairTotals(w: Float64Array | null): { d: Float64Array; abs: Float64Array; n: Float64Array; flips: Float64Array } {
    const { pairs, labels } = this;
    const d = new Float64Array(pairs * labels);
    const abs = new Float64Array(pairs * labels);
    const n = new Float64Array(pairs);
    const flips = new Float64Array(pairs);
    for (let u = 0; u < this.units; u++) {
      const wu = w ? w[u]! : 1;
      if (wu === 0) continue;
      for (let p = 0; p < pairs; p++) {
        const up = u * pairs + p;
        n[p]! += wu * this.n[up]!;
        flips[p]! += wu * this.flips[up]!;
        for (let y = 0; y < labels; y++) {
          d[p * labels + y]! += wu * this.d[up * labels + y]!;
          abs[p * labels + y]! += wu * this.abs[up * labels + y]!;
        }
      }
    }
    return { d, abs, n, flips };
  }
}

/** The numbers of one slice: per label signed and absolute, their means over labels, the flip rate and case count. */
interface SliceValues {
  signed: number[];
  absolute: number[];
  signedSummary: number;
  absoluteSummary: number;
  flipRate: number;
  cases: number;
}

function sliceValues(
  totals: ReturnType<UnitSums['pairTotals']>,
  pairIndices: readonly number[],
  labels: number,
): SliceValues {
  let n = 0;
  let flips = 0;
  const d = new Array<number>(labels).fill(0);
  const abs = new Array<number>(labels).fill(0);
  for (const p of pairIndices) {
    n += totals.n[p]!;
    flips += totals.flips[p]!;
    for (let y = 0; y < labels; y++) {
      d[y]! += totals.d[p * labels + y]!;
      abs[y]! += totals.abs[p * labels + y]!;
    }
  }
  // No cases (no units, or a replicate that cannot happen with whole units): zero, not NaN.
  const mean = (x: number): number => (n > 0 ? x / n : 0);
  const signed = d.map(mean);
  const absolute = abs.map(mean);
  const avg = (xs: number[]): number => (xs.length > 0 ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);
  return {
    signed,
    absolute,
    signedSummary: avg(signed),
    absoluteSummary: avg(absolute),
    flipRate: mean(flips),
    cases: n,
  };
}

/** The q-quantile (0 ≤ q ≤ 1) of sorted values, interpolating linearly between order statistics. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Unit weights of one bootstrap replicate: `units` draws with replacement. */
function resample(units: number, random: () => number): Float64Array {
  const w = new Float64Array(units);
  for (let i = 0; i < units; i++) w[Math.floor(random() * units)]! += 1;
  return w;
}

/**
 * Replicates between two progress calls: a large audit's bootstrap takes seconds, and the stage heartbeats (and checks
 * for cancellation) in between.
 */
const BOOTSTRAP_PROGRESS_EVERY = 50;

/**
 * Reactivity of every slice with bootstrap intervals. Slices: overall (all pairs), each group (in
 * the order its first pair appears), each pair. `onProgress` is called every few replicates; an
 * exception it throws (cancellation) stops the computation.
 */
export function computeReactivity(
  input: ReactivityInput,
  bootstrap: AuditBootstrap,
  onProgress?: (done: number, total: number) => void,
  subsets: readonly PairSubset[] = [],
): ReactivityResult {
  const L = input.labels.length;
  const P = input.pairs.length;
  const sums = new UnitSums(input.units, P, L, input.cases);

  const groupNames = [...new Set(input.pairs.map((p) => p.group))];
  const slices: { pairs: number[] }[] = [
    { pairs: input.pairs.map((_, p) => p) },
    ...groupNames.map((g) => ({ pairs: input.pairs.flatMap((pair, p) => (pair.group === g ? [p] : [])) })),
    ...input.pairs.map((_, p) => ({ pairs: [p] })),
    ...subsets.map((subset) => ({ pairs: [...subset.pairs] })),
  ];

  const point = sums.pairTotals(null);
  const points = slices.map((s) => sliceValues(point, s.pairs, L));

  // replicates[slice][stat][b]; stats: signed per label, absolute per label, signed summary, absolute summary.
  const B = bootstrap.samples;
  const stats = 2 * L + 2;
  const replicates = slices.map(() => Array.from({ length: stats }, () => new Float64Array(B)));
  const random = mulberry32(bootstrap.seed);
  for (let b = 0; b < B; b++) {
    const totals = sums.pairTotals(resample(input.units, random));
    slices.forEach((slice, s) => {
      const v = sliceValues(totals, slice.pairs, L);
      const r = replicates[s]!;
      for (let y = 0; y < L; y++) {
        r[y]![b] = v.signed[y]!;
        r[L + y]![b] = v.absolute[y]!;
      }
      r[2 * L]![b] = v.signedSummary;
      r[2 * L + 1]![b] = v.absoluteSummary;
    });
    if ((b + 1) % BOOTSTRAP_PROGRESS_EVERY === 0 || b + 1 === B) onProgress?.(b + 1, B);
  }

  const tail = (1 - bootstrap.confidence) / 2;
  const estimate = (value: number, values: Float64Array): Estimate => {
    const sorted = values.slice().sort();
    return { value, ci_low: quantile(sorted, tail), ci_high: quantile(sorted, 1 - tail) };
  };
  const slice = (s: number): ReactivitySlice => {
    const v = points[s]!;
    const r = replicates[s]!;
    return {
      signed: estimate(v.signedSummary, r[2 * L]!),
      absolute: estimate(v.absoluteSummary, r[2 * L + 1]!),
      per_label: input.labels.map((label, y) => ({
        label,
        signed: estimate(v.signed[y]!, r[y]!),
        absolute: estimate(v.absolute[y]!, r[L + y]!),
      })),
      flip_rate: v.flipRate,
      cases: v.cases,
    };
  };

  const groups = groupNames.map((group, g) => ({ group, ...slice(1 + g) }));
  const pairs = input.pairs.map(({ group, a, b }, p) => ({ group, a, b, ...slice(1 + groupNames.length + p) }));
  const firstSubset = 1 + groupNames.length + input.pairs.length;
  return {
    overall: slice(0),
    groups,
    pairs,
    subsets: subsets.map(({ name, pairs: members }, i) => ({
      name,
      slice: members.length > 0 ? slice(firstSubset + i) : null,
    })),
    max_abs_reactivity: Math.max(0, ...groups.map((g) => g.absolute.value)),
    flip_rate: Math.max(0, ...groups.map((g) => g.flip_rate)),
  };
}

/** The gate's verdict, in audit.json's shape (report/schema.ts gateSchema). */
export interface GateVerdict {
  mode: 'fail' | 'warn';
  max_abs_reactivity: number | null;
  max_flip_rate: number | null;
  /** How a group's per-label absolute reactivities become the judged number: their mean, or the largest. */
  aggregate: 'mean' | 'max';
  /** What is judged against maxAbsReactivity: the point estimate or the upper end of its interval. */
  estimate: 'point' | 'upper';
  max_f1_drop: number | null;
  /** F1 of the reference minus F1 of the judged model, when maxF1Drop is set. */
  f1_drop: {
    metric: 'macro_f1' | 'micro_f1';
    reference: string;
    reference_f1: number;
    model_f1: number;
    value: number;
  } | null;
  passed: boolean;
  reasons: string[];
}

/** The F1 figures the gate needs for maxF1Drop: the judged model's and the reference model's. */
export interface GateF1 {
  readonly reference: string;
  readonly referenceF1: number;
  readonly modelF1: number;
}

const show = (x: number): string => x.toFixed(4);

/**
 * A group's judged reactivity: its mean over labels (`aggregate: mean`) or its most reactive label
 * (`max`), as the point estimate (`estimate: point`) or the upper end of its interval (`upper`);
 * with the estimate it came from and words naming it.
 */
export function judgedReactivity(
  g: ReactivitySlice,
  gate: { aggregate: 'mean' | 'max'; estimate: 'point' | 'upper' },
): { value: number; of: Estimate; what: string } {
  const pick = (e: Estimate): number => (gate.estimate === 'upper' ? e.ci_high : e.value);
  const suffix = gate.estimate === 'upper' ? ' (CI upper bound)' : '';
  if (gate.aggregate === 'max' && g.per_label.length > 0) {
    const top = g.per_label.reduce((best, l) => (pick(l.absolute) > pick(best.absolute) ? l : best));
    return { value: pick(top.absolute), of: top.absolute, what: `label "${top.label}" absolute reactivity${suffix}` };
  }
  return { value: pick(g.absolute), of: g.absolute, what: `absolute reactivity${suffix}` };
}

/**
 * Checks every group against the thresholds: a group fails when its judged reactivity (see
 * judgedReactivity) is above maxAbsReactivity, or its flip rate above maxFlipRate; the model fails
 * when it lost more than maxF1Drop of F1 against the reference (`f1`, required then). A value
 * equal to its threshold passes. One reason per exceeded threshold, naming the group and both numbers.
 */
export function evaluateGate(result: Pick<ReactivityResult, 'groups'>, gate: AuditGate, f1?: GateF1): GateVerdict {
  const reasons: string[] = [];
  const aggregate = gate.aggregate ?? 'mean';
  const estimate = gate.estimate ?? 'point';
  for (const g of result.groups) {
    const judged = judgedReactivity(g, { aggregate, estimate });
    if (gate.maxAbsReactivity !== undefined && judged.value > gate.maxAbsReactivity) {
      reasons.push(
        `group "${g.group}": ${judged.what} ${show(judged.value)} (estimate ${show(judged.of.value)}, CI ${show(judged.of.ci_low)}–${show(judged.of.ci_high)}) exceeds maxAbsReactivity ${gate.maxAbsReactivity}`,
      );
    }
    if (gate.maxFlipRate !== undefined && g.flip_rate > gate.maxFlipRate) {
      reasons.push(`group "${g.group}": flip rate ${show(g.flip_rate)} exceeds maxFlipRate ${gate.maxFlipRate}`);
    }
  }
  let f1Drop: GateVerdict['f1_drop'] = null;
  if (gate.maxF1Drop !== undefined) {
    if (f1 === undefined) throw new RangeError('maxF1Drop needs the F1 of the judged model and of the reference');
    const metric = gate.f1 === 'micro' ? 'micro_f1' : 'macro_f1';
    f1Drop = {
      metric,
      reference: f1.reference,
      reference_f1: f1.referenceF1,
      model_f1: f1.modelF1,
      value: f1.referenceF1 - f1.modelF1,
    };
    if (f1Drop.value > gate.maxF1Drop) {
      reasons.push(
        `${metric} ${show(f1.modelF1)} is ${show(f1Drop.value)} below the reference "${f1.reference}" (${show(f1.referenceF1)}): more than maxF1Drop ${gate.maxF1Drop}`,
      );
    }
  }
  return {
    mode: gate.mode,
    max_abs_reactivity: gate.maxAbsReactivity ?? null,
    max_flip_rate: gate.maxFlipRate ?? null,
    aggregate,
    estimate,
    max_f1_drop: gate.maxF1Drop ?? null,
    f1_drop: f1Drop,
    passed: reasons.length === 0,
    reasons,
  };
}
