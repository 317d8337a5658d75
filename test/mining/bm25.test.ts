/**
 * BM25 over character n-grams, and the lexical hard-negative recipe: exact scores on a corpus
 * small enough to compute by hand, Korean neighbours found through attached particles, and the
 * rule that a neighbour must carry another label.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Bm25Index, mineLexical, terms, type LexicalPool } from '../../mining/bm25';

const OKAPI = { k1: 1.2, b: 0.75 };

/** Scores of every document for a query, by index. */
function scores(index: Bm25Index, query: string | number): Map<number, number> {
  const out = new Map<number, number>();
  index.search(query, (doc, score) => out.set(doc, score));
  return out;
}

/** A multilabel pool from [id, text, labels] triples. */
function pool(rows: readonly [string, string, readonly (0 | 1)[]][]): LexicalPool {
  const width = rows[0]![2].length;
  return {
    ids: rows.map((r) => r[0]),
    texts: rows.map((r) => r[1]),
    width,
    positive: Uint8Array.from(rows.flatMap((r) => r[2])),
  };
}

describe('terms', () => {
  test('a Korean token becomes its syllable bigrams and trigrams, particle included', () => {
    assert.deepEqual(terms('남학생이', [2, 3]), ['남학', '학생', '생이', '남학생', '학생이']);
  });

  test('punctuation separates tokens, Latin is lowercased, and a token shorter than the smallest gram is kept whole', () => {
    assert.deepEqual(terms('Hi, 너!', [2, 2]), ['hi', '너']);
  });

  test('decomposed Hangul (jamo) gives the same terms as composed syllables', () => {
    assert.deepEqual(terms('학생'.normalize('NFD'), [1, 2]), terms('학생', [1, 2]));
  });
});

describe('BM25 scores', () => {
  // Trigrams of three-letter words: every token is exactly one term, so the numbers below follow
  // from the formula by hand. N = 3, |d| = 2, 3, 1, avgdl = 2; df(cat) = 2, df(dog) = 1, df(owl) = 2.
  const index = new Bm25Index(['cat dog', 'cat cat owl', 'owl'], { ngrams: [3, 3], ...OKAPI });

  test('idf is ln(1 + (N − df + 0.5) / (df + 0.5))', () => {
    assert.equal(index.averageLength, 2);
    assert.equal(index.idf('cat'), Math.log(1.6)); // ln(1 + 1.5 / 2.5)
    assert.equal(index.idf('dog'), Math.log(1 + 2.5 / 1.5));
    assert.ok(Math.abs(index.idf('dog') - 0.9808292530117262) < 1e-15);
    assert.equal(index.idf('emu'), 0);
  });

  test('a document of average length with the term once scores exactly its idf', () => {
    // tf·(k1+1) / (tf + k1·(1 − b + b·2/2)) = 2.2 / 2.2
    assert.ok(Math.abs(index.score('cat', 0) - 0.47000362924573563) < 1e-15);
  });

  test('term frequency saturates and longer documents are normalised', () => {
    // d1: tf 2, |d| 3: ln 1.6 · 2·2.2 / (2 + 1.2·(0.25 + 0.75·1.5)) = ln 1.6 · 4.4 / 3.65
    assert.ok(Math.abs(index.score('cat', 1) - 0.5665797174469143) < 1e-15);
    assert.equal(index.score('cat', 2), 0);
  });

  test('a query sums its distinct terms once each, and a document query equals its text', () => {
    // d1 for "cat owl": ln 1.6 · (4.4 / 3.65 + 2.2 / 2.65)
    assert.ok(Math.abs(index.score('cat owl owl', 1) - 0.9567714096509212) < 1e-15);
    assert.deepEqual(scores(index, 1), scores(index, 'cat cat owl'));
    assert.deepEqual([...scores(index, 'dog').keys()], [0]);
  });
});

describe('Korean neighbours', () => {
  const texts = [
    '남학생이 도서관에서 공부를 한다',
    '남학생은 도서관에서 공부한다',
    '여자가 버스를 타고 간다',
    '아버지는 회사에 출근한다',
  ];

  test('sentences that differ in their particles are each other’s nearest neighbours', () => {
    const index = new Bm25Index(texts, { ngrams: [2, 3], ...OKAPI });
    const found = scores(index, 0);
    found.delete(0);
    const ranked = [...found.entries()].sort((a, b) => b[1] - a[1]);
    assert.equal(ranked[0]![0], 1);
    assert.ok(ranked[0]![1] > 3 * (ranked[1]?.[1] ?? 0), `${JSON.stringify(ranked)}`);
  });

  test('whole words alone would not find them: 남학생이 and 남학생은 share no token', () => {
    const index = new Bm25Index(texts, { ngrams: [16, 16], ...OKAPI });
    assert.equal(index.score('남학생이', 1), 0);
    assert.ok(new Bm25Index(texts, { ngrams: [2, 3], ...OKAPI }).score('남학생이', 1) > 0);
  });
});

