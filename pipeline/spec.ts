/**
 * The shape of a pipeline YAML file, as people write it (pipelines/*.yaml). These schemas check
 * shape only: types, allowed keys, id syntax, durations, queues. What needs the whole file or the
 * stage-type registry (known `uses`, `needs` targets, cycles, `${{ }}` references, each stage's
 * `with` contract) is checked in pipeline/validate.ts, which turns the result into a RunSpec.
 *
 * Every object is strict, so a misspelt key (`need:` for `needs:`) is an error, never ignored.
 */
import { z } from 'zod';
import { ALL_TASK_QUEUES } from '../common/constants';
import { parseDuration } from './duration';

/** Pipeline names become parts of workflow ids and store keys: lowercase, starting with a letter. */
export const pipelineNameSchema = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z][a-z0-9-]*$/, 'must be lowercase letters, digits and "-", starting with a letter')
  .max(63, 'must be at most 63 characters');
export type PipelineName = z.infer<typeof pipelineNameSchema>;

/**
 * Stage ids appear in `${{ stages.ID.outputs.NAME }}`, in `needs`, in workflow and cache keys.
 * A leading "-" is refused because it reads as a command-line flag wherever an id is typed.
 */
export const stageIdSchema = z
  .string({ error: 'must be a string' })
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lowercase letters, digits and "-" (not starting with "-")')
  .max(63, 'must be at most 63 characters');
export type StageId = z.infer<typeof stageIdSchema>;

/** Param names appear in `${{ params.NAME }}` and `--set params.NAME=VALUE`. */
export const paramNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'must be letters, digits, "_" and "-", starting with a letter or "_"');
export type ParamName = z.infer<typeof paramNameSchema>;

/** A param is typed by its default: a string, a finite number or a boolean. */
export const paramValueSchema = z.union([z.string(), z.number(), z.boolean()], {
  error: 'a param default must be a string, a number or a boolean (its type is the param type)',
});
export type ParamValue = z.infer<typeof paramValueSchema>;

/** `500ms`, `10s`, `2m`, `6h`, `1d`, `1h30m`: kept as text here, turned into ms by the resolver. */
export const durationSchema = z
  .string({ error: 'must be a duration such as 500ms, 10s, 2m, 6h, 1d or 1h30m' })
  .refine((text) => parseDuration(text) !== undefined, {
    error: (issue) =>
      `malformed duration ${JSON.stringify(issue.input)}: expected e.g. 500ms, 10s, 2m, 6h, 1d or 1h30m (largest unit first, whole numbers)`,
  })
  .refine((text) => (parseDuration(text) ?? 1) > 0, { error: 'must be longer than zero' });
export type DurationText = z.infer<typeof durationSchema>;

const knownQueues = ALL_TASK_QUEUES.join(', ');
/** A task queue a worker listens on; anything else would leave the stage waiting forever. */
export const queueSchema = z
  .string({ error: `must be a queue name: ${knownQueues}` })
  .refine((q) => ALL_TASK_QUEUES.some((known) => known === q), {
    error: (issue) => `unknown queue ${JSON.stringify(issue.input)}; known queues: ${knownQueues}`,
  });

/** Retry policy overrides; each key left out keeps the stage type's default. */
export const stageRetrySchema = z
  .object(
    {
      maximumAttempts: z.number().int('must be a whole number').min(1, 'must be at least 1'),
      initialInterval: durationSchema,
      backoffCoefficient: z.number().min(1, 'must be at least 1'),
      maximumInterval: durationSchema,
    },
    { error: 'must be a mapping: { maximumAttempts, initialInterval, backoffCoefficient, maximumInterval }' },
  )
  .partial()
  .strict();
export type StageRetry = z.infer<typeof stageRetrySchema>;

/** Timeout overrides; each key left out keeps the stage type's default. */
export const stageTimeoutSchema = z
  .object(
    {
      startToClose: durationSchema,
      heartbeat: durationSchema,
      scheduleToStart: durationSchema,
    },
    { error: 'must be a mapping: { startToClose, heartbeat, scheduleToStart }' },
  )
  .partial()
  .strict();
export type StageTimeout = z.infer<typeof stageTimeoutSchema>;

/** One entry of `stages:`. `with` is free-form here; its stage type's schema checks it later. */
export const stageSpecSchema = z
  .object(
    {
      id: stageIdSchema,
      uses: z.string({ error: 'must be a stage type name' }),
      needs: z.array(stageIdSchema, { error: 'must be a list of stage ids' }).optional(),
      queue: queueSchema.optional(),
      retry: stageRetrySchema.optional(),
      timeout: stageTimeoutSchema.optional(),
      cache: z.boolean({ error: 'must be true or false' }).optional(),
      with: z.record(z.string(), z.unknown(), { error: 'must be a mapping of inputs' }).optional(),
    },
    { error: 'a stage must be a mapping with at least `id` and `uses`' },
  )
  .strict();
export type StageSpec = z.infer<typeof stageSpecSchema>;

/**
 * `schedule:` is accepted and kept for the scheduling feature; checked loosely here (known keys,
 * plausible types) so that a typo still fails early.
 */
export const scheduleSpecSchema = z
  .object(
    {
      cron: z.string().optional(),
      every: durationSchema.optional(),
      timezone: z.string().optional(),
      overlap: z.string().optional(),
      catchupWindow: durationSchema.optional(),
      jitter: durationSchema.optional(),
      paused: z.boolean().optional(),
      note: z.string().optional(),
      skipIfUnchanged: z.boolean().optional(),
    },
    { error: 'must be a mapping with `cron` or `every`' },
  )
  .strict()
  .refine((s) => s.cron !== undefined || s.every !== undefined, { error: 'a schedule needs `cron` or `every`' });
export type ScheduleSpec = z.infer<typeof scheduleSpecSchema>;

/** A whole pipeline file. */
export const pipelineFileSchema = z
  .object(
    {
      name: pipelineNameSchema,
      description: z.string().optional(),
      params: z
        .record(paramNameSchema, paramValueSchema, { error: 'must be a mapping of param names to default values' })
        .optional(),
      stages: z
        .array(stageSpecSchema, { error: 'must be a list of stages' })
        .min(1, 'a pipeline needs at least one stage'),
      schedule: scheduleSpecSchema.optional(),
    },
    { error: 'a pipeline file must be a mapping with at least `name` and `stages`' },
  )
  .strict();
export type PipelineFile = z.infer<typeof pipelineFileSchema>;
