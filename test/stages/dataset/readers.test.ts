/**
 * The other source readers: a streamed JSON array (items cut at any chunk boundary, broken items
 * as row problems, a broken array as DatasetMalformed naming the byte), JSON Lines, the klue-ner
 * adapter (text and code-point entity spans from character-level BIO), and the UTF-8 check.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readJsonArray, readJsonl } from '../../../stages/dataset/json';
import { readKlueNer } from '../../../stages/dataset/klue-ner';
import { firstInvalidUtf8, type SourceRecord } from '../../../stages/dataset/records';
import { DatasetMalformed } from '../../../stages/dataset/errors';

type Reader = (input: AsyncIterable<Buffer>, source: string) => AsyncGenerator<SourceRecord[]>;

async function read(reader: Reader, input: string | Buffer, size = 0, source = 'x.json'): Promise<SourceRecord[]> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  async function* chunks(): AsyncGenerator<Buffer> {
    if (size === 0) yield bytes;
    else for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  const out: SourceRecord[] = [];
  for await (const batch of reader(chunks(), source)) out.push(...batch);
  return out;
}

/** A record as a short comparable value: the object's `a`, or the reject reason. */
function summary(record: SourceRecord): unknown {
  const at =
    record.where.item !== undefined
      ? `item ${record.where.item} line ${record.where.line}`
      : `line ${record.where.line}`;
  if (record.kind === 'invalid') return `${at}: ${record.reason}`;
  if (record.kind === 'row') return `${at}: ${record.row.text}`;
  return `${at}: ${JSON.stringify(record.view.get('a'))}`;
}

describe('a JSON array streams item by item', () => {
  const cases: { sentence: string; input: string; expected: string[] }[] = [
    {
      sentence: 'objects on one line',
      input: '[{"a":1},{"a":"x,]}"},{"a":[1,{"d":"\\""}]}]',
      expected: ['item 1 line 1: 1', 'item 2 line 1: "x,]}"', 'item 3 line 1: [1,{"d":"\\""}]'],
    },
    {
      sentence: 'pretty-printed objects, with their start lines',
      input: '[\n  {\n    "a": "b"\n  },\n  {"a": null}\n]\n',
      expected: ['item 1 line 2: "b"', 'item 2 line 5: null'],
    },
    { sentence: 'an empty array', input: ' [ ] ', expected: [] },
    {
      sentence: 'an item that is not JSON is a row problem; the others load',
      input: '[{"a":1},{"a":tru},{"a":2}]',
      expected: ['item 1 line 1: 1', 'item 2 line 1: invalid-json', 'item 3 line 1: 2'],
    },
    {
      sentence: 'an item that is not an object is a row problem',
      input: '[1, "s", {"a":3}, null]',
      expected: [
        'item 1 line 1: not-an-object',
        'item 2 line 1: not-an-object',
        'item 3 line 1: 3',
        'item 4 line 1: not-an-object',
      ],
    },
    {
      sentence: 'escaped quotes and backslashes do not end a string',
      input: '[{"a":"\\\\"},{"a":"\\\\\\""}]',
      expected: ['item 1 line 1: "\\\\"', 'item 2 line 1: "\\\\\\""'],
    },
  ];
  for (const c of cases) {
    test(c.sentence, async () => {
      for (const size of [0, 1, 2, 5])
        assert.deepEqual(
          (await read(readJsonArray, c.input, size)).map(summary),
          c.expected,
          `chunks of ${size} bytes`,
        );
    });
  }

  const broken: { sentence: string; input: string; message: RegExp }[] = [
    {
      sentence: 'a truncated file names the byte where it ends and the item it cut',
      input: '[{"a":1},\n{"a":"xy',
      message: /^x\.json: byte 18: truncated JSON: the file ends inside item 2 \(which starts at line 2, byte 10\)$/,
    },
    {
      sentence: 'a file cut after an item is truncated too',
      input: '[{"a":1}',
      message: /^x\.json: byte 8: truncated JSON: the file ends after item 1, before the closing "\]"$/,
    },
    {
      sentence: 'a missing comma is named',
      input: '[{"a":1} {"a":2}]',
      message: /^x\.json: byte 9: expected "," or "\]" after item 1/,
    },
    {
      sentence: 'bytes after the closing bracket are refused',
      input: '[{"a":1}] []',
      message: /^x\.json: byte 10: data after the closing "\]"/,
    },
    { sentence: 'a trailing comma is refused', input: '[{"a":1},]', message: /trailing comma is not JSON/ },
    {
      sentence: 'a file that is not an array is refused',
      input: '{"a":1}',
      message: /^x\.json: byte 0: not a JSON array: expected "\[", found "\{"$/,
    },
  ];
  for (const c of broken) {
    test(c.sentence, async () => {
      for (const size of [0, 1, 3]) {
        await assert.rejects(read(readJsonArray, c.input, size), (error: unknown) => {
          assert.ok(error instanceof DatasetMalformed, String(error));
          assert.match(error.message, c.message);
          return true;
        });
      }
    });
  }

  test('an item with invalid UTF-8 names the byte offset; the items around it load', async () => {
    const bytes = Buffer.concat([
      Buffer.from('[{"a":"ok"},{"a":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"},{"a":"가"}]'),
    ]);
    const records = await read(readJsonArray, bytes, 3);
    assert.deepEqual(records.map(summary), [
      'item 1 line 1: "ok"',
      'item 2 line 1: invalid-utf8',
      'item 3 line 1: "가"',
    ]);
    const bad = records[1]!;
    assert.ok(bad.kind === 'invalid');
    assert.equal(bad.detail, 'invalid UTF-8: byte 0xc3 at offset 18');
  });
});