describe('lexical hard negatives', () => {
  const options = { ngrams: [2, 3] as const, ...OKAPI, minScore: 0, labelNames: ['hate', 'clean'] };

  test('a positive’s neighbours are the look-alikes negative for its label, never itself', async () => {
    const rows = pool([
      ['a', '남학생이 시험에서 부정행위를 했다', [1, 0]],
      ['b', '남학생은 시험에서 부정행위를 했다', [1, 0]], // closest, but the same label
      ['c', '남학생은 시험에서 좋은 점수를 받았다', [0, 1]], // a look-alike with another label
      ['d', '여자가 버스를 타고 간다', [0, 1]],
    ]);
    const { finds } = await mineLexical(rows, { ...options, neighbours: 1, labels: [0] });
    const forA = finds.filter((f) => f.provenance.source_id === 'a');
    assert.deepEqual(
      forA.map((f) => [f.provenance.reason, f.provenance.label, f.provenance.neighbour_id]),
      [['bm25', 'hate', 'c']],
    );
    assert.ok(forA[0]!.provenance.score > 0);
    assert.ok(finds.every((f) => f.provenance.source_id !== f.provenance.neighbour_id));
    // Only positives ask: c and d are not positive for "hate".
    assert.deepEqual([...new Set(finds.map((f) => f.provenance.source_id))].sort(), ['a', 'b']);
  });

  test('neighbours come best first, ties broken by the smaller id, at most `neighbours` each', async () => {
    const rows = pool([
      ['q', '고양이 강아지', [1, 0]],
      ['z', '고양이', [0, 1]],
      ['y', '고양이', [0, 1]], // the same text as z: the same score, the smaller id first
      ['x', '강아지 고양이 강아지', [0, 1]],
    ]);
    const { finds } = await mineLexical(rows, { ...options, neighbours: 2, labels: [0] });
    const index = new Bm25Index(rows.texts, { ngrams: [2, 3], ...OKAPI });
    const expected = [...scores(index, 0).entries()]
      .filter(([d]) => d !== 0)
      .sort((a, b) => b[1] - a[1] || (rows.ids[a[0]]! < rows.ids[b[0]]! ? -1 : 1));
    assert.deepEqual(
      finds.map((f) => [f.provenance.neighbour_id, f.provenance.score]),
      expected.slice(0, 2).map(([d, s]) => [rows.ids[d], s]),
    );
    assert.deepEqual(
      finds.map((f) => f.provenance.neighbour_id),
      ['x', 'y'],
    );
  });

  test('in a multiclass pool (one-hot) a neighbour must have another class', async () => {
    const rows: LexicalPool = {
      ids: ['a', 'b', 'c'],
      texts: ['누나가 학교에 간다', '누나는 학교에 간다', '누나와 학교에 갔다'],
      width: 3,
      positive: Uint8Array.from([1, 0, 0, 1, 0, 0, 0, 0, 1]),
    };
    const { finds } = await mineLexical(rows, {
      ...options,
      labelNames: ['x', 'y', 'z'],
      neighbours: 5,
      labels: [0, 1, 2],
    });
    for (const f of finds) {
      const source = rows.ids.indexOf(f.provenance.source_id);
      const neighbour = rows.ids.indexOf(f.provenance.neighbour_id);
      assert.notDeepEqual(
        rows.positive.subarray(source * 3, source * 3 + 3),
        rows.positive.subarray(neighbour * 3, neighbour * 3 + 3),
      );
    }
    assert.deepEqual(
      finds.map((f) => `${f.provenance.source_id}>${f.provenance.neighbour_id}:${f.provenance.label}`).sort(),
      ['a>c:x', 'b>c:x', 'c>a:z', 'c>b:z'],
    );
  });

  test('neighbours at or below minScore are not kept', async () => {
    const rows = pool([
      ['a', '고양이 강아지', [1, 0]],
      ['b', '고양이', [0, 1]],
    ]);
    const all = await mineLexical(rows, { ...options, neighbours: 1, labels: [0] });
    const top = all.finds[0]!.provenance.score;
    assert.equal((await mineLexical(rows, { ...options, neighbours: 1, labels: [0], minScore: top })).finds.length, 0);
  });

  test('a cancelled signal stops the queries', async () => {
    const rows = pool([
      ['a', '고양이', [1, 0]],
      ['b', '고양이', [0, 1]],
    ]);
    const abort = new AbortController();
    abort.abort(new Error('cancelled'));
    await assert.rejects(
      mineLexical(rows, { ...options, neighbours: 1, labels: [0], signal: abort.signal }),
      /cancelled/,
    );
  });
});
