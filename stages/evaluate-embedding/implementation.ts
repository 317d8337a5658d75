/**
 * The `evaluate-embedding` stage: each named embedder (pipeline/embedder.ts) embeds the STS pairs
 * and, when given, the retrieval set with onnxruntime (inference/embedder.ts); eval/embedding.ts
 * scores them. Writes embedding-evaluation.json (report/embedding.ts); the candidate's Spearman
 * becomes the run's FairlineStsSpearmanBp search attribute (×10,000, rounded).
 */
import { mulberry32 } from '../../audit/random';
import { StageInputInvalid } from '../../common/errors';
import { cosine, retrievalMetrics, spearman } from '../../eval/embedding';
import type { CanonicalRow } from '../../pipeline/dataset';
import { embeddingEvaluationSchema, type EmbeddingEvaluation } from '../../report/embedding';
import type { ArtifactRef } from '../../store/types';
import type { StageContext } from '../../activities/stages/context';
import { defineStage } from '../../activities/stages/define';
import { readCanonicalRows } from '../../pipeline/rows';
import { evaluateEmbeddingContract, STS_BOOTSTRAP } from './contract';
import { loadEmbedder } from '../../activities/stages/embedder';

/** A pair row's two texts and, for STS, its gold score; a row without them is named by id and line. */
async function pairsOf(
  ref: ArtifactRef,
  context: StageContext,
  key: string,
  needScore: boolean,
): Promise<{ text: string; pair: string; score: number }[]> {
  const rows = await readCanonicalRows(context.store, ref, key);
  if (rows.length === 0) throw new StageInputInvalid(context.stageId, `${key} has no rows`);
  return rows.map(({ row, where }: { row: CanonicalRow; where: { line: number } }) => {
    const score = row.meta?.score;
    if (row.pair === undefined || (needScore && (typeof score !== 'number' || !Number.isFinite(score))))
      throw new StageInputInvalid(
        context.stageId,
        `${key} line ${where.line} (row ${JSON.stringify(row.id)}): ${row.pair === undefined ? 'no pair.text' : 'no numeric meta.score (the gold similarity)'}`,
      );
    return { text: row.text, pair: row.pair.text, score: typeof score === 'number' ? score : 0 };
  });
}

/** Percentile bootstrap interval of Spearman's correlation over resampled pairs; NaN resamples dropped. */
function spearmanInterval(x: number[], y: number[]): [number, number] | null {
  const next = mulberry32(STS_BOOTSTRAP.seed);
  const values: number[] = [];
  for (let s = 0; s < STS_BOOTSTRAP.samples; s++) {
    const idx = x.map(() => Math.floor(next() * x.length));
    const v = spearman(
      idx.map((i) => x[i]!),
      idx.map((i) => y[i]!),
    );
    if (!Number.isNaN(v)) values.push(v);
  }
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const tail = (1 - STS_BOOTSTRAP.confidence) / 2;
  const at = (q: number): number => values[Math.min(values.length - 1, Math.max(0, Math.floor(q * values.length)))]!;
  return [at(tail), at(1 - tail)];
}

export const evaluateEmbedding = defineStage(evaluateEmbeddingContract, async (spec, context) => {
  const names = Object.keys(spec.models);
  const candidate = spec.candidate ?? names[names.length - 1]!;
  const sts = await pairsOf(spec.sts.dataset, context, 'sts.dataset', true);
  const retrieval = spec.retrieval ? await pairsOf(spec.retrieval.dataset, context, 'retrieval.dataset', false) : null;

  const models: EmbeddingEvaluation['models'] = [];
  for (const [index, name] of names.entries()) {
    const ref = spec.models[name]!;
    const { embedder, bundle } = await loadEmbedder(ref, context, spec.inference ?? {}, `models.${name}`);
    try {
      const progress = (phase: string) => (done: number, total: number) =>
        context.heartbeat({ phase, model: name, modelIndex: index, models: names.length, done, total });
      const texts = await embedder.embed([...sts.map((p) => p.text), ...sts.map((p) => p.pair)], {
        signal: context.signal,
        onProgress: progress('sts'),
      });
      const cosines = sts.map((_, i) => cosine(texts[i]!, texts[sts.length + i]!));
      const gold = sts.map((p) => p.score);
      const rho = spearman(cosines, gold);
      const interval = Number.isNaN(rho) ? null : spearmanInterval(cosines, gold);
      let retrieved: EmbeddingEvaluation['models'][number]['retrieval'] = null;
      if (retrieval) {
        const queries = await embedder.embed(
          retrieval.map((p) => p.text),
          { signal: context.signal, onProgress: progress('retrieval queries') },
        );
        const documents = await embedder.embed(
          retrieval.map((p) => p.pair),
          { signal: context.signal, onProgress: progress('retrieval documents') },
        );
        const m = retrievalMetrics(
          queries.map((q) => documents.map((d) => cosine(q, d))),
          retrieval.map((_, i) => i),
        );
        retrieved = {
          queries: m.queries,
          documents: m.documents,
          recall_at_1: m.recallAt1,
          recall_at_5: m.recallAt5,
          recall_at_10: m.recallAt10,
          mrr_at_10: m.mrrAt10,
        };
      }
      models.push({
        name,
        model_digest: embedder.files.modelDigest,
        seed: bundle.seed,
        max_length: bundle.maxLength,
        text_prefix: bundle.textPrefix,
        sts: {
          pairs: sts.length,
          spearman: Number.isNaN(rho) ? null : rho,
          ci_low: interval?.[0] ?? null,
          ci_high: interval?.[1] ?? null,
        },
        retrieval: retrieved,
      });
      context.log.info('embedding model evaluated', { model: name, spearman: rho, retrieval: retrieved });
    } finally {
      await embedder.release();
    }
  }
  const evaluation: EmbeddingEvaluation = embeddingEvaluationSchema.parse({
    schema: 'fairline.embedding-evaluation/1',
    sts_dataset_digest: spec.sts.dataset.sha256,
    retrieval_dataset_digest: spec.retrieval?.dataset.sha256 ?? null,
    bootstrap: STS_BOOTSTRAP,
    candidate,
    models,
  });
  const ref = await context.store.put(
    { bytes: JSON.stringify(evaluation, null, 1) },
    { kind: 'embedding-evaluation', name: 'embedding-evaluation.json' },
  );
  const reported = models.find((m) => m.name === candidate)!;
  const rho = reported.sts.spearman ?? 0;
  return {
    evaluation: ref,
    stsSpearman: rho,
    stsSpearmanBp: Math.round(rho * 10_000),
    modelDigest: reported.model_digest,
  };
});
