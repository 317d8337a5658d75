/**
 * What every source reader yields (records, in batches: one per input chunk), and the byte-level
 * helpers they share. Readers work on bytes,
 * not decoded text: every structural character of csv/tsv/json/jsonl is ASCII, and UTF-8 never
 * uses ASCII bytes inside a multi-byte character, so records can be cut before decoding. Each
 * record is then checked to be valid UTF-8 (the same rule as `new TextDecoder('utf-8', { fatal:
 * true })`, via Node's native `isUtf8`), and the first bad byte is named by its file offset.
 */
import { isUtf8 } from 'node:buffer';
import { DatasetMalformed } from './errors';
import type { EntitySpan } from '../../pipeline/dataset';
import type { Column, RejectReason } from './contract';

/**
 * A record longer than this is refused: in practice an unbalanced quote that would otherwise pull
 * the rest of a large file into one field (and into memory).
 */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** Where a record starts: its 1-based physical line, 0-based byte offset, and (JSON arrays) 1-based item. */
export interface Where {
  readonly line: number;
  readonly byte: number;
  readonly item?: number;
}

/** `train.tsv:42`, or `train.json:item 17` for an item of a JSON array. */
export function describeWhere(source: string, where: Where): string {
  return where.item !== undefined ? `${source}:item ${where.item}` : `${source}:${where.line}`;
}

/** A record's columns, as a mapping reads them. */
export interface RecordView {
  has(column: Column): boolean;
  get(column: Column): unknown;
}

/** A row an adapter (klue-ner, klue-re, klue-nli, klue-sts) builds by itself, without a mapping. */
export interface AdapterRow {
  readonly id?: string;
  readonly text: string;
  readonly entities?: EntitySpan[];
  /** The class index (klue-re); without it the row has no classification labels (klue-ner: `[]`). */
  readonly labels?: number;
  readonly pair?: { text: string };
  readonly meta?: Record<string, unknown>;
}

export type SourceRecord =
  | { readonly kind: 'view'; readonly where: Where; readonly view: RecordView }
  | { readonly kind: 'row'; readonly where: Where; readonly row: AdapterRow }
  | { readonly kind: 'invalid'; readonly where: Where; readonly reason: RejectReason; readonly detail: string };

/**
 * Offset of the first byte of the first ill-formed UTF-8 sequence (Unicode 15, table 3-7: no
 * overlongs, no surrogates, nothing above U+10FFFF), or -1 when `bytes` is well-formed.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  const cont = (at: number, lo = 0x80, hi = 0xbf): boolean => at < n && bytes[at]! >= lo && bytes[at]! <= hi;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) i += 1;
    else if (b >= 0xc2 && b <= 0xdf) {
      if (!cont(i + 1)) return i;
      i += 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      const lo = b === 0xe0 ? 0xa0 : 0x80;
      const hi = b === 0xed ? 0x9f : 0xbf;
      if (!cont(i + 1, lo, hi) || !cont(i + 2)) return i;
      i += 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      const lo = b === 0xf0 ? 0x90 : 0x80;
      const hi = b === 0xf4 ? 0x8f : 0xbf;
      if (!cont(i + 1, lo, hi) || !cont(i + 2) || !cont(i + 3)) return i;
      i += 4;
    } else return i;
  }
  return -1;
}

/**
 * Undefined when `bytes` (which start at file offset `offset`) are well-formed UTF-8; otherwise
 * which byte is wrong: `invalid UTF-8: byte 0xff at offset 1234`.
 */
export function utf8Problem(bytes: Uint8Array, offset: number): string | undefined {
  if (isUtf8(bytes)) return undefined;
  const at = Math.max(firstInvalidUtf8(bytes), 0);
  return `invalid UTF-8: byte 0x${(bytes[at] ?? 0).toString(16).padStart(2, '0')} at offset ${offset + at}`;
}

/** Decodes `bytes` as UTF-8, or says which byte is wrong (see utf8Problem). */
export function decodeUtf8(bytes: Buffer, offset: number): { ok: true; text: string } | { ok: false; detail: string } {
  const problem = utf8Problem(bytes, offset);
  return problem === undefined ? { ok: true, text: bytes.toString('utf8') } : { ok: false, detail: problem };
}

/** The input without a leading UTF-8 byte-order mark; reports how many bytes were dropped. */
export async function* withoutBom(input: AsyncIterable<Buffer>, dropped: (n: number) => void): AsyncGenerator<Buffer> {
  let head: Buffer | undefined = Buffer.alloc(0);
  for await (const chunk of input) {
    if (head === undefined) {
      yield chunk;
      continue;
    }
    head = Buffer.concat([head, chunk]);
    if (head.length < 3) continue;
    const bom = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf;
    dropped(bom ? 3 : 0);
    yield bom ? head.subarray(3) : head;
    head = undefined;
  }
  if (head !== undefined && head.length > 0) {
    dropped(0);
    yield head;
  }
}

/** A physical line: its bytes without the LF (and a CR before it), 1-based number, start offset. */
export interface Line {
  readonly bytes: Buffer;
  readonly line: number;
  readonly byte: number;
}

/**
 * Splits a byte stream into lines at LF (a CR before the LF is dropped), in batches (one per
 * input chunk). A final line without LF is still a line. Memory holds one chunk and one line, so
 * files larger than memory stream through.
 */
export async function* linesOf(
  input: AsyncIterable<Buffer>,
  source: string,
  maxLineBytes = MAX_RECORD_BYTES,
): AsyncGenerator<Line[]> {
  let offset = 0;
  const body = withoutBom(input, (n) => (offset = n));
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineStart = -1;
  let line = 1;
  for await (const chunk of body) {
    if (lineStart < 0) lineStart = offset;
    const batch: Line[] = [];
    let from = 0;
    for (;;) {
      const lf = chunk.indexOf(0x0a, from);
      if (lf < 0) break;
      const piece = chunk.subarray(from, lf);
      const whole = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
      pending = [];
      pendingBytes = 0;
      const bytes = whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.subarray(0, whole.length - 1) : whole;
      batch.push({ bytes, line, byte: lineStart });
      line += 1;
      offset += lf - from + 1;
      lineStart = offset;
      from = lf + 1;
    }
    if (from < chunk.length) {
      pending.push(chunk.subarray(from));
      pendingBytes += chunk.length - from;
      offset += chunk.length - from;
      if (pendingBytes > maxLineBytes)
        throw new DatasetMalformed(`${source}:${line}`, `a line longer than ${maxLineBytes} bytes`);
    }
    if (batch.length > 0) yield batch;
  }
  if (pendingBytes > 0) {
    const whole = Buffer.concat(pending);
    yield [
      { bytes: whole[whole.length - 1] === 0x0d ? whole.subarray(0, whole.length - 1) : whole, line, byte: lineStart },
    ];
  }
}

/** Whether a line holds only spaces, tabs or CRs. */
export function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

/** Number of Unicode code points in a string (entity offsets count code points, as Python does). */
export function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= text.length) n += 1;
    else {
      const next = text.charCodeAt(i + 1);
      n += 1;
      if (next >= 0xdc00 && next <= 0xdfff) i += 1;
    }
  }
  return n;
}

/** A value as a message shows it: strings quoted and cut at 40 characters. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 42 ? `${text.slice(0, 40)}…` : text;
}
