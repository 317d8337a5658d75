/**
 * Reading canonical JSONL (./dataset.ts) from a byte stream or the store: line by line, every row
 * checked, a bad row named by its line (and id). Shared by the stages that read datasets and by
 * mining/pool.ts. Node-side (streams): the workflow lint keeps it out of workflows.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { DatasetRowInvalid, type RowLocation } from '../common/errors';
import type { ArtifactRef, ArtifactStore } from '../store/types';
import { canonicalRowSchema, type CanonicalRow } from './dataset';

/** Splits a byte stream into lines (1-based numbers), decoding UTF-8 across chunk boundaries. */
export async function* lines(stream: Readable): AsyncGenerator<{ number: number; text: string }> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let number = 0;
  for await (const chunk of stream) {
    pending += decoder.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      number++;
      yield { number, text: pending.slice(0, newline).replace(/\r$/, '') };
      pending = pending.slice(newline + 1);
    }
  }
  pending += decoder.end();
  if (pending !== '') yield { number: number + 1, text: pending.replace(/\r$/, '') };
}

/** A JSONL line as a canonical row; DatasetRowInvalid naming the line (and id) otherwise. */
export function parseRow(text: string, where: RowLocation): { row: CanonicalRow; where: RowLocation } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DatasetRowInvalid(where, `not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const id = json && typeof json === 'object' && 'id' in json && typeof json.id === 'string' ? json.id : undefined;
  const located = id !== undefined ? { ...where, id } : where;
  const parsed = canonicalRowSchema.safeParse(json);
  if (!parsed.success) {
    throw new DatasetRowInvalid(
      located,
      `not a canonical row: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`).join('; ')}`,
    );
  }
  return { row: parsed.data, where: located };
}

/**
 * The rows of a canonical JSONL stream, in order; blank lines are skipped. `name` names the dataset in errors (the
 * `with` key).
 */
export async function* canonicalRows(
  stream: Readable,
  name: string,
): AsyncGenerator<{ row: CanonicalRow; where: RowLocation }> {
  for await (const line of lines(stream)) {
    if (line.text.trim() !== '') yield parseRow(line.text, { dataset: name, line: line.number });
  }
}

/** Every row of a canonical JSONL artifact, in order (see canonicalRows). */
export async function readCanonicalRows(
  store: Pick<ArtifactStore, 'open'>,
  ref: ArtifactRef,
  name: string,
): Promise<{ row: CanonicalRow; where: RowLocation }[]> {
  const rows: { row: CanonicalRow; where: RowLocation }[] = [];
  for await (const row of canonicalRows(await store.open(ref), name)) rows.push(row);
  return rows;
}
