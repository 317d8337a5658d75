/**
 * The validated, fully resolved pipeline that a `pipelineRun` workflow receives as its input.
 * The client builds it from YAML (pipeline/validate.ts); the workflow never reads YAML, so its
 * history records exactly what ran. Workflow code imports this file: zod only, no Node built-ins.
 */
import { z } from 'zod';

/** JSON values as they travel in workflow payloads. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export const jsonSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonSchema), z.record(z.string(), jsonSchema)]),
);

/**
 * A reference to another stage's output, left in `with` by the client and replaced by the
 * output's ArtifactRef (or scalar) when the stage starts: `${{ stages.data.outputs.dataset }}`.
 */
export const outputRefSchema = z
  .object({ $output: z.object({ stage: z.string(), output: z.string() }).strict() })
  .strict();
export type OutputRef = z.infer<typeof outputRefSchema>;

export const retryPolicySchema = z
  .object({
    maximumAttempts: z.number().int().min(1),
    initialIntervalMs: z.number().int().positive(),
    backoffCoefficient: z.number().min(1),
    maximumIntervalMs: z.number().int().positive(),
  })
  .strict();
export type ResolvedRetry = z.infer<typeof retryPolicySchema>;

export const timeoutsSchema = z
  .object({
    startToCloseMs: z.number().int().positive(),
    heartbeatMs: z.number().int().positive().optional(),
    scheduleToStartMs: z.number().int().positive().optional(),
  })
  .strict();
export type ResolvedTimeouts = z.infer<typeof timeoutsSchema>;

export const resolvedStageSchema = z
  .object({
    id: z.string(),
    uses: z.string(),
    /** Version of the stage type's implementation; part of the cache key. */
    version: z.string(),
    needs: z.array(z.string()),
    queue: z.string(),
    retry: retryPolicySchema,
    timeout: timeoutsSchema,
    cache: z.boolean(),
    /** The stage's inputs: params already substituted; other stages' outputs as OutputRefs. */
    with: z.record(z.string(), jsonSchema),
    /** From the stage type (stages/define.ts StagePublish): outputs shown as search attributes and memo. */
    publish: z
      .object({
        searchAttributes: z.record(z.string(), z.string()).optional(),
        memo: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
    /** From the stage type: runs after failed needs that handed over outputs (a report after a failed gate). */
    alwaysRuns: z.boolean().optional(),
    /**
     * From the stage type: its outputs are the run's data, run first by skipIfUnchanged. Absent
     * in specs recorded before stage traits existed (workflows/legacy.ts).
     */
    source: z.boolean().optional(),
    /** From the stage type: the output holding the run's HTML report. */
    report: z.string().optional(),
  })
  .strict();
export type ResolvedStage = z.infer<typeof resolvedStageSchema>;

export const runSpecSchema = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    params: z.record(z.string(), jsonSchema),
    stages: z.array(resolvedStageSchema).min(1),
    /** sha256 of the canonical JSON of name + params + stages: identifies what ran. */
    specDigest: z.string(),
    /** The YAML file the spec came from, for people reading the history. */
    sourceFile: z.string().optional(),
  })
  .strict();
export type RunSpec = z.infer<typeof runSpecSchema>;
