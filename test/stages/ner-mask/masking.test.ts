import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildMasked, checkedSpans, mergeSpans, toOriginal, type Span } from '../../../stages/ner-mask/spans';
import { alignTokens, decodeTags, spansFromTokenTags } from '../../../stages/ner-mask/tags';
import { DatasetRowInvalid } from '../../../common/errors';
import { SpanOutOfBounds, SpansOverlap, TagSchemeUnknown } from '../../../stages/ner-mask/errors';
import type { SpanSource } from '../../../stages/ner-mask/contract';
import { assertMaskedConsistent } from './support';

const row = { dataset: 'rows.jsonl', line: 3, id: 'r3' };
const spans = (...list: [number, number, string][]): Span[] => list.map(([start, end, type]) => ({ start, end, type }));
const only = (source: SpanSource, list: Span[]): Map<SpanSource, Span[]> => new Map([[source, list]]);

describe('x̂ and its offset map', () => {
  const cases: { name: string; x: string; spans: Span[]; hat: string; offsets: number[][] }[] = [
    {
      name: 'a row without spans is copied whole',
      x: '오늘은 맑다',
      spans: [],
      hat: '오늘은 맑다',
      offsets: [[0, 6, 0, 6, -1]],
    },
    {
      name: 'spans become one mask each, particles stay',
      x: '김철수는 서울에 갔다.',
      spans: spans([0, 3, 'PS'], [5, 7, 'LC']),
      hat: '[MASK]는 [MASK]에 갔다.',
      offsets: [
        [0, 6, 0, 3, 0],
        [6, 8, 3, 5, -1],
        [8, 14, 5, 7, 1],
        [14, 19, 7, 12, -1],
      ],
    },
    {
      name: 'a span at the end leaves no empty segment',
      x: '나는 서울',
      spans: spans([3, 5, 'LC']),
      hat: '나는 [MASK]',
      offsets: [
        [0, 3, 0, 3, -1],
        [3, 9, 3, 5, 0],
      ],
    },
    {
      name: 'touching spans keep a mask each',
      x: '북미관계',
      spans: spans([0, 1, 'OG'], [1, 2, 'OG']),
      hat: '[MASK][MASK]관계',
      offsets: [
        [0, 6, 0, 1, 0],
        [6, 12, 1, 2, 1],
        [12, 14, 2, 4, -1],
      ],
    },
    {
      name: 'offsets count code points, so an emoji is one character',
      x: '😀 김철수 왔다',
      spans: spans([2, 5, 'PS']),
      hat: '😀 [MASK] 왔다',
      offsets: [
        [0, 2, 0, 2, -1],
        [2, 8, 2, 5, 0],
        [8, 11, 5, 8, -1],
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const masked = buildMasked(Array.from(c.x), mergeSpans(only('dataset', c.spans)), '[MASK]');
      assert.equal(masked.text, c.hat);
      assert.deepEqual(masked.offsets, c.offsets);
      assertMaskedConsistent(c.x, masked);
    });
  }

  test('an x̂ position maps back to its x character, or to the whole span it masks', () => {
    const masked = buildMasked(
      Array.from('김철수는 서울에'),
      mergeSpans(only('dataset', spans([0, 3, 'PS'], [5, 7, 'LC']))),
      '[MASK]',
    );
    assert.deepEqual(toOriginal(masked.offsets, 2), { start: 0, end: 3, span: 0 });
    assert.deepEqual(toOriginal(masked.offsets, 6), { start: 3, end: 4, span: -1 });
    assert.deepEqual(toOriginal(masked.offsets, 14), { start: 7, end: 8, span: -1 });
    assert.equal(toOriginal(masked.offsets, 99), undefined);
  });

  test('perSubtoken writes one mask per sub-token and names the sub-token each stands for', () => {
    // 서울시 = 서울 + ##시 under a WordPiece tokenizer; a token straddling the span is clipped.
    const tokens: [number, number][] = [
      [0, 3],
      [3, 4],
      [5, 7],
      [7, 8],
      [8, 9],
      [10, 12],
    ];
    const masked = buildMasked(
      Array.from('김철수는 서울시에 갔다'),
      mergeSpans(only('dataset', spans([5, 8, 'LC'], [1, 3, 'PS']))),
      '[MASK]',
      tokens,
    );
    assert.equal(masked.text, '김[MASK]는 [MASK][MASK]에 갔다');
    assert.deepEqual(
      masked.spans.map((s) => [s.masks, s.subtokens]),
      [
        [1, [[1, 3]]],
        [
          2,
          [
            [5, 7],
            [7, 8],
          ],
        ],
      ],
    );
    assertMaskedConsistent('김철수는 서울시에 갔다', masked);
  });
});

