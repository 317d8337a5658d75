/**
 * From finds to the mined set: one row per example with every reason it was mined for, a cap per
 * source example, and a total cap that keeps the hardest of every list first. Also the selection
 * rules of the model-based recipe on probabilities given by hand (the real model is in
 * stage.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { countByReason, mergeFinds } from '../../mining/merge';
import { mineModelBased } from '../../mining/model-based';
import type { Find, HardNegativeProvenance } from '../../mining/types';

const ids = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];

function find(row: number, reason: HardNegativeProvenance['reason'], label: string, score: number, source = row): Find {
  return { row, provenance: { reason, label, source_id: ids[source]!, neighbour_id: ids[row]!, score } };
}

const unlimited = { capPerExample: 1_000, maxTotal: 1_000 };

describe('merging finds', () => {
  test('a row mined for several reasons and labels appears once, with all its provenance', () => {
    const mined = mergeFinds(
      [
        find(2, 'confident-wrong', 'A', 0.95),
        find(2, 'low-margin', 'B', 0.51),
        find(2, 'bm25', 'A', 7.5, 0),
        find(2, 'bm25', 'B', 6.1, 1),
      ],
      ids,
      unlimited,
    );
    assert.equal(mined.length, 1);
    assert.equal(mined[0]!.id, 'r2');
    assert.deepEqual(
      mined[0]!.provenance.map((p) => [p.reason, p.label, p.source_id]),
      [
        ['confident-wrong', 'A', 'r2'],
        ['low-margin', 'B', 'r2'],
        ['bm25', 'A', 'r0'],
        ['bm25', 'B', 'r1'],
      ],
    );
    assert.deepEqual(countByReason(mined), { 'confident-wrong': 1, 'low-margin': 1, bm25: 1 });
  });

  test('one source example contributes at most capPerExample rows, its best neighbours', () => {
    const finds = [
      find(1, 'bm25', 'A', 3, 0),
      find(2, 'bm25', 'A', 9, 0),
      find(3, 'bm25', 'B', 5, 0),
      find(2, 'bm25', 'B', 8, 0),
      find(4, 'bm25', 'A', 4, 5),
    ];
    const mined = mergeFinds(finds, ids, { capPerExample: 2, maxTotal: 100 });
    // r0's neighbours by score: r2 (9, 8), r3 (5), r1 (3): r2 and r3 stay, with both of r2's finds.
    assert.deepEqual(mined.map((m) => m.id).sort(), ['r2', 'r3', 'r4']);
    assert.equal(mined.find((m) => m.id === 'r2')!.provenance.length, 2);
  });

  test('maxTotal keeps the first of every list before the second of any, whatever the scales', () => {
    const finds = [
      find(0, 'bm25', 'A', 40, 5),
      find(1, 'bm25', 'A', 30, 5),
      find(2, 'bm25', 'A', 20, 4),
      find(3, 'confident-wrong', 'A', 0.9),
      find(4, 'confident-wrong', 'A', 0.85),
      find(5, 'low-margin', 'B', 0.5),
    ];
    const mined = mergeFinds(finds, ids, { capPerExample: 10, maxTotal: 4 });
    // Rank 0 of each list (r3, r5, r0 in reason order), then rank 1 (r4 before r1: reason order).
    assert.deepEqual(
      mined.map((m) => m.id),
      ['r3', 'r5', 'r0', 'r4'],
    );
  });

  test('the result does not depend on the order the finds arrive in, within a bm25 list', () => {
    const finds = [find(1, 'bm25', 'A', 5, 0), find(2, 'bm25', 'A', 5, 3), find(4, 'bm25', 'A', 6, 3)];
    const forward = mergeFinds(finds, ids, { capPerExample: 10, maxTotal: 2 });
    const backward = mergeFinds([...finds].reverse(), ids, { capPerExample: 10, maxTotal: 2 });
    assert.deepEqual(forward, backward);
    assert.deepEqual(
      forward.map((m) => m.id),
      ['r4', 'r1'],
    );
  });
});

describe('model-based selection', () => {
  const pool = (positive: number[][], probabilities: number[][]) => ({
    ids: ids.slice(0, positive.length),
    width: positive[0]!.length,
    positive: Uint8Array.from(positive.flat()),
    probabilities,
  });

  test('multilabel: confidently wrong negatives score at least the minimum above the threshold, most confident first', () => {
    const finds = mineModelBased(pool([[0], [0], [0], [1], [0]], [[0.95], [0.7], [0.99], [0.99], [0.2]]), {
      task: 'multilabel',
      threshold: 0.5,
      perLabel: 10,
      confidentWrongMin: 0.8,
      labels: [0],
      labelNames: ['A'],
    });
    const confident = finds.filter((f) => f.provenance.reason === 'confident-wrong');
    assert.deepEqual(
      confident.map((f) => [f.provenance.neighbour_id, f.provenance.score]),
      [
        ['r2', 0.99],
        ['r0', 0.95],
      ],
    );
    // Low margin: negatives only (r3 is positive), closest to 0.5 first, perLabel each.
    const margin = finds.filter((f) => f.provenance.reason === 'low-margin');
    assert.deepEqual(
      margin.map((f) => f.provenance.neighbour_id),
      ['r1', 'r4', 'r0', 'r2'],
    );
  });

  test('perLabel caps each reason of each label', () => {
    const finds = mineModelBased(
      pool(
        [
          [0, 0],
          [0, 0],
          [0, 0],
        ],
        [
          [0.9, 0.1],
          [0.95, 0.45],
          [0.85, 0.3],
        ],
      ),
      {
        task: 'multilabel',
        threshold: 0.5,
        perLabel: 1,
        confidentWrongMin: 0.8,
        labels: [0, 1],
        labelNames: ['A', 'B'],
      },
    );
    assert.deepEqual(
      finds.map((f) => `${f.provenance.reason}:${f.provenance.label}:${f.provenance.neighbour_id}`),
      ['confident-wrong:A:r1', 'low-margin:A:r2', 'low-margin:B:r1'],
    );
  });

  test('multiclass: a wrong argmax above the minimum is confidently wrong, and the margin is to the strongest rival', () => {
    const finds = mineModelBased(
      pool(
        [
          [1, 0, 0],
          [1, 0, 0],
          [0, 1, 0],
        ],
        [
          [0.05, 0.9, 0.05],
          [0.5, 0.1, 0.4],
          [0.3, 0.6, 0.1],
        ],
      ),
      {
        task: 'multiclass',
        threshold: 0.5,
        perLabel: 10,
        confidentWrongMin: 0.8,
        labels: [0, 1, 2],
        labelNames: ['x', 'y', 'z'],
      },
    );
    assert.deepEqual(
      finds.map(
        (f) => `${f.provenance.reason}:${f.provenance.label}:${f.provenance.neighbour_id}:${f.provenance.score}`,
      ),
      ['low-margin:x:r2:0.3', 'confident-wrong:y:r0:0.9', 'low-margin:y:r0:0.9', 'low-margin:z:r1:0.4'],
    );
  });
});
