/**
 * mining/pairs.ts: the margin guard's rule (kept iff s(c) < factor·s⁺ − margin), the order of
 * the picks, the texts that are never negatives, BM25 pairs on Korean text, and seeded random picks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mineBm25Pairs, mineRandomPairs, pickNegatives } from '../../mining/pairs';

const rows = [
  { anchor: 'a0', positive: 'p0' },
  { anchor: 'a1', positive: 'p1' },
  { anchor: 'a2', positive: 'p2' },
  { anchor: 'a3', positive: 'p3' },
];
/** s(anchor 0, positive j): its own positive scores 10. */
const SCORES = [10, 9.6, 9.4, 3];

describe('the margin guard', () => {
  const cases = [
    // factor·s⁺ − margin = 9.5: 9.6 is within 5% of the positive (skipped), 9.4 and 3 pass
    { factor: 0.95, margin: 0, kept: [2, 3], guarded: 1 },
    // 10 − 0.5 = 9.5 again, by the absolute margin alone
    { factor: 1, margin: 0.5, kept: [2, 3], guarded: 1 },
    // 9.5 − 0.2 = 9.3: 9.4 now counts as too close as well
    { factor: 0.95, margin: 0.2, kept: [3], guarded: 2 },
    // limit exactly at a candidate's score (0.94·10 = 9.4): equal is skipped (strictly below only)
    { factor: 0.94, margin: 0, kept: [3], guarded: 2 },
  ];
  for (const c of cases) {
    test(`factor ${c.factor}, margin ${c.margin}: keeps rows ${c.kept.join(', ')}, hardest first`, () => {
      const result = pickNegatives(
        rows.slice(0, 1).concat(rows.slice(1)),
        (i, visit) => (i === 0 ? SCORES.forEach((s, j) => visit(j, s)) : undefined),
        { negatives: 5, factor: c.factor, margin: c.margin },
      );
      assert.deepEqual(
        result.negatives[0]!.map((n) => n.row),
        c.kept,
      );
      assert.ok(result.negatives[0]!.every((n) => n.positiveScore === 10));
      assert.equal(result.guarded, c.guarded);
    });
  }

  test('a candidate whose text is the anchor or its own positive is never a negative', () => {
    const dupes = [
      { anchor: 'x', positive: 'y' },
      { anchor: 'q', positive: 'y' },
      { anchor: 'r', positive: 'x' },
      { anchor: 's', positive: 'z' },
    ];
    const result = pickNegatives(
      dupes,
      (i, visit) => (i === 0 ? [10, 1, 2, 3].forEach((s, j) => visit(j, s)) : undefined),
      {
        negatives: 5,
        factor: 1,
        margin: 0,
      },
    );
    assert.deepEqual(
      result.negatives[0]!.map((n) => n.row),
      [3],
    );
  });
});

describe('BM25 pairs', () => {
  test('mines the positive that shares the anchor’s words but not its own, within the guard', () => {
    const korean = [
      { anchor: '남자가 공원에서 축구를 한다', positive: '남자가 공원에서 공을 찬다' },
      { anchor: '여자가 부엌에서 요리를 한다', positive: '여자가 음식을 만든다' },
      { anchor: '아이들이 공원에서 뛰어논다', positive: '아이들이 공원에서 축구를 하며 논다' },
    ];
    const result = mineBm25Pairs(
      korean,
      { ngrams: [2, 3], k1: 1.2, b: 0.75 },
      { negatives: 1, factor: 0.95, margin: 0 },
    );
    assert.deepEqual(
      result.negatives[0]!.map((n) => n.row),
      [2],
    );
    assert.ok(result.negatives[0]![0]!.score < 0.95 * result.negatives[0]![0]!.positiveScore);
  });
});

describe('random pairs', () => {
  test('the same seed draws the same negatives, never the row itself', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({ anchor: `a${i}`, positive: `p${i}` }));
    const one = mineRandomPairs(many, 2, 7);
    assert.deepEqual(one, mineRandomPairs(many, 2, 7));
    one.negatives.forEach((picks, i) => {
      assert.equal(picks.length, 2);
      assert.ok(picks.every((p) => p.row !== i));
    });
    assert.notDeepEqual(one, mineRandomPairs(many, 2, 8));
  });
});
