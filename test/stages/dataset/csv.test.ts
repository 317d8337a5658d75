/**
 * The streaming CSV/TSV parser: RFC 4180 quoting (delimiters, newlines and doubled quotes inside
 * quoted fields), CRLF, record start lines and offsets, chunk boundaries anywhere, the errors it
 * names, and the same reading as Python's csv module on every delimited file in ../shared/data.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { z } from 'zod';
import { parseCsv, type CsvParseOptions, type CsvRecord } from '../../../stages/dataset/csv';
import { DatasetMalformed } from '../../../stages/dataset/errors';
import { trainerVenvPython } from '../../../common/paths';
import { SHARED_DATA } from '../../shared-data';

/** Feeds `input` to the parser in chunks of `size` bytes (0: one chunk). */
async function parse(input: string | Buffer, size = 0, options: Partial<CsvParseOptions> = {}): Promise<CsvRecord[]> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  async function* chunks(): AsyncGenerator<Buffer> {
    if (size === 0) yield bytes;
    else for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  const out: CsvRecord[] = [];
  for await (const batch of parseCsv(chunks(), { delimiter: ',', source: 'x.csv', ...options })) out.push(...batch);
  return out;
}

const fieldsOf = (records: CsvRecord[]): [string[], number][] =>
  records.map((r) => {
    if (!r.ok) assert.fail(`record at line ${r.line} failed: ${r.detail}`);
    return [r.fields, r.line];
  });

const cases: { sentence: string; input: string; options?: Partial<CsvParseOptions>; expected: [string[], number][] }[] =
  [
    {
      sentence: 'plain records end at LF, numbered by line',
      input: 'a,b\nc,d\n',
      expected: [
        [['a', 'b'], 1],
        [['c', 'd'], 2],
      ],
    },
    { sentence: 'a quoted field keeps its delimiter', input: 'x,"a,b",y\n', expected: [[['x', 'a,b', 'y'], 1]] },
    {
      sentence: 'a quoted field keeps its newline, and the next record starts on the line after it',
      input: '"line1\nline2",z\nnext,row\n',
      expected: [
        [['line1\nline2', 'z'], 1],
        [['next', 'row'], 3],
      ],
    },
    {
      sentence: 'doubled quotes inside a quoted field are one quote',
      input: '"say ""hi""",2\n"""",3\n',
      expected: [
        [['say "hi"', '2'], 1],
        [['"', '3'], 2],
      ],
    },
    {
      sentence: 'CRLF ends a record like LF',
      input: 'a,b\r\nc,d\r\n',
      expected: [
        [['a', 'b'], 1],
        [['c', 'd'], 2],
      ],
    },
    {
      sentence: 'CRLF inside a quoted field is data',
      input: '"a\r\nb",c\r\nd,e\r\n',
      expected: [
        [['a\r\nb', 'c'], 1],
        [['d', 'e'], 3],
      ],
    },
    {
      sentence: 'a lone CR ends a record too',
      input: 'a,b\rc,d',
      expected: [
        [['a', 'b'], 1],
        [['c', 'd'], 1],
      ],
    },
    {
      sentence: 'the last record needs no newline',
      input: 'a,b\nc,"d"',
      expected: [
        [['a', 'b'], 1],
        [['c', 'd'], 2],
      ],
    },
    {
      sentence: 'empty fields are empty strings',
      input: ',,\n"",x\n',
      expected: [
        [['', '', ''], 1],
        [['', 'x'], 2],
      ],
    },
    {
      sentence: 'empty lines are skipped, line numbers still count them',
      input: 'a\n\n\nb\n',
      expected: [
        [['a'], 1],
        [['b'], 4],
      ],
    },
    {
      sentence: 'a quote inside an unquoted field is a plain character',
      input: 'ab"c,d"\n',
      expected: [[['ab"c', 'd"'], 1]],
    },
    {
      sentence: 'text after a closing quote is appended (Python’s non-strict reading)',
      input: '"ab"c,d\n',
      expected: [[['abc', 'd'], 1]],
    },
    { sentence: 'a UTF-8 byte-order mark is dropped', input: '\ufeffa,b\n', expected: [[['a', 'b'], 1]] },
    {
      sentence: 'multi-byte characters pass through',
      input: '문장,라벨\n"안녕, 세상",1\n',
      expected: [
        [['문장', '라벨'], 1],
        [['안녕, 세상', '1'], 2],
      ],
    },
    {
      sentence: 'a tab delimiter reads TSV',
      input: 'a\t"b\tc"\n',
      options: { delimiter: '\t' },
      expected: [[['a', 'b\tc'], 1]],
    },
    {
      sentence: 'a semicolon delimiter reads ETHOS-style files',
      input: 'comment;isHate\n"a; b";1.0\n',
      options: { delimiter: ';' },
      expected: [
        [['comment', 'isHate'], 1],
        [['a; b', '1.0'], 2],
      ],
    },
    {
      sentence: 'quoting none reads quotes as data',
      input: '"a"\t"b\n',
      options: { delimiter: '\t', quoting: 'none' },
      expected: [[['"a"', '"b'], 1]],
    },
  ];

