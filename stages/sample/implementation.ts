/**
 * The `sample` stage: N rows of a canonical JSONL dataset, drawn without replacement. Each row's
 * draw key is sha256(`<seed>:<id>`); the N rows with the smallest keys (ties by line) are kept,
 * in their original order and with their original bytes. The key depends on the row alone, not on
 * its position or the other rows, so a sample of N rows is part of every larger sample with the
 * same seed, and reordering the input does not change which rows are drawn.
 */
import { createHash } from 'node:crypto';
import type { StageContext } from '../../activities/stages/context';
import { defineStage } from '../../activities/stages/define';
import { lines, parseRow } from '../../pipeline/rows';
import { sampleContract } from './contract';

/** The draw key of the row with `id` under `seed` (hex: compares as the number it spells). */
export function drawKey(seed: number, id: string): string {
  return createHash('sha256').update(`${seed}:${id}`).digest('hex');
}

export const sample = defineStage(sampleContract, async (spec, context) => {
  const candidates: { key: string; line: number; text: string }[] = [];
  for await (const line of lines(await context.store.open(spec.dataset))) {
    if (line.text.trim() === '') continue;
    // Every row is checked, as every stage that reads a dataset checks it: a bad row is named here.
    const { row } = parseRow(line.text, { dataset: 'dataset', line: line.number });
    candidates.push({ key: drawKey(spec.seed, row.id), line: line.number, text: line.text });
    if (candidates.length % 10_000 === 0) heartbeat(context, candidates.length);
  }
  const drawn = [...candidates]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.line - b.line))
    .slice(0, spec.rows)
    .sort((a, b) => a.line - b.line);
  if (drawn.length < spec.rows)
    context.log.warn('the dataset has fewer rows than asked for: all of them are kept', {
      rows: candidates.length,
      asked: spec.rows,
    });
  const body = drawn.map((row) => `${row.text}\n`).join('');
  const dataset = await context.store.put({ bytes: body }, { kind: 'dataset', name: spec.name });
  context.log.info('sampled', { rows: drawn.length, of: candidates.length, seed: spec.seed });
  return { dataset, rows: drawn.length };
});

function heartbeat(context: StageContext, read: number): void {
  context.signal.throwIfAborted();
  context.heartbeat({ phase: 'reading', rows: read });
}