describe('spans from several sources', () => {
  test('overlapping spans of different sources merge into their union, typed by the first source', () => {
    const merged = mergeSpans(
      new Map<SpanSource, Span[]>([
        ['morph', spans([5, 7, 'NNP'])],
        ['lexicon', spans([0, 2, '성별'])],
        ['dataset', spans([0, 3, 'PS'], [6, 9, 'LC'])],
      ]),
    );
    assert.deepEqual(
      merged.map(({ start, end, type, source }) => ({ start, end, type, source })),
      [
        { start: 0, end: 3, type: 'PS', source: 'dataset+lexicon' },
        { start: 5, end: 9, type: 'LC', source: 'dataset+morph' },
      ],
    );
    assert.equal(merged[1]!.parts.length, 2);
  });

  test('merging does not depend on the order sources arrive in', () => {
    const a = new Map<SpanSource, Span[]>([
      ['onnx', spans([1, 4, 'PS'])],
      ['dataset', spans([0, 2, 'PS'])],
      ['lexicon', spans([3, 6, 'identity'])],
    ]);
    const b = new Map<SpanSource, Span[]>([...a].reverse());
    assert.deepEqual(mergeSpans(a), mergeSpans(b));
    assert.deepEqual(
      mergeSpans(a).map((s) => [s.start, s.end, s.source]),
      [[0, 6, 'dataset+lexicon+onnx']],
    );
  });

  test('touching spans of different sources stay apart', () => {
    assert.equal(
      mergeSpans(
        new Map<SpanSource, Span[]>([
          ['dataset', spans([0, 2, 'PS'])],
          ['lexicon', spans([2, 4, 'x'])],
        ]),
      ).length,
      2,
    );
  });

  const bad: { name: string; spans: Span[]; error: typeof SpanOutOfBounds | typeof SpansOverlap; message: RegExp }[] = [
    {
      name: 'a span past the end',
      spans: spans([2, 9, 'PS']),
      error: SpanOutOfBounds,
      message:
        /row "r3" \(line 3 of rows\.jsonl\): dataset span \[2, 9\) PS is out of bounds of the text \(5 characters\)/,
    },
    {
      name: 'a negative start',
      spans: spans([-1, 2, 'PS']),
      error: SpanOutOfBounds,
      message: /row "r3".*out of bounds/,
    },
    {
      name: 'overlapping spans',
      spans: spans([0, 3, 'PS'], [2, 4, 'LC']),
      error: SpansOverlap,
      message: /row "r3" \(line 3 of rows\.jsonl\): dataset spans \[0, 3\) PS and \[2, 4\) LC overlap/,
    },
  ];
  for (const c of bad) {
    test(`${c.name} within one source is a non-retryable error naming the row`, () => {
      assert.throws(
        () => checkedSpans(c.spans, 5, row, 'dataset'),
        (e: unknown) => e instanceof c.error && !e.retryable && c.message.test(e.message),
      );
    });
  }

  test('a source listing the same span twice counts it once', () => {
    assert.deepEqual(checkedSpans(spans([0, 2, 'PS'], [0, 2, 'PS']), 5, row, 'dataset'), spans([0, 2, 'PS']));
  });
});

