/**
 * Readers for JSON sources: a JSON array of objects (`format: json`), streamed item by item, and
 * JSON Lines (`format: jsonl`), one object per line. Both yield one record per object (in
 * batches, one per input chunk).
 *
 * The array reader scans bytes for the extent of each top-level item (tracking strings, escapes
 * and bracket depth), then decodes and `JSON.parse`s that item alone, so memory holds one item,
 * not the file, and a broken item is a row problem while the items around it still load. What
 * breaks the array itself (a truncated file, a missing `,`, bytes after the closing `]`) is a
 * DatasetMalformed naming the byte offset and the item.
 */
import { DatasetMalformed } from './errors';
import type { Column } from './contract';
import {
  decodeUtf8,
  isBlank,
  linesOf,
  MAX_RECORD_BYTES,
  show,
  withoutBom,
  type RecordView,
  type SourceRecord,
  type Where,
} from './records';

/** A view of a parsed JSON object: columns are its own property names. */
function objectView(value: Record<string, unknown>): RecordView {
  return {
    has: (column: Column) => typeof column === 'string' && Object.hasOwn(value, column),
    get: (column: Column) => (typeof column === 'string' && Object.hasOwn(value, column) ? value[column] : undefined),
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses one item's bytes into a record: an object view, or why it is not one. */
function recordOf(bytes: Buffer, where: Where): SourceRecord {
  const decoded = decodeUtf8(bytes, where.byte);
  if (!decoded.ok) return { kind: 'invalid', where, reason: 'invalid-utf8', detail: decoded.detail };
  let value: unknown;
  try {
    value = JSON.parse(decoded.text);
  } catch (error) {
    return {
      kind: 'invalid',
      where,
      reason: 'invalid-json',
      detail: `invalid JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  if (!isPlainObject(value))
    return { kind: 'invalid', where, reason: 'not-an-object', detail: `expected an object, got ${show(value)}` };
  return { kind: 'view', where, view: objectView(value) };
}

/** JSON Lines: every non-blank line is one object. */
export async function* readJsonl(input: AsyncIterable<Buffer>, source: string): AsyncGenerator<SourceRecord[]> {
  for await (const lines of linesOf(input, source)) {
    yield lines
      .filter((line) => !isBlank(line.bytes))
      .map((line) => recordOf(line.bytes, { line: line.line, byte: line.byte }));
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

// Scanner states.
const BEFORE_ARRAY = 0;
const FIRST_ITEM_OR_END = 1;
const ITEM = 2;
const IN_ITEM = 3;
const AFTER_ITEM = 4;
const END = 5;

/** A byte as a message shows it: `"x"` when printable ASCII, else `0xe3`. */
function byteName(b: number): string {
  return b >= 0x20 && b < 0x7f ? JSON.stringify(String.fromCharCode(b)) : `0x${b.toString(16).padStart(2, '0')}`;
}

/** A JSON array of objects, streamed: one record per item, `where.item` its 1-based index. */
export async function* readJsonArray(
  input: AsyncIterable<Buffer>,
  source: string,
  maxItemBytes = MAX_RECORD_BYTES,
): AsyncGenerator<SourceRecord[]> {
  let buf: Buffer = Buffer.alloc(0);
  let bufStart = 0;
  let pos = 0;
  let line = 1;
  let state = BEFORE_ARRAY;
  let items = 0;
  // The item being scanned.
  let itemStart = 0;
  let itemLine = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let bomChecked = false;

  const at = (): string => `${source}: byte ${pos}`;
  const body = withoutBom(input, (n) => {
    if (!bomChecked) {
      bomChecked = true;
      bufStart = pos = n;
    }
  });

  for await (const chunk of body) {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const end = bufStart + buf.length;
    const batch: SourceRecord[] = [];
    while (pos < end) {
      const b = buf[pos - bufStart]!;
      if (state === IN_ITEM) {
        let done = false;
        let reread = false;
        if (inString) {
          if (escaped) escaped = false;
          else if (b === BACKSLASH) escaped = true;
          else if (b === QUOTE) {
            inString = false;
            done = depth === 0;
          }
        } else if (b === QUOTE) inString = true;
        else if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth += 1;
        else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
          if (depth === 0)
            reread = done = true; // a bare value ended by `]`
          else {
            depth -= 1;
            done = depth === 0;
          }
        } else if (depth === 0 && (WS.has(b) || b === COMMA)) {
          // A bare value (number, true, null) ended.
          reread = done = true;
        }
        if (b === 0x0a) line += 1;
        if (done) {
          const itemEnd = reread ? pos : pos + 1;
          batch.push(
            recordOf(buf.subarray(itemStart - bufStart, itemEnd - bufStart), {
              line: itemLine,
              byte: itemStart,
              item: items,
            }),
          );
          state = AFTER_ITEM;
          if (reread) {
            if (b === 0x0a) line -= 1; // counted again when re-read
            continue;
          }
        }
        pos += 1;
        continue;
      }
      if (WS.has(b)) {
        if (b === 0x0a) line += 1;
        pos += 1;
        continue;
      }
      switch (state) {
        case BEFORE_ARRAY:
          if (b !== OPEN_ARRAY)
            throw new DatasetMalformed(at(), `not a JSON array: expected "[", found ${byteName(b)}`);
          state = FIRST_ITEM_OR_END;
          pos += 1;
          continue;
        case FIRST_ITEM_OR_END:
        case ITEM:
          if (b === CLOSE_ARRAY) {
            if (state === ITEM)
              throw new DatasetMalformed(
                at(),
                `a "," after item ${items} is followed by "]": a trailing comma is not JSON`,
              );
            state = END;
            pos += 1;
            continue;
          }
          if (b === COMMA) throw new DatasetMalformed(at(), `an empty item after item ${items}`);
          items += 1;
          itemStart = pos;
          itemLine = line;
          depth = 0;
          inString = false;
          escaped = false;
          state = IN_ITEM;
          continue; // the first byte is scanned as part of the item
        case AFTER_ITEM:
          if (b === COMMA) state = ITEM;
          else if (b === CLOSE_ARRAY) state = END;
          else
            throw new DatasetMalformed(
              at(),
              `expected "," or "]" after item ${items} (which starts at line ${itemLine}, byte ${itemStart}), found ${byteName(b)}`,
            );
          pos += 1;
          continue;
        case END:
          throw new DatasetMalformed(at(), `data after the closing "]" of the array`);
      }
    }
    const keepFrom = state === IN_ITEM ? itemStart : pos;
    if (state === IN_ITEM && pos - itemStart > maxItemBytes) {
      throw new DatasetMalformed(
        `${source}:item ${items}`,
        `an item longer than ${maxItemBytes} bytes (starting at line ${itemLine}, byte ${itemStart})`,
      );
    }
    buf = buf.subarray(keepFrom - bufStart);
    bufStart = keepFrom;
    if (batch.length > 0) yield batch;
  }

  if (state === IN_ITEM && !inString && depth === 0) {
    // A bare value right at the end of the input; the array is still unclosed.
    yield [
      recordOf(buf.subarray(itemStart - bufStart, pos - bufStart), { line: itemLine, byte: itemStart, item: items }),
    ];
    state = AFTER_ITEM;
  }
  if (state !== END) {
    const inside =
      state === IN_ITEM
        ? `inside item ${items} (which starts at line ${itemLine}, byte ${itemStart})`
        : state === BEFORE_ARRAY
          ? 'before the array starts'
          : `after item ${items}, before the closing "]"`;
    throw new DatasetMalformed(at(), `truncated JSON: the file ends ${inside}`);
  }
}
