/**
 * The `onnx` span source: a token-classification model exported to ONNX (Hugging Face's
 * interface: inputs input_ids / attention_mask / token_type_ids as int64 [batch, tokens], output
 * `logits` [batch, tokens, labels]) run on CPU with onnxruntime-node, its tokenizer.json read
 * with the npm `tokenizers` binding. Each token takes its argmax label; the labels, a BIO/IOB2 or
 * BIOES scheme, are decoded into spans over the tokens' character offsets (so a span ends where
 * the model's entity ends, sub-token particles outside it stay unmasked).
 *
 * Texts longer than `maxLength` tokens run in consecutive windows, each wrapped in the special
 * tokens the tokenizer put around the whole text.
 */
import { StageInputInvalid, type RowLocation } from '../../common/errors';
import { onnxSourceSchema } from './contract';
import type { z } from 'zod';
import type { StageContext } from '../../activities/stages/context';
import { loadTokenizer, localPath, type Tokenizer } from '../../activities/stages/files';
import type { Span } from './spans';
import { decodeTags, parseTag } from './tags';

type Ort = typeof import('onnxruntime-node');
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;
type OnnxSource = z.infer<typeof onnxSourceSchema>;

export class OnnxTagger {
  private constructor(
    private readonly ort: Ort,
    private readonly session: Session,
    private readonly tokenizer: Tokenizer,
    private readonly labels: readonly string[],
    private readonly maxLength: number,
    private readonly output: string,
    private readonly stageId: string,
  ) {}

  static async load(source: OnnxSource, context: StageContext): Promise<OnnxTagger> {
    const bad = source.labels.filter((l) => parseTag(l) === undefined);
    if (bad.length > 0) {
      throw new StageInputInvalid(
        context.stageId,
        `sources.onnx.labels ${bad.map((b) => JSON.stringify(b)).join(', ')} are not BIO/IOB2/BIOES tags (O, B-X, I-X, E-X, S-X)`,
      );
    }
    const tokenizer = await loadTokenizer(source.tokenizer, context, 'the onnx source');
    let ort: Ort;
    try {
      ort = await import('onnxruntime-node');
    } catch (error) {
      throw new StageInputInvalid(
        context.stageId,
        `the onnx source needs onnxruntime-node, which does not load here: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const modelPath = await localPath(source.model, context, 'model.onnx');
    let session: Session;
    try {
      session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
    } catch (error) {
      throw new StageInputInvalid(
        context.stageId,
        `sources.onnx.model does not load in onnxruntime: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const unknown = session.inputNames.filter(
      (n: string) => !['input_ids', 'attention_mask', 'token_type_ids'].includes(n),
    );
    if (!session.inputNames.includes('input_ids') || unknown.length > 0) {
      throw new StageInputInvalid(
        context.stageId,
        `sources.onnx.model takes inputs ${session.inputNames.join(', ')}; a token classifier takes input_ids and optionally attention_mask, token_type_ids`,
      );
    }
    const output = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
    if (output === undefined) throw new StageInputInvalid(context.stageId, 'sources.onnx.model has no output');
    return new OnnxTagger(ort, session, tokenizer, source.labels, source.maxLength, output, context.stageId);
  }

  /** Entity spans (code points) the model finds in `text`. */
  async spans(text: string, row: RowLocation): Promise<Span[]> {
    const encoding = await this.tokenizer.encode(text);
    const ids = encoding.getIds();
    const offsets = encoding.getOffsets();
    const special = encoding.getSpecialTokensMask();
    // Leading and trailing special tokens ([CLS] … [SEP]) wrap every window.
    let lead = 0;
    while (lead < ids.length && special[lead] === 1) lead++;
    let tail = ids.length;
    while (tail > lead && special[tail - 1] === 1) tail--;
    if (tail === lead) return [];
    const window = Math.max(1, this.maxLength - lead - (ids.length - tail));
    const tags: (string | null)[] = [];
    const ranges: ([number, number] | undefined)[] = [];
    for (let from = lead; from < tail; from += window) {
      const to = Math.min(tail, from + window);
      const chunk = [...ids.slice(0, lead), ...ids.slice(from, to), ...ids.slice(tail)];
      const predicted = await this.predict(chunk);
      for (let k = 0; k < to - from; k++) {
        const i = from + k;
        const [s, e] = offsets[i] ?? [0, 0];
        // Special tokens inside the text (an added [MASK]) carry no entity.
        tags.push(special[i] === 1 ? 'O' : this.labels[predicted[lead + k]!]!);
        ranges.push(special[i] === 1 || s === undefined || e === undefined || e <= s ? undefined : [s, e]);
      }
    }
    const spans: Span[] = [];
    for (const entity of decodeTags(tags, row)) {
      const covered = ranges.slice(entity.start, entity.end).filter((r): r is [number, number] => r !== undefined);
      if (covered.length > 0)
        spans.push({ start: covered[0]![0], end: covered[covered.length - 1]![1], type: entity.type });
    }
    return spans;
  }

  /** Argmax label index of each token of one sequence. */
  private async predict(ids: readonly number[]): Promise<number[]> {
    const shape = [1, ids.length];
    const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
    for (const name of this.session.inputNames) {
      const values = name === 'input_ids' ? ids.map(BigInt) : ids.map(() => (name === 'attention_mask' ? 1n : 0n));
      feeds[name] = new this.ort.Tensor('int64', BigInt64Array.from(values), shape);
    }
    const result = await this.session.run(feeds);
    const logits = result[this.output];
    if (!logits || logits.dims.length !== 3 || logits.dims[1] !== ids.length || logits.dims[2] !== this.labels.length) {
      throw new StageInputInvalid(
        this.stageId,
        `the model's ${this.output} has shape [${logits?.dims.join(', ')}], expected [1, ${ids.length}, ${this.labels.length}] (one logit per label in sources.onnx.labels)`,
      );
    }
    const data = logits.data;
    if (!(data instanceof Float32Array))
      throw new StageInputInvalid(this.stageId, `the model's ${this.output} is ${logits.type}, expected float32`);
    const labels = this.labels.length;
    const best: number[] = [];
    for (let t = 0; t < ids.length; t++) {
      let arg = 0;
      for (let l = 1; l < labels; l++) if (data[t * labels + l]! > data[t * labels + arg]!) arg = l;
      best.push(arg);
    }
    return best;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
