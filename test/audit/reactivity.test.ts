/**
 * The reactivity math on a tiny example worked out by hand, the bootstrap's determinism and
 * coverage, and the gate's verdicts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IdentityPair } from '../../audit/pairs';
import { mulberry32 } from '../../audit/random';
import {
  computeReactivity,
  evaluateGate,
  quantile,
  scoreCases,
  type ReactivityInput,
  type ScoredCase,
} from '../../audit/reactivity';
import { templateSentences } from '../../audit/sentences';
import { auditGateSchema } from '../../stages/audit/contract';
import { reactivitySliceSchema } from '../../report/schema';

const near = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

const PAIRS: IdentityPair[] = [
  { group: 'g1', a: 'a1', b: 'b1' },
  { group: 'g2', a: 'a2', b: 'b2' },
];

/**
 * Two sentences × two pairs, labels x and y. By hand:
 *   pair 0 (g1): signed x (0.2 + 0)/2 = 0.1, y (−0.1 + 0.3)/2 = 0.1 → 0.1; absolute x 0.1, y 0.2 → 0.15; flips 1/2
 *   pair 1 (g2): signed x (−0.4 + 0.2)/2 = −0.1, y (0 + 0.1)/2 = 0.05 → −0.025; absolute x 0.3, y 0.05 → 0.175; flips 0
 *   overall: signed x 0/4 = 0, y 0.3/4 = 0.075 → 0.0375; absolute x 0.8/4 = 0.2, y 0.5/4 = 0.125 → 0.1625; flips 1/4
 */
const CASES: ScoredCase[] = [
  { unit: 0, pair: 0, d: [0.2, -0.1], flipped: true },
  { unit: 1, pair: 0, d: [0.0, 0.3], flipped: false },
  { unit: 0, pair: 1, d: [-0.4, 0.0], flipped: false },
  { unit: 1, pair: 1, d: [0.2, 0.1], flipped: false },
];
const INPUT: ReactivityInput = { labels: ['x', 'y'], pairs: PAIRS, units: 2, cases: CASES };
const BOOTSTRAP = { samples: 200, seed: 7, confidence: 0.95 };

describe('reactivity', () => {
  test('signed and absolute reactivity per label, pair, group and overall match the hand-computed numbers', () => {
    const r = computeReactivity(INPUT, BOOTSTRAP);
    const [p0, p1] = r.pairs;
    assert.ok(p0 && p1);
    near(p0.per_label[0]!.signed.value, 0.1, 'pair 0 signed x');
    near(p0.per_label[1]!.signed.value, 0.1, 'pair 0 signed y');
    near(p0.signed.value, 0.1, 'pair 0 signed');
    near(p0.per_label[1]!.absolute.value, 0.2, 'pair 0 absolute y');
    near(p0.absolute.value, 0.15, 'pair 0 absolute');
    near(p0.flip_rate, 0.5, 'pair 0 flip rate');
    near(p1.signed.value, -0.025, 'pair 1 signed');
    near(p1.per_label[0]!.absolute.value, 0.3, 'pair 1 absolute x');
    near(p1.absolute.value, 0.175, 'pair 1 absolute');
    near(p1.flip_rate, 0, 'pair 1 flip rate');
    near(r.overall.per_label[0]!.signed.value, 0, 'overall signed x');
    near(r.overall.signed.value, 0.0375, 'overall signed');
    near(r.overall.absolute.value, 0.1625, 'overall absolute');
    near(r.overall.flip_rate, 0.25, 'overall flip rate');
    assert.equal(r.overall.cases, 4);
    assert.deepEqual(
      r.groups.map((g) => [g.group, g.cases]),
      [
        ['g1', 2],
        ['g2', 2],
      ],
    );
    assert.deepEqual(
      r.pairs.map(({ group, a, b }) => [group, a, b]),
      [
        ['g1', 'a1', 'b1'],
        ['g2', 'a2', 'b2'],
      ],
    );
    near(r.max_abs_reactivity, 0.175, 'max over groups of the absolute summary (g2)');
    near(r.flip_rate, 0.5, 'max over groups of the flip rate (g1)');
    for (const slice of [
      r.overall,
      ...r.groups.map(({ group: _, ...s }) => s),
      ...r.pairs.map(({ group: _, a: _a, b: _b, ...s }) => s),
    ])
      reactivitySliceSchema.parse(slice);
  });

  test('cases are scored from per-text probabilities and decisions: d = p(a) − p(b), a flip when any decision differs', () => {
    const sentences = templateSentences(['<group> t1', '<group> t2'], PAIRS);
    const probabilities = sentences.texts.map((text) => (text.startsWith('a') ? [0.9, 0.4] : [0.3, 0.4]));
    const decisions = probabilities.map((p) => p.map((v) => (v >= 0.5 ? 1 : 0)));
    const cases = scoreCases(sentences, probabilities, decisions);
    assert.equal(cases.length, 4);
    for (const c of cases) {
      near(c.d[0]!, 0.6, 'label x');
      near(c.d[1]!, 0, 'label y');
      assert.equal(c.flipped, true);
    }
  });

  test('a percentile is interpolated between order statistics, as numpy does', () => {
    assert.equal(quantile([1, 2, 3, 4], 0.25), 1.75);
    assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantile([5], 0.975), 5);
  });
});

