/**
 * Sentence embeddings in TypeScript: an embedder bundle (pipeline/embedder.ts, the train stage's
 * output in `mode: embedding`) run with onnxruntime-node, its tokenizer.json read with the npm
 * `tokenizers` binding. The ONNX model does the mean pooling and the L2 normalisation itself
 * (trainer/embedding.py), so a row's vector is the model's output as it is.
 *
 * Like the classifier engine: truncation to `maxLength` set here (right side, special tokens
 * included), texts sorted by token count and cut into batches padded on the right with the
 * attention mask 0 there, so a row's vector does not depend on its batch. The bundle's text
 * prefix is prepended to every text (the trainer did the same).
 */
import { basename } from 'node:path';
import { ClassifierInvalid } from './errors';
import { INFERENCE_DEFAULTS, type InferenceOptions } from '../pipeline/inference';

type Ort = typeof import('onnxruntime-node');
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
type Tokenizer = InstanceType<(typeof import('tokenizers'))['Tokenizer']>;

/** Padding tokens, in order of preference. */
const PAD_TOKENS = ['<pad>', '[PAD]', '<|pad|>'];

/** What an embedder needs on disk. */
export interface EmbedderFiles {
  modelPath: string;
  tokenizerPath: string;
  maxLength: number;
  textPrefix: string;
  /** sha256 of model.onnx, for reports. */
  modelDigest: string;
}

export class Embedder {
  readonly batchSize: number;

  private constructor(
    readonly files: EmbedderFiles,
    private readonly ort: Ort,
    private readonly session: Session,
    private readonly tokenizer: Tokenizer,
    private readonly padId: number,
    options: InferenceOptions,
  ) {
    this.batchSize = options.batchSize ?? INFERENCE_DEFAULTS.batchSize;
  }

  /** An embedder from local files; `where` names it in error messages. */
  static async fromFiles(files: EmbedderFiles, options: InferenceOptions, where: string): Promise<Embedder> {
    const { Tokenizer } = await import('tokenizers');
    let tokenizer: Tokenizer;
    try {
      tokenizer = Tokenizer.fromFile(files.tokenizerPath);
    } catch (error) {
      throw new ClassifierInvalid(where, `${basename(files.tokenizerPath)} is not a tokenizer.json: ${String(error)}`);
    }
    tokenizer.setTruncation(files.maxLength, { direction: 'right', stride: 0 });
    tokenizer.disablePadding();
    const vocab = tokenizer.getVocab(true);
    const padId = PAD_TOKENS.map((t) => vocab[t]).find((id) => id !== undefined) ?? 0;
    const ort = await import('onnxruntime-node');
    let session: Session;
    try {
      session = await ort.InferenceSession.create(files.modelPath, {
        executionProviders: [options.executionProvider ?? INFERENCE_DEFAULTS.executionProvider],
        executionMode: 'sequential',
        ...(options.threads !== undefined ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
      });
    } catch (error) {
      throw new ClassifierInvalid(where, `${basename(files.modelPath)} does not load in onnxruntime: ${String(error)}`);
    }
    if (!session.outputNames.includes('embedding') || !session.inputNames.includes('attention_mask')) {
      await session.release();
      throw new ClassifierInvalid(
        where,
        `${basename(files.modelPath)} has inputs ${session.inputNames.join(', ')} and outputs ${session.outputNames.join(', ')}; an embedding model takes input_ids, attention_mask and outputs \`embedding\``,
      );
    }
    return new Embedder(files, ort, session, tokenizer, padId, options);
  }

  /** One unit vector per text, in input order; onProgress after each batch; honours an AbortSignal. */
  async embed(
    texts: readonly string[],
    opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<Float32Array[]> {
    const encodings = await this.tokenizer.encodeBatch(
      texts.map((t) => this.files.textPrefix + t),
      { addSpecialTokens: true },
    );
    const ids = encodings.map((e) => Int32Array.from(e.getIds()));
    const order = ids.map((_, i) => i).sort((a, b) => ids[a]!.length - ids[b]!.length || a - b);
    const out: Float32Array[] = new Array(texts.length);
    for (let start = 0; start < order.length; start += this.batchSize) {
      opts.signal?.throwIfAborted();
      const batch = order.slice(start, start + this.batchSize);
      const width = Math.max(1, ...batch.map((i) => ids[i]!.length));
      const inputIds = new BigInt64Array(batch.length * width).fill(BigInt(this.padId));
      const mask = new BigInt64Array(batch.length * width);
      batch.forEach((i, row) => {
        ids[i]!.forEach((id, t) => {
          inputIds[row * width + t] = BigInt(id);
          mask[row * width + t] = 1n;
        });
      });
      const shape = [batch.length, width];
      const result = await this.session.run(
        {
          input_ids: new this.ort.Tensor('int64', inputIds, shape),
          attention_mask: new this.ort.Tensor('int64', mask, shape),
        },
        ['embedding'],
      );
      const data = result.embedding?.data;
      if (!(data instanceof Float32Array))
        throw new ClassifierInvalid('embedder', 'the embedding output is not float32');
      const dim = data.length / batch.length;
      batch.forEach((i, row) => (out[i] = data.slice(row * dim, (row + 1) * dim)));
      opts.onProgress?.(Math.min(start + this.batchSize, order.length), order.length);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
