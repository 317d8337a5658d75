/**
 * The contract of the `dataset` stage (implementation: implementation.ts): its `with`
 * block (sources, format, mapping, split, onInvalidRow) and the dataset card it writes.
 * Workflow-safe like the stage registry that imports it: zod only, no Node built-ins.
 *
 * A mapping says, declaratively, how a source record (a CSV/TSV row, a JSON object) becomes a
 * canonical row (pipeline/dataset.ts): which column is the text, the optional id, pair text and
 * meta columns, and exactly one label rule — `labels:` for multi-label rows (a 0/1 vector),
 * `label:` for single-label rows (a class index). Every rule is checked here, before a run
 * starts, so that a typo is a FILE:LINE:COL problem and not a failed stage.
 */
import { z } from 'zod';
import { TASK_QUEUES } from '../../common/constants';
import { artifactOutput, FETCH_RETRY, defineContract } from '../define';
import { taskSchema } from '../../pipeline/dataset';

/** The canonical splits, in the order every listing (outputs, card) uses. */
export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;
export const splitNameSchema = z.enum(SPLIT_NAMES);
export type SplitName = z.infer<typeof splitNameSchema>;

/** Source formats: delimited text, a JSON array of objects, JSON Lines, and named adapters. */
export const DATASET_FORMATS = ['csv', 'tsv', 'json', 'jsonl', 'klue-ner', 'klue-re', 'klue-nli', 'klue-sts'] as const;

/**
 * Formats whose adapter builds rows itself (no mapping; stages/dataset/klue-ner.ts, klue-re.ts,
 * klue-pairs.ts): what each puts in a row (for the error that refuses a mapping beside it) and the
 * task of its rows (klue-re's are a relation index; the others carry no labels).
 */
const ADAPTERS: Readonly<Record<string, { rows: string; task: z.infer<typeof taskSchema> }>> = {
  'klue-ner': { rows: 'text, entities, id', task: 'multilabel' },
  'klue-re': { rows: 'marked text, relation label, guid', task: 'multiclass' },
  'klue-nli': { rows: 'text, pair, meta, id', task: 'multilabel' },
  'klue-sts': { rows: 'text, pair, meta, id', task: 'multilabel' },
};

/** The task of the rows an adapter format builds; undefined for formats read through a mapping. */
export const adapterTask = (format: string): z.infer<typeof taskSchema> | undefined => ADAPTERS[format]?.task;

export const datasetFormatSchema = z.enum(DATASET_FORMATS);
export type DatasetFormat = z.infer<typeof datasetFormatSchema>;

/**
 * Runs a cross-field check only when the fields themselves parsed cleanly (no unknown key, no
 * wrong type), so that one mistake is reported once and not echoed by the rule checks.
 */
const whenClean = { when: (payload: { issues: readonly unknown[] }) => payload.issues.length === 0 };

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256: 64 lowercase hex characters');
const sourceUrl = z
  .string()
  .regex(
    /^(https?|s3|file):\/\/\S+$/,
    'must be an http(s)://, s3:// or file:// URL, or a path (./relative to the pipeline file, or /absolute)',
  );

/** A column: a header name (csv/tsv with a header, json, jsonl) or a 0-based index (csv/tsv with `header: false`). */
export const columnSchema = z.union([z.string().min(1), z.number().int().nonnegative()]);
export type Column = z.infer<typeof columnSchema>;

const classNames = z
  .array(z.string().min(1))
  .min(1)
  .refine((names) => new Set(names).size === names.length, { message: 'class names must be unique' });

/**
 * Multi-label rules (`labels:`), one of:
 * - `{ columns: [c1, c2, …] }`: one 0/1 column per label; with `threshold: t`, a numeric column
 *   counts as 1 when its value is ≥ t (ETHOS multi_label holds annotator fractions);
 * - `{ column: C, separator: ",", classes: N | [names] }`: one column listing the row's labels,
 *   each a 0-based class index or (when `classes` lists names) a class name; K-MHaS's `1,3`;
 * - `{ column: C }` (optionally `classes: N | [names]` for the length): the column already holds
 *   the 0/1 vector (a JSON array, or its text in a csv/tsv cell). Without `classes` or
 *   `labelNames`, the first valid row fixes the length.
 */
