/**
 * A streaming CSV/TSV parser (RFC 4180), written here because no package is available and the
 * dialect matters: Python's `csv` module (what most dataset authors wrote their files with) is the
 * reference, and test/stages/dataset/csv.test.ts checks that both read every shared
 * file alike.
 *
 * - Fields are separated by a one-byte delimiter; records end at LF, CRLF or a lone CR.
 * - A field that starts with `"` is quoted: delimiters, CR and LF inside are data, `""` is one
 *   quote. After the closing quote, anything up to the next delimiter is appended as is (Python's
 *   non-strict reading of `"a"b`). A quote inside an unquoted field is a plain character.
 * - `quoting: 'none'` turns quote handling off (every byte is data).
 * - Empty lines are skipped, as Python's reader skips them; a leading UTF-8 BOM is dropped.
 * - Each record reports the 1-based physical line and the byte offset where it starts, so a
 *   record with a quoted newline still points at its first line.
 * - A quoted field still open at the end of the input is a DatasetMalformed (the file is
 *   truncated or a quote is unbalanced), naming the line where that record starts.
 *
 * Input is consumed chunk by chunk; memory holds one record, and a record over MAX_RECORD_BYTES
 * is refused, so files larger than memory stream through.
 */
import { DatasetMalformed } from './errors';
import { MAX_RECORD_BYTES, utf8Problem, withoutBom } from './records';

export interface CsvParseOptions {
  /** One ASCII character. */
  readonly delimiter: string;
  readonly quoting?: 'rfc4180' | 'none';
  /** Names the input in errors. */
  readonly source: string;
  readonly maxRecordBytes?: number;
}

/** One record: decoded fields, or (when its bytes are not UTF-8) the detail and the offending offset. */
export type CsvRecord =
  | { readonly ok: true; readonly fields: string[]; readonly line: number; readonly byte: number }
  | { readonly ok: false; readonly detail: string; readonly line: number; readonly byte: number };

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

// Scanner states.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
const QUOTE_IN_QUOTED = 3;
const AFTER_CR = 4;

/** Strips the quotes of a quoted field's raw text: `"a""b"c` → `a"bc`. */
function unquote(raw: string): string {
  let out = '';
  let i = 1;
  for (;;) {
    const q = raw.indexOf('"', i);
    if (q < 0) return out + raw.slice(i);
    out += raw.slice(i, q);
    if (raw.charCodeAt(q + 1) === QUOTE) {
      out += '"';
      i = q + 2;
      continue;
    }
    return out + raw.slice(q + 1);
  }
}

/**
 * The records of `input`, in batches (one per input chunk: one promise per chunk, not per record,
 * keeps the async iteration cheap).
 */
export async function* parseCsv(input: AsyncIterable<Buffer>, options: CsvParseOptions): AsyncGenerator<CsvRecord[]> {
  if (options.delimiter.length !== 1 || options.delimiter.charCodeAt(0) > 0x7e)
    throw new Error(`delimiter must be one ASCII character, got ${JSON.stringify(options.delimiter)}`);
  const delimiter = options.delimiter.charCodeAt(0);
  const quoting = options.quoting !== 'none';
  const maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_BYTES;

  // Absolute file offsets throughout; `buf` holds the bytes from `bufStart` on (the current record's start).
  let buf: Buffer = Buffer.alloc(0);
  let bufStart = 0;
  let pos = 0;
  let recordStart = 0;
  let recordLine = 1;
  let line = 1;
  let fieldStart = 0;
  let fieldQuoted = false;
  let quoteLine = 0;
  let fields: number[] = []; // triples: start, end, quoted (0/1)
  let state = FIELD_START;
  let bomChecked = false;

  const emit = (end: number): CsvRecord | undefined => {
    const spans = fields;
    fields = [];
    // An empty line is no record (Python's reader skips it too).
    if (spans.length === 3 && spans[0] === spans[1] && spans[2] === 0) return undefined;
    const problem = utf8Problem(buf.subarray(recordStart - bufStart, end - bufStart), recordStart);
    if (problem !== undefined) return { ok: false, detail: problem, line: recordLine, byte: recordStart };
    let quoted = false;
    for (let i = 2; i < spans.length; i += 3) quoted ||= spans[i] === 1;
    if (!quoted) {
      // The common case: decode the record once and cut it at the delimiter (an ASCII byte is
      // never part of a multi-byte character, so the cuts fall exactly where the byte scan found them).
      const text = buf.toString('utf8', recordStart - bufStart, end - bufStart);
      return {
        ok: true,
        fields: spans.length === 3 ? [text] : text.split(options.delimiter),
        line: recordLine,
        byte: recordStart,
      };
    }
    const out: string[] = [];
    for (let i = 0; i < spans.length; i += 3) {
      const raw = buf.toString('utf8', spans[i]! - bufStart, spans[i + 1]! - bufStart);
      out.push(spans[i + 2] === 1 ? unquote(raw) : raw);
    }
    return { ok: true, fields: out, line: recordLine, byte: recordStart };
  };

  const body = withoutBom(input, (n) => {
    if (!bomChecked) {
      bomChecked = true;
      bufStart = pos = recordStart = fieldStart = n;
    }
  });

  let batch: CsvRecord[] = [];
  for await (const chunk of body) {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const end = bufStart + buf.length;
    while (pos < end) {
      const b = buf[pos - bufStart]!;
      switch (state) {
        case FIELD_START:
          if (quoting && b === QUOTE) {
            state = QUOTED;
            fieldQuoted = true;
            quoteLine = line;
            pos += 1;
            continue;
          }
          state = UNQUOTED;
        // falls through: the byte belongs to an unquoted field
        case UNQUOTED:
          if (b === delimiter || b === LF || b === CR) {
            fields.push(fieldStart, pos, fieldQuoted ? 1 : 0);
            fieldStart = pos + 1;
            fieldQuoted = false;
            if (b === delimiter) state = FIELD_START;
            else {
              const record = emit(pos);
              if (record) batch.push(record);
              recordStart = pos + 1;
              if (b === LF) {
                line += 1;
                state = FIELD_START;
              } else state = AFTER_CR;
              recordLine = line;
            }
          }
          break;
        case QUOTED:
          if (b === QUOTE) state = QUOTE_IN_QUOTED;
          else if (b === LF) line += 1;
          break;
        case QUOTE_IN_QUOTED:
          if (b === QUOTE) {
            state = QUOTED;
            break;
          }
          state = UNQUOTED; // the quote closed the field; this byte is read as unquoted
          continue;
        case AFTER_CR:
          state = FIELD_START;
          if (b === LF) {
            line += 1;
            recordLine = line;
            recordStart = fieldStart = pos + 1;
            break;
          }
          continue;
      }
      pos += 1;
    }
    if (pos - recordStart > maxRecordBytes) {
      throw new DatasetMalformed(
        `${options.source}:${recordLine}`,
        `a record longer than ${maxRecordBytes} bytes (an unbalanced quote?)`,
      );
    }
    buf = buf.subarray(recordStart - bufStart);
    bufStart = recordStart;
    if (batch.length > 0) {
      yield batch;
      batch = [];
    }
  }

  if (state === QUOTED) {
    throw new DatasetMalformed(
      `${options.source}:${recordLine}`,
      `unterminated quoted field: the quote opened on line ${quoteLine} is still open at the end of the file (byte ${pos}); truncated, or an unbalanced quote`,
    );
  }
  if (state !== AFTER_CR && (pos > recordStart || fields.length > 0)) {
    fields.push(fieldStart, pos, fieldQuoted ? 1 : 0);
    const record = emit(pos);
    if (record) yield [record];
  }
}
