/**
 * The inference engine of the evaluate, mine-hard-negatives and audit stages: a trained
 * classifier (the train stage's `classifier` bundle, pipeline/classifier.ts) run with
 * onnxruntime-node, its tokenizer.json read with the npm `tokenizers` binding (the same Rust
 * core the Python trainer tokenized with).
 *
 * Results equal the trainer's own PyTorch predictions (1e-5, test/inference/engine.test.ts):
 * - truncation is set here, not taken from tokenizer.json: right-side, longest-first, to
 *   `maxLength` tokens special tokens included, which is what the trainer's
 *   `tokenizer(texts, truncation=True, max_length=maxLength)` (trainer/data.py) does;
 * - texts are sorted by token count and cut into batches, each padded on the right to its own
 *   longest row with the attention mask 0 there (dynamic padding): masked positions get no
 *   attention weight, so a row's result does not depend on its batch. A model without an
 *   attention_mask input only ever sees batches of equal-length rows;
 * - probabilities are sigmoid (multilabel) or softmax (multiclass) of the float32 logits,
 *   computed in float64.
 *
 * Load-time checks, each a non-retryable error naming the input: the bundle's shape
 * (ClassifierInvalid), the model's inputs and outputs (ClassifierInvalid), the tokenizer's ids
 * against the model's word-embedding table (TokenizerModelMismatch, see checkVocabulary), the
 * logits' width against the bundle's labels on a one-row probe (ModelOutputMismatch), and the
 * execution provider (ExecutionProviderUnavailable).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { TruncationStrategy } from 'tokenizers';
import { ClassifierInvalid, ExecutionProviderUnavailable, ModelOutputMismatch, TokenizerModelMismatch } from './errors';
import { CLASSIFIER_KIND, classifierBundleSchema, type ClassifierBundle } from '../pipeline/classifier';
import { INFERENCE_DEFAULTS, type InferenceOptions } from '../pipeline/inference';
import { artifactName } from '../store/materialize';
import type { ArtifactRef, ArtifactStore } from '../store/types';
import { embeddingRows } from './onnx-model';

type Ort = typeof import('onnxruntime-node');
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
type Tokenizer = InstanceType<(typeof import('tokenizers'))['Tokenizer']>;
type IdType = 'int64' | 'int32';

/** A classifier bundle is a small JSON file; anything larger is not one and is not read whole. */
const MAX_BUNDLE_BYTES = 1 << 20;
/** Texts per encodeBatch call: bounds the work between two checks of the abort signal. */
const TOKENIZE_CHUNK = 1024;
/** Inputs a sequence classifier may take; token_type_ids is all zeros for single texts. */
const KNOWN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'];
/** Padding tokens, in order of preference, when looking up the id padded positions hold. */
const PAD_TOKENS = ['[PAD]', '<pad>', '<|pad|>'];
/**
 * How much larger than the tokenizer a model's embedding table may be. Hugging Face models often
 * carry unused rows (tables padded for speed): DeBERTa-v3 +0.08%, mDeBERTa-v3 +0.4%, Qwen2 +0.2%,
 * Phi-2 +1.8%, small vocabularies padded to a multiple of 64. A larger gap means the tokenizer
 * belongs to another model (bert-base-cased's tokenizer on bert-base-uncased is 5% smaller).
 */
const SPARE_ROWS = { fraction: 0.02, multiple: 64 };

/** One text's result. */
export interface Prediction {
  /** The model's float32 logits, one per label. */
  logits: number[];
  /** sigmoid (multilabel) or softmax (multiclass) of the logits, computed in float64. */
  probabilities: number[];
}

export interface PredictOptions {
  /** Called after each batch with the texts done so far (for heartbeats). */
  onProgress?: (done: number, total: number) => void;
  /** Stops between batches with the signal's reason (an AbortError unless given another). */
  signal?: AbortSignal;
}

/** What fromFiles needs: a bundle's files made local, and the bundle's inference values. */
export interface ClassifierFiles {
  modelPath: string;
  tokenizerPath: string;
  task: 'multilabel' | 'multiclass';
  labelNames: readonly string[];
  maxLength: number;
  threshold: number;
  /** sha256 of model.onnx; computed from the file when not given. */
  modelDigest?: string;
  /** How the model was trained (`baseline`, `debiased`) and its seed, when a bundle says so. */
  mode?: string;
  seed?: number;
}