describe('JSON Lines: one object per line', () => {
  test('objects load with their lines; blank lines are skipped; CRLF is fine; a bad line is a row problem', async () => {
    const input = '{"a":1}\r\n\n{"a":"x"}\n{oops}\n   \n[1]\n{"a":2}';
    for (const size of [0, 1, 4]) {
      assert.deepEqual((await read(readJsonl, input, size, 'x.jsonl')).map(summary), [
        'line 1: 1',
        'line 3: "x"',
        'line 4: invalid-json',
        'line 6: not-an-object',
        'line 7: 2',
      ]);
    }
  });
});

describe('the klue-ner adapter', () => {
  const header = '## 토큰, 레이블 구분자 : \\t\n## 컬럼명 : CHAR\tNE_TAG\n';
  const sentence = (id: string, marked: string, lines: [string, string][]): string =>
    `## ${id}\t${marked}\n${lines.map(([c, t]) => `${c}\t${t}`).join('\n')}\n\n`;

  test('builds text, id and BIO spans; offsets count code points', async () => {
    const input =
      header +
      sentence('s-1', '<박:PS>씨 <3명:QT>', [
        ['박', 'B-PS'],
        ['씨', 'O'],
        [' ', 'O'],
        ['3', 'B-QT'],
        ['명', 'I-QT'],
      ]) +
      sentence('s-2', '😀 <서울:LC>', [
        ['😀', 'O'],
        [' ', 'O'],
        ['서', 'B-LC'],
        ['울', 'I-LC'],
      ]);
    for (const size of [0, 1, 7]) {
      const records = await read(readKlueNer, input, size, 'dev.tsv');
      assert.equal(records.length, 2);
      const [first, second] = records;
      assert.ok(first?.kind === 'row' && second?.kind === 'row');
      assert.deepEqual(first.row, {
        id: 's-1',
        text: '박씨 3명',
        entities: [
          { start: 0, end: 1, type: 'PS' },
          { start: 3, end: 5, type: 'QT' },
        ],
      });
      assert.equal(first.where.line, 3);
      // The emoji is one code point (two UTF-16 units): 서울 starts at code point 2.
      assert.deepEqual(second.row.entities, [{ start: 2, end: 4, type: 'LC' }]);
      assert.equal(second.where.line, 10);
    }
  });

  const broken: { sentence: string; lines: [string, string][]; marked: string; detail: RegExp }[] = [
    {
      sentence: 'an I- tag that continues no entity',
      lines: [
        ['a', 'O'],
        ['b', 'I-PS'],
      ],
      marked: 'ab',
      detail: /tag I-PS at character 2 continues no PS entity/,
    },
    {
      sentence: 'an I- tag of another type',
      lines: [
        ['a', 'B-OG'],
        ['b', 'I-PS'],
      ],
      marked: '<a:OG>b',
      detail: /continues no PS entity/,
    },
    { sentence: 'an unknown tag', lines: [['a', 'X-PS']], marked: 'a', detail: /expected CHARACTER<TAB>TAG/ },
    {
      sentence: 'characters that differ from the ## text',
      lines: [
        ['a', 'O'],
        ['c', 'O'],
      ],
      marked: 'ab',
      detail: /the characters spell "ac", the ## line "ab"/,
    },
  ];
  for (const c of broken) {
    test(`rejects a sentence with ${c.sentence}, naming its line`, async () => {
      const records = await read(
        readKlueNer,
        header + sentence('ok', 'z', [['z', 'O']]) + sentence('bad', c.marked, c.lines),
        0,
        'dev.tsv',
      );
      assert.equal(records[0]?.kind, 'row');
      const bad = records[1];
      assert.ok(bad?.kind === 'invalid');
      assert.equal(bad.reason, 'malformed-record');
      assert.equal(bad.where.line, 6);
      assert.match(bad.detail, c.detail);
    });
  }
});

describe('the UTF-8 check names the first byte of the first ill-formed sequence', () => {
  const cases: [string, number[], number][] = [
    ['ASCII and Hangul are well-formed', [0x61, 0xea, 0xb0, 0x80], -1],
    ['a 4-byte emoji is well-formed', [0xf0, 0x9f, 0x98, 0x80], -1],
    ['a stray continuation byte', [0x61, 0x80], 1],
    ['an overlong encoding of "/"', [0xc0, 0xaf], 0],
    ['an encoded surrogate', [0x61, 0x62, 0xed, 0xa0, 0x80], 2],
    ['a sequence cut short', [0xea, 0xb0], 0],
    ['a byte that never occurs in UTF-8', [0x61, 0xff], 1],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80], 0],
  ];
  for (const [sentence, bytes, expected] of cases) {
    test(sentence, () => {
      assert.equal(firstInvalidUtf8(Uint8Array.from(bytes)), expected);
      // The same verdict as the WHATWG decoder in fatal mode.
      let fatal = false;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
      } catch {
        fatal = true;
      }
      assert.equal(fatal, expected >= 0);
    });
  }
});
