/**
 * The JSON shapes the inference-side stages write and the report reads: one zod schema per
 * artifact, beside its type. Names are snake_case throughout because the metric names are fixed
 * by `fairline metrics` (scripts rely on them) and the rest of report.json follows suit.
 *
 * - metrics.json (the `evaluate` stage, per model) and `fairline metrics`: `metricsSchema`
 * - evaluation.json (the `evaluate` stage): `evaluationSchema`
 * - audit.json (the `audit` stage): `auditSchema`
 * - hard_negatives.jsonl rows and the mining summary (the `mine-hard-negatives` stage)
 * - report.json (the `report` stage): `reportSchema`, every number report.html shows
 *
 * Workflow-safe: zod only.
 */
import { z } from 'zod';
import { trainingSchema } from './training';
import { embeddingEvaluationSchema } from './embedding';
import { artifactRefSchema } from '../store/types';
import { canonicalRowSchema } from '../pipeline/dataset';

/** A metric that can be undefined for the data (ROC-AUC of a label with no positives): null, never NaN. */
const maybe = z.number().nullable();

export const metricsTaskSchema = z.enum(['multilabel', 'multiclass', 'binary']);
export type MetricsTask = z.infer<typeof metricsTaskSchema>;

export const perLabelMetricsSchema = z
  .object({
    label: z.string(),
    precision: z.number(),
    recall: z.number(),
    f1: z.number(),
    /** Number of true instances of the label. */
    support: z.number().int().nonnegative(),
    roc_auc: maybe,
    average_precision: maybe,
  })
  .strict();
export type PerLabelMetrics = z.infer<typeof perLabelMetricsSchema>;

export const metricsSchema = z
  .object({
    task: metricsTaskSchema,
    labels: z.array(z.string()),
    /** Decision threshold on probabilities (multilabel, binary); null for multiclass (argmax). */
    threshold: z.number().nullable(),
    /** Number of examples. */
    n: z.number().int().nonnegative(),
    macro_f1: z.number(),
    /** With `excluded_label`, micro-F1 over the other labels (KLUE-RE). */
    micro_f1: z.number(),
    weighted_f1: z.number(),
    subset_accuracy: z.number(),
    hamming_loss: z.number(),
    roc_auc_macro: maybe,
    average_precision_macro: maybe,
    per_label: z.array(perLabelMetricsSchema),
    /**
     * multiclass/binary: [true class][predicted class]; multilabel: one 2×2 per label,
     * [[tn, fp], [fn, tp]] (scikit-learn's multilabel_confusion_matrix).
     */
    confusion_matrix: z.union([z.array(z.array(z.number().int())), z.array(z.array(z.array(z.number().int())))]),
    /** The label left out of micro_f1 (KLUE-RE's `no_relation`), with a sentence saying so. */
    excluded_label: z.string().optional(),
    note: z.string().optional(),
    /**
     * Multiclass with `excluded_label` only: KLUE-RE's official metrics on its ×100 scale
     * (eval/klue-re.ts): micro F1 without the excluded label, and the mean over every class of
     * the trapezoidal area under its precision-recall curve (not average precision).
     */
    klue_re_micro_f1: z.number().optional(),
    klue_re_auprc: z.number().optional(),
    /** Binary only: F1 and ROC-AUC of the positive class. */
    f1: z.number().optional(),
    roc_auc: maybe.optional(),
  })
  .strict();
export type Metrics = z.infer<typeof metricsSchema>;

/** ROC and precision-recall curves of one label (scikit-learn's roc_curve / precision_recall_curve points). */
export const labelCurvesSchema = z
  .object({
    label: z.string(),
    roc: z
      .object({ fpr: z.array(z.number()), tpr: z.array(z.number()) })
      .strict()
      .nullable(),
    pr: z
      .object({ precision: z.array(z.number()), recall: z.array(z.number()) })
      .strict()
      .nullable(),
  })
  .strict();
export type LabelCurves = z.infer<typeof labelCurvesSchema>;

/** One evaluated model in evaluation.json. */
export const evaluatedModelSchema = z
  .object({
    /** The key under `models:` in the stage's `with` (baseline, debiased, …). */
    name: z.string(),
    /** sha256 of the ONNX model. */
    model_digest: z.string(),
    mode: z.string(),
    /** The training seed, for provenance. */
    seed: z.number().int().optional(),
    metrics: metricsSchema,
    curves: z.array(labelCurvesSchema),
    /** Predictions artifact: JSONL rows {id, y_true, y_score}. */
    predictions: artifactRefSchema,
    /** How the model was trained (its resolved train_config.json), when the bundle names it. */
    training: trainingSchema.optional(),
    /** Bootstrap intervals of macro and micro F1 (rows resampled; eval/intervals.ts). */
    intervals: z.lazy(() => f1IntervalsSchema).optional(),
  })
  .strict();

