/**
 * Okapi BM25 over Korean-aware terms, and the lexical hard-negative recipe built on it: for each
 * positive example of a label, its nearest neighbours in the pool that are negative for that label
 * (DPR's "BM25 negatives": look-alikes that carry another label).
 *
 * Terms: the text is NFC-normalised and lowercased (Latin; Hangul has no case), cut into tokens at
 * every character that is not a letter, digit or mark, and each token into its character n-grams
 * of sizes [min, max] (a token shorter than min is one term). Korean writes particles and endings
 * onto the word (남학생이, 남학생은, 남학생에게), so whole tokens rarely match across sentences;
 * n-grams inside the token do (남학, 학생, 남학생), and a Hangul syllable is close to a morpheme, so
 * syllable bigrams and trigrams behave much like morphemes without an analyzer in the loop.
 *
 * Scoring, for a query q and a document d (Robertson & Zaragoza, Lucene's non-negative idf):
 *
 *     score(q, d) = Σ_{t ∈ distinct terms of q} idf(t) · tf(t,d)·(k1+1) / (tf(t,d) + k1·(1 − b + b·|d|/avgdl))
 *     idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
 *
 * tf counts the term's occurrences in d, |d| is d's number of terms (n-gram occurrences), avgdl
 * their mean over the pool, N the pool size, df(t) the documents holding t. Each distinct query
 * term counts once: a query repeating a gram is not more about it.
 *
 * The index is inverted (term → postings) with each posting's weight precomputed, so a query is
 * a sum over the postings of its terms into one accumulator; the pool's own documents are the
 * queries, so their distinct terms are kept too and no text is tokenized twice.
 */
import type { Find } from './types';

/** A code point is a token character when it is a letter, a digit or a combining mark. */
const SEPARATOR = /[^\p{L}\p{N}\p{M}]+/u;

/** The terms of a text: every character n-gram of sizes [min, max] of every token, in order. */
export function terms(text: string, ngrams: readonly [number, number]): string[] {
  const [min, max] = ngrams;
  const out: string[] = [];
  for (const token of text.normalize('NFC').toLowerCase().split(SEPARATOR)) {
    if (token === '') continue;
    const chars = Array.from(token);
    if (chars.length < min) {
      out.push(token);
      continue;
    }
    for (let n = min; n <= Math.min(max, chars.length); n++) {
      for (let i = 0; i + n <= chars.length; i++) out.push(chars.slice(i, i + n).join(''));
    }
  }
  return out;
}

/** Lucene's non-negative idf of a term held by `df` of `n` documents. */
const idfOf = (n: number, df: number): number => Math.log(1 + (n - df + 0.5) / (df + 0.5));

export interface Bm25Parameters {
  readonly ngrams: readonly [number, number];
  readonly k1: number;
  readonly b: number;
}

/** Okapi BM25 over a fixed set of documents, indexed by their position. */
export class Bm25Index {
  readonly size: number;
  readonly averageLength: number;
  private readonly termIds = new Map<string, number>();
  private readonly df: Int32Array;
  /** Postings of term t: docs and weights in [postingStart[t], postingStart[t + 1]). */
  private readonly postingStart: Int32Array;
  private readonly postingDoc: Int32Array;
  private readonly postingWeight: Float64Array;
  /** Distinct terms of document d: docTerms[docStart[d] … docStart[d + 1]). */
  private readonly docStart: Int32Array;
  private readonly docTerms: Int32Array;
  private readonly accumulator: Float64Array;
  private readonly touched: Int32Array;

