/**
 * Hard negatives for sentence-embedding pairs (the mine-hard-negatives stage's `pairs` mode):
 * for each anchor, the highest-scoring candidates from the pool of every row's positive, other
 * than its own, that pass a margin guard against false negatives.
 *
 * Scores s(anchor, candidate): `bm25` (Okapi BM25 of the anchor as a query against the positives,
 * mining/bm25.ts) or `model` (cosine of embedder vectors, computed by the caller). With s⁺ the
 * score of the anchor's own positive, a candidate c is kept only when
 *
 *     s(c) < factor · s⁺ − margin
 *
 * so candidates scoring above the positive, equal to it, or within the margin under it (likely
 * paraphrases of the positive: false negatives) are skipped. factor 0.95 and margin 0 skip
 * anything within 5% of the positive's score (sentence-transformers' `relative_margin` 0.05).
 * With BM25 an anchor sharing no term with its positive has s⁺ = 0 and gets no mined negative
 * (every candidate BM25 finds scores above 0). Candidates whose text equals the anchor or its own
 * positive are never negatives. Ties break by pool position. `random` draws, seeded, uniformly
 * among the other rows' positives, without the guard: the baseline that selection is measured
 * against. Deterministic: the same pool, scores and seed give the same negatives.
 */
import { mulberry32 } from '../audit/random';
import { Bm25Index, type Bm25Parameters } from './bm25';

/** One training pair: anchor and positive texts. */
export interface PairRowTexts {
  readonly anchor: string;
  readonly positive: string;
}

export interface PairGuard {
  /** Negatives per anchor. */
  readonly negatives: number;
  /** Multiplies the positive's score in the guard. */
  readonly factor: number;
  /** Subtracted from factor · s⁺ in the guard (the score's own units). */
  readonly margin: number;
}

/** One mined negative: the row whose positive it is, its score and the anchor's positive score. */
export interface MinedNegative {
  readonly row: number;
  readonly score: number;
  readonly positiveScore: number;
}

/** What mining found for each anchor, and how many candidates the guard turned away. */
export interface PairMining {
  readonly negatives: MinedNegative[][];
  readonly guarded: number;
}

/** Picks each anchor's negatives from a scorer: `score(i, visit)` visits (j, s(anchor i, positive j)). */
export function pickNegatives(
  rows: readonly PairRowTexts[],
  score: (anchor: number, visit: (row: number, value: number) => void) => void,
  guard: PairGuard,
  signal?: AbortSignal,
): PairMining {
  let guarded = 0;
  const negatives = rows.map((row, i) => {
    if (i % 256 === 0) signal?.throwIfAborted();
    const scores = new Map<number, number>();
    score(i, (j, value) => scores.set(j, value));
    const positiveScore = scores.get(i) ?? 0;
    const limit = guard.factor * positiveScore - guard.margin;
    const kept: MinedNegative[] = [];
    for (const [j, value] of scores) {
      const text = rows[j]!.positive;
      if (j === i || text === row.positive || text === row.anchor) continue;
      if (!(value < limit)) {
        guarded += 1;
        continue;
      }
      kept.push({ row: j, score: value, positiveScore });
    }
    kept.sort((a, b) => b.score - a.score || a.row - b.row);
    return kept.slice(0, guard.negatives);
  });
  return { negatives, guarded };
}

/** BM25 negatives: each anchor queries an index of every row's positive. */
export function mineBm25Pairs(
  rows: readonly PairRowTexts[],
  parameters: Bm25Parameters,
  guard: PairGuard,
  signal?: AbortSignal,
): PairMining {
  const index = new Bm25Index(
    rows.map((r) => r.positive),
    parameters,
  );
  return pickNegatives(rows, (i, visit) => index.search(rows[i]!.anchor, visit), guard, signal);
}

/** Model negatives from unit vectors: s = anchor · positive (the cosine of normalised embeddings). */
export function mineEmbeddingPairs(
  rows: readonly PairRowTexts[],
  anchors: readonly Float32Array[],
  positives: readonly Float32Array[],
  guard: PairGuard,
  signal?: AbortSignal,
): PairMining {
  const dot = (a: Float32Array, b: Float32Array): number => {
    let s = 0;
    for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
    return s;
  };
  return pickNegatives(rows, (i, visit) => positives.forEach((p, j) => visit(j, dot(anchors[i]!, p))), guard, signal);
}

/** Random negatives (seeded, mulberry32): other rows' positives, distinct, no guard. */
export function mineRandomPairs(rows: readonly PairRowTexts[], negatives: number, seed: number): PairMining {
  const next = mulberry32(seed);
  return {
    guarded: 0,
    negatives: rows.map((row, i) => {
      const eligible = rows.length - 1;
      const want = Math.min(negatives, eligible);
      const picked = new Set<number>();
      // Rejection sampling: `want` is tiny against the pool, so a few draws suffice.
      for (let tries = 0; picked.size < want && tries < want * 100; tries++) {
        const j = Math.floor(next() * rows.length);
        const text = rows[j]!.positive;
        if (j !== i && text !== row.positive && text !== row.anchor) picked.add(j);
      }
      return [...picked].map((j) => ({ row: j, score: 0, positiveScore: 0 }));
    }),
  };
}
