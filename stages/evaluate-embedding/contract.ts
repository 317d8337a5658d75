/**
 * The contract of the `evaluate-embedding` stage (implementation: implementation.ts): sentence-
 * embedding models (train stages' `classifier` outputs in `mode: embedding`, i.e. embedder
 * bundles, pipeline/embedder.ts) scored on two tasks (eval/embedding.ts, docs/embedding.md):
 * - `sts`: Spearman's correlation of cos(text, pair.text) with the gold `meta.score`;
 * - `retrieval`: each row's `text` is a query, the corpus every row's `pair.text`; recall@1/5/10
 *   and MRR@10 of the query's own positive.
 * A stage of its own rather than a task of `evaluate`: its models are embedders, not classifiers,
 * and its outputs are other numbers. Workflow-safe: zod only.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactOutput, COMPUTE_RETRY, defineContract } from '../define';
import { artifactRefSchema } from '../../store/types';
import { inferenceOptionsSchema } from '../../pipeline/inference';

const modelName = z
  .string()
  .regex(/^[A-Za-z][\w-]*$/, 'a model name: letters, digits, _ and -, starting with a letter');

/** The Spearman interval's bootstrap: pairs resampled 1000 times, seeded, 95%. */
export const STS_BOOTSTRAP = { samples: 1000, seed: 42, confidence: 0.95 } as const;

export const evaluateEmbeddingWithSchema = z
  .object({
    /** The models to compare, by name: each a train stage's `classifier` output from `mode: embedding`. */
    models: z
      .record(modelName, artifactRefSchema)
      .refine((m) => Object.keys(m).length > 0, { message: 'name at least one model' }),
    /** Pair rows with `pair.text` and a gold `meta.score` (e.g. the klue-sts adapter's). */
    sts: z.object({ dataset: artifactRefSchema }).strict(),
    /** Pair rows with `pair.text` (the query's positive), e.g. held-out klue-nli triples. */
    retrieval: z.object({ dataset: artifactRefSchema }).strict().optional(),
    /** The model whose numbers the run publishes; default: the last. */
    candidate: modelName.optional(),
    inference: inferenceOptionsSchema.optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (w.candidate !== undefined && !(w.candidate in w.models))
      ctx.addIssue({
        code: 'custom',
        path: ['candidate'],
        message: `"${w.candidate}" is not one of models: ${Object.keys(w.models).join(', ')}`,
      });
  });
export type EvaluateEmbeddingWith = z.infer<typeof evaluateEmbeddingWithSchema>;

export const evaluateEmbeddingContract = defineContract({
  name: 'evaluate-embedding',
  version: '1',
  description:
    'Score sentence-embedding models (onnxruntime): STS Spearman correlation of cosine similarity with the gold score, retrieval recall@1/5/10 and MRR@10',
  with: evaluateEmbeddingWithSchema,
  outputs: {
    evaluation: artifactOutput,
    stsSpearman: z.number(),
    /** stsSpearman ×10,000, rounded: what the run publishes (an Int search attribute, see common/constants.ts). */
    stsSpearmanBp: z.number().int(),
    modelDigest: z.string(),
  },
  publish: {
    searchAttributes: { stsSpearmanBp: 'FairlineStsSpearmanBp', modelDigest: 'FairlineModelDigest' },
  },
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: COMPUTE_RETRY,
    timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
  },
});
