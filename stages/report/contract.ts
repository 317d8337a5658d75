/**
 * The contract of the `report` stage (implementation: implementation.ts): the run's
 * findings (evaluation, audit, hard negatives) gathered into report.json and a self-contained
 * report.html. Workflow-safe: zod only.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactOutput, COMPUTE_RETRY, defineContract } from '../define';
import { artifactRefSchema } from '../../store/types';

export const reportWithSchema = z
  .object({
    /** An evaluate stage's `evaluation`. */
    evaluation: artifactRefSchema.optional(),
    /** An audit stage's `audit`. */
    audit: artifactRefSchema.optional(),
    /** A mine-hard-negatives stage's `summary`. */
    hardNegatives: artifactRefSchema.optional(),
    /** An evaluate-embedding stage's `evaluation`. */
    embedding: artifactRefSchema.optional(),
  })
  .strict()
  .refine(
    (w) =>
      w.evaluation !== undefined || w.audit !== undefined || w.hardNegatives !== undefined || w.embedding !== undefined,
    {
      message: 'give at least one of evaluation, audit, hardNegatives, embedding',
    },
  );
export type ReportWith = z.infer<typeof reportWithSchema>;

export const reportContract = defineContract({
  name: 'report',
  version: '1',
  description:
    "Gather the run's evaluation, audit and hard negatives into report.json and a self-contained report.html",
  with: reportWithSchema,
  withIssuePath: 'with',
  outputs: { report: artifactOutput, html: artifactOutput },
  // Provenance names the run: a cached report would name another one.
  cacheable: () => false,
  alwaysRuns: true,
  report: 'html',
  publish: { memo: { report: 'report', html: 'reportHtml' } },
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: COMPUTE_RETRY,
    timeout: { startToCloseMs: 10 * 60_000, heartbeatMs: 60_000 },
  },
});
