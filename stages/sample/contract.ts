/**
 * The contract of the `sample` stage (implementation: implementation.ts; reference: README.md):
 * N rows of a canonical JSONL dataset, drawn without replacement by a seed. Workflow-safe: zod
 * only.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactRefSchema } from '../../store/types';
import { artifactOutput, COMPUTE_RETRY, defineContract } from '../define';

export const sampleWithSchema = z
  .object({
    /** Canonical JSONL: a dataset stage's split, a ner-mask or a mine-hard-negatives `dataset`. */
    dataset: artifactRefSchema,
    /** How many rows to draw; a dataset with fewer rows is kept whole. */
    rows: z.number().int().positive(),
    /** The same seed draws the same rows from the same dataset, on every machine. */
    seed: z.number().int().nonnegative().default(0),
    /** File name of the stored sample. */
    name: z
      .string()
      .regex(/^[\p{L}\p{N}._\-=+@,~]+$/u, 'a plain file name')
      .default('sample.jsonl'),
  })
  .strict();
export type SampleWith = z.infer<typeof sampleWithSchema>;

export const sampleContract = defineContract({
  name: 'sample',
  version: '1',
  description:
    'Draw N rows of a canonical dataset without replacement, seeded and deterministic; keep their order and bytes',
  with: sampleWithSchema,
  outputs: { dataset: artifactOutput, rows: z.number().int().nonnegative() },
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: COMPUTE_RETRY,
    timeout: { startToCloseMs: 30 * 60_000, heartbeatMs: 60_000 },
  },
});
