/**
 * The contract of the `mine-hard-negatives` stage (implementation:
 * implementation.ts, recipes in mining/): which examples of a training pool
 * are hard negatives, by two classic recipes from retrieval training:
 * - model-based: a trained classifier scores the pool; per label, the negatives it scores
 *   confidently wrong and those closest to its decision boundary;
 * - bm25: for each positive example of a label, its nearest lexical neighbours (Okapi BM25 over
 *   character n-grams) that are negative for that label.
 * The output rows are canonical rows with provenance in `meta.hard_negative`
 * (report/schema.ts `hardNegativeRowSchema`); the `train` stage takes them as
 * `with.hardNegatives.dataset`. Docs: stages/mine-hard-negatives/README.md. Workflow-safe: zod only.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactOutput, COMPUTE_RETRY, defineContract } from '../define';
import { artifactRefSchema } from '../../store/types';
import { inferenceOptionsSchema } from '../../pipeline/inference';

/** Every default of the stage, in one place (stages/mine-hard-negatives/README.md lists them). */
export const MINING_DEFAULTS = {
  modelBased: {
    /** Examples per label and per reason (confident-wrong, low-margin). */
    perLabel: 50,
    /** A negative the model gives at least this probability for a label is confidently wrong. */
    confidentWrongMin: 0.8,
  },
  bm25: {
    /** Neighbours kept per positive example and label. */
    neighbours: 3,
    /**
     * Character n-gram sizes of each token. Two- and three-syllable grams are near-morphemes in
     * Korean and survive attached particles (남학생이 / 남학생은 share 남학, 학생, 남학생).
     */
    ngrams: [2, 3] as const,
    /** Okapi BM25's term-frequency saturation and length normalisation (Robertson's usual values). */
    k1: 1.2,
    b: 0.75,
    /** Neighbours scoring at or below this are not look-alikes at all (0: any shared term counts). */
    minScore: 0,
  },
  /** Mined rows any one source example may contribute (bm25: over all its labels). */
  capPerExample: 5,
  /** Mined rows in all, the hardest kept (see stages/mine-hard-negatives/README.md for the order). */
  maxTotal: 10_000,
} as const;

/** The file names of the two artifacts. */
export const MINING_FILES = { dataset: 'hard_negatives.jsonl', summary: 'mining-summary.json' } as const;

/** Examples in the summary, for the report. */
export const MINING_SUMMARY_EXAMPLES = 8;

export const modelBasedSchema = z
  .object({
    perLabel: z.number().int().min(1).max(1_000_000).default(MINING_DEFAULTS.modelBased.perLabel),
    confidentWrongMin: z.number().gt(0).lt(1).default(MINING_DEFAULTS.modelBased.confidentWrongMin),
  })
  .strict();
export type ModelBasedOptions = z.infer<typeof modelBasedSchema>;

export const bm25Schema = z
  .object({
    neighbours: z.number().int().min(1).max(1_000).default(MINING_DEFAULTS.bm25.neighbours),
    ngrams: z
      .tuple([z.number().int().min(1).max(16), z.number().int().min(1).max(16)])
      .refine(([min, max]) => min <= max, { message: 'ngrams is [min, max] with min <= max' })
      .default([MINING_DEFAULTS.bm25.ngrams[0], MINING_DEFAULTS.bm25.ngrams[1]]),
    k1: z.number().min(0).max(100).default(MINING_DEFAULTS.bm25.k1),
    b: z.number().min(0).max(1).default(MINING_DEFAULTS.bm25.b),
    minScore: z.number().min(0).default(MINING_DEFAULTS.bm25.minScore),
  })
  .strict();
export type Bm25Options = z.infer<typeof bm25Schema>;

/**
 * Pairs mode (mining/pairs.ts): hard negatives for sentence-embedding pairs instead of a
 * classifier's pool. Rows need `pair.text`; the output rows get `meta.negatives` for the train
 * stage's `mode: embedding`. Docs: stages/mine-hard-negatives/README.md "Pairs".
 */