let ortModule: Promise<Ort> | undefined;
/** onnxruntime-node, loaded on first use: importing the engine does not load the native library. */
const loadOrt = (): Promise<Ort> => (ortModule ??= import('onnxruntime-node'));

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Reads a classifier bundle (pipeline/classifier.ts) from the store and checks its shape: a clear
 * non-retryable ClassifierInvalid, naming `where` (e.g. `stage "eval": models.baseline`), when the
 * artifact is not one. A large artifact is refused before it is read.
 */
export async function readClassifierBundle(
  ref: ArtifactRef,
  store: Pick<ArtifactStore, 'read'>,
  where: string,
): Promise<ClassifierBundle> {
  const notBundle = (why: string): ClassifierInvalid =>
    new ClassifierInvalid(
      where,
      `${ref.uri} is not a classifier bundle (the train stage's \`classifier\` output${ref.kind === CLASSIFIER_KIND ? '' : `; this artifact's kind is \`${ref.kind}\``}): ${why}`,
    );
  if (ref.bytes > MAX_BUNDLE_BYTES) throw notBundle(`it is ${ref.bytes} bytes; a bundle is a small JSON file`);
  let json: unknown;
  try {
    json = JSON.parse((await store.read(ref)).toString('utf8'));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw notBundle(`it is not JSON (${error.message})`);
  }
  const parsed = classifierBundleSchema.safeParse(json);
  if (!parsed.success)
    throw notBundle(parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; '));
  return parsed.data;
}

export class Classifier {
  readonly labels: readonly string[];
  readonly task: 'multilabel' | 'multiclass';
  readonly threshold: number;
  readonly modelDigest: string;
  readonly maxLength: number;
  readonly batchSize: number;
  /** From the bundle (undefined for fromFiles without them): provenance for reports. */
  readonly mode: string | undefined;
  readonly seed: number | undefined;

  private constructor(
    files: ClassifierFiles & { modelDigest: string },
    options: InferenceOptions,
    private readonly ort: Ort,
    private readonly session: Session,
    private readonly tokenizer: Tokenizer,
    private readonly model: ModelInterface,
    private readonly where: string,
  ) {
    this.labels = [...files.labelNames];
    this.task = files.task;
    this.threshold = files.threshold;
    this.modelDigest = files.modelDigest;
    this.maxLength = files.maxLength;
    this.batchSize = options.batchSize ?? INFERENCE_DEFAULTS.batchSize;
    this.mode = files.mode;
    this.seed = files.seed;
  }

  /**
   * A classifier from a bundle (see readClassifierBundle) whose model and tokenizer the caller
   * has made local files (the stage runtime downloads them: activities/stages/classifier.ts).
   * Messages name the files as the bundle does, not by their local copies' names; the model's
   * digest is the bundle's. `where` names it in error messages.
   */
  static async fromBundle(
    bundle: ClassifierBundle,
    paths: { model: string; tokenizer: string },
    options: InferenceOptions,
    where: string,
  ): Promise<Classifier> {
    return Classifier.open(
      { ...bundle, modelPath: paths.model, tokenizerPath: paths.tokenizer, modelDigest: bundle.model.sha256 },
      options,
      where,
      { model: artifactName(bundle.model), tokenizer: artifactName(bundle.tokenizer) },
    );
  }

  /** A classifier from local files; `where` names it in error messages. */
  static async fromFiles(files: ClassifierFiles, options: InferenceOptions, where: string): Promise<Classifier> {
    return Classifier.open(files, options, where, {
      model: basename(files.modelPath),
      tokenizer: basename(files.tokenizerPath),
    });
  }

  private static async open(
    files: ClassifierFiles,
    options: InferenceOptions,
    where: string,
    names: { model: string; tokenizer: string },
  ): Promise<Classifier> {
    if (files.labelNames.length === 0) throw new ClassifierInvalid(where, 'names no labels');
    const tokenizer = await openTokenizer(files.tokenizerPath, files.maxLength, where, names.tokenizer);
    const ort = await loadOrt();
    const session = await createSession(ort, files.modelPath, options, where, names.model);
    try {
      const model: ModelInterface = {
        ...modelInputs(session, where, names.model),
        ...tokenizerFacts(tokenizer, where, names.tokenizer),
      };
      const bytes = await readFile(files.modelPath);
      const modelDigest = files.modelDigest ?? createHash('sha256').update(bytes).digest('hex');
      checkVocabulary(bytes, model, where, names.tokenizer);
      const classifier = new Classifier({ ...files, modelDigest }, options, ort, session, tokenizer, model, where);
      await classifier.probe();
      return classifier;
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  /** Token ids of each text as the model sees them: special tokens added, truncated to maxLength. */
  async tokenize(texts: readonly string[], signal?: AbortSignal): Promise<number[][]> {
    return (await this.encode(texts, signal)).map((e) => Array.from(e.ids));
  }

  /** Batched, length-sorted, dynamic padding; onProgress after each batch; honours an AbortSignal. */
  async predict(texts: readonly string[], opts: PredictOptions = {}): Promise<Prediction[]> {
    const { onProgress, signal } = opts;
    signal?.throwIfAborted();
    const encoded = await this.encode(texts, signal);
    const results: Prediction[] = new Array(texts.length);
    let done = 0;
    for (const batch of this.batches(encoded.map((e) => e.ids.length))) {
      signal?.throwIfAborted();
      const logits = await this.run(batch.map((i) => encoded[i]!));
      batch.forEach((index, row) => {
        const values = Array.from(logits.subarray(row * this.labels.length, (row + 1) * this.labels.length));
        results[index] = { logits: values, probabilities: this.probabilities(values) };
      });
      done += batch.length;
      onProgress?.(done, texts.length);
    }
    return results;
  }

  /**
   * Thresholded decision: multilabel 0/1 per label (p > threshold, as the trainer's metrics), multiclass one-hot of the
   * argmax.
   */
  decide(probabilities: readonly number[]): number[] {
    if (probabilities.length !== this.labels.length)
      throw new RangeError(`decide: ${probabilities.length} probabilities for ${this.labels.length} labels`);
    if (this.task === 'multilabel') return probabilities.map((p) => (p > this.threshold ? 1 : 0));
    // The first of equal maxima, as torch.argmax.
    let best = 0;
    probabilities.forEach((p, i) => {
      if (p > probabilities[best]!) best = i;
    });
    return probabilities.map((_, i) => (i === best ? 1 : 0));
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  /** sigmoid or softmax in float64 (numerically stable forms). */
  private probabilities(logits: readonly number[]): number[] {
    if (this.task === 'multilabel')
      return logits.map((x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))));
    const max = Math.max(...logits);
    const exps = logits.map((x) => Math.exp(x - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / sum);
  }

  private async encode(texts: readonly string[], signal?: AbortSignal): Promise<Encoded[]> {
    const out: Encoded[] = [];
    for (let start = 0; start < texts.length; start += TOKENIZE_CHUNK) {
      signal?.throwIfAborted();
      const encodings = await this.tokenizer.encodeBatch(texts.slice(start, start + TOKENIZE_CHUNK), {
        addSpecialTokens: true,
      });
      // Typed arrays: a large input's ids take 4 bytes each until their batch runs.
      for (const e of encodings)
        out.push({
          ids: Int32Array.from(e.getIds()),
          typeIds: this.model.typeIds ? Int32Array.from(e.getTypeIds()) : undefined,
        });
    }
    return out;
  }

  /**
   * Row indices grouped into batches: sorted by length (ties in input order), at most batchSize
   * rows each; without an attention mask a batch also ends where the length changes.
   */
  private batches(lengths: readonly number[]): number[][] {
    const order = lengths.map((_, i) => i).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
    const batches: number[][] = [];
    let current: number[] = [];
    for (const i of order) {
      const full = current.length >= this.batchSize;
      const otherLength = !this.model.attentionMask && current.length > 0 && lengths[current[0]!] !== lengths[i];
      if (full || otherLength) {
        batches.push(current);
        current = [];
      }
      current.push(i);
    }
    if (current.length > 0) batches.push(current);
    return batches;
  }

  /** Logits of one batch, [rows × labels] row-major, padded on the right to the longest row. */
  private async run(rows: readonly Encoded[]): Promise<Float32Array> {
    const width = Math.max(1, ...rows.map((r) => r.ids.length));
    const shape = [rows.length, width];
    const ids = new Int32Array(rows.length * width).fill(this.model.padId);
    const mask = new Int32Array(rows.length * width);
    const types = new Int32Array(rows.length * width);
    rows.forEach((row, r) => {
      ids.set(row.ids, r * width);
      mask.fill(1, r * width, r * width + row.ids.length);
      if (row.typeIds !== undefined) types.set(row.typeIds, r * width);
    });
    const tensor = (values: Int32Array): InstanceType<Ort['Tensor']> =>
      this.model.idType === 'int64'
        ? new this.ort.Tensor(
            'int64',
            BigInt64Array.from(values, (v) => BigInt(v)),
            shape,
          )
        : new this.ort.Tensor('int32', values, shape);
    const feeds: Record<string, InstanceType<Ort['Tensor']>> = { input_ids: tensor(ids) };
    if (this.model.attentionMask) feeds.attention_mask = tensor(mask);
    if (this.model.typeIds) feeds.token_type_ids = tensor(types);
    const logits = (await this.session.run(feeds, ['logits'])).logits;
    if (
      logits === undefined ||
      logits.dims.length !== 2 ||
      logits.dims[0] !== rows.length ||
      logits.dims[1] !== this.labels.length
    ) {
      throw new ModelOutputMismatch(
        this.where,
        `${this.model.file}'s logits have shape [${logits?.dims.join(', ') ?? ''}] for ${rows.length} text${rows.length === 1 ? '' : 's'}, expected [${rows.length}, ${this.labels.length}]: one column per label the bundle names (${this.labels.join(', ')}); the model was trained for other labels`,
      );
    }
    if (!(logits.data instanceof Float32Array))
      throw new ModelOutputMismatch(this.where, `${this.model.file}'s logits are ${logits.type}, expected float32`);
    return logits.data;
  }

  /**
   * One row holding the tokenizer's highest id, run at load: the logits' width against the
   * bundle's labels, and onnxruntime's bounds check of the ids (CPU's Gather refuses an id past
   * the table) where the graph showed no embedding table.
   */
  private async probe(): Promise<void> {
    const { highest, lowest } = this.model.vocabulary;
    try {
      await this.run([{ ids: Int32Array.of(highest.id) }]);
    } catch (error) {
      if (error instanceof ModelOutputMismatch) throw error;
      // If the lowest id runs, the highest one is the problem.
      const lowWorks = await this.run([{ ids: Int32Array.of(lowest) }]).then(
        () => true,
        () => false,
      );
      if (lowWorks) {
        throw new TokenizerModelMismatch(
          this.where,
          `${this.model.file} fails on token id ${highest.id} (${JSON.stringify(highest.token)}), the highest of the tokenizer's: the tokenizer belongs to another model (${message(error)})`,
        );
      }
      throw new ClassifierInvalid(this.where, `${this.model.file} fails on a one-token input: ${message(error)}`);
    }
  }
}

interface Encoded {
  ids: Int32Array;
  typeIds?: Int32Array | undefined;
}

/** What the engine feeds the model: which inputs it takes, their integer type, the pad id, the tokenizer's id range. */
interface ModelInterface {
  /** model.onnx's file name, for messages. */
  file: string;
  idType: IdType;
  attentionMask: boolean;
  typeIds: boolean;
  padId: number;
  vocabulary: { size: number; highest: { id: number; token: string }; lowest: number };
}

/** An artifact's file name: the last segment of its URI (the store keeps names as given). */

async function openTokenizer(path: string, maxLength: number, where: string, name: string): Promise<Tokenizer> {
  const { Tokenizer } = await import('tokenizers');
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromFile(path);
  } catch (error) {
    throw new ClassifierInvalid(
      where,
      `${name} is not a tokenizer.json the tokenizers library reads: ${message(error)}`,
    );
  }
  // Set here so that results never depend on what the file says: the trainer's own truncation
  // (HF fast tokenizer, truncation=True, max_length, truncation_side right), and no padding (the
  // engine pads each batch itself). For a single text every strategy truncates alike. The binding
  // reads the direction lowercase ('Right', as its typings spell it, is refused).
  const longestFirst: `${TruncationStrategy}` = 'LongestFirst';
  tokenizer.setTruncation(maxLength, { strategy: longestFirst as TruncationStrategy, direction: 'right', stride: 0 });
  tokenizer.disablePadding();
  return tokenizer;
}

async function createSession(
  ort: Ort,
  modelPath: string,
  options: InferenceOptions,
  where: string,
  name: string,
): Promise<Session> {
  const provider = options.executionProvider ?? INFERENCE_DEFAULTS.executionProvider;
  const sessionOptions = {
    executionProviders: [provider],
    // Parallelism comes from intra-op threads; the graph runs one node at a time.
    executionMode: 'sequential' as const,
    ...(options.threads !== undefined ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
  };
  try {
    return await ort.InferenceSession.create(modelPath, sessionOptions);
  } catch (error) {
    if (provider !== 'cpu') {
      // Tell a missing provider from a bad model: if the CPU takes the model, the provider is the problem.
      const cpu = await ort.InferenceSession.create(modelPath, {
        ...sessionOptions,
        executionProviders: ['cpu'],
      }).catch(() => undefined);
      if (cpu !== undefined) {
        await cpu.release();
        const listed = ort.listSupportedBackends().some((b) => b.name === provider);
        const hint = listed
          ? `it needs onnxruntime-node's ${provider} libraries (this project's .npmrc skips their download; on a GPU worker run \`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node\`) and a GPU with its driver`
          : `this onnxruntime-node build has no ${provider} provider`;
        throw new ExecutionProviderUnavailable(
          where,
          provider,
          `${hint}: ${message(error)}; use executionProvider: cpu, or run this stage on a GPU worker`,
        );
      }
    }
    throw new ClassifierInvalid(where, `${name} does not load in onnxruntime: ${message(error)}`);
  }
}

/** The model's inputs and outputs as a sequence classifier's. */
function modelInputs(
  session: Session,
  where: string,
  file: string,
): Pick<ModelInterface, 'file' | 'idType' | 'attentionMask' | 'typeIds'> {
  const unknown = session.inputNames.filter((n) => !KNOWN_INPUTS.includes(n));
  if (!session.inputNames.includes('input_ids') || unknown.length > 0) {
    throw new ClassifierInvalid(
      where,
      `${file} takes inputs ${session.inputNames.join(', ')}; a sequence classifier takes input_ids and optionally attention_mask, token_type_ids`,
    );
  }
  if (!session.outputNames.includes('logits')) {
    throw new ClassifierInvalid(
      where,
      `${file} has outputs ${session.outputNames.join(', ')}; a sequence classifier has \`logits\` [batch, labels]`,
    );
  }
  const types = [...new Set(session.inputMetadata.map((m) => (m.isTensor ? m.type : 'non-tensor')))];
  const idType = types[0];
  if ((idType !== 'int64' && idType !== 'int32') || types.length > 1) {
    throw new ClassifierInvalid(where, `${file}'s inputs are ${types.join(', ')}; expected all int64 (or all int32)`);
  }
  return {
    file,
    idType,
    attentionMask: session.inputNames.includes('attention_mask'),
    typeIds: session.inputNames.includes('token_type_ids'),
  };
}

/** The tokenizer's id range and padding id. */
function tokenizerFacts(
  tokenizer: Tokenizer,
  where: string,
  file: string,
): Pick<ModelInterface, 'padId' | 'vocabulary'> {
  let highest = { id: -1, token: '' };
  let lowest = Number.POSITIVE_INFINITY;
  for (const [token, id] of Object.entries(tokenizer.getVocab(true))) {
    if (id > highest.id) highest = { id, token };
    lowest = Math.min(lowest, id);
  }
  if (highest.id < 0) throw new ClassifierInvalid(where, `${file} has an empty vocabulary`);
  // Padded positions are masked out, so their id changes no result; the model's own pad token is
  // used anyway, as the trainer does, so a model that reads it (RoBERTa's position ids) sees what it expects.
  const padId = PAD_TOKENS.map((t) => tokenizer.tokenToId(t)).find((id): id is number => typeof id === 'number') ?? 0;
  return { padId, vocabulary: { size: highest.id + 1, highest, lowest } };
}

/**
 * The tokenizer's ids against the model's word-embedding table, read from the ONNX graph
 * (inference/onnx-model.ts): a tokenizer that can produce an id past the table, or one much
 * smaller than the table (beyond SPARE_ROWS), belongs to another model. Where the graph shows no
 * table this reader recognises, the load probe still catches ids past it on CPU.
 */
function checkVocabulary(bytes: Uint8Array, model: ModelInterface, where: string, tokenizerFile: string): void {
  let rows: number | undefined;
  try {
    rows = embeddingRows(bytes);
  } catch (error) {
    throw new ClassifierInvalid(
      where,
      `${model.file} loads in onnxruntime but its graph does not decode as ONNX: ${message(error)}`,
    );
  }
  if (rows === undefined) return;
  const size = model.vocabulary.size;
  const spare = Math.max(
    Math.ceil(size / SPARE_ROWS.multiple) * SPARE_ROWS.multiple,
    Math.floor(size * (1 + SPARE_ROWS.fraction)),
  );
  if (size > rows || rows > spare) {
    throw new TokenizerModelMismatch(
      where,
      `${tokenizerFile} has a vocabulary of ${size} tokens but ${model.file}'s word-embedding table has ${rows} rows` +
        (size > rows
          ? ' (the tokenizer yields ids past the table)'
          : ` (more spare rows than padding explains: at most ${spare} for ${size} tokens)`) +
        ': the tokenizer belongs to another model',
    );
  }
}