describe('the CSV parser reads RFC 4180, in any chunking', () => {
  for (const c of cases) {
    test(c.sentence, async () => {
      const whole = fieldsOf(await parse(c.input, 0, c.options));
      assert.deepEqual(whole, c.expected);
      for (const size of [1, 2, 3, 7])
        assert.deepEqual(fieldsOf(await parse(c.input, size, c.options)), c.expected, `chunks of ${size} bytes`);
    });
  }

  test('each record reports the byte offset where it starts', async () => {
    const records = await parse('\ufeffab,c\n"d\ne",f\r\ng\n', 2);
    assert.deepEqual(
      records.map((r) => r.byte),
      [3, 8, 17],
    );
  });
});

describe('the CSV parser names what is wrong and where', () => {
  test('a quoted field still open at the end of the file is malformed, naming the record’s line', async () => {
    await assert.rejects(parse('a,b\nc,"d\ne\n'), (error: unknown) => {
      assert.ok(error instanceof DatasetMalformed);
      assert.match(
        error.message,
        /^x\.csv:2: unterminated quoted field: the quote opened on line 2 is still open at the end of the file \(byte 11\)/,
      );
      return true;
    });
  });

  test('a record with invalid UTF-8 is reported with the offending byte and its offset, and the records around it still parse', async () => {
    const bytes = Buffer.concat([Buffer.from('a,b\nc,'), Buffer.from([0xff]), Buffer.from('\nd,e\n')]);
    for (const size of [0, 1, 4]) {
      const records = await parse(bytes, size);
      assert.equal(records.length, 3);
      const bad = records[1]!;
      assert.ok(!bad.ok);
      assert.equal(bad.line, 2);
      assert.equal(bad.detail, 'invalid UTF-8: byte 0xff at offset 6');
      assert.ok(records[2]!.ok);
    }
  });

  test('a character cut by a chunk boundary is not an error', async () => {
    const records = await parse('가나,다\n', 1);
    assert.deepEqual(fieldsOf(records), [[['가나', '다'], 1]]);
  });

  test('a record longer than the limit is refused (an unbalanced quote would swallow the file)', async () => {
    await assert.rejects(
      parse(`a\n"${'x'.repeat(100)}`, 16, { maxRecordBytes: 50 }),
      /x\.csv:2: a record longer than 50 bytes/,
    );
  });
});

/** Python's csv module's reading of a file: [start line, fields] per record. */
async function pythonReading(path: string, delimiter: string): Promise<[number, string[]][]> {
  const python = existsSync(trainerVenvPython()) ? trainerVenvPython() : 'python3';
  const program = [
    'import csv, json, sys',
    "f = open(sys.argv[1], newline='', encoding='utf-8')",
    'r = csv.reader(f, delimiter=sys.argv[2])',
    'out, prev = [], 0',
    'for row in r:',
    '    out.append([prev + 1, row])',
    '    prev = r.line_num',
    'print(json.dumps(out, ensure_ascii=False))',
  ].join('\n');
  const { stdout } = await promisify(execFile)(python, ['-c', program, path, delimiter], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return z.array(z.tuple([z.number(), z.array(z.string())])).parse(JSON.parse(stdout));
}

describe('the CSV parser reads every delimited shared dataset exactly as Python’s csv module does', () => {
  const files: [string, string][] = [
    ['korean-hate-speech/train.tsv', '\t'],
    ['korean-hate-speech/dev.tsv', '\t'],
    ['unsmile/train.tsv', '\t'],
    ['unsmile/valid.tsv', '\t'],
    ['kmhas/valid.txt', '\t'],
    ['ethos/binary.csv', ';'],
    ['ethos/multi_label.csv', ';'],
  ];
  for (const [file, delimiter] of files) {
    test(`${file}: every record, field and start line`, async () => {
      const path = join(SHARED_DATA, file);
      const ours: [number, string[]][] = [];
      for await (const batch of parseCsv(createReadStream(path, { highWaterMark: 4096 }), {
        delimiter,
        source: file,
      })) {
        for (const record of batch) {
          if (!record.ok) assert.fail(`${file}:${record.line}: ${record.detail}`);
          ours.push([record.line, record.fields]);
        }
      }
      const theirs = await pythonReading(path, delimiter);
      assert.equal(ours.length, theirs.length, 'record count');
      assert.deepEqual(ours, theirs);
    });
  }
});