  constructor(
    texts: readonly string[],
    readonly parameters: Bm25Parameters,
  ) {
    const { k1, b } = parameters;
    this.size = texts.length;
    // Pass 1: each document's distinct terms with their counts, and its length in terms.
    const docStart = new Int32Array(texts.length + 1);
    const termsOf: number[] = [];
    const countsOf: number[] = [];
    const lengths = new Int32Array(texts.length);
    let total = 0;
    const counts = new Map<number, number>();
    for (const [d, text] of texts.entries()) {
      counts.clear();
      const all = terms(text, parameters.ngrams);
      for (const term of all) {
        let id = this.termIds.get(term);
        if (id === undefined) {
          id = this.termIds.size;
          this.termIds.set(term, id);
        }
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      for (const [id, count] of counts) {
        termsOf.push(id);
        countsOf.push(count);
      }
      lengths[d] = all.length;
      total += all.length;
      docStart[d + 1] = termsOf.length;
    }
    this.docStart = docStart;
    this.docTerms = Int32Array.from(termsOf);
    this.averageLength = texts.length > 0 ? total / texts.length : 0;

    // Pass 2: postings grouped by term (a counting sort), each with its precomputed weight.
    const vocabulary = this.termIds.size;
    this.df = new Int32Array(vocabulary);
    for (const id of termsOf) this.df[id]!++;
    this.postingStart = new Int32Array(vocabulary + 1);
    for (let t = 0; t < vocabulary; t++) this.postingStart[t + 1] = this.postingStart[t]! + this.df[t]!;
    const fill = this.postingStart.slice(0, vocabulary);
    this.postingDoc = new Int32Array(termsOf.length);
    this.postingWeight = new Float64Array(termsOf.length);
    const idf = Float64Array.from(this.df, (df) => idfOf(texts.length, df));
    for (let d = 0; d < texts.length; d++) {
      // An empty pool of terms (every text punctuation) has avgdl 0: no document has terms then.
      const norm = k1 * (1 - b + (this.averageLength > 0 ? (b * lengths[d]!) / this.averageLength : 0));
      for (let k = docStart[d]!; k < docStart[d + 1]!; k++) {
        const t = termsOf[k]!;
        const tf = countsOf[k]!;
        const at = fill[t]!++;
        this.postingDoc[at] = d;
        this.postingWeight[at] = (idf[t]! * tf * (k1 + 1)) / (tf + norm);
      }
    }
    this.accumulator = new Float64Array(texts.length);
    this.touched = new Int32Array(texts.length);
  }

  /** Distinct terms in the index. */
  get vocabulary(): number {
    return this.termIds.size;
  }

  /** idf of a term (0 for a term no document holds: it cannot score). */
  idf(term: string): number {
    const id = this.termIds.get(term);
    return id === undefined ? 0 : idfOf(this.size, this.df[id]!);
  }

  /**
   * Scores every document sharing a term with the query: document `query` of the index, or a
   * text. Calls `visit(doc, score)` once per such document (every weight is positive, so every
   * score is), the query document itself included, in no particular order.
   */
  search(query: number | string, visit: (doc: number, score: number) => void): void {
    const ids =
      typeof query === 'number'
        ? this.docTerms.subarray(this.docStart[query]!, this.docStart[query + 1]!)
        : this.queryTerms(query);
    const acc = this.accumulator;
    let touched = 0;
    for (const t of ids) {
      for (let k = this.postingStart[t]!; k < this.postingStart[t + 1]!; k++) {
        const d = this.postingDoc[k]!;
        if (acc[d] === 0) this.touched[touched++] = d;
        acc[d]! += this.postingWeight[k]!;
      }
    }
    // Visited in the order first reached, not sorted: callers break ties on ids, not on order.
    for (const d of this.touched.subarray(0, touched)) {
      const score = acc[d]!;
      acc[d] = 0;
      visit(d, score);
    }
  }

  /** The score of one document for a query text (tests, explanations). */
  score(query: string, doc: number): number {
    let found = 0;
    this.search(query, (d, score) => {
      if (d === doc) found = score;
    });
    return found;
  }

  private queryTerms(text: string): Int32Array {
    const ids = new Set<number>();
    for (const term of terms(text, this.parameters.ngrams)) {
      const id = this.termIds.get(term);
      if (id !== undefined) ids.add(id);
    }
    return Int32Array.from(ids);
  }
}

/** What the lexical recipe needs of the pool. */
export interface LexicalPool {
  readonly ids: readonly string[];
  readonly texts: readonly string[];
  /** Labels per row. */
  readonly width: number;
  /** Row-major N × width: 1 where the row is positive for the label (multiclass: one-hot). */
  readonly positive: Uint8Array;
}

export interface LexicalOptions extends Bm25Parameters {
  /** Neighbours kept per positive example and label. */
  readonly neighbours: number;
  /** Neighbours must score above this. */
  readonly minScore: number;
  /** Label indices to mine for. */
  readonly labels: readonly number[];
  readonly labelNames: readonly string[];
  /** Called every QUERIES_PER_SLICE queries and at the end. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

/** Queries between progress reports and event-loop yields (cancellation arrives between them). */
const QUERIES_PER_SLICE = 256;

/**
 * For every row positive for a mined label, its `neighbours` best-scoring rows that are negative
 * for that label (ties: the smaller id first), the row itself excluded. Rows without any positive
 * mined label ask nothing. One query per row serves all its labels.
 */
export async function mineLexical(
  pool: LexicalPool,
  options: LexicalOptions,
): Promise<{ finds: Find[]; index: Bm25Index; buildMs: number; queryMs: number; queries: number }> {
  const started = performance.now();
  const index = new Bm25Index(pool.texts, options);
  const buildMs = performance.now() - started;
  const { width, positive, ids } = pool;
  const wanted = options.labels;
  const sources: number[] = [];
  for (let i = 0; i < ids.length; i++) if (wanted.some((y) => positive[i * width + y] === 1)) sources.push(i);

  const finds: Find[] = [];
  const k = options.neighbours;
  // Per label of the current query, its best k so far, best first.
  const best: { doc: number; score: number }[][] = wanted.map(() => []);
  const better = (a: { doc: number; score: number }, b: { doc: number; score: number }): boolean =>
    a.score > b.score || (a.score === b.score && ids[a.doc]! < ids[b.doc]!);
  const queryStart = performance.now();
  for (const [done, source] of sources.entries()) {
    if (done % QUERIES_PER_SLICE === 0) {
      options.signal?.throwIfAborted();
      options.onProgress?.(done, sources.length);
      // Yield, so heartbeats go out and a cancellation can arrive.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const slots = wanted.flatMap((y, slot) => (positive[source * width + y] === 1 ? [slot] : []));
    for (const slot of slots) best[slot]!.length = 0;
    index.search(source, (doc, score) => {
      if (doc === source || score <= options.minScore) return;
      for (const slot of slots) {
        if (positive[doc * width + wanted[slot]!] === 1) continue;
        const list = best[slot]!;
        // Most rows lose to the current k-th: compare before allocating anything.
        const last = list[k - 1];
        if (last !== undefined && (score < last.score || (score === last.score && ids[doc]! > ids[last.doc]!)))
          continue;
        let at = list.length === k ? k - 1 : list.length;
        list[at] = { doc, score };
        while (at > 0 && better(list[at]!, list[at - 1]!)) {
          [list[at - 1], list[at]] = [list[at]!, list[at - 1]!];
          at--;
        }
      }
    });
    for (const slot of slots) {
      for (const { doc, score } of best[slot]!) {
        finds.push({
          row: doc,
          provenance: {
            reason: 'bm25',
            label: options.labelNames[wanted[slot]!]!,
            source_id: ids[source]!,
            neighbour_id: ids[doc]!,
            score,
          },
        });
      }
    }
  }
  options.onProgress?.(sources.length, sources.length);
  return { finds, index, buildMs, queryMs: performance.now() - queryStart, queries: sources.length };
}
