/**
 * The `with` contract of the `audit` stage (registered in stages/index.ts): how strongly each model
 * reacts to identity terms (its reactivity, DESIGN.md "The science"), with bootstrap confidence
 * intervals, a CheckList-style flip rate and a pass/fail gate. Implementation:
 * implementation.ts over the audit/ library; reference in README.md beside this file.
 *
 * Workflow-safe: zod only, no Node built-ins (the client validates pipelines with it).
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactOutput, COMPUTE_RETRY, defineContract } from '../define';
import { artifactRefSchema } from '../../store/types';
import { inferenceOptionsSchema } from '../../pipeline/inference';
import { fileInputSchema } from '../ner-mask/contract';

/** Where a template's identity term goes. */
export const GROUP_PLACEHOLDER = '<group>';

/** Defaults of the audit stage, in one place. */
export const AUDIT_DEFAULTS = {
  /** Bootstrap resamples; 1000 keeps the 2.5/97.5 percentiles stable to about ±0.002 on typical audits. */
  bootstrapSamples: 1000,
  bootstrapSeed: 42,
  confidence: 0.95,
  /** Test sentences used in insert mode: each costs 2 × pairs × positions predictions per model. */
  maxSentences: 500,
  /** Sampling seed of insert mode when the dataset has more than maxSentences rows. */
  insertSeed: 42,
  name: 'audit.json',
} as const;

const term = z
  .string()
  .min(1, 'a term must be a non-empty string')
  .regex(/^\S(.*\S)?$/su, 'a term must not start or end with spaces');

/** A counterpart pair [a, b]: reactivity is p(y | a) − p(y | b), so the order sets the sign. */
export const identityPairSchema = z
  .tuple([term, term])
  .refine(([a, b]) => a !== b, { message: 'the two terms of a pair must differ: a pair compares two identities' });

/** Group name → its pairs (at least one): `gender: [[남학생, 여학생], [아들, 딸]]`. */
export const auditGroupsSchema = z
  .record(
    z.string().min(1, 'a group name must be a non-empty string'),
    z.array(identityPairSchema).min(1, 'a group needs at least one [a, b] pair'),
  )
  .refine((groups) => Object.keys(groups).length > 0, {
    message: 'name at least one group with its pairs, e.g. `gender: [[남학생, 여학생]]`',
  });
export type AuditGroups = z.infer<typeof auditGroupsSchema>;

/** A sentence with the `<group>` placeholder, optionally followed by a particle pair (`<group>은/는`). */
export const auditTemplateSchema = z
  .string()
  .min(1)
  .refine((t) => t.includes(GROUP_PLACEHOLDER), {
    message: `a template needs the ${GROUP_PLACEHOLDER} placeholder where the identity term goes, e.g. "${GROUP_PLACEHOLDER}은/는 성실하다."`,
  });

/** Insert mode (the manual's s + m): each identity term joined to each test sentence. */
export const auditInsertSchema = z
  .object({
    /** `prefix`: "term s"; `suffix`: "s term"; `both`: each sentence twice. */
    position: z.enum(['prefix', 'suffix', 'both']).default('both'),
    /** At most this many test sentences; a larger dataset is sampled (seeded, so the same rows each run). */
    maxSentences: z.number().int().positive().default(AUDIT_DEFAULTS.maxSentences),
    seed: z.number().int().default(AUDIT_DEFAULTS.insertSeed),
  })
  .strict();
export type AuditInsert = z.infer<typeof auditInsertSchema>;

export const auditBootstrapSchema = z
  .object({
    /** Resamples of the sentences (with replacement, each keeping all its pairs). */
    samples: z.number().int().min(1).max(100_000).default(AUDIT_DEFAULTS.bootstrapSamples),
    seed: z.number().int().default(AUDIT_DEFAULTS.bootstrapSeed),
    /** Interval coverage: 0.95 gives the 2.5th and 97.5th percentiles. */
    confidence: z.number().gt(0).lt(1).default(AUDIT_DEFAULTS.confidence),
  })
  .strict();
export type AuditBootstrap = z.infer<typeof auditBootstrapSchema>;

/** Pass/fail thresholds. A threshold left out is not checked; with none, the gate always passes. */
export const auditGateSchema = z
  .object({
    /** Largest allowed absolute reactivity of any group (the group's mean |d| over labels). */
    maxAbsReactivity: z.number().nonnegative().optional(),
    /** Largest allowed flip rate of any group. */
    maxFlipRate: z.number().min(0).max(1).optional(),
    /**
     * How a group's per-label absolute reactivities become the number maxAbsReactivity judges:
     * `mean` over labels (the default), or `max`, the most reactive label (one reactive label
     * cannot hide behind calm ones).
     */
    aggregate: z.enum(['mean', 'max']).default('mean'),
    /**
     * Judge the point estimate (default) or the upper end of its bootstrap interval (`upper`: pass only when
     * confidently below).
     */
    estimate: z.enum(['point', 'upper']).default('point'),
    /**
     * Largest allowed F1 lost against `reference` (reference F1 − judged model's F1, from the
     * `evaluation` input): a model that stopped working (a constant predictor has reactivity 0)
     * cannot pass.
     */
    maxF1Drop: z.number().nonnegative().optional(),
    /** The model maxF1Drop compares with (a model of the evaluation; usually the baseline). */
    reference: z.string().min(1).optional(),
    /** Which F1 maxF1Drop reads: `macro` (default) or `micro`. */
    f1: z.enum(['macro', 'micro']).default('macro'),
    /** `fail`: a failed gate fails the stage (BiasGateFailed, not retried); `warn`: a warning, gatePassed false. */
    mode: z.enum(['fail', 'warn']).default('fail'),
    /** The model the gate judges (a key of `models`); required when there are several. */
    model: z.string().min(1).optional(),
  })
  .strict();
