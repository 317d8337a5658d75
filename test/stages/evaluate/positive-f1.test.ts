/**
 * The evaluate stage's two-class headline (positiveF1, published ×10,000 as FairlinePositiveF1Bp):
 * the F1 of class 1, checked against precision and recall counted by hand; null where a task has
 * no single class 1.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeMetrics } from '../../../eval/metrics';
import { basisPoints, positiveF1 } from '../../../stages/evaluate/implementation';

/** 8 examples, two classes: truth and the predicted probability of class 1. */
const TRUTH = [1, 1, 1, 0, 0, 1, 0, 0];
const P1 = [0.9, 0.7, 0.2, 0.6, 0.1, 0.8, 0.3, 0.4];

/** F1 of class 1 from its definition: 2·TP / (2·TP + FP + FN), predicted 1 when p1 > 0.5. */
function f1ByHand(): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  TRUTH.forEach((t, i) => {
    const predicted = P1[i]! > 0.5 ? 1 : 0;
    if (predicted === 1 && t === 1) tp += 1;
    if (predicted === 1 && t === 0) fp += 1;
    if (predicted === 0 && t === 1) fn += 1;
  });
  return (2 * tp) / (2 * tp + fp + fn);
}

describe('the two-class headline F1', () => {
  test('a two-class softmax head (multiclass): F1 of class 1', () => {
    const metrics = computeMetrics({
      task: 'multiclass',
      yTrue: TRUTH,
      yScore: P1.map((p) => [1 - p, p]),
      labels: ['not_hate', 'hate'],
    });
    assert.ok(Math.abs(positiveF1(metrics)! - f1ByHand()) < 1e-12);
  });

  test('a binary task: F1 of class 1', () => {
    const metrics = computeMetrics({ task: 'binary', yTrue: TRUTH, yScore: P1 });
    assert.ok(Math.abs(positiveF1(metrics)! - f1ByHand()) < 1e-12);
  });

  test('three classes or multi-label rows: none', () => {
    const three = computeMetrics({
      task: 'multiclass',
      yTrue: [0, 1, 2],
      yScore: [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
    });
    assert.equal(positiveF1(three), null);
    const multilabel = computeMetrics({
      task: 'multilabel',
      yTrue: [
        [1, 0],
        [0, 1],
      ],
      yScore: [
        [0.9, 0.1],
        [0.2, 0.8],
      ],
    });
    assert.equal(positiveF1(multilabel), null);
  });

  for (const [share, bp] of [
    [0.8, 8000],
    [0.12345, 1235],
    [0, 0],
    [1, 10000],
    [null, null],
  ] as const)
    test(`${share} is ${bp} basis points`, () => assert.equal(basisPoints(share), bp));
});
