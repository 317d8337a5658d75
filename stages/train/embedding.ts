/**
 * The train stage's embedding mode, on the TypeScript side: the embedder bundle it stores as
 * its `classifier` output when the trainer ran `mode: embedding` (trainer/embedding.py).
 */
import { z } from 'zod';
import { EMBEDDER_KIND, embedderBundleSchema, type EmbedderBundle } from '../../pipeline/embedder';
import type { ArtifactRef, ArtifactStore } from '../../store/types';
import { TrainerCrashed } from './errors';
import { describeIssues } from '../../pipeline/errors';

/** The values of the trainer's resolved train_config.json that the bundle repeats. */
const resolvedEmbeddingSchema = z.object({
  mode: z.literal('embedding'),
  maxLength: z.number().int().positive(),
  textPrefix: z.string(),
  seed: z.number().int(),
});

/** Whether a resolved train_config.json is an embedding run's. */
export function isEmbeddingConfig(resolved: unknown): boolean {
  return z.object({ mode: z.literal('embedding') }).safeParse(resolved).success;
}

/** Stores the embedder bundle of an embedding run: model, tokenizer and config by reference. */
export async function storeEmbedder(
  store: ArtifactStore,
  refs: { model: ArtifactRef; tokenizer: ArtifactRef; config: ArtifactRef },
  resolvedConfig: unknown,
): Promise<ArtifactRef> {
  const parsed = resolvedEmbeddingSchema.safeParse(resolvedConfig);
  if (!parsed.success)
    throw new TrainerCrashed(
      'train',
      `the trainer's train_config.json lacks what embedding inference needs: ${describeIssues(parsed.error.issues)}`,
    );
  const bundle: EmbedderBundle = embedderBundleSchema.parse({ ...refs, ...parsed.data });
  return store.put({ bytes: JSON.stringify(bundle, null, 1) }, { kind: EMBEDDER_KIND, name: 'embedder.json' });
}