/** 60 sentences × 3 pairs of random but fixed differences, label 0 shifted by +0.1 for pair 0. */
function randomInput(): ReactivityInput {
  const random = mulberry32(1234);
  const cases: ScoredCase[] = [];
  for (let unit = 0; unit < 60; unit++) {
    for (let pair = 0; pair < 3; pair++) {
      const d = [random() * 0.4 - 0.2 + (pair === 0 ? 0.1 : 0), random() * 0.2 - 0.1];
      cases.push({ unit, pair, d, flipped: random() < 0.1 });
    }
  }
  return { labels: ['x', 'y'], pairs: [...PAIRS, { group: 'g2', a: 'c', b: 'd' }], units: 60, cases };
}

describe('the bootstrap', () => {
  test('gives the same intervals for the same seed and other intervals for another seed', () => {
    const input = randomInput();
    const one = computeReactivity(input, { samples: 300, seed: 42, confidence: 0.95 });
    const again = computeReactivity(input, { samples: 300, seed: 42, confidence: 0.95 });
    const other = computeReactivity(input, { samples: 300, seed: 43, confidence: 0.95 });
    assert.deepEqual(again, one);
    assert.notDeepEqual(other.overall.signed, one.overall.signed);
    assert.equal(
      other.overall.signed.value,
      one.overall.signed.value,
      'the point estimate does not depend on the seed',
    );
  });

  test('every interval contains its point estimate, and a wider confidence gives a wider interval', () => {
    const input = randomInput();
    const r95 = computeReactivity(input, { samples: 500, seed: 1, confidence: 0.95 });
    const r50 = computeReactivity(input, { samples: 500, seed: 1, confidence: 0.5 });
    for (const slice of [r95.overall, ...r95.groups, ...r95.pairs]) {
      for (const e of [slice.signed, slice.absolute, ...slice.per_label.flatMap((l) => [l.signed, l.absolute])]) {
        assert.ok(e.ci_low <= e.value && e.value <= e.ci_high, `${JSON.stringify(e)} does not contain its value`);
      }
    }
    assert.ok(
      r50.overall.signed.ci_high - r50.overall.signed.ci_low < r95.overall.signed.ci_high - r95.overall.signed.ci_low,
    );
    // Pair 0 carries the +0.1 shift on label x: its interval excludes 0, the others' include it.
    const [shifted, , plain] = r95.pairs;
    assert.ok(shifted!.per_label[0]!.signed.ci_low > 0);
    assert.ok(plain!.per_label[0]!.signed.ci_low < 0 && plain!.per_label[0]!.signed.ci_high > 0);
  });

  test('with one sentence every replicate is that sentence: the interval is the point', () => {
    const r = computeReactivity(
      { labels: ['x'], pairs: [PAIRS[0]!], units: 1, cases: [{ unit: 0, pair: 0, d: [0.3], flipped: false }] },
      BOOTSTRAP,
    );
    assert.deepEqual(r.overall.signed, { value: 0.3, ci_low: 0.3, ci_high: 0.3 });
  });
});

