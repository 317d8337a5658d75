/**
 * Mappings: every label rule turns cells into the canonical labels, and every bad cell becomes a
 * row problem with its reason; text, id, pair and meta are read and checked.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileMapping, type MapResult } from '../../../stages/dataset/mapping';
import type { RecordView } from '../../../stages/dataset/records';
import { mappingSchema, type Column } from '../../../stages/dataset/contract';

/** A record view over a plain object (as a JSON source gives). */
function view(cells: Record<string, unknown>): RecordView {
  return {
    has: (c: Column) => Object.hasOwn(cells, String(c)),
    get: (c: Column) => cells[String(c)],
  };
}

function mapWith(mapping: unknown, cells: Record<string, unknown>): MapResult {
  return compileMapping(mappingSchema.parse(mapping)).map(view({ t: 'some text', ...cells }));
}

/** The labels of a row that maps, or the reason it does not. */
function outcome(result: MapResult): unknown {
  return result.ok ? result.row.labels : result.reason;
}

const rules: { sentence: string; mapping: unknown; rows: [Record<string, unknown>, unknown][] }[] = [
  {
    sentence: 'labels.columns: one 0/1 column per label',
    mapping: { text: 't', labels: { columns: ['a', 'b'] } },
    rows: [
      [{ a: '0', b: '1' }, [0, 1]],
      [{ a: '1.0', b: 0 }, [1, 0]],
      [{ a: '0.5', b: '1' }, 'label-not-binary'],
      [{ a: 'x', b: '1' }, 'label-not-a-number'],
      [{ a: '', b: '1' }, 'label-not-a-number'],
      [{ a: 'NaN', b: '1' }, 'label-not-a-number'],
      [{ a: '1' }, 'missing-column'],
    ],
  },
  {
    sentence: 'labels.columns with a threshold: a share ≥ the threshold is 1',
    mapping: { text: 't', labels: { columns: ['a', 'b'], threshold: 0.5 } },
    rows: [
      [{ a: '0.5', b: '0.499' }, [1, 0]],
      [{ a: '0.833333333', b: '0' }, [1, 0]],
    ],
  },
  {
    sentence: 'labels.column with a separator: class ids listed in one cell (K-MHaS)',
    mapping: { text: 't', labels: { column: 'l', separator: ',', classes: 4 } },
    rows: [
      [{ l: '1,3' }, [0, 1, 0, 1]],
      [{ l: ' 2 ' }, [0, 0, 1, 0]],
      [{ l: 0 }, [1, 0, 0, 0]],
      [{ l: '4' }, 'label-out-of-range'],
      [{ l: 'x' }, 'label-unknown'],
      [{ l: '' }, 'label-missing'],
      [{ l: null }, 'label-missing'],
    ],
  },
  {
    sentence: 'labels.column with a separator and class names',
    mapping: { text: 't', labels: { column: 'l', separator: '|', classes: ['a', 'b', 'c'] } },
    rows: [
      [{ l: 'b|c' }, [0, 1, 1]],
      [{ l: '0' }, [1, 0, 0]],
      [{ l: 'd' }, 'label-unknown'],
    ],
  },
  {
    sentence: 'labels.column holding the vector (ethics-problems), its length from labelNames',
    mapping: { text: 't', labels: { column: 'l' }, labelNames: ['TA', 'UD', 'UI'] },
    rows: [
      [{ l: [1, 0, 0] }, [1, 0, 0]],
      [{ l: '[0, 1, 1]' }, [0, 1, 1]],
      [{ l: [1, 0] }, 'label-length'],
      [{ l: [2, 0, 0] }, 'label-not-binary'],
      [{ l: [true, 0, 0] }, 'label-not-binary'],
      [{ l: 'oops' }, 'label-not-binary'],
    ],
  },
  {
    sentence: 'label.classes by name (KoSBi safe/unsafe)',
    mapping: { text: 't', label: { column: 'l', classes: ['safe', 'unsafe'] } },
    rows: [
      [{ l: 'unsafe' }, 1],
      [{ l: 'Safe' }, 'label-unknown'],
      [{ l: null }, 'label-missing'],
    ],
  },
  {
    sentence: 'label.classes as a count: the cell is the class index',
    mapping: { text: 't', label: { column: 'l', classes: 3 } },
    rows: [
      [{ l: '2' }, 2],
      [{ l: 0 }, 0],
      [{ l: '3' }, 'label-out-of-range'],
      [{ l: '1.5' }, 'label-out-of-range'],
      [{ l: 'one' }, 'label-not-a-number'],
    ],
  },
  {
    sentence: 'label.map: names to indices, several names may share one',
    mapping: { text: 't', label: { column: 'l', map: { none: 0, offensive: 1, hate: 1 } } },
    rows: [
      [{ l: 'hate' }, 1],
      [{ l: 'none' }, 0],
      [{ l: 'toxic' }, 'label-unknown'],
    ],
  },
  {
    sentence: 'label.threshold: value ≥ threshold gives `above`',
    mapping: { text: 't', label: { column: 'v', threshold: 0.5, above: 1 } },
    rows: [
      [{ v: '0.5' }, 1],
      [{ v: '0.4999' }, 0],
      [{ v: 1 }, 1],
      [{ v: 'nan' }, 'label-not-a-number'],
    ],
  },
  {
    sentence: 'label.threshold with above: 0 flips the classes',
    mapping: { text: 't', label: { column: 'v', threshold: 0.5, above: 0 } },
    rows: [
      [{ v: '0.7' }, 0],
      [{ v: '0.2' }, 1],
    ],
  },
];

