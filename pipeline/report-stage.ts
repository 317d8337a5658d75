/**
 * The contract of the `report` stage (implementation: activities/stages/report.ts): the run's
 * findings (evaluation, audit, hard negatives) gathered into report.json and a self-contained
 * report.html. Workflow-safe: zod only.
 */
import { z } from 'zod';
import { artifactRefSchema } from '../store/types';

export const reportWithSchema = z
  .object({
    /** An evaluate stage's `evaluation`. */
    evaluation: artifactRefSchema.optional(),
    /** An audit stage's `audit`. */
    audit: artifactRefSchema.optional(),
    /** A mine-hard-negatives stage's `summary`. */
    hardNegatives: artifactRefSchema.optional(),
  })
  .strict()
  .refine((w) => w.evaluation !== undefined || w.audit !== undefined || w.hardNegatives !== undefined, {
    message: 'give at least one of evaluation, audit, hardNegatives',
  });
export type ReportWith = z.infer<typeof reportWithSchema>;
