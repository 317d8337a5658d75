/**
 * The `with` contract of the `ner-mask` stage (registered in stages/index.ts). It builds x̂: each
 * row's text with its entity spans replaced by the target model's mask token. Spans come from
 * any combination of four sources; the implementation is implementation.ts beside this file.
 *
 * Workflow-safe: zod only, no Node built-ins (the client validates pipelines with it).
 */
import { BUILTIN_MODEL_NAMES } from '../../models/names';
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactOutput, COMPUTE_RETRY, defineContract } from '../define';
import { artifactRefSchema } from '../../store/types';

/**
 * A file given either as an artifact (another stage's output: content-addressed, so the cache
 * follows its bytes) or as a local path / file:// URL (the client turns `./x` and `../x` into
 * file:// URLs relative to the pipeline file; read as is, so a stage using one is never served
 * from the cache: the key cannot see the file's bytes).
 */
export const fileInputSchema = z.union([
  artifactRefSchema,
  z
    .string()
    .regex(
      /^(file:\/\/\/|\/)./,
      'must be an artifact, a file:// URL, or a path (relative to the pipeline file, or absolute)',
    ),
]);
export type FileInput = z.infer<typeof fileInputSchema>;

/** A tokenizer.json as a file input, or a built-in model's name (its tokenizer.json, docs/models.md). */
export const tokenizerInputSchema = z.union([fileInputSchema, z.enum(BUILTIN_MODEL_NAMES)]);
export type TokenizerInput = z.infer<typeof tokenizerInputSchema>;

const entityType = z
  .string()
  .min(1)
  .regex(/^\S(.*\S)?$/, 'no leading or trailing spaces');

/** (a) spans shipped with the dataset: `entities`, or token-level tags in `meta.tokens` + `meta.ner_tags`. */
export const datasetSourceSchema = z
  .object({
    /** Names of numeric tags (`meta.ner_tags: [0, 3, 4]`), index = tag id, e.g. `[O, B-PS, I-PS]`. */
    tagNames: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

/** One lexicon entry: a bare term (typed with the lexicon's `type`) or a term with its own type. */
export const lexiconEntrySchema = z.union([
  z.string().trim().min(1),
  z.object({ term: z.string().trim().min(1), type: entityType }).strict(),
]);
export type LexiconEntry = z.infer<typeof lexiconEntrySchema>;

/** (b) an identity-term lexicon: inline terms and/or a file (YAML list, or KoSBi's demographic_groups.json). */
export const lexiconSourceSchema = z
  .object({
    terms: z.array(lexiconEntrySchema).min(1).optional(),
    file: fileInputSchema.optional(),
    /**
     * `list`: a YAML sequence of entries; `groups`: a mapping category → list of comma-separated
     * term groups, the shape of KoSBi's demographic_groups.json (category = span type);
     * `auto`: by the document's root (sequence → list, mapping → groups).
     */
    format: z.enum(['auto', 'list', 'groups']).default('auto'),
    /** Keep only these categories of a `groups` file, e.g. `[성별]`. */
    categories: z.array(z.string().min(1)).min(1).optional(),
    /** Span type of bare terms. */
    type: entityType.default('identity'),
  })
  .strict()
  .refine((l) => l.terms !== undefined || l.file !== undefined, { message: 'give `terms`, `file`, or both' });

/** (c) proper nouns from the Korean morphological analyzer kiwipiepy (`python -m trainer.morph`). */
export const morphSourceSchema = z
  .object({
    /** Kiwi part-of-speech tags that count as entities; span type = tag. */
    tags: z
      .array(z.string().regex(/^[A-Z][A-Z_-]*$/, 'a Kiwi POS tag such as NNP'))
      .min(1)
      .default(['NNP']),
    /** Rows sent to the analyzer per round trip. */
    batch: z.number().int().min(1).max(10_000).default(256),
  })
  .strict();

/** (d) an ONNX token-classification model (logits [batch, tokens, labels]) and its tokenizer.json. */
export const onnxSourceSchema = z
  .object({
    model: artifactRefSchema,
    tokenizer: artifactRefSchema,
    /** The model's labels by output index (its config's id2label), a BIO/IOB2/BIOES scheme: `[O, B-PS, I-PS, …]`. */
    labels: z.array(z.string().min(1)).min(2),
    /** Longest token sequence the model takes; longer texts run in windows of this many tokens. */
    maxLength: z.number().int().min(4).max(8192).default(512),
  })
  .strict();

export const nerMaskSourcesSchema = z
  .object({
    dataset: z.union([z.literal(true), datasetSourceSchema]).optional(),
    lexicon: lexiconSourceSchema.optional(),
    morph: z.union([z.literal(true), morphSourceSchema]).optional(),
    onnx: onnxSourceSchema.optional(),
  })
  .strict()
  .refine((s) => Object.values(s).some((v) => v !== undefined), {
    message: 'name at least one span source: dataset, lexicon, morph or onnx',
  });

/** The span sources in their fixed order: the order of merging, of `source` names and of type precedence. */
export const SPAN_SOURCES = ['dataset', 'lexicon', 'morph', 'onnx'] as const;
export type SpanSource = (typeof SPAN_SOURCES)[number];

export const nerMaskWithSchema = z
  .object({
    /** The canonical JSONL dataset (pipeline/dataset.ts). */
    dataset: artifactRefSchema,
    sources: nerMaskSourcesSchema,
    /** The target model tokenizer's mask token. */
    maskToken: z.string().min(1).default('[MASK]'),
    /**
     * `perSpan`: one mask per span; `perSubtoken`: one per sub-token of the span under `tokenizer` (the manual's
     * behaviour).
     */
    mode: z.enum(['perSpan', 'perSubtoken']).default('perSpan'),
    /**
     * The target model's tokenizer.json; required by `perSubtoken`. A path may be relative to the
     * pipeline file; a built-in model's name (`multilingual-e5-small`) means its tokenizer.json.
     */
    tokenizer: tokenizerInputSchema.optional(),
    /** File name of the masked dataset artifact. */
    name: z
      .string()
      .regex(/^[\p{L}\p{N}._\-=+@,~]+$/u, 'a plain file name')
      .default('masked.jsonl'),
  })
  .strict()
  .refine((w) => w.mode !== 'perSubtoken' || w.tokenizer !== undefined, {
    message:
      'mode perSubtoken counts sub-tokens with the target tokenizer: give `tokenizer` (a tokenizer.json artifact or path)',
    path: ['tokenizer'],
  });
export type NerMaskWith = z.infer<typeof nerMaskWithSchema>;

/** True when every file input is an artifact (so the cache key covers its bytes). */
export function nerMaskCacheable(input: Record<string, unknown>): boolean {
  const sources = input.sources;
  const lexicon = sources && typeof sources === 'object' && 'lexicon' in sources ? sources.lexicon : undefined;
  const lexiconFile = lexicon && typeof lexicon === 'object' && 'file' in lexicon ? lexicon.file : undefined;
  return typeof input.tokenizer !== 'string' && typeof lexiconFile !== 'string';
}

export const nerMaskContract = defineContract({
  name: 'ner-mask',
  version: '1',
  description:
    'Build x̂: replace entity spans (dataset tags, a lexicon, a morphological analyzer, an ONNX tagger) with the mask token',
  with: nerMaskWithSchema,
  outputs: { dataset: artifactOutput, card: artifactOutput, shareMasked: z.number() },
  cacheable: nerMaskCacheable,
  relativePaths: ['tokenizer', 'sources.lexicon.file'],
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: COMPUTE_RETRY,
    timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
  },
});