export type AuditGate = z.infer<typeof auditGateSchema>;

export const auditWithSchema = z
  .object({
    /** Name → classifier bundle (the train stage's `classifier` output); at least one. */
    models: z
      .record(z.string().min(1, 'a model name must be a non-empty string'), artifactRefSchema)
      .refine((m) => Object.keys(m).length > 0, {
        message: 'name at least one model: `models: { baseline: ${{ stages.train.outputs.classifier }} }`',
      }),
    /** Canonical JSONL test split (pipeline/dataset.ts); the sentences of insert mode. */
    dataset: artifactRefSchema.optional(),
    /** Group → pairs. Default (with no `groupsFile` either): audit/default-groups.json, derived from KoSBi. */
    groups: auditGroupsSchema.optional(),
    /** The same mapping in a YAML or JSON file (an artifact, or a path relative to the pipeline file). */
    groupsFile: fileInputSchema.optional(),
    templates: z.array(auditTemplateSchema).min(1, 'give at least one template, or use `insert`').optional(),
    insert: auditInsertSchema.optional(),
    bootstrap: auditBootstrapSchema.prefault({}),
    gate: auditGateSchema.prefault({}),
    inference: inferenceOptionsSchema.optional(),
    /** An evaluate stage's `evaluation` (evaluation.json): the F1 figures gate.maxF1Drop reads. */
    evaluation: artifactRefSchema.optional(),
    /**
     * The training data x̂ was built from (a ner-mask stage's `dataset`): pairs whose terms were
     * masked there are reported apart ("seen in masking") from the others ("unseen"), so a number
     * that does not merely restate the masking always exists.
     */
    masked: artifactRefSchema.optional(),
    /** File name of the audit artifact. */
    name: z
      .string()
      .regex(/^[\p{L}\p{N}._\-=+@,~]+$/u, 'a plain file name')
      .default(AUDIT_DEFAULTS.name),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (w.templates !== undefined && w.insert !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['insert'],
        message: 'give `templates` or `insert`, not both: an audit builds its sentences one way',
      });
    }
    if (w.templates === undefined && w.insert === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['templates'],
        message: `give \`templates\` (sentences with ${GROUP_PLACEHOLDER}) or \`insert\` (identity terms joined to the test sentences of \`dataset\`)`,
      });
    }
    if (w.insert !== undefined && w.dataset === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['dataset'],
        message: '`insert` joins identity terms to test sentences: give `dataset` (a canonical JSONL test split)',
      });
    }
    if (w.groups !== undefined && w.groupsFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['groupsFile'], message: 'give `groups` or `groupsFile`, not both' });
    }
    if (w.gate.maxF1Drop !== undefined && w.evaluation === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['evaluation'],
        message: "gate.maxF1Drop compares F1 figures: give `evaluation` (an evaluate stage's evaluation output)",
      });
    }
    if (w.gate.maxF1Drop !== undefined && w.gate.reference === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['gate', 'reference'],
        message: 'gate.maxF1Drop needs gate.reference: the model whose F1 the judged model may not fall far below',
      });
    }
    if (w.gate.reference !== undefined && w.gate.reference === (w.gate.model ?? Object.keys(w.models)[0])) {
      ctx.addIssue({
        code: 'custom',
        path: ['gate', 'reference'],
        message: 'gate.reference must be another model than the one the gate judges',
      });
    }
    const names = Object.keys(w.models);
    if (w.gate.model === undefined && names.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['gate', 'model'],
        message: `several models are audited: name the one the gate judges (one of ${names.join(', ')})`,
      });
    }
    if (w.gate.model !== undefined && !names.includes(w.gate.model)) {
      ctx.addIssue({
        code: 'custom',
        path: ['gate', 'model'],
        message: `gate.model ${JSON.stringify(w.gate.model)} is not among models (${names.join(', ')})`,
      });
    }
  });
export type AuditWith = z.infer<typeof auditWithSchema>;

/** The model the gate judges: gate.model, or the only model. */
export function gatedModel(w: AuditWith): string {
  return w.gate.model ?? Object.keys(w.models)[0]!;
}

/** False when groupsFile is a path: the cache key cannot see a local file's bytes. */
export function auditCacheable(input: Record<string, unknown>): boolean {
  return typeof input.groupsFile !== 'string';
}

export const auditContract = defineContract({
  name: 'audit',
  version: '1',
  description:
    'Reactivity of classifiers to identity-term pairs (per label, pair and group, bootstrap CIs), flip rate, and a pass/fail bias gate',
  with: auditWithSchema,
  withIssuePath: '(with)',
  outputs: { audit: artifactOutput, reactivity: z.number(), flipRate: z.number(), gatePassed: z.boolean() },
  publish: { searchAttributes: { reactivity: 'FairlineReactivity', gatePassed: 'FairlineGatePassed' } },
  cacheable: auditCacheable,
  relativePaths: ['groupsFile'],
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: COMPUTE_RETRY,
    timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
  },
});
