/**
 * The registry of stage types a pipeline's `uses:` may name. Each entry is the stage's contract:
 * the zod schema of its `with` block, its outputs, its default queue, retry policy and timeouts,
 * and a version that is part of every cache key (bump it when the stage's output would change).
 * Implementations live in activities/stages/; this file is shared by the client (validation) and
 * the worker, and holds no I/O.
 */
import { z } from 'zod';
import { TASK_QUEUES, type SearchAttributeName, type TaskQueue } from '../common/constants';
import { artifactRefSchema } from '../store/types';
import { trainWithSchema } from './train-stage';
import { modelCacheable } from './model-ref';
import { datasetCacheable, datasetWithSchema } from './dataset-stage';
import { nerMaskCacheable, nerMaskWithSchema } from './ner-mask';
import { auditCacheable, auditWithSchema } from './audit-stage';
import { evaluateWithSchema } from './evaluate-stage';
import { reportWithSchema } from './report-stage';
import { mineWithSchema } from './mine-stage';
import type { ResolvedRetry, ResolvedTimeouts } from './run-spec';

export interface StageType {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  /** Schema of `with` after params are substituted and other stages' outputs are resolved. */
  readonly with: z.ZodType<Record<string, unknown>>;
  /** Output names and what they hold: an ArtifactRef, or a small JSON scalar. */
  readonly outputs: Readonly<Record<string, 'artifact' | 'scalar'>>;
  readonly defaults: { queue: TaskQueue; retry: ResolvedRetry; timeout: ResolvedTimeouts };
  /**
   * Whether a result may be served from the cache for these inputs. A stage whose output depends
   * on something outside its inputs (an unpinned remote file) says no: it always runs, and the
   * stages downstream, keyed on its output's digest, stay cached when the bytes did not change.
   */
  readonly cacheable?: (input: Record<string, unknown>) => boolean;
  /**
   * `with` keys that may be paths relative to the pipeline file (`./data.csv`); the client makes
   * them file:// URLs. Dotted for nested keys, `*` for every key of a mapping: `sources.*.url`.
   */
  readonly relativePaths?: readonly string[];
  /** What the run shows of this stage's outputs once it ends (see StagePublish). */
  readonly publish?: StagePublish;
  /**
   * Runs once its needs have ended even if one failed, as long as each produced outputs: a
   * report still gets written when the audit's bias gate failed (the audit hands over its
   * findings with the failure). Every other stage downstream of a failure is skipped.
   */
  readonly alwaysRuns?: boolean;
  /**
   * Its outputs are the run's data: a `skipIfUnchanged` run runs the source stages first and ends
   * as `skipped` when their outputs' digests match those of a successful run of the same spec.
   */
  readonly source?: boolean;
  /** The output that holds the run's HTML report, which `fairline run` prints a link to. */
  readonly report?: string;
}

/**
 * Outputs a run makes visible outside the artifact store: `searchAttributes` maps an output name
 * to a search attribute (numbers to Double attributes, booleans to Bool, strings and artifact
 * digests to Keyword), so the Temporal UI can filter runs by them; `memo` maps an output to a memo
 * key that gets the artifact's URI.
 */
export interface StagePublish {
  readonly searchAttributes?: Readonly<Record<string, SearchAttributeName>>;
  readonly memo?: Readonly<Record<string, string>>;
}

