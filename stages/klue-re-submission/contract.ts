/**
 * The contract of the `klue-re-submission` stage (implementation: implementation.ts; reference:
 * README.md): KLUE-RE's submission file from an evaluate stage's evaluation.json, and the
 * model's two official KLUE-RE metrics as outputs (micro F1 published as FairlineKlueReMicroF1Bp).
 * Workflow-safe: zod only.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactRefSchema } from '../../store/types';
import { artifactOutput, COMPUTE_RETRY, defineContract } from '../define';

export const klueReSubmissionWithSchema = z
  .object({
    /** An evaluate stage's `evaluation`, scored with `exclude: no_relation`. */
    evaluation: artifactRefSchema,
    /** The evaluated model to write the file for (its name under evaluate's `models`); default: the last. */
    model: z.string().min(1).optional(),
  })
  .strict();
export type KlueReSubmissionWith = z.infer<typeof klueReSubmissionWithSchema>;

export const klueReSubmissionContract = defineContract({
  name: 'klue-re-submission',
  version: '1',
  description:
    "Write KLUE-RE's submission CSV (id, pred_label, probs in relation_list.json's order) for an evaluated model, with its klue_re_micro_f1 and klue_re_auprc",
  with: klueReSubmissionWithSchema,
  outputs: {
    submission: artifactOutput,
    microF1: z.number(),
    auprc: z.number(),
    /** klue_re_micro_f1 in hundredths (66.44 → 6644: basis points of F1), the Int the run publishes. */
    microF1Bp: z.number().int(),
  },
  // An Int, not a Double: SQL visibility has three Double slots and FairlineMacroF1, FairlineMicroF1
  // and FairlineReactivity take them (common/constants.ts).
  publish: { searchAttributes: { microF1Bp: 'FairlineKlueReMicroF1Bp' } },
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: COMPUTE_RETRY,
    timeout: { startToCloseMs: 30 * 60_000, heartbeatMs: 60_000 },
  },
});