export const multiLabelRuleSchema = z
  .object({
    columns: z.array(columnSchema).min(1).optional(),
    threshold: z.number().finite().optional(),
    column: columnSchema.optional(),
    separator: z.string().min(1).optional(),
    classes: z.union([z.number().int().positive(), classNames]).optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if ((rule.columns === undefined) === (rule.column === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give either columns: [one 0/1 column per label] or column: C (one column holding every label)',
      });
      return;
    }
    if (rule.columns !== undefined) {
      if (new Set(rule.columns).size !== rule.columns.length)
        ctx.addIssue({ code: 'custom', path: ['columns'], message: 'a column is listed twice' });
      if (rule.separator !== undefined)
        ctx.addIssue({ code: 'custom', path: ['separator'], message: 'separator applies to column:, not to columns:' });
      if (rule.classes !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['classes'],
          message: 'with columns:, every column is a class; classes does not apply',
        });
    } else {
      if (rule.threshold !== undefined)
        ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'threshold applies to columns:, not to column:' });
      if (rule.separator !== undefined && rule.classes === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['separator'],
          message: 'a separated id list needs classes: the number of classes or their names',
        });
      }
    }
  }, whenClean);
export type MultiLabelRule = z.infer<typeof multiLabelRuleSchema>;

/**
 * Single-label rules (`label:`), one of:
 * - `{ column: C, classes: [names] }`: the cell is a class name, its index the label; `classes: N`:
 *   the cell already is a class index in [0, N);
 * - `{ column: C, map: { name: index } }`: names mapped to indices (several names may share one);
 * - `{ column: C, threshold: t | "median", above: 1 }`: a numeric cell; value ≥ t gives class
 *   `above` (default 1), below gives the other. `median` is the median of the column over every
 *   row that passed validation, across all sources (the mean of the two middle values for an
 *   even count); a value equal to the median is ≥ it, so it gets `above`.
 */
export const singleLabelRuleSchema = z
  .object({
    column: columnSchema,
    classes: z.union([z.number().int().min(2), classNames]).optional(),
    map: z.record(z.string(), z.number().int().nonnegative()).optional(),
    threshold: z.union([z.number().finite(), z.literal('median')]).optional(),
    above: z.union([z.literal(0), z.literal(1)]).optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const forms = [rule.classes, rule.map, rule.threshold].filter((f) => f !== undefined).length;
    if (forms !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of classes, map or threshold' });
    if (rule.above !== undefined && rule.threshold === undefined)
      ctx.addIssue({ code: 'custom', path: ['above'], message: 'above applies to threshold' });
    if (rule.map !== undefined && Object.keys(rule.map).length === 0)
      ctx.addIssue({ code: 'custom', path: ['map'], message: 'map needs at least one name' });
  }, whenClean);
export type SingleLabelRule = z.infer<typeof singleLabelRuleSchema>;

/** How a source record becomes a canonical row. */
export const mappingSchema = z
  .object({
    text: columnSchema,
    /** Row ids; without it a row's id is `<split>-<n>`, n its 1-based record number in its source. */
    id: columnSchema.optional(),
    labels: multiLabelRuleSchema.optional(),
    label: singleLabelRuleSchema.optional(),
    /** Names of the labels (multi-label) or classes (single-label), in index order, for the card. */
    labelNames: classNames.optional(),
    /** A second text (title ↔ comment, context ↔ sentence): becomes the row's `pair.text`. */
    pair: z.object({ text: columnSchema }).strict().optional(),
    /** Columns kept verbatim under the row's `meta`, keyed by column name (or index). */
    meta: z.array(columnSchema).min(1).optional(),
  })
  .strict()
  .superRefine((mapping, ctx) => {
    if ((mapping.labels === undefined) === (mapping.label === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give exactly one of labels (multi-label: a 0/1 vector) or label (single-label: a class index)',
      });
      return;
    }
    const count = classCount(mapping);
    if (mapping.labelNames !== undefined && count !== undefined && mapping.labelNames.length !== count) {
      ctx.addIssue({
        code: 'custom',
        path: ['labelNames'],
        message: `lists ${mapping.labelNames.length} names for ${count} ${mapping.labels ? 'labels' : 'classes'}`,
      });
    }
    const map = mapping.label?.map;
    if (map !== undefined && mapping.labelNames !== undefined) {
      for (const [name, index] of Object.entries(map)) {
        if (index >= mapping.labelNames.length)
          ctx.addIssue({
            code: 'custom',
            path: ['label', 'map', name],
            message: `index ${index} is out of range for ${mapping.labelNames.length} labelNames`,
          });
      }
    }
  }, whenClean);
