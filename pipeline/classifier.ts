/**
 * A trained classifier as one artifact: the `train` stage's `classifier` output, what the
 * evaluate, mine-hard-negatives and audit stages take as `model`. A small JSON file that names
 * the ONNX model, its tokenizer.json and the trainer's resolved config by reference, and repeats
 * the few config values inference needs (so a reader never has to parse the trainer's config).
 * Workflow-safe: zod only.
 */
import { z } from 'zod';
import { artifactRefSchema } from '../store/types';
import { taskSchema } from './dataset';

export const classifierBundleSchema = z
  .object({
    /** ONNX: inputs input_ids, attention_mask (int64 [batch, tokens]); outputs logits [batch, labels], embedding. */
    model: artifactRefSchema,
    /** Hugging Face tokenizer.json (truncation to maxLength set by the trainer). */
    tokenizer: artifactRefSchema,
    /** The trainer's resolved train_config.json. */
    config: artifactRefSchema,
    task: taskSchema,
    labelNames: z.array(z.string().min(1)).min(1),
    maxLength: z.number().int().positive(),
    /** Multilabel decision threshold on sigmoid probabilities. */
    threshold: z.number().gt(0).lt(1),
    /** `baseline` or `debiased`. */
    mode: z.string().min(1),
    seed: z.number().int(),
  })
  .strict();
export type ClassifierBundle = z.infer<typeof classifierBundleSchema>;

/** The artifact kind of a classifier bundle. */
export const CLASSIFIER_KIND = 'classifier';
