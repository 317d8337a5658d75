/**
 * The contract of the `train` stage (implementation: implementation.ts): what a pipeline
 * may say about a training run. The keys mirror the trainer's own config (trainer/config.py,
 * camelCase), minus the file paths the stage fills in; test/trainer/train-stage.test.ts checks
 * that every key here is one the trainer knows. Workflow-safe: zod only.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { modelCacheable } from '../../pipeline/model-ref';
import { artifactOutput, defineContract } from '../define';
import { artifactRefSchema } from '../../store/types';

const positiveInt = z.number().int().positive();

export const scratchModelSchema = z
  .object({
    hidden: positiveInt.optional(),
    layers: positiveInt.optional(),
    heads: positiveInt.optional(),
    intermediate: positiveInt.optional(),
    vocabSize: positiveInt.optional(),
    dropout: z.number().min(0).max(1).optional(),
  })
  .strict()
  .refine((s) => s.hidden === undefined || s.heads === undefined || s.hidden % s.heads === 0, {
    message: 'hidden must be a multiple of heads',
  });

/**
 * A LoRA adapter (trainer/adapters.py, through PEFT): a trainable low-rank update (alpha / r)·B·A
 * beside each target linear layer's frozen weight; the classification head trains in full. The
 * stage stores the adapter (`adapter` output) and the merged model (`huggingface`, `model`).
 */
