/**
 * eval/embedding.ts: Spearman's correlation against scipy.stats.spearmanr (the trainer's venv) on
 * random samples with many ties, and the retrieval metrics on a small case worked by hand.
 */
import { mulberry32 } from '../../audit/random';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { trainerVenvPython } from '../../common/paths';
import { averageRanks, cosine, retrievalMetrics, spearman } from '../../eval/embedding';

/** Seeded inputs (audit/random.ts's mulberry32), so every run scores the same ones. */
const random = mulberry32;

const SCIPY = `
import json, sys
from scipy.stats import spearmanr
cases = json.load(sys.stdin)
print(json.dumps([float(spearmanr(c["x"], c["y"]).statistic) for c in cases]))
`;

describe('Spearman correlation', () => {
  test('ties get their average rank', () => {
    assert.deepEqual(averageRanks([10, 20, 10, 30, 20, 20]), [1.5, 4, 1.5, 6, 4, 4]);
  });

  test('agrees with scipy.stats.spearmanr to 1e-9 on random samples with ties', async (t) => {
    const python = trainerVenvPython();
    if (!existsSync(python)) return t.skip('the trainer venv is not built (npm run bootstrap)');
    const next = random(20261206);
    const cases = Array.from({ length: 12 }, (_, c) => {
      const n = 5 + Math.floor(next() * 300);
      // KLUE-STS-like gold scores on a 0.1 grid (many ties), and cosines rounded to 2 decimals (some ties)
      const y = Array.from({ length: n }, () => Math.round(next() * 50) / 10);
      const x = y.map((v) => Math.round((v / 5 + (next() - 0.5) * (c % 3)) * 100) / 100);
      return { x, y };
    });
    const child = promisify(execFile)(python, ['-c', SCIPY], { maxBuffer: 1 << 24 });
    child.child.stdin!.end(JSON.stringify(cases));
    const expected: unknown = JSON.parse((await child).stdout);
    assert.ok(Array.isArray(expected) && expected.length === cases.length);
    cases.forEach((c, i) => {
      const ours = spearman(c.x, c.y);
      assert.ok(Math.abs(ours - Number(expected[i])) <= 1e-9, `case ${i}: ${ours} vs scipy ${String(expected[i])}`);
    });
  });

  test('a constant sample has no correlation (NaN, as scipy)', () => {
    assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  });
});

describe('retrieval metrics', () => {
  test('recall@k and MRR@10 on a case worked by hand', () => {
    // 12 documents; gold of query 0 is doc 0 (scored highest: rank 1); of query 1 doc 3 (two
    // documents score higher: rank 3); of query 2 doc 11 (every other scores higher: rank 12).
    const q0 = Array.from({ length: 12 }, (_, j) => (j === 0 ? 0.9 : 0.1));
    const q1 = Array.from({ length: 12 }, (_, j) => (j === 5 || j === 7 ? 0.8 : j === 3 ? 0.5 : 0));
    const q2 = Array.from({ length: 12 }, (_, j) => (j === 11 ? -1 : j / 100));
    const m = retrievalMetrics([q0, q1, q2], [0, 3, 11]);
    assert.equal(m.recallAt1, 1 / 3);
    assert.equal(m.recallAt5, 2 / 3);
    assert.equal(m.recallAt10, 2 / 3);
    assert.equal(m.mrrAt10, (1 + 1 / 3 + 0) / 3);
    assert.deepEqual([m.queries, m.documents], [3, 12]);
  });

  test('an equal score ranks the gold document after the documents before it', () => {
    // doc 0 and doc 2 tie at 0.5: gold 2 is ranked 2nd, gold 0 1st
    assert.equal(retrievalMetrics([[0.5, 0.1, 0.5]], [2]).recallAt1, 0);
    assert.equal(retrievalMetrics([[0.5, 0.1, 0.5]], [0]).recallAt1, 1);
  });

  test('cosine is the dot product of the normalised vectors', () => {
    assert.ok(Math.abs(cosine([3, 4], [4, 3]) - 24 / 25) < 1e-15);
  });
});