export const pairsMiningSchema = z
  .object({
    /** `bm25` (lexical), `model` (cosine of an embedder's vectors), `random` (seeded, unguarded baseline). */
    method: z.enum(['bm25', 'model', 'random']),
    /** An embedder bundle (a train stage's `classifier` in `mode: embedding`); only with method model. */
    embedder: artifactRefSchema.optional(),
    /** Negatives per anchor. */
    negatives: z.number().int().min(1).max(100).default(1),
    /** Guard: a candidate is kept only when its score < factor · (the positive's score) − margin. */
    factor: z.number().gt(0).max(1).default(0.95),
    margin: z.number().min(0).default(0),
    /** `replace` the rows' explicit negatives, or `append` to them. */
    combine: z.enum(['replace', 'append']).default('replace'),
    /** Seed of method random. */
    seed: z.number().int().default(42),
    bm25: bm25Schema.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.method === 'model') !== (p.embedder !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['embedder'],
        message:
          p.method === 'model'
            ? 'method model needs an embedder'
            : `an embedder is only used by method model, not ${p.method}`,
      });
    if (p.bm25 !== undefined && p.method !== 'bm25')
      ctx.addIssue({ code: 'custom', path: ['bm25'], message: `bm25 options apply to method bm25, not ${p.method}` });
  });
export type PairsMining = z.infer<typeof pairsMiningSchema>;

export const mineWithSchema = z
  .object({
    /** The training pool: canonical JSONL (a `dataset` stage's `train`, or a `ner-mask` output). */
    dataset: artifactRefSchema,
    /** A trained classifier (a `train` stage's `classifier`); without it only bm25 runs. */
    model: artifactRefSchema.optional(),
    /** Label names when no model names them (the trainer's default, LABEL_0…, otherwise). */
    labelNames: z.array(z.string().min(1)).min(1).optional(),
    /** Mine only for these labels (by name); default every label. */
    labels: z.array(z.string().min(1)).min(1).optional(),
    /** Model-based mining; on whenever `model` is given. `false` is refused with a model (it would go unused). */
    modelBased: z.union([z.literal(false), modelBasedSchema]).optional(),
    /** Lexical look-alikes; on unless `false`. */
    bm25: z.union([z.literal(false), bm25Schema]).optional(),
    capPerExample: z.number().int().min(1).max(1_000_000).default(MINING_DEFAULTS.capPerExample),
    maxTotal: z.number().int().min(1).max(100_000_000).default(MINING_DEFAULTS.maxTotal),
    inference: inferenceOptionsSchema.optional(),
    /** Sentence-embedding pairs instead of a classifier's pool (pairsMiningSchema). */
    pairs: pairsMiningSchema.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.pairs !== undefined) {
      for (const key of ['model', 'modelBased', 'bm25', 'labels', 'labelNames'] as const)
        if (spec[key] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `${key} belongs to classifier mining; in pairs mode set the method under pairs`,
          });
      return;
    }
    if (spec.modelBased !== undefined && spec.modelBased !== false && spec.model === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['modelBased'],
        message: 'model-based mining needs a `model` to score the pool',
      });
    }
    if (spec.model !== undefined && spec.modelBased === false) {
      ctx.addIssue({
        code: 'custom',
        path: ['modelBased'],
        message: 'a `model` is given but modelBased is false: drop the model, or turn model-based mining on',
      });
    }
    if (spec.bm25 === false && spec.model === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['bm25'],
        message: 'this mines nothing: with bm25 off, give a `model` for model-based mining',
      });
    }
  });
export type MineWith = z.infer<typeof mineWithSchema>;

/** The recipes a parsed `with` turns on, defaults filled in; null for a recipe that is off. */
export function miningRecipes(spec: MineWith): { modelBased: ModelBasedOptions | null; bm25: Bm25Options | null } {
  return {
    modelBased:
      spec.model === undefined || spec.modelBased === false ? null : (spec.modelBased ?? modelBasedSchema.parse({})),
    bm25: spec.bm25 === false ? null : (spec.bm25 ?? bm25Schema.parse({})),
  };
}

export const mineContract = defineContract({
  name: 'mine-hard-negatives',
  version: '1',
  description:
    'Mine hard negatives from a training pool: rows a classifier is confidently wrong or unsure about, and BM25 look-alikes of positives that carry another label',
  with: mineWithSchema,
  outputs: { dataset: artifactOutput, summary: artifactOutput, mined: z.number().int() },
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: COMPUTE_RETRY,
    timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
  },
});
