/**
 * Sentence-embedding metrics (docs/embedding.md), used by the evaluate-embedding stage:
 * - `spearman`: Spearman's rank correlation, as scipy.stats.spearmanr computes it: each sample
 *   ranked with ties given their average rank, then Pearson's correlation of the ranks;
 * - `retrieval`: each query's gold document ranked among all documents by score (higher first;
 *   equal scores ordered by document index, so the result never depends on timing), then
 *   recall@k = share of queries whose gold document is in the top k, and
 *   MRR@10 = mean of 1/rank over queries, 0 where the rank is past 10.
 * Workflow-safe: no Node built-ins.
 */

/** Ranks 1..n with ties averaged (scipy.stats.rankdata's `average`). */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start;
    while (end + 1 < order.length && values[order[end + 1]!] === values[order[start]!]) end += 1;
    const rank = (start + end) / 2 + 1; // mean of the 1-based positions start+1 .. end+1
    for (let k = start; k <= end; k++) ranks[order[k]!] = rank;
    start = end + 1;
  }
  return ranks;
}

/** Pearson's correlation; NaN when either side is constant (scipy returns nan and warns). */
export function pearson(x: readonly number[], y: readonly number[]): number {
  if (x.length !== y.length) throw new RangeError(`pearson: ${x.length} values against ${y.length}`);
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? Number.NaN : sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rank correlation of two samples (ties: average ranks). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(averageRanks(x), averageRanks(y));
}

/** Cosine similarity of two vectors. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** What the retrieval task reports. */
export interface RetrievalMetrics {
  queries: number;
  documents: number;
  recallAt1: number;
  recallAt5: number;
  recallAt10: number;
  mrrAt10: number;
}

/**
 * The 1-based rank of document `gold` in a row of scores: 1 + the documents scoring higher, +
 * those scoring the same with a smaller index.
 */
export function rankOf(scores: ArrayLike<number>, gold: number): number {
  const s = scores[gold]!;
  let rank = 1;
  for (let j = 0; j < scores.length; j++) if (scores[j]! > s || (scores[j] === s && j < gold)) rank += 1;
  return rank;
}

/** Retrieval metrics from each query's score row and the index of its gold document. */
export function retrievalMetrics(scores: readonly ArrayLike<number>[], gold: readonly number[]): RetrievalMetrics {
  if (scores.length !== gold.length)
    throw new RangeError(`${scores.length} score rows for ${gold.length} gold documents`);
  if (scores.length === 0) throw new RangeError('retrieval metrics need at least one query');
  const ranks = scores.map((row, i) => rankOf(row, gold[i]!));
  const mean = (f: (rank: number) => number): number => ranks.reduce((a, r) => a + f(r), 0) / ranks.length;
  return {
    queries: ranks.length,
    documents: scores[0]!.length,
    recallAt1: mean((r) => (r <= 1 ? 1 : 0)),
    recallAt5: mean((r) => (r <= 5 ? 1 : 0)),
    recallAt10: mean((r) => (r <= 10 ? 1 : 0)),
    mrrAt10: mean((r) => (r <= 10 ? 1 / r : 0)),
  };
}
