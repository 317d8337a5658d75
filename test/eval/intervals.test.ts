/**
 * Bootstrap intervals of macro and micro F1: their point estimates are the metrics' own (which
 * test/eval checks against scikit-learn), they hold their point, they repeat with the seed, and a
 * paired difference of a model with itself is exactly 0.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mulberry32 } from '../../audit/random';
import { prepareInput, type MetricsInput } from '../../eval/input';
import { f1Intervals } from '../../eval/intervals';
import { computeMetrics } from '../../eval/metrics';

function randomInput(task: 'multilabel' | 'multiclass', seed: number, n = 60): MetricsInput {
  const random = mulberry32(seed);
  const labels = ['a', 'b', 'c'];
  const yScore = Array.from({ length: n }, () => labels.map(() => random()));
  const yTrue = yScore.map((s) =>
    task === 'multilabel'
      ? s.map((v) => (random() < 0.25 ? 1 - Math.round(v) : Math.round(v)))
      : random() < 0.7
        ? s.indexOf(Math.max(...s))
        : Math.floor(random() * 3),
  );
  return task === 'multilabel' ? { task, labels, yTrue, yScore, threshold: 0.5 } : { task, labels, yTrue, yScore };
}

const OPTIONS = { samples: 300, seed: 42, confidence: 0.95 };

describe('F1 intervals', () => {
  for (const task of ['multilabel', 'multiclass'] as const) {
    test(`${task}: the point estimates are the metrics' macro and micro F1, inside their intervals`, () => {
      const inputs = [randomInput(task, 1), randomInput(task, 2)];
      // The same rows and truth for both models: model 2's scores on model 1's truth.
      const second = { ...inputs[1]!, yTrue: inputs[0]!.yTrue };
      const r = f1Intervals([prepareInput(inputs[0]!), prepareInput(second)], OPTIONS);
      [inputs[0]!, second].forEach((input, k) => {
        const m = computeMetrics(input);
        assert.ok(Math.abs(r.models[k]!.macro_f1.value - m.macro_f1) < 1e-12, 'macro');
        assert.ok(Math.abs(r.models[k]!.micro_f1.value - m.micro_f1) < 1e-12, 'micro');
        for (const e of [r.models[k]!.macro_f1, r.models[k]!.micro_f1])
          assert.ok(e.ci_low <= e.value && e.value <= e.ci_high && e.ci_low < e.ci_high);
      });
      const d = r.deltas[0]!;
      assert.ok(
        Math.abs(d.macro_f1.value - (computeMetrics(second).macro_f1 - computeMetrics(inputs[0]!).macro_f1)) < 1e-12,
      );
    });
  }

  test('the same seed gives the same intervals; a model against itself differs by exactly 0 in every replicate', () => {
    const p = prepareInput(randomInput('multilabel', 3));
    assert.deepEqual(f1Intervals([p, p], OPTIONS), f1Intervals([p, p], OPTIONS));
    assert.deepEqual(f1Intervals([p, p], OPTIONS).deltas[0], {
      macro_f1: { value: 0, ci_low: 0, ci_high: 0 },
      micro_f1: { value: 0, ci_low: 0, ci_high: 0 },
    });
  });

  test('models scored on different rows are refused', () => {
    assert.throws(
      () =>
        f1Intervals(
          [prepareInput(randomInput('multilabel', 1, 10)), prepareInput(randomInput('multilabel', 2, 11))],
          OPTIONS,
        ),
      /same rows/,
    );
  });
});
