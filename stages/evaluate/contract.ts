/**
 * The contract of the `evaluate` stage (implementation: implementation.ts): one or
 * more trained classifiers scored on one labelled split, with the metrics of `fairline metrics`
 * (report/schema.ts) per model and deltas against a reference model. Workflow-safe: zod only.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactOutput, COMPUTE_RETRY, defineContract } from '../define';
import { artifactRefSchema } from '../../store/types';
import { inferenceOptionsSchema } from '../../pipeline/inference';

const modelName = z
  .string()
  .regex(/^[A-Za-z][\w-]*$/, 'a model name: letters, digits, _ and -, starting with a letter');

export const evaluateWithSchema = z
  .object({
    /** Canonical JSONL with gold labels: usually a dataset stage's `test`. */
    dataset: artifactRefSchema,
    /** The models to compare, by name: each a train stage's `classifier` output. */
    models: z
      .record(modelName, artifactRefSchema)
      .refine((m) => Object.keys(m).length > 0, { message: 'name at least one model' }),
    /** The model the others are compared with (deltas are other − reference); default: the first. */
    reference: modelName.optional(),
    /** The model whose numbers the run publishes (search attributes, headline); default: the last. */
    candidate: modelName.optional(),
    /** A label left out of micro-F1, as KLUE-RE leaves out `no_relation`. */
    exclude: z.string().min(1).optional(),
    /** Multilabel decision threshold; default: each model's own (the trainer's). */
    threshold: z.number().gt(0).lt(1).optional(),
    inference: inferenceOptionsSchema.optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    for (const key of ['reference', 'candidate'] as const) {
      const name = w[key];
      if (name !== undefined && !(name in w.models))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `"${name}" is not one of models: ${Object.keys(w.models).join(', ')}`,
        });
    }
  });
export type EvaluateWith = z.infer<typeof evaluateWithSchema>;

export const evaluateContract = defineContract({
  name: 'evaluate',
  version: '2',
  description:
    'Score classifiers on a labelled split (onnxruntime): F1, per-label P/R/F1, ROC-AUC, AUPRC, confusion matrices, deltas between models',
  with: evaluateWithSchema,
  outputs: {
    evaluation: artifactOutput,
    macroF1: z.number(),
    microF1: z.number(),
    /** Two-class tasks: F1 of class 1 (binary F1, e.g. ETHOS's hate); null with more classes or labels. */
    positiveF1: z.number().nullable(),
    /** positiveF1 × 10,000, rounded: the search attribute is an Int (SQL visibility holds only 3 Doubles). */
    positiveF1Bp: z.number().int().nullable(),
    modelDigest: z.string(),
  },
  publish: {
    searchAttributes: {
      macroF1: 'FairlineMacroF1',
      microF1: 'FairlineMicroF1',
      positiveF1Bp: 'FairlinePositiveF1Bp',
      modelDigest: 'FairlineModelDigest',
    },
  },
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: COMPUTE_RETRY,
    timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
  },
});