describe('the gate', () => {
  const result = computeReactivity(INPUT, BOOTSTRAP);

  test('fails a group above maxAbsReactivity, naming the group, the value and the threshold', () => {
    const verdict = evaluateGate(result, auditGateSchema.parse({ maxAbsReactivity: 0.17 }));
    assert.equal(verdict.passed, false);
    assert.equal(verdict.mode, 'fail');
    assert.equal(verdict.reasons.length, 1);
    assert.match(verdict.reasons[0]!, /group "g2": absolute reactivity 0\.1750 .*exceeds maxAbsReactivity 0\.17/);
  });

  test('a value equal to the threshold passes; a flip rate above its threshold fails', () => {
    assert.equal(evaluateGate(result, auditGateSchema.parse({ maxFlipRate: 0.5 })).passed, true);
    const verdict = evaluateGate(result, auditGateSchema.parse({ maxFlipRate: 0.4, mode: 'warn' }));
    assert.deepEqual(
      [verdict.passed, verdict.mode, verdict.max_flip_rate, verdict.max_abs_reactivity],
      [false, 'warn', 0.4, null],
    );
    assert.match(verdict.reasons[0]!, /group "g1": flip rate 0\.5000 exceeds maxFlipRate 0\.4/);
  });

  test('with no thresholds the gate passes', () => {
    assert.deepEqual(evaluateGate(result, auditGateSchema.parse({})), {
      mode: 'fail',
      max_abs_reactivity: null,
      max_flip_rate: null,
      aggregate: 'mean',
      estimate: 'point',
      max_f1_drop: null,
      f1_drop: null,
      passed: true,
      reasons: [],
    });
  });

  // By hand (see CASES): g1's absolute per label is x 0.1, y 0.2 (mean 0.15); g2's x 0.3, y 0.05 (mean 0.175).
  const thresholdCases: { name: string; gate: Record<string, unknown>; passed: boolean; reason?: RegExp }[] = [
    { name: 'the label mean (0.175) passes a bound of 0.2', gate: { maxAbsReactivity: 0.2 }, passed: true },
    {
      name: "the label maximum (g2's x, 0.3) fails the same bound",
      gate: { maxAbsReactivity: 0.2, aggregate: 'max' },
      passed: false,
      reason: /group "g2": label "x" absolute reactivity 0\.3000 .*exceeds maxAbsReactivity 0\.2/,
    },
    {
      name: 'the label maximum passes a bound above it',
      gate: { maxAbsReactivity: 0.31, aggregate: 'max' },
      passed: true,
    },
  ];
  for (const c of thresholdCases) {
    test(`per-label maximum: ${c.name}`, () => {
      const verdict = evaluateGate(result, auditGateSchema.parse(c.gate));
      assert.equal(verdict.passed, c.passed);
      if (c.reason) assert.match(verdict.reasons.join('\n'), c.reason);
    });
  }

  test('estimate "upper" judges the upper end of the interval, so a point estimate below the bound can still fail', () => {
    const g2 = result.groups.find((g) => g.group === 'g2')!;
    // A bound between g2's point estimate and its interval's upper end (computed by the same bootstrap).
    assert.ok(g2.absolute.ci_high > g2.absolute.value, 'the interval is wider than its point');
    const bound = (g2.absolute.value + g2.absolute.ci_high) / 2;
    assert.equal(evaluateGate(result, auditGateSchema.parse({ maxAbsReactivity: bound })).passed, true);
    const upper = evaluateGate(result, auditGateSchema.parse({ maxAbsReactivity: bound, estimate: 'upper' }));
    assert.equal(upper.passed, false);
    assert.match(upper.reasons[0]!, /group "g2": absolute reactivity \(CI upper bound\)/);
    // max + upper: the largest per-label ci_high of each group.
    const g1 = result.groups.find((g) => g.group === 'g1')!;
    const top = Math.max(...[...g1.per_label, ...g2.per_label].map((l) => l.absolute.ci_high));
    assert.equal(
      evaluateGate(result, auditGateSchema.parse({ maxAbsReactivity: top, aggregate: 'max', estimate: 'upper' }))
        .passed,
      true,
    );
    assert.equal(
      evaluateGate(result, auditGateSchema.parse({ maxAbsReactivity: top - 1e-9, aggregate: 'max', estimate: 'upper' }))
        .passed,
      false,
    );
  });

  test('maxF1Drop fails a model that lost more F1 than allowed against the reference, and passes one within it', () => {
    const gate = auditGateSchema.parse({ maxF1Drop: 0.05, reference: 'baseline' });
    const within = evaluateGate(result, gate, { reference: 'baseline', referenceF1: 0.8, modelF1: 0.76 });
    assert.equal(within.passed, true);
    assert.ok(Math.abs(within.f1_drop!.value - 0.04) < 1e-12);
    assert.deepEqual(
      { ...within.f1_drop, value: 0 },
      { metric: 'macro_f1', reference: 'baseline', reference_f1: 0.8, model_f1: 0.76, value: 0 },
    );
    const beyond = evaluateGate(result, gate, { reference: 'baseline', referenceF1: 0.8, modelF1: 0.7 });
    assert.equal(beyond.passed, false);
    assert.match(
      beyond.reasons[0]!,
      /macro_f1 0\.7000 is 0\.1000 below the reference "baseline" \(0\.8000\): more than maxF1Drop 0\.05/,
    );
    assert.throws(() => evaluateGate(result, gate), /maxF1Drop needs the F1/);
  });

  test('a constant predictor has reactivity 0 and passes every reactivity bound, but fails maxF1Drop', () => {
    // Every text gets the same probabilities: d = 0 for every case, no flips.
    const sentences = templateSentences(['<group> t1', '<group> t2', '<group> t3'], PAIRS);
    const constant = sentences.texts.map(() => [0.9, 0.2]);
    const cases = scoreCases(
      sentences,
      constant,
      constant.map((p) => p.map((v) => (v > 0.5 ? 1 : 0))),
    );
    const flat = computeReactivity({ labels: ['x', 'y'], pairs: PAIRS, units: 3, cases }, BOOTSTRAP);
    assert.equal(flat.max_abs_reactivity, 0);
    const strict = { maxAbsReactivity: 0, maxFlipRate: 0, aggregate: 'max', estimate: 'upper' };
    assert.equal(
      evaluateGate(flat, auditGateSchema.parse(strict)).passed,
      true,
      'reactivity alone cannot tell a dead model',
    );
    // Its F1 on 4 rows whose gold labels are [1,0],[0,1],[1,0],[0,1], predicting [1,0] for all:
    // label x: tp 2, fp 2, fn 0 → F1 2·2/(2·2+2+0) = 2/3; label y: tp 0 → F1 0; macro (2/3 + 0)/2 = 1/3.
    const macro = (2 / 3 + 0) / 2;
    const verdict = evaluateGate(flat, auditGateSchema.parse({ ...strict, maxF1Drop: 0.1, reference: 'baseline' }), {
      reference: 'baseline',
      referenceF1: 0.9,
      modelF1: macro,
    });
    assert.equal(verdict.passed, false);
    assert.ok(Math.abs(verdict.f1_drop!.value - (0.9 - macro)) < 1e-12);
  });
});