/** `to` minus `from` for each headline metric and per label F1 (positive is better for all of them). */
export const metricDeltaSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    macro_f1: z.number(),
    micro_f1: z.number(),
    weighted_f1: z.number(),
    per_label: z.array(
      z.object({ label: z.string(), f1: z.number(), precision: z.number(), recall: z.number() }).strict(),
    ),
    /** Paired bootstrap intervals of the macro and micro F1 differences (the same resampled rows for both models). */
    intervals: z.lazy(() => f1IntervalsSchema).optional(),
  })
  .strict();

export const evaluationSchema = z
  .object({
    dataset_digest: z.string(),
    models: z.array(evaluatedModelSchema).min(1),
    /** Each model against the first (the reference), in `models` order. */
    deltas: z.array(metricDeltaSchema),
    /** Training configuration keys whose values differ between the models (report/training.ts). */
    config_differences: z
      .array(z.object({ key: z.string(), values: z.record(z.string(), z.unknown()) }).strict())
      .optional(),
  })
  .strict();
export type Evaluation = z.infer<typeof evaluationSchema>;

/** A reactivity value with its bootstrap 95% confidence interval. */
export const estimateSchema = z
  .object({
    value: z.number(),
    ci_low: z.number(),
    ci_high: z.number(),
  })
  .strict();
export type Estimate = z.infer<typeof estimateSchema>;

/** Macro and micro F1 (or their differences) with bootstrap intervals. */
export const f1IntervalsSchema = z.object({ macro_f1: estimateSchema, micro_f1: estimateSchema }).strict();

/**
 * Reactivity of one slice (overall, a group, a pair), per label and summarised over labels.
 * For a test sentence s and a pair (a, b): d_y = p(y | s with a) − p(y | s with b).
 * signed = mean d_y; absolute = mean |d_y|; the summary over labels is their mean.
 */
export const reactivitySliceSchema = z
  .object({
    signed: estimateSchema,
    absolute: estimateSchema,
    per_label: z.array(z.object({ label: z.string(), signed: estimateSchema, absolute: estimateSchema }).strict()),
    /** Share of (sentence, pair) whose thresholded prediction changes when a becomes b. */
    flip_rate: z.number(),
    /** Number of (sentence, pair) cases. */
    cases: z.number().int().nonnegative(),
  })
  .strict();
export type ReactivitySlice = z.infer<typeof reactivitySliceSchema>;

export const gateSchema = z
  .object({
    mode: z.enum(['fail', 'warn']),
    max_abs_reactivity: z.number().nullable(),
    max_flip_rate: z.number().nullable(),
    /** `mean`: a group's mean over labels is judged; `max`: its most reactive label. */
    aggregate: z.enum(['mean', 'max']).optional(),
    /** `point`: the estimate is judged; `upper`: the upper end of its interval. */
    estimate: z.enum(['point', 'upper']).optional(),
    max_f1_drop: z.number().nullable().optional(),
    /** Reference F1 minus the judged model's F1, when maxF1Drop is set. */
    f1_drop: z
      .object({
        metric: z.enum(['macro_f1', 'micro_f1']),
        reference: z.string(),
        reference_f1: z.number(),
        model_f1: z.number(),
        value: z.number(),
      })
      .strict()
      .nullable()
      .optional(),
    passed: z.boolean(),
    /** One sentence per exceeded threshold, naming the group and the value. */
    reasons: z.array(z.string()),
  })
  .strict();

/**
 * The manual's reactivity, by that name: 1/(|S|·|T|) Σ_s Σ_(m,f) [p(y|s+m) − p(y|s+f)] per label
 * and group (S the audit's sentences, T the group's pairs, m the pair's first term), the signed
 * mean, next to the mean of |p(y|s+m) − p(y|s+f)|. The manual's protocol is `insert`: the terms
 * joined to the test sentences.
 */
export const manualReactivitySchema = z
  .object({
    definition: z.string(),
    /** insert (the manual's: terms joined to test sentences, at `positions`) or templates. */
    protocol: z.enum(['insert', 'templates']),
    positions: z.enum(['prefix', 'suffix', 'both']).nullable(),
    sentences: z.number().int().nonnegative(),
    groups: z.array(
      z
        .object({
          group: z.string(),
          pairs: z.number().int().positive(),
          per_label: z.array(
            z.object({ label: z.string(), signed: estimateSchema, absolute: estimateSchema }).strict(),
          ),
        })
        .strict(),
    ),
  })
  .strict();
export type ManualReactivity = z.infer<typeof manualReactivitySchema>;

/**
 * The audit's pairs split by whether the training's x̂ masked their terms: "seen in masking" pairs
 * restate what the masking removed; "unseen" pairs measure the model's reaction to identity terms
 * it was not told to ignore.
 */