export const adapterSchema = z
  .object({
    type: z.literal('lora'),
    r: positiveInt.optional(),
    alpha: z.number().positive().optional(),
    dropout: z.number().min(0).lt(1).optional(),
    /** Linear layers by name suffix; default the attention's `query` and `value` projections. */
    targetModules: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

export const trainWithSchema = z
  .object({
    /** Canonical JSONL to train on (a `dataset` stage's `train`, or a `ner-mask` output). */
    dataset: artifactRefSchema,
    /** Canonical JSONL for per-epoch metrics and the ONNX parity check; the training set when absent. */
    validation: artifactRefSchema.optional(),
    /** Extra weighted rows, e.g. from mine-hard-negatives. */
    hardNegatives: z
      .object({ dataset: artifactRefSchema, weight: z.number().positive().optional() })
      .strict()
      .optional(),
    /**
     * `embedding`: a bi-encoder trained with MultipleNegativesRankingLoss on pair rows (`text`,
     * `pair.text`, `meta.negatives`); the `classifier` output is then an embedder bundle
     * (pipeline/embedder.ts). trainer/embedding.py, docs/embedding.md.
     */
    mode: z.enum(['baseline', 'debiased', 'embedding']).optional(),
    /** Embedding mode: the inverse temperature of the cosine scores (20). */
    scale: z.number().positive().optional(),
    /** Embedding mode: prepended to every text (E5: `"query: "`). */
    textPrefix: z.string().optional(),
    /**
     * `scratch` (default), a built-in pretrained encoder (`multilingual-e5-small`,
     * `all-minilm-l6-v2`), a local folder (absolute, `./relative` or file://), an `s3://` prefix,
     * a model artifact (an `hf-model` bundle, e.g. another train stage's `huggingface` output), or
     * a Hugging Face hub id. See pipeline/model-ref.ts and docs/models.md.
     */
    model: z.union([z.string().min(1), artifactRefSchema]).optional(),
    scratch: scratchModelSchema.optional(),
    task: z.enum(['auto', 'multilabel', 'multiclass']).optional(),
    numLabels: z.number().int().nonnegative().optional(),
    labelNames: z.array(z.string().min(1)).optional(),
    entityTypes: z.array(z.string().min(1)).optional(),
    maxLength: positiveInt.optional(),
    batchSize: positiveInt.optional(),
    /** 0 only in embedding mode: the pretrained encoder exported untrained (a baseline row). */
    epochs: z.number().int().nonnegative().optional(),
    maxSteps: z.number().int().nonnegative().optional(),
    lr: z.number().positive().optional(),
    warmupRatio: z.number().min(0).lt(1).optional(),
    weightDecay: z.number().min(0).optional(),
    gradClip: z.number().min(0).optional(),
    seed: z.number().int().optional(),
    groupByLength: z.boolean().optional(),
    threshold: z.number().gt(0).lt(1).optional(),
    /**
     * The debiased loss preset (trainer/losses.py): `manual`, the manual's formulas (α on the gold
     * term, T = 1, renormalised attention KL); `public`, the authors' code as meant (α on the
     * teacher term, T = 2 on the teacher only, their attention KL), x and x̂ apart in both. The
     * knobs below override single choices; the run records the effective formula.
     */
    loss: z.enum(['manual', 'public']).optional(),
    alpha: z.number().min(0).max(1).optional(),
    alphaOrientation: z.enum(['manual', 'public']).optional(),
    lambdaDebias: z.number().min(0).optional(),
    temperature: z.number().positive().optional(),
    temperatureScope: z.enum(['teacher', 'both']).optional(),
    temperatureSquared: z.boolean().optional(),
    debiasHeads: z.enum(['perHead', 'mean']).optional(),
    debiasNormalisation: z.enum(['renormalised', 'public']).optional(),
    /** Attention-probability dropout in both modes; default: the model's own (0.1 for BERT and scratch). */
    attentionDropout: z.number().min(0).lt(1).optional(),
    /** Train a LoRA adapter instead of every weight (parameter-efficient fine-tuning). */
    adapter: adapterSchema.optional(),
    checkpointEvery: z.number().int().nonnegative().optional(),
    /** Newest local checkpoint folders the trainer keeps (each is uploaded as it appears); 0 keeps all. */
    keepCheckpoints: z.number().int().nonnegative().optional(),
    logEvery: positiveInt.optional(),
    attnImplementation: z.string().min(1).optional(),
    parityTolerance: z.number().positive().optional(),
    onnxOpset: positiveInt.optional(),
    device: z.enum(['auto', 'cpu', 'cuda']).optional(),
    precision: z.enum(['auto', 'fp32', 'bf16']).optional(),
  })
  .strict()
  .refine((w) => w.epochs !== 0 || w.mode === 'embedding', {
    path: ['epochs'],
    message: 'epochs must be positive (0 exports an untrained model, which only mode: embedding does)',
  });
export type TrainWith = z.infer<typeof trainWithSchema>;

/** The `model` of a train stage's `with`, if it is one a stage may name (a string or an artifact). */
function trainModelOf(input: Record<string, unknown>): string | z.infer<typeof artifactRefSchema> | undefined {
  const model = trainWithSchema.shape.model.safeParse(input.model);
  return model.success ? model.data : undefined;
}

export const trainContract = defineContract({
  name: 'train',
  version: '3',
  description:
    'Train a text classifier (baseline, or debiased by bidirectional distillation) with the Python trainer; export ONNX',
  with: trainWithSchema,
  outputs: {
    model: artifactOutput,
    tokenizer: artifactOutput,
    metrics: artifactOutput,
    config: artifactOutput,
    huggingface: artifactOutput,
    classifier: artifactOutput,
    /** The LoRA adapter alone (an `hf-adapter` bundle: adapter_config.json, adapter_model.safetensors); else null. */
    adapter: artifactRefSchema.nullable(),
  },
  // A hub id can move to new weights unseen; every other model kind puts its digest in the key.
  cacheable: (input) => modelCacheable(trainModelOf(input)),
  relativePaths: ['model'],
  defaults: {
    queue: TASK_QUEUES.gpu,
    // Attempts are the budget for infrastructure: a lost worker, a store that stays down. A retry
    // resumes from the last uploaded checkpoint, so attempts are cheap; the trainer's own failures
    // have a budget of their own (TRAINER_FAILURE_BUDGET in implementation.ts).
    retry: { maximumAttempts: 20, initialIntervalMs: 1_000, backoffCoefficient: 2, maximumIntervalMs: 30_000 },
    // The stage beats every second while the trainer lives, so 30 s of silence means the worker
    // is gone: the retry starts then, not minutes later.
    timeout: { startToCloseMs: 6 * 60 * 60_000, heartbeatMs: 30_000 },
  },
});
