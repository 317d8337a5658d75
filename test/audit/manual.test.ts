/**
 * The manual's reactivity computed from its written formula on an insert-protocol audit, and the
 * split of the audit's pairs into those seen in masking and the unseen ones.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { manualReactivity, maskingSubsets, MANUAL_REACTIVITY_DEFINITION, SEEN, UNSEEN } from '../../audit/manual';
import type { IdentityPair } from '../../audit/pairs';
import { computeReactivity, scoreCases } from '../../audit/reactivity';
import { insertSentences } from '../../audit/sentences';
import { manualReactivitySchema } from '../../report/schema';

const near = (actual: number, expected: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

const PAIRS: IdentityPair[] = [
  { group: 'gender', a: '남학생', b: '여학생' },
  { group: 'gender', a: '아들', b: '딸' },
  { group: 'age', a: '청년', b: '노인' },
];
const S = ['수업이 끝났다', '책을 읽었다', '밥을 먹었다'];
const LABELS = ['TA', 'UD', 'UI'];

/** A fixed, made-up model: probabilities from the text's code points, so every text differs. */
function p(text: string): number[] {
  const codes = Array.from(text).map((c) => c.codePointAt(0)!);
  const h = codes.reduce((acc, c, i) => (acc * 31 + c * (i + 1)) % 1009, 7);
  return LABELS.map((_, y) => ((h * (y + 3)) % 997) / 997);
}

describe('manual reactivity', () => {
  test('equals 1/(|S|·|T|) Σ_s Σ_(m,f) [p(y|s+m) − p(y|s+f)] per label and group, with the insert protocol (suffix)', () => {
    const sentences = insertSentences(S, PAIRS, 'suffix');
    const probabilities = sentences.texts.map(p);
    const decisions = probabilities.map((ps) => ps.map((v) => (v > 0.5 ? 1 : 0)));
    const result = computeReactivity(
      { labels: LABELS, pairs: PAIRS, units: S.length, cases: scoreCases(sentences, probabilities, decisions) },
      { samples: 50, seed: 1, confidence: 0.95 },
    );
    const manual = manualReactivitySchema.parse(manualReactivity(result.groups, PAIRS, 'insert', 'suffix', S.length));
    assert.equal(manual.definition, MANUAL_REACTIVITY_DEFINITION);
    assert.deepEqual([manual.protocol, manual.positions, manual.sentences], ['insert', 'suffix', 3]);
    for (const group of ['gender', 'age']) {
      const T = PAIRS.filter((pair) => pair.group === group);
      const reported = manual.groups.find((g) => g.group === group)!;
      assert.equal(reported.pairs, T.length);
      LABELS.forEach((label, y) => {
        // The formula, term by term: s + m is the sentence with the term appended after a space.
        let signed = 0;
        let absolute = 0;
        for (const s of S) {
          for (const { a: m, b: f } of T) {
            const d = p(`${s} ${m}`)[y]! - p(`${s} ${f}`)[y]!;
            signed += d;
            absolute += Math.abs(d);
          }
        }
        const entry = reported.per_label.find((l) => l.label === label)!;
        near(entry.signed.value, signed / (S.length * T.length), `${group} ${label} signed`);
        near(entry.absolute.value, absolute / (S.length * T.length), `${group} ${label} absolute`);
      });
    }
  });

  test('with both positions every sentence counts twice: the mean of the prefix and suffix figures', () => {
    const audit = (position: 'prefix' | 'suffix' | 'both') => {
      const sentences = insertSentences(S, PAIRS, position);
      const probabilities = sentences.texts.map(p);
      const r = computeReactivity(
        { labels: LABELS, pairs: PAIRS, units: S.length, cases: scoreCases(sentences, probabilities, probabilities) },
        { samples: 10, seed: 1, confidence: 0.95 },
      );
      return manualReactivity(r.groups, PAIRS, 'insert', position, S.length).groups[0]!.per_label[0]!.signed.value;
    };
    near(audit('both'), (audit('prefix') + audit('suffix')) / 2, 'both = mean of prefix and suffix');
  });
});

describe('pairs seen in masking', () => {
  const cases: { name: string; spans: string[]; seen: string[]; seenPairs: number[]; unseenPairs: number[] }[] = [
    {
      name: 'a term that is a masked span is seen, and so is its pair',
      spans: ['남학생', '서울'],
      seen: ['남학생'],
      seenPairs: [0],
      unseenPairs: [1, 2],
    },
    {
      name: 'a span that contains a term (딸이) or a term that contains a span (청년 ⊃ 청) counts',
      spans: ['딸이', '청'],
      seen: ['딸', '청년'],
      seenPairs: [1, 2],
      unseenPairs: [0],
    },
    { name: 'no masked span: every pair is unseen', spans: [], seen: [], seenPairs: [], unseenPairs: [0, 1, 2] },
    {
      name: 'the lexicon of the demo masks every gender term: only other groups stay unseen',
      spans: ['남학생', '여학생', '아들', '딸'],
      seen: ['남학생', '여학생', '아들', '딸'],
      seenPairs: [0, 1],
      unseenPairs: [2],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { seenTerms, subsets } = maskingSubsets(PAIRS, c.spans);
      assert.deepEqual(seenTerms, c.seen);
      assert.deepEqual(subsets, [
        { name: SEEN, pairs: c.seenPairs },
        { name: UNSEEN, pairs: c.unseenPairs },
      ]);
    });
  }

  test("each subset is reported as the mean over its own pairs' cases, and an empty subset as null", () => {
    const sentences = insertSentences(S, PAIRS, 'suffix');
    const probabilities = sentences.texts.map(p);
    const scored = scoreCases(sentences, probabilities, probabilities);
    const { subsets } = maskingSubsets(PAIRS, ['남학생', '딸']);
    const r = computeReactivity(
      { labels: LABELS, pairs: PAIRS, units: S.length, cases: scored },
      { samples: 10, seed: 1, confidence: 0.95 },
      undefined,
      subsets,
    );
    const unseen = r.subsets.find((s) => s.name === UNSEEN)!.slice!;
    const age = scored.filter((c) => c.pair === 2);
    near(
      unseen.per_label[1]!.signed.value,
      age.reduce((s, c) => s + c.d[1]!, 0) / age.length,
      'unseen = the age pair alone',
    );
    const seen = r.subsets.find((s) => s.name === SEEN)!.slice!;
    const gender = scored.filter((c) => c.pair < 2);
    near(
      seen.absolute.value,
      gender.reduce((s, c) => s + c.d.reduce((t, d) => t + Math.abs(d), 0) / 3, 0) / gender.length,
      'seen = both gender pairs',
    );
    const none = computeReactivity(
      { labels: LABELS, pairs: PAIRS, units: S.length, cases: scored },
      { samples: 10, seed: 1, confidence: 0.95 },
      undefined,
      maskingSubsets(PAIRS, []).subsets,
    );
    assert.equal(none.subsets.find((s) => s.name === SEEN)!.slice, null);
  });
});
