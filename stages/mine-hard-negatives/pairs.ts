/**
 * The mine-hard-negatives stage's pairs mode (mining/pairs.ts): reads pair rows (`text` the
 * anchor, `pair.text` its positive), mines each anchor's negatives among the other rows'
 * positives by BM25, by an embedder's cosine, or at random, and writes every row back with
 * `meta.negatives` (replaced or appended to) and `meta.mined_negatives` (provenance: method,
 * the source row's id, its score and the positive's). The output is the training set of the
 * train stage's `mode: embedding`, so every row is kept, with or without a find.
 */
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { StageInputInvalid } from '../../common/errors';
import { loadEmbedder } from '../../activities/stages/embedder';
import { mineBm25Pairs, mineEmbeddingPairs, mineRandomPairs, type PairMining } from '../../mining/pairs';
import type { InferenceOptions } from '../../pipeline/inference';
import type { CanonicalRow } from '../../pipeline/dataset';
import type { MiningSummary } from '../../report/schema';
import type { ArtifactRef } from '../../store/types';
import type { StageContext } from '../../activities/stages/context';
import { readCanonicalRows } from '../../pipeline/rows';
import { bm25Schema, MINING_FILES, MINING_SUMMARY_EXAMPLES, type PairsMining } from './contract';

/** Characters of an example's text in the summary. */
const EXAMPLE_TEXT_CHARS = 200;

const negativesOf = (row: CanonicalRow): string[] => {
  const value = row.meta?.negatives;
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
};

export async function minePairsStage(
  datasetRef: ArtifactRef,
  options: PairsMining,
  inference: InferenceOptions,
  context: StageContext,
): Promise<{ dataset: ArtifactRef; summary: ArtifactRef; mined: number }> {
  context.heartbeat({ phase: 'reading' });
  const read = await readCanonicalRows(context.store, datasetRef, 'dataset');
  if (read.length < 2)
    throw new StageInputInvalid(context.stageId, `dataset has ${read.length} rows; pairs mining needs at least 2`);
  const rows = read.map(({ row, where }) => {
    if (row.pair === undefined)
      throw new StageInputInvalid(
        context.stageId,
        `dataset line ${where.line} (row ${JSON.stringify(row.id)}) has no pair.text: pairs mining needs (anchor, positive) rows`,
      );
    return row;
  });
  const texts = rows.map((r) => ({ anchor: r.text, positive: r.pair!.text }));
  const guard = { negatives: options.negatives, factor: options.factor, margin: options.margin };

  let result: PairMining;
  context.heartbeat({ phase: options.method, total: rows.length });
  if (options.method === 'bm25') {
    result = mineBm25Pairs(texts, options.bm25 ?? bm25Schema.parse({}), guard, context.signal);
  } else if (options.method === 'random') {
    result = mineRandomPairs(texts, options.negatives, options.seed);
  } else {
    const { embedder } = await loadEmbedder(options.embedder!, context, inference, 'pairs.embedder');
    try {
      const beat = (phase: string) => (done: number, total: number) => context.heartbeat({ phase, done, total });
      const anchors = await embedder.embed(
        texts.map((t) => t.anchor),
        { signal: context.signal, onProgress: beat('embedding anchors') },
      );
      const positives = await embedder.embed(
        texts.map((t) => t.positive),
        { signal: context.signal, onProgress: beat('embedding positives') },
      );
      result = mineEmbeddingPairs(texts, anchors, positives, guard, context.signal);
    } finally {
      await embedder.release();
    }
  }

  context.heartbeat({ phase: 'writing' });
  let mined = 0;
  const lines = rows.map((row, i) => {
    const found = result.negatives[i]!;
    mined += found.length;
    const negatives = [
      ...(options.combine === 'append' ? negativesOf(row) : []),
      ...found.map((n) => texts[n.row]!.positive),
    ];
    const provenance = found.map((n) => ({
      method: options.method,
      source_id: rows[n.row]!.id,
      score: n.score,
      positive_score: n.positiveScore,
    }));
    return JSON.stringify({ ...row, meta: { ...row.meta, negatives, mined_negatives: provenance } });
  });
  const outPath = join(context.scratchDir, MINING_FILES.dataset);
  await writeFile(outPath, lines.join('\n') + '\n');

  const examples = rows
    .map((row, i) => ({ row, first: result.negatives[i]![0] }))
    .filter((e) => e.first !== undefined)
    .slice(0, MINING_SUMMARY_EXAMPLES)
    .map(({ row, first }) => ({
      id: row.id,
      text: `${row.text} ⇢ ${texts[first!.row]!.positive}`.slice(0, EXAMPLE_TEXT_CHARS),
      reasons: [options.method],
      label: 'pair',
      score: first!.score,
    }));
  const summary: MiningSummary = {
    pool: rows.length,
    mined: result.negatives.filter((n) => n.length > 0).length,
    by_reason: { [options.method]: mined, guarded: result.guarded },
    examples,
  };
  if (mined === 0)
    context.log.warn('no pair negatives mined: every row trains with in-batch negatives only', { pool: rows.length });
  const dataset = await context.store.put({ path: outPath }, { kind: 'dataset', name: MINING_FILES.dataset });
  const summaryRef = await context.store.put(
    { bytes: JSON.stringify(summary, null, 2) + '\n' },
    { kind: 'mining-summary', name: MINING_FILES.summary },
  );
  context.log.info('mined pair negatives', {
    pool: rows.length,
    mined,
    guarded: result.guarded,
    method: options.method,
  });
  return { dataset, summary: summaryRef, mined };
}