export type Mapping = z.infer<typeof mappingSchema>;

/**
 * The number of labels (multi-label) or classes (single-label) a mapping defines, when the mapping
 * alone says so; undefined for a vector column without `classes` or `labelNames` (the data says).
 */
export function classCount(mapping: Mapping): number | undefined {
  const { labels, label } = mapping;
  if (labels?.columns !== undefined) return labels.columns.length;
  if (labels?.classes !== undefined) return typeof labels.classes === 'number' ? labels.classes : labels.classes.length;
  if (labels !== undefined) return mapping.labelNames?.length;
  if (label?.classes !== undefined) return typeof label.classes === 'number' ? label.classes : label.classes.length;
  if (label?.map !== undefined) return mapping.labelNames?.length ?? Math.max(...Object.values(label.map)) + 1;
  if (label?.threshold !== undefined) return 2;
  return undefined;
}

/** Options of the csv and tsv formats. */
export const csvOptionsSchema = z
  .object({
    /** One ASCII character; default `,` for csv and a tab for tsv. */
    delimiter: z
      .string()
      .regex(/^[\t\x20-\x21\x23-\x7e]$/, 'must be one ASCII character other than a quote, CR or LF')
      .optional(),
    /** Whether the first record names the columns (default true). Without one, columns are 0-based indices. */
    header: z.boolean().optional(),
    /**
     * `rfc4180` (default): fields may be double-quoted, `""` inside is a quote. `none`: quotes are plain characters.
     */
    quoting: z.enum(['rfc4180', 'none']).optional(),
  })
  .strict();
export type CsvOptions = z.infer<typeof csvOptionsSchema>;

/** One source file of a `sources:` map. */
export const datasetSourceSchema = z
  .object({ url: sourceUrl, sha256: sha256Hex.optional(), maxBytes: z.number().int().positive().optional() })
  .strict();
export type DatasetSource = z.infer<typeof datasetSourceSchema>;

/**
 * A seeded random split of one source. Ratios default to 0 and must add up to 1. `stratify`
 * (default true) keeps each label's share in every split: single-label rows are grouped by
 * class, multi-label rows by their label combination (the whole 0/1 vector).
 */
export const splitRatiosSchema = z
  .object({
    train: z.number().min(0).max(1).optional(),
    validation: z.number().min(0).max(1).optional(),
    test: z.number().min(0).max(1).optional(),
    seed: z
      .number({
        error: (issue) =>
          issue.input === undefined ? 'a random split needs a seed: an integer from 0 to 4294967295' : undefined,
      })
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    stratify: z.boolean().optional(),
  })
  .strict()
  .superRefine((ratios, ctx) => {
    const sum = (ratios.train ?? 0) + (ratios.validation ?? 0) + (ratios.test ?? 0);
    if (Math.abs(sum - 1) > 1e-9)
      ctx.addIssue({ code: 'custom', message: `train + validation + test must add up to 1, they add up to ${sum}` });
  }, whenClean);
export type SplitRatios = z.infer<typeof splitRatiosSchema>;

/**
 * "Shuffle with a seed, train on the first N, test on the rest" (the protocol of few-shot learning
 * curves such as the agile classifiers'): fairline's seeded shuffle (split.ts `shuffledOrder`, not
 * numpy's permutation), no stratification, exactly `trainFirst` training rows. Within each split
 * rows keep their source order.
 */
export const splitShuffleSchema = z
  .object({
    shuffle: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    trainFirst: z.number().int().positive(),
  })
  .strict();
export type SplitShuffle = z.infer<typeof splitShuffleSchema>;

/**
 * `with` of the `dataset` stage. Sources: `url` (+ `sha256`, `maxBytes`) for one file, which
 * `split` names (default `train`) or splits at random; or `sources: { train: {url, sha256}, … }`,
 * one file per split, kept as the authors split them.
 */
