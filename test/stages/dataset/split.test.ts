/**
 * Seeded stratified splits: the same seed gives the same assignment (on any machine: the keys are
 * pinned), the overall counts follow the ratios within a row, and every stratum is spread over
 * the splits in proportion.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assignSplits, firstOfShuffle, rowKey, shuffledOrder } from '../../../stages/dataset/split';

/** A skewed label column: stratum 0 for 70 % of the rows, 1 for 25 %, 2 for 5 %, shuffled. */
function skewed(n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const r = rowKey(7, i) / 2 ** 32;
    return r < 0.7 ? 0 : r < 0.95 ? 1 : 2;
  });
}

const counts = (split: Uint8Array, strata: number[], stratum?: number): number[] => {
  const c = [0, 0, 0];
  split.forEach((s, i) => {
    if (stratum === undefined || strata[i] === stratum) c[s] = c[s]! + 1;
  });
  return c;
};

describe('seeded stratified splits', () => {
  test('row keys are pinned: the same seed splits alike on every machine and Node version', () => {
    assert.deepEqual([rowKey(42, 0), rowKey(42, 1), rowKey(1, 0)], [3079650777, 2803723810, 2571226413]);
  });

  test('the same seed gives the same assignment; another seed another', () => {
    const strata = skewed(1000);
    const a = assignSplits(strata, [0.8, 0.1, 0.1], 42, true);
    const b = assignSplits(strata, [0.8, 0.1, 0.1], 42, true);
    const c = assignSplits(strata, [0.8, 0.1, 0.1], 43, true);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  for (const n of [1, 2, 9, 10, 101, 997, 8776]) {
    test(`${n} rows: overall counts are within one row of the ratios`, () => {
      const strata = skewed(n);
      for (const ratios of [
        [0.8, 0.1, 0.1],
        [0.7, 0.15, 0.15],
        [0.5, 0, 0.5],
        [1, 0, 0],
      ] as const) {
        const c = counts(assignSplits(strata, ratios, 42, true), strata);
        ratios.forEach((r, s) =>
          assert.ok(Math.abs(c[s]! - r * n) <= 1, `split ${s}: ${c[s]} rows for ratio ${r} of ${n}`),
        );
        ratios.forEach((r, s) => r === 0 && assert.equal(c[s], 0, 'a split with ratio 0 gets no row'));
      }
    });
  }

  test('stratified: every stratum is spread in proportion, within two rows', () => {
    const strata = skewed(5000);
    const split = assignSplits(strata, [0.8, 0.1, 0.1], 42, true);
    for (const stratum of [0, 1, 2]) {
      const size = strata.filter((s) => s === stratum).length;
      const c = counts(split, strata, stratum);
      [0.8, 0.1, 0.1].forEach((r, s) =>
        assert.ok(Math.abs(c[s]! - r * size) <= 2, `stratum ${stratum} (${size} rows), split ${s}: ${c[s]}`),
      );
    }
  });

  test('without stratification the overall counts still follow the ratios', () => {
    const strata = skewed(1000);
    const c = counts(assignSplits(strata, [0.6, 0.2, 0.2], 1, false), strata);
    assert.deepEqual(c, [600, 200, 200]);
  });
});

describe('shuffle, then train on the first N', () => {
  test('the shuffle is a permutation ordered by the pinned row keys, and seeds differ', () => {
    const order = shuffledOrder(500, 32);
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      Array.from({ length: 500 }, (_, i) => i),
    );
    for (let k = 1; k < order.length; k++) assert.ok(rowKey(32, order[k - 1]!) < rowKey(32, order[k]!));
    assert.notDeepEqual(shuffledOrder(500, 33), order);
  });

  for (const [n, first] of [
    [998, 50],
    [998, 800],
    [10, 9],
    [2, 1],
  ] as const) {
    test(`${n} rows, first ${first}: exactly those rows of the shuffle train, every other row tests`, () => {
      const split = firstOfShuffle(n, 32, first);
      const order = shuffledOrder(n, 32);
      order.forEach((row, position) => assert.equal(split[row], position < first ? 0 : 2, `row ${row}`));
      assert.equal(split.filter((s) => s === 0).length, first);
    });
  }

  test('a larger N keeps the smaller N’s training rows (nested learning-curve subsets)', () => {
    const small = firstOfShuffle(998, 32, 100);
    const large = firstOfShuffle(998, 32, 400);
    small.forEach((s, row) => s === 0 && assert.equal(large[row], 0, `row ${row}`));
  });
});