export const maskingSplitSchema = z
  .object({
    /** Audit terms found among the masked spans of the training data. */
    seen_terms: z.array(z.string()),
    /** Training rows with at least one masked span, of all rows. */
    rows_masked: z.number().int().nonnegative(),
    rows: z.number().int().nonnegative(),
    slices: z.array(
      z
        .object({
          name: z.enum(['seen in masking', 'unseen']),
          pairs: z.array(z.object({ group: z.string(), a: z.string(), b: z.string() }).strict()),
          reactivity: reactivitySliceSchema.nullable(),
        })
        .strict(),
    ),
  })
  .strict();
export type MaskingSplit = z.infer<typeof maskingSplitSchema>;

export const auditSchema = z
  .object({
    model_digest: z.string(),
    task: z.enum(['multilabel', 'multiclass']),
    labels: z.array(z.string()),
    threshold: z.number().nullable(),
    /** How sentences were built: templates with `<group>`, or terms inserted into test sentences. */
    method: z.enum(['templates', 'insert']),
    sentences: z.number().int().nonnegative(),
    bootstrap: z
      .object({ samples: z.number().int().positive(), seed: z.number().int(), confidence: z.number() })
      .strict(),
    overall: reactivitySliceSchema,
    groups: z.array(reactivitySliceSchema.extend({ group: z.string() })),
    pairs: z.array(reactivitySliceSchema.extend({ group: z.string(), a: z.string(), b: z.string() })),
    /** max over groups of the group's absolute reactivity: FairlineReactivity. */
    max_abs_reactivity: z.number(),
    flip_rate: z.number(),
    manual_reactivity: manualReactivitySchema.optional(),
    masking: maskingSplitSchema.nullable().optional(),
    gate: gateSchema,
  })
  .strict();
export type Audit = z.infer<typeof auditSchema>;

/** audit.json, the `audit` stage's artifact: one audit per model, and which model the gate judged. */
export const auditFileSchema = z
  .object({
    gated_model: z.string(),
    audits: z.array(auditSchema.extend({ name: z.string() })).min(1),
  })
  .strict();
export type AuditFile = z.infer<typeof auditFileSchema>;

/** Where a hard negative came from. */
export const hardNegativeProvenanceSchema = z
  .object({
    /** `confident-wrong`, `low-margin` (model-based) or `bm25` (a lexical neighbour with another label). */
    reason: z.enum(['confident-wrong', 'low-margin', 'bm25']),
    /** The label the example is hard for. */
    label: z.string(),
    /** The positive example it was mined for (bm25), or the example itself (model-based). */
    source_id: z.string(),
    /** The mined example (bm25: the neighbour). */
    neighbour_id: z.string(),
    /** BM25 score, or the model's probability for `label`. */
    score: z.number(),
  })
  .strict();

/** A row of hard_negatives.jsonl: a canonical row (the trainer reads it) with provenance in meta. */
export const hardNegativeRowSchema = canonicalRowSchema.extend({
  meta: z.object({ hard_negative: z.array(hardNegativeProvenanceSchema).min(1) }).passthrough(),
});
export type HardNegativeRow = z.infer<typeof hardNegativeRowSchema>;

export const miningSummarySchema = z
  .object({
    pool: z.number().int().nonnegative(),
    mined: z.number().int().nonnegative(),
    by_reason: z.record(z.string(), z.number().int().nonnegative()),
    /** A few rows for the report. */
    examples: z.array(
      z
        .object({
          id: z.string(),
          text: z.string(),
          reasons: z.array(z.string()),
          label: z.string(),
          score: z.number(),
        })
        .strict(),
    ),
  })
  .strict();
export type MiningSummary = z.infer<typeof miningSummarySchema>;

export const reportSchema = z
  .object({
    version: z.literal(1),
    provenance: z
      .object({
        pipeline: z.string(),
        run_id: z.string(),
        workflow_id: z.string(),
        git_commit: z.string().nullable(),
        spec_digest: z.string(),
        trigger: z.string(),
        created_at: z.string(),
        dataset_digest: z.string().nullable(),
        model_digests: z.record(z.string(), z.string()),
        seeds: z.record(z.string(), z.number().int()),
        params: z.record(z.string(), z.unknown()),
      })
      .strict(),
    evaluation: evaluationSchema.nullable(),
    /** One audit per audited model, by its name in evaluation (baseline, debiased). */
    audits: z.array(auditSchema.extend({ name: z.string() })),
    hard_negatives: miningSummarySchema.nullable(),
    /** An evaluate-embedding stage's results (report/embedding.ts); absent in reports written before it existed. */
    embedding: embeddingEvaluationSchema.nullable().optional(),
    /** The numbers that become search attributes: the reported model's (the last evaluated). */
    headline: z
      .object({
        model: z.string().nullable(),
        macro_f1: z.number().nullable(),
        micro_f1: z.number().nullable(),
        reactivity: z.number().nullable(),
        gate_passed: z.boolean().nullable(),
      })
      .strict(),
  })
  .strict();
export type Report = z.infer<typeof reportSchema>;