export const datasetWithSchema = z
  .object({
    url: sourceUrl.optional(),
    sha256: sha256Hex.optional(),
    maxBytes: z.number().int().positive().optional(),
    sources: z
      .object({
        train: datasetSourceSchema.optional(),
        validation: datasetSourceSchema.optional(),
        test: datasetSourceSchema.optional(),
      })
      .strict()
      .optional(),
    format: datasetFormatSchema,
    csv: csvOptionsSchema.optional(),
    mapping: mappingSchema.optional(),
    split: z
      .union([splitNameSchema, splitRatiosSchema, splitShuffleSchema], {
        // A union's own message is a bare "Invalid input": say what each form wants instead.
        error: (issue) => {
          if (issue.code !== 'invalid_union' || typeof issue.input !== 'object' || issue.input === null) {
            return `must be a split name (${SPLIT_NAMES.join(', ')}), ratios { train, validation, test, seed } or { shuffle, trainFirst }`;
          }
          if ('shuffle' in issue.input || 'trainFirst' in issue.input) {
            const problems = (issue.errors[2] ?? []).map(
              (i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`,
            );
            return `split { shuffle, trainFirst }: ${problems.join('; ')}`;
          }
          const problems = (issue.errors[1] ?? []).map(
            (i) => `${i.path.length > 0 ? `${i.path.join('.')}: ` : ''}${i.message}`,
          );
          return `split ratios: ${problems.join('; ')}`;
        },
      })
      .optional(),
    /**
     * `fail` (default): any invalid row fails the stage and nothing is stored; `skip`: drop them, count them in the
     * card.
     */
    onInvalidRow: z.enum(['fail', 'skip']).optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if ((spec.url === undefined) === (spec.sources === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give either url (one file) or sources (one file per split: train, validation, test)',
      });
    }
    if (spec.sources !== undefined) {
      if (Object.keys(spec.sources).length === 0)
        ctx.addIssue({ code: 'custom', path: ['sources'], message: 'name at least one split' });
      for (const key of ['sha256', 'maxBytes', 'split'] as const) {
        if (spec[key] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `with sources, each source has its own ${key === 'split' ? 'split (its key)' : key}`,
          });
      }
    }
    const delimited = spec.format === 'csv' || spec.format === 'tsv';
    if (spec.csv !== undefined && !delimited)
      ctx.addIssue({
        code: 'custom',
        path: ['csv'],
        message: `csv options apply to the csv and tsv formats, not ${spec.format}`,
      });
    if (ADAPTERS[spec.format] !== undefined) {
      if (spec.mapping !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['mapping'],
          message: `the ${spec.format} adapter maps rows itself (${ADAPTERS[spec.format]?.rows ?? 'text, id'}); remove mapping`,
        });
      return;
    }
    if (spec.mapping === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['mapping'],
        message: `format ${spec.format} needs a mapping (at least text and labels or label)`,
      });
      return;
    }
    // Column references: indices exactly when a csv/tsv file has no header; names otherwise.
    const byIndex = delimited && spec.csv?.header === false;
    for (const [path, column] of columnsOf(spec.mapping)) {
      if (byIndex && typeof column === 'string')
        ctx.addIssue({
          code: 'custom',
          path: ['mapping', ...path],
          message: 'without a header row, columns are 0-based indices',
        });
      if (!byIndex && typeof column === 'number') {
        ctx.addIssue({
          code: 'custom',
          path: ['mapping', ...path],
          message: delimited
            ? 'a column index needs csv: { header: false }; name the header column instead'
            : `${spec.format} columns are property names`,
        });
      }
    }
  });
export type DatasetWith = z.infer<typeof datasetWithSchema>;

/** Every column a mapping names, with its path under `mapping`. */
export function columnsOf(mapping: Mapping): [(string | number)[], Column][] {
  const found: [(string | number)[], Column][] = [[['text'], mapping.text]];
  if (mapping.id !== undefined) found.push([['id'], mapping.id]);
  if (mapping.pair !== undefined) found.push([['pair', 'text'], mapping.pair.text]);
  mapping.meta?.forEach((c, i) => found.push([['meta', i], c]));
  mapping.labels?.columns?.forEach((c, i) => found.push([['labels', 'columns', i], c]));
  if (mapping.labels?.column !== undefined) found.push([['labels', 'column'], mapping.labels.column]);
  if (mapping.label !== undefined) found.push([['label', 'column'], mapping.label.column]);
  return found;
}

/** Why a row was rejected: the card counts rows per reason. */
export const REJECT_REASONS = [
  'invalid-utf8',
  'invalid-json',
  'not-an-object',
  'field-count',
  'malformed-record',
  'missing-column',
  'text-not-string',
  'empty-text',
  'id-missing',
  'duplicate-id',
  'pair-missing',
  'label-missing',
  'label-not-a-number',
  'label-not-binary',
  'label-unknown',
  'label-out-of-range',
  'label-length',
  'entity-invalid',
  'entity-mismatch',
  'entity-overlap',
  'schema',
] as const;
export const rejectReasonSchema = z.enum(REJECT_REASONS);
export type RejectReason = z.infer<typeof rejectReasonSchema>;

const countsSchema = z.record(z.string(), z.number().int().nonnegative());
const perSplit = <T extends z.ZodType>(schema: T) =>
  z.object({ train: schema, validation: schema, test: schema }).strict();

/**
 * The dataset card: what the canonical artifacts hold and where they came from. It carries no
 * timestamps, so equal inputs give a byte-identical card (and a cacheable stage).
 */
export const datasetCardSchema = z
  .object({
    schema: z.literal('fairline.dataset-card/1'),
    format: datasetFormatSchema,
    task: taskSchema,
    sources: z.array(
      z
        .object({
          /** The split this file is, or null when it was split at random. */
          split: splitNameSchema.nullable(),
          /** The URL as the pipeline names it (before data mirrors). */
          url: z.string(),
          sha256: sha256Hex,
          bytes: z.number().int().nonnegative(),
          /** Records read from the file, rejected ones included. */
          records: z.number().int().nonnegative(),
        })
        .strict(),
    ),
    split: z.union([z.object({ from: z.literal('source') }).strict(), splitRatiosSchema, splitShuffleSchema]),
    rows: perSplit(z.number().int().nonnegative()),
    labelNames: z.array(z.string()),
    /** Per split, per label name: positives (multilabel) or rows of that class (multiclass). */
    labels: perSplit(countsSchema),
    /** The threshold a numeric label column was cut at (its computed value when `median`). */
    threshold: z.object({ column: columnSchema, value: z.number(), rule: z.string() }).strict().optional(),
    /** Entity spans per type, per split (formats that carry entities: klue-ner). */
    entities: perSplit(countsSchema).optional(),
    rejected: z
      .object({
        total: z.number().int().nonnegative(),
        byReason: countsSchema,
        /** The first 20, as `source:row: reason`. */
        examples: z.array(z.string()),
      })
      .strict(),
    onInvalidRow: z.enum(['fail', 'skip']),
  })
  .strict();
export type DatasetCard = z.infer<typeof datasetCardSchema>;

/**
 * A dataset stage may come from the cache only when every source is pinned by sha256: an
 * unpinned file may change under the same URL (see the `download` stage).
 */
export function datasetCacheable(input: Record<string, unknown>): boolean {
  const parsed = datasetWithSchema.safeParse(input);
  if (!parsed.success) return false;
  const { sources, sha256 } = parsed.data;
  if (sources === undefined) return sha256 !== undefined;
  return Object.values(sources).every((source) => source.sha256 !== undefined);
}

export const datasetContract = defineContract({
  name: 'dataset',
  version: '1',
  description:
    'Fetch dataset files, parse (csv/tsv/json/jsonl/klue-ner/klue-re/klue-nli/klue-sts), map and validate every row, split; write canonical JSONL per split and a dataset card',
  with: datasetWithSchema,
  outputs: { train: artifactOutput, validation: artifactOutput, test: artifactOutput, card: artifactOutput },
  // The card names every split by digest: one digest for the whole dataset.
  publish: { searchAttributes: { card: 'FairlineDatasetDigest' } },
  source: true,
  cacheable: datasetCacheable,
  relativePaths: ['url', 'sources.*.url'],
  defaults: {
    queue: TASK_QUEUES.cpu,
    retry: FETCH_RETRY,
    timeout: { startToCloseMs: 60 * 60_000, heartbeatMs: 30_000 },
  },
});