/** The `model` of a train stage's `with`, if it is one a stage may name (a string or an artifact). */
function trainModelOf(input: Record<string, unknown>): string | z.infer<typeof artifactRefSchema> | undefined {
  const model = trainWithSchema.shape.model.safeParse(input.model);
  return model.success ? model.data : undefined;
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256: 64 lowercase hex characters');

/** `download`: fetch a file over http(s), s3 or file, verify its sha256, store it. */
export const downloadWithSchema = z
  .object({
    url: z.string().regex(/^(https?|s3|file):\/\/\S+$/, 'must be an http(s)://, s3:// or file:// URL, or a path (./relative to the pipeline file, or /absolute)'),
    sha256: sha256Hex.optional(),
    /** File name of the stored artifact; defaults to the URL's last path segment. */
    name: z.string().regex(/^[\p{L}\p{N}._\-=+@,~]+$/u, 'a plain file name').optional(),
    /** Guard against runaway downloads. */
    maxBytes: z.number().int().positive().optional(),
  })
  .strict();
export type DownloadWith = z.infer<typeof downloadWithSchema>;

/** Stages that fetch from outside: a source that blinks deserves a few more tries. */
const FETCH_RETRY: ResolvedRetry = { maximumAttempts: 5, initialIntervalMs: 1_000, backoffCoefficient: 2, maximumIntervalMs: 60_000 };
/** Deterministic computation: a retry helps only with a lost worker or a store hiccup. */
const COMPUTE_RETRY: ResolvedRetry = { maximumAttempts: 3, initialIntervalMs: 1_000, backoffCoefficient: 2, maximumIntervalMs: 60_000 };

export const STAGE_TYPES: Readonly<Record<string, StageType>> = {
  download: {
    name: 'download',
    version: '1',
    description: 'Fetch a dataset file (http(s), s3, file), verify its sha256, store it as an artifact',
    with: downloadWithSchema,
    outputs: { dataset: 'artifact' },
    publish: { searchAttributes: { dataset: 'FairlineDatasetDigest' } },
    source: true,
    cacheable: (input) => typeof input.sha256 === 'string',
    relativePaths: ['url'],
    defaults: {
      queue: TASK_QUEUES.cpu,
      retry: FETCH_RETRY,
      timeout: { startToCloseMs: 30 * 60_000, heartbeatMs: 30_000 },
    },
  },
  dataset: {
    name: 'dataset',
    version: '1',
    description: 'Fetch dataset files, parse (csv/tsv/json/jsonl/klue-ner), map and validate every row, split; write canonical JSONL per split and a dataset card',
    with: datasetWithSchema,
    outputs: { train: 'artifact', validation: 'artifact', test: 'artifact', card: 'artifact' },
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
  },
  'ner-mask': {
    name: 'ner-mask',
    version: '1',
    description: 'Build x̂: replace entity spans (dataset tags, a lexicon, a morphological analyzer, an ONNX tagger) with the mask token',
    with: nerMaskWithSchema,
    outputs: { dataset: 'artifact', card: 'artifact', shareMasked: 'scalar' },
    cacheable: nerMaskCacheable,
    relativePaths: ['tokenizer', 'sources.lexicon.file'],
    defaults: {
      queue: TASK_QUEUES.cpu,
      retry: COMPUTE_RETRY,
      timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
    },
  },
  'mine-hard-negatives': {
    name: 'mine-hard-negatives',
    version: '1',
    description: 'Mine hard negatives from a training pool: rows a classifier is confidently wrong or unsure about, and BM25 look-alikes of positives that carry another label',
    with: mineWithSchema,
    outputs: { dataset: 'artifact', summary: 'artifact', mined: 'scalar' },
    defaults: {
      queue: TASK_QUEUES.cpu,
      retry: COMPUTE_RETRY,
      timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
    },
  },
  train: {
    name: 'train',
    version: '2',
    description: 'Train a text classifier (baseline, or debiased by bidirectional distillation) with the Python trainer; export ONNX',
    with: trainWithSchema,
    outputs: { model: 'artifact', tokenizer: 'artifact', metrics: 'artifact', config: 'artifact', huggingface: 'artifact', classifier: 'artifact' },
    // A hub id can move to new weights unseen; every other model kind puts its digest in the key.
    cacheable: (input) => modelCacheable(trainModelOf(input)),
    relativePaths: ['model'],
    defaults: {
      queue: TASK_QUEUES.gpu,
      // Attempts are the budget for infrastructure: a lost worker, a store that stays down. A retry
      // resumes from the last uploaded checkpoint, so attempts are cheap; the trainer's own failures
      // have a budget of their own (TRAINER_FAILURE_BUDGET in activities/stages/train.ts).
      retry: { maximumAttempts: 20, initialIntervalMs: 1_000, backoffCoefficient: 2, maximumIntervalMs: 30_000 },
      // The stage beats every second while the trainer lives, so 30 s of silence means the worker
      // is gone: the retry starts then, not minutes later.
      timeout: { startToCloseMs: 6 * 60 * 60_000, heartbeatMs: 30_000 },
    },
  },
  audit: {
    name: 'audit',
    version: '1',
    description: 'Reactivity of classifiers to identity-term pairs (per label, pair and group, bootstrap CIs), flip rate, and a pass/fail bias gate',
    with: auditWithSchema,
    outputs: { audit: 'artifact', reactivity: 'scalar', flipRate: 'scalar', gatePassed: 'scalar' },
    publish: { searchAttributes: { reactivity: 'FairlineReactivity', gatePassed: 'FairlineGatePassed' } },
    cacheable: auditCacheable,
    relativePaths: ['groupsFile'],
    defaults: {
      queue: TASK_QUEUES.cpu,
      retry: COMPUTE_RETRY,
      timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
    },
  },
  evaluate: {
    name: 'evaluate',
    version: '1',
    description: 'Score classifiers on a labelled split (onnxruntime): F1, per-label P/R/F1, ROC-AUC, AUPRC, confusion matrices, deltas between models',
    with: evaluateWithSchema,
    outputs: { evaluation: 'artifact', macroF1: 'scalar', microF1: 'scalar', modelDigest: 'scalar' },
    publish: { searchAttributes: { macroF1: 'FairlineMacroF1', microF1: 'FairlineMicroF1', modelDigest: 'FairlineModelDigest' } },
    defaults: {
      queue: TASK_QUEUES.cpu,
      retry: COMPUTE_RETRY,
      timeout: { startToCloseMs: 2 * 60 * 60_000, heartbeatMs: 60_000 },
    },
  },
  report: {
    name: 'report',
    version: '1',
    description: "Gather the run's evaluation, audit and hard negatives into report.json and a self-contained report.html",
    with: reportWithSchema,
    outputs: { report: 'artifact', html: 'artifact' },
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
  },
};

/** The placeholder an output reference stands for while validating `with` in the client. */
export function placeholderFor(kind: 'artifact' | 'scalar'): unknown {
  return kind === 'artifact'
    ? artifactRefSchema.parse({ uri: 'file:///placeholder', sha256: '0'.repeat(64), bytes: 0, kind: 'placeholder' })
    : 'placeholder';
}
