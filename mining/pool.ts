/**
 * The training pool, read twice as a stream: once for what mining needs (ids, texts, labels), and
 * once more to write the mined rows whole. Holding only texts and labels keeps large `meta`
 * (ner-mask's offsets, token tags) out of memory while the index is built.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { DatasetRowInvalid } from '../common/errors';
import { canonicalRows } from '../pipeline/rows';
import type { CanonicalRow, Task } from '../pipeline/dataset';
import type { HardNegativeProvenance } from './types';

export interface Pool {
  readonly ids: string[];
  readonly texts: string[];
  readonly task: Task;
  /** Multilabel: the vector's length; multiclass: the largest class index + 1. */
  readonly width: number;
  /** Multilabel: N × width 0/1, row-major; multiclass: N class indices. */
  readonly labels: Int32Array;
}

const describe = (labels: CanonicalRow['labels']): string =>
  typeof labels === 'number' ? 'a class index' : `a 0/1 vector of ${labels.length}`;

/** Reads the pool: every row canonical, ids unique, labels of one kind and width. */
export async function readPool(stream: Readable, dataset: string, signal?: AbortSignal): Promise<Pool> {
  const ids: string[] = [];
  const texts: string[] = [];
  const labels: number[] = [];
  const seen = new Map<string, number>();
  let first: { labels: CanonicalRow['labels']; line: number } | undefined;
  let width = 0;
  for await (const { row, where } of canonicalRows(stream, dataset)) {
    if (ids.length % 1024 === 0) signal?.throwIfAborted();
    const earlier = seen.get(row.id);
    if (earlier !== undefined) throw new DatasetRowInvalid(where, `duplicate id: line ${earlier} has it too`);
    seen.set(row.id, where.line);
    first ??= { labels: row.labels, line: where.line };
    if (typeof row.labels === 'number') {
      if (typeof first.labels !== 'number')
        throw new DatasetRowInvalid(
          where,
          `labels is a class index, but the first row's (line ${first.line}) is ${describe(first.labels)}: one task per pool`,
        );
      labels.push(row.labels);
      width = Math.max(width, row.labels + 1);
    } else {
      if (typeof first.labels === 'number' || first.labels.length !== row.labels.length) {
        throw new DatasetRowInvalid(
          where,
          `labels is ${describe(row.labels)}, but the first row's (line ${first.line}) is ${describe(first.labels)}: one task and width per pool`,
        );
      }
      labels.push(...row.labels);
      width = row.labels.length;
    }
    ids.push(row.id);
    texts.push(row.text);
  }
  return {
    ids,
    texts,
    task: first !== undefined && typeof first.labels === 'number' ? 'multiclass' : 'multilabel',
    width,
    labels: Int32Array.from(labels),
  };
}

/** N × width, 1 where row i is positive for label y (multiclass: one-hot over `width` classes). */
export function positives(pool: Pool, width: number): Uint8Array {
  const out = new Uint8Array(pool.ids.length * width);
  if (pool.task === 'multilabel') out.set(pool.labels);
  else pool.labels.forEach((c, i) => (out[i * width + c] = 1));
  return out;
}

/**
 * Writes the mined rows, in pool order, to `path`: each the pool's row as it is (entities, pair,
 * meta kept) with `meta.hard_negative` set to its provenance (replacing any earlier mining's).
 */
export async function writeMined(
  stream: Readable,
  dataset: string,
  mined: ReadonlyMap<number, readonly HardNegativeProvenance[]>,
  path: string,
): Promise<number> {
  const out = createWriteStream(path);
  let writeError: unknown;
  out.on('error', (error) => (writeError ??= error));
  let index = 0;
  let written = 0;
  try {
    for await (const { row } of canonicalRows(stream, dataset)) {
      const provenance = mined.get(index++);
      if (provenance === undefined) continue;
      if (writeError !== undefined) throw writeError;
      if (!out.write(JSON.stringify({ ...row, meta: { ...row.meta, hard_negative: provenance } }) + '\n'))
        await once(out, 'drain');
      written++;
    }
    out.end();
    await finished(out);
  } catch (error) {
    out.destroy();
    throw error;
  }
  if (writeError !== undefined) throw writeError;
  return written;
}
