/**
 * How an inference-side stage (evaluate, mine-hard-negatives, audit) runs its models: the
 * `inference:` block every one of them accepts. Implementation: inference/engine.ts.
 * Workflow-safe: zod only.
 */
import { z } from 'zod';

export const inferenceOptionsSchema = z
  .object({
    /** Sequences per onnxruntime call; batches are cut from length-sorted texts (dynamic padding). */
    batchSize: z.number().int().positive().max(4096).optional(),
    /** onnxruntime intra-op threads; default: onnxruntime's own choice (one per core). */
    threads: z.number().int().positive().max(256).optional(),
    /** `cuda` needs a worker with a GPU and onnxruntime-node's CUDA provider. */
    executionProvider: z.enum(['cpu', 'cuda']).optional(),
  })
  .strict();
export type InferenceOptions = z.infer<typeof inferenceOptionsSchema>;

export const INFERENCE_DEFAULTS = { batchSize: 64, executionProvider: 'cpu' } as const;