describe('token-level tags', () => {
  const cases: { name: string; tags: (string | null)[]; spans: [number, number, string][] }[] = [
    {
      name: 'BIO/IOB2',
      tags: ['B-PS', 'I-PS', 'O', 'B-LC', 'B-LC', 'I-LC'],
      spans: [
        [0, 2, 'PS'],
        [3, 4, 'LC'],
        [4, 6, 'LC'],
      ],
    },
    {
      name: 'BIOES',
      tags: ['S-PS', 'O', 'B-OG', 'I-OG', 'E-OG', 'S-LC'],
      spans: [
        [0, 1, 'PS'],
        [2, 5, 'OG'],
        [5, 6, 'LC'],
      ],
    },
    {
      name: 'IOB1 (I- opens an entity)',
      tags: ['I-PS', 'I-PS', 'I-LC', 'O', 'I-DT'],
      spans: [
        [0, 2, 'PS'],
        [2, 3, 'LC'],
        [4, 5, 'DT'],
      ],
    },
    {
      name: 'continuation sub-token (-100)',
      tags: ['B-PS', null, null, 'O', null, 'B-LC'],
      spans: [
        [0, 3, 'PS'],
        [5, 6, 'LC'],
      ],
    },
    { name: 'all-O', tags: ['O', 'O'], spans: [] },
  ];
  for (const c of cases) {
    test(`${c.name} tags decode to entity spans`, () => {
      assert.deepEqual(decodeTags(c.tags, row), spans(...c.spans));
    });
  }

  for (const tag of ['PER', 'L-PS', 'U-LC', 'B_PS', 'b-ps', 'B-']) {
    test(`the tag ${JSON.stringify(tag)} is an unknown scheme, named with its row`, () => {
      assert.throws(
        () => decodeTags(['O', tag], row),
        (e: unknown) =>
          e instanceof TagSchemeUnknown &&
          !e.retryable &&
          e.message.includes('row "r3" (line 3 of rows.jsonl)') &&
          e.message.includes(`tag ${JSON.stringify(tag)} at token 1`),
      );
    });
  }

  const alignments: { name: string; text: string; tokens: string[]; ranges: ([number, number] | undefined)[] }[] = [
    {
      name: 'WordPiece tokens with special tokens',
      text: '김철수는 서울에',
      tokens: ['[CLS]', '김', '##철', '##수', '##는', '서울', '##에', '[SEP]'],
      ranges: [undefined, [0, 1], [1, 2], [2, 3], [3, 4], [5, 7], [7, 8], undefined],
    },
    {
      name: 'SentencePiece pieces',
      text: '김철수는 서울',
      tokens: ['<s>', '▁김철수', '는', '▁', '서울', '</s>'],
      ranges: [undefined, [0, 3], [3, 4], undefined, [5, 7], undefined],
    },
    {
      name: 'an uncased vocabulary',
      text: 'KBS 뉴스',
      tokens: ['kbs', '뉴스'],
      ranges: [
        [0, 3],
        [4, 6],
      ],
    },
    {
      name: 'unknown tokens (one per word)',
      text: '☃ 서울 ☂',
      tokens: ['[UNK]', '서울', '[UNK]'],
      ranges: [
        [0, 1],
        [2, 4],
        [5, 6],
      ],
    },
  ];
  for (const c of alignments) {
    test(`${c.name}: tokens align to their characters`, () => {
      assert.deepEqual(alignTokens(Array.from(c.text), c.tokens, row), c.ranges);
    });
  }

  test('tags over aligned tokens give character spans', () => {
    const text = Array.from('김철수는 서울에');
    const tokens = ['[CLS]', '김', '##철', '##수', '##는', '서울', '##에', '[SEP]'];
    const tags = ['O', 'B-PS', 'I-PS', 'I-PS', 'O', 'B-LC', 'O', 'O'];
    assert.deepEqual(spansFromTokenTags(alignTokens(text, tokens, row), tags, row), spans([0, 3, 'PS'], [5, 7, 'LC']));
  });

  test('tokens that are not the text’s are an error naming the row', () => {
    assert.throws(
      () => alignTokens(Array.from('김철수'), ['박', '##영희'], row),
      (e: unknown) =>
        e instanceof DatasetRowInvalid &&
        /row "r3".*token 0 "박" does not match the text at character 0/.test(e.message),
    );
  });
});
