/**
 * A trained sentence-embedding model as one artifact: in `mode: embedding` the train stage's
 * `classifier` output holds this bundle instead of a classifier's (kind `embedder`). It names the
 * ONNX model (inputs input_ids, attention_mask; output `embedding` [batch, dim], mean-pooled and
 * L2-normalised), its tokenizer.json and the trainer's resolved config by reference, and repeats
 * what inference needs: the truncation length and the text prefix every text gets (e.g. E5's
 * "query: "). Read by evaluate-embedding and mine-hard-negatives' `pairs` mode. Workflow-safe: zod only.
 */
import { z } from 'zod';
import { artifactRefSchema } from '../store/types';

export const embedderBundleSchema = z
  .object({
    model: artifactRefSchema,
    tokenizer: artifactRefSchema,
    config: artifactRefSchema,
    mode: z.literal('embedding'),
    maxLength: z.number().int().positive(),
    /** Prepended to every text before tokenizing, as in training. */
    textPrefix: z.string(),
    seed: z.number().int(),
  })
  .strict();
export type EmbedderBundle = z.infer<typeof embedderBundleSchema>;

/** The artifact kind of an embedder bundle. */
export const EMBEDDER_KIND = 'embedder';