describe('every label rule maps cells to canonical labels, and bad cells to a reason', () => {
  for (const rule of rules) {
    test(rule.sentence, () => {
      for (const [cells, expected] of rule.rows)
        assert.deepEqual(outcome(mapWith(rule.mapping, cells)), expected, JSON.stringify(cells));
    });
  }

  test('a vector column without a length takes it from the first row', () => {
    const compiled = compileMapping(mappingSchema.parse({ text: 't', labels: { column: 'l' } }));
    assert.deepEqual(outcome(compiled.map(view({ t: 'x', l: [0, 1] }))), [0, 1]);
    assert.equal(outcome(compiled.map(view({ t: 'x', l: [0, 1, 0] }))), 'label-length');
    assert.deepEqual(compiled.labelNames(), ['0', '1']);
  });

  test('a median threshold keeps the value for later; the stage labels it once the median is known', () => {
    const compiled = compileMapping(
      mappingSchema.parse({ text: 't', label: { column: 'isHate', threshold: 'median' } }),
    );
    const result = compiled.map(view({ t: 'x', isHate: '0.333' }));
    assert.ok(result.ok);
    assert.equal(result.row.value, 0.333);
    assert.deepEqual(compiled.median, { column: 'isHate', above: 1 });
  });
});

describe('text, id, pair and meta', () => {
  const mapping = { text: 't', id: 'id', pair: { text: 'ctx' }, meta: ['g'], label: { column: 'l', classes: 2 } };
  const cells = { t: '문장', id: 7, ctx: '맥락', g: ['a'], l: 1 };

  test('a complete record maps to every part', () => {
    const result = mapWith(mapping, cells);
    assert.ok(result.ok);
    assert.deepEqual(result.row, { text: '문장', id: '7', pair: { text: '맥락' }, meta: { g: ['a'] }, labels: 1 });
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ['a text that is not a string', { t: 42 }, 'text-not-string'],
    ['an empty text', { t: '' }, 'empty-text'],
    ['a text of spaces', { t: ' \t ' }, 'empty-text'],
    ['an empty id', { id: '' }, 'id-missing'],
    ['a null id', { id: null }, 'id-missing'],
    ['a pair text that is not a string', { ctx: null }, 'pair-missing'],
  ];
  for (const [what, change, reason] of bad) {
    test(`${what} is rejected as ${reason}`, () => {
      const result = mapWith(mapping, { ...cells, ...change });
      assert.ok(!result.ok);
      assert.equal(result.reason, reason);
    });
  }

  test('a missing column is rejected, naming it', () => {
    const result = compileMapping(mappingSchema.parse(mapping)).map(view({ t: 'x', id: '1', ctx: 'c', l: 0 }));
    assert.deepEqual(result, { ok: false, reason: 'missing-column', detail: 'no column "g"' });
  });
});

describe('label names for the card', () => {
  const cases: [string, unknown, string[]][] = [
    ['columns name themselves', { text: 't', labels: { columns: ['a', 'b'] } }, ['a', 'b']],
    ['labelNames win', { text: 't', labels: { columns: ['a', 'b'] }, labelNames: ['A', 'B'] }, ['A', 'B']],
    ['a count gives indices', { text: 't', labels: { column: 'l', separator: ',', classes: 3 } }, ['0', '1', '2']],
    [
      'a map joins the names of one index',
      { text: 't', label: { column: 'l', map: { none: 0, offensive: 1, hate: 1 } } },
      ['none', 'offensive|hate'],
    ],
    [
      'a threshold names both sides',
      { text: 't', label: { column: 'v', threshold: 'median' } },
      ['v < median', 'v ≥ median'],
    ],
  ];
  for (const [sentence, mapping, expected] of cases) {
    test(sentence, () => assert.deepEqual(compileMapping(mappingSchema.parse(mapping)).labelNames(), expected));
  }
});
