/**
 * The `ner-mask` stage: builds x̂, each row's text with its entity spans replaced by the target
 * model's mask token, for the debiasing trainer's masked pass (L_mask, L_debias in DESIGN.md).
 *
 * Input: a canonical JSONL dataset (pipeline/dataset.ts). Output: the same rows, in order, each
 * with `meta.masked` added (rows stay canonical rows), plus a card (mask-card.json) and the share
 * of rows with at least one mask as a scalar.
 *
 * ## `meta.masked`
 *
 * ```json
 * { "text": "[MASK]는 [MASK]에 갔다.",
 *   "spans": [ { "start": 0, "end": 3, "type": "PS", "source": "dataset", "maskStart": 0, "maskEnd": 6, "masks": 1 },
 * { "start": 5, "end": 7, "type": "LC", "source": "dataset+morph", "maskStart": 8, "maskEnd": 14, "masks": 1,
 * "parts": [ {"start": 5, "end": 7, "type": "LC", "source": "dataset"}, {"start": 5, "end": 7, "type": "NNP", "source":
 * "morph"} ] } ],
 *   "offsets": [ [0, 6, 0, 3, 0], [6, 8, 3, 5, -1], [8, 14, 5, 7, 1], [14, 19, 7, 12, -1] ] }
 * ```
 * for x = "김철수는 서울에 갔다.".
 *
 * - Every offset counts Unicode code points (Python `str` indices; what Hugging Face tokenizers
 *   return as offsets in Python and in the npm binding), never UTF-16 code units or bytes.
 * - `text` is x̂. `spans` are the masked spans in order, non-overlapping: `[start, end)` in x,
 *   `[maskStart, maskEnd)` in x̂, `masks` mask tokens there (concatenated, no separator).
 *   `source` is the source that found the span, or several joined by `+` (fixed order dataset,
 *   lexicon, morph, onnx) when overlapping spans of different sources were merged into their
 *   union; `parts` then lists the originals, and `type` is that of the first source's part.
 *   In perSubtoken mode `subtokens` gives, for each mask in order, the x range `[s, e)` of the
 *   sub-token (under `tokenizer`) it stands for, clipped to the span.
 * - `offsets` is the map from x̂ back to x: segments `[hatStart, hatEnd, xStart, xEnd, span]`
 *   that tile both x̂ and x from 0 to their ends, in order. `span` is -1 for copied text (x̂
 *   `[hatStart, hatEnd)` equals x `[xStart, xEnd)` character for character), else the index in
 *   `spans` of the mask that replaces x `[xStart, xEnd)`. An x̂ position `p` in a copied segment
 *   is x position `xStart + p - hatStart`; in a mask segment it stands for the whole masked x
 *   range. To align tokens, tokenize x and x̂ with offsets; an x̂ token maps to the x tokens
 *   overlapping the x range of its characters (a mask token to its span's, or in perSubtoken
 *   mode to `subtokens[j]` of its j-th mask).
 * - A row without spans gets x̂ = x, `spans: []` and one copied segment over the whole text.
 *
 * ## Sources (`with.sources`, combinable)
 * - dataset: the row's `entities`, and/or `meta.tokens` + `meta.ner_tags` (tags aligned to a
 *   tokenizer's tokens, the manual's NER_results; numeric tags named by `tagNames`, -100 a
 *   continuation sub-token). Overlapping spans, out-of-bounds spans or a tag outside
 *   BIO/IOB2/BIOES are errors naming the row.
 * - lexicon: identity terms matched on eojeol boundaries with particles attached (./lexicon.ts).
 * - morph: proper nouns (Kiwi NNP) from `python -m trainer.morph` in the trainer's venv (./morph.ts).
 * - onnx: a token-classification model (./onnx.ts).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { z } from 'zod';
import { DatasetRowInvalid, StageInputInvalid, type RowLocation } from '../../common/errors';
import type { CanonicalRow } from '../../pipeline/dataset';
import { morphSourceSchema, SPAN_SOURCES, type NerMaskWith, type SpanSource, nerMaskContract } from './contract';
import type { Json } from '../../pipeline/run-spec';
import type { StageContext } from '../../activities/stages/context';
import { defineStage } from '../../activities/stages/define';
import { canonicalRows } from '../../pipeline/rows';
import { loadTokenizer, readText, tokenRanges, type Tokenizer } from '../../activities/stages/files';
import { artifactName } from '../../store/materialize';
import { inlineTerms, Lexicon, parseLexiconFile, type LexiconTerm } from './lexicon';
import { MorphAnalyzer } from './morph';
import { OnnxTagger } from './onnx';
import { buildMasked, checkedSpans, mergeSpans, type Masked, type Span } from './spans';
import { alignTokens, spansFromTokenTags } from './tags';

const HEARTBEAT_EVERY_MS = 1_000;
/** Rows handled per round (and per analyzer round trip when morph runs without its own `batch`). */
const ROWS_PER_BATCH = 256;

const tokenTagsSchema = z.object({
  tokens: z.array(z.string()),
  ner_tags: z.array(z.union([z.string().min(1), z.number().int()])),
});

/** The card: what the masking did to the dataset. */
export interface MaskCard {
  stage: 'ner-mask';
  input: { uri: string; sha256: string };
  rows: number;
  rowsMasked: number;
  shareMasked: number;
  /** Masked spans after merging, and the mask tokens written for them. */
  spans: number;
  maskTokens: number;
  perType: Record<string, number>;
  /** Spans each source found (before merging) and the rows it found any in. */
  perSource: Record<string, { spans: number; rows: number }>;
  /** Masked spans that merged overlapping spans of several sources. */
  merged: number;
  maskToken: string;
  mode: NerMaskWith['mode'];
  sources: SpanSource[];
  offsets: 'code points';
}

/** The dataset's own spans of a row: `entities`, and spans decoded from `meta.tokens` + `meta.ner_tags`. */
export function datasetSpans(
  row: CanonicalRow,
  chars: readonly string[],
  where: RowLocation,
  tagNames?: readonly string[],
): Span[] {
  const spans: Span[] = (row.entities ?? []).map(({ start, end, type }) => ({ start, end, type }));
  const meta = row.meta ?? {};
  if (meta.tokens === undefined && meta.ner_tags === undefined) return spans;
  const tagged = tokenTagsSchema.safeParse(meta);
  if (!tagged.success)
    throw new DatasetRowInvalid(
      where,
      'meta.tokens must be a list of strings and meta.ner_tags a list of tags (strings, or numbers with sources.dataset.tagNames)',
    );
  const { tokens, ner_tags: raw } = tagged.data;
  if (tokens.length !== raw.length)
    throw new DatasetRowInvalid(where, `meta.tokens has ${tokens.length} tokens but meta.ner_tags ${raw.length} tags`);
  const tags = raw.map((tag, i): string | null => {
    if (typeof tag === 'string') return tag;
    if (tag === -100) return null;
    const name = tagNames?.[tag];
    if (name === undefined) {
      throw new DatasetRowInvalid(
        where,
        tagNames
          ? `tag id ${tag} at token ${i} is not an index of sources.dataset.tagNames (${tagNames.length} names)`
          : `numeric tag ${tag} at token ${i}: name the tag ids with sources.dataset.tagNames`,
      );
    }
    return name;
  });
  return [...spans, ...spansFromTokenTags(alignTokens(chars, tokens, where), tags, where)];
}

async function loadLexicon(
  options: NonNullable<NerMaskWith['sources']['lexicon']>,
  context: StageContext,
): Promise<Lexicon> {
  const terms: LexiconTerm[] = options.terms ? inlineTerms(options.terms, options.type) : [];
  if (options.file !== undefined) {
    const { text, name } = await readText(options.file, context);
    terms.push(
      ...parseLexiconFile(text, name, {
        format: options.format,
        type: options.type,
        ...(options.categories ? { categories: options.categories } : {}),
      }),
    );
  }
  const lexicon = new Lexicon(terms);
  if (lexicon.size === 0) throw new StageInputInvalid(context.stageId, 'sources.lexicon has no terms');
  return lexicon;
}

function increment(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

export const nerMask = defineStage(
  nerMaskContract,
  async (spec, context) => {
    const { sources } = spec;
    const datasetName = artifactName(spec.dataset);
    const tagNames = sources.dataset && sources.dataset !== true ? sources.dataset.tagNames : undefined;
    const morphOptions = sources.morph === true ? morphSourceSchema.parse({}) : sources.morph;
    const used = SPAN_SOURCES.filter((s) => sources[s] !== undefined);

    // Everything that can be refused is checked before the analyzer starts.
    const lexicon = sources.lexicon ? await loadLexicon(sources.lexicon, context) : undefined;
    let target: Tokenizer | undefined;
    if (spec.mode === 'perSubtoken' && spec.tokenizer !== undefined) {
      target = await loadTokenizer(spec.tokenizer, context, 'mode perSubtoken');
      if (target.tokenToId(spec.maskToken) === null) {
        throw new StageInputInvalid(
          context.stageId,
          `maskToken ${JSON.stringify(spec.maskToken)} is not a token of the tokenizer: give the target model's mask token`,
        );
      }
    }
    const onnx = sources.onnx ? await OnnxTagger.load(sources.onnx, context) : undefined;
    const morph = morphOptions ? MorphAnalyzer.start(context.config.trainer.python, morphOptions.tags) : undefined;
    const batchSize = morphOptions?.batch ?? ROWS_PER_BATCH;

    const card: MaskCard = {
      stage: 'ner-mask',
      input: { uri: spec.dataset.uri, sha256: spec.dataset.sha256 },
      rows: 0,
      rowsMasked: 0,
      shareMasked: 0,
      spans: 0,
      maskTokens: 0,
      perType: {},
      perSource: Object.fromEntries(used.map((s) => [s, { spans: 0, rows: 0 }])),
      merged: 0,
      maskToken: spec.maskToken,
      mode: spec.mode,
      sources: used,
      offsets: 'code points',
    };
    const progress: Record<string, Json> = { phase: morph ? 'starting analyzer' : 'masking', rows: 0, rowsMasked: 0 };
    const beat = setInterval(() => context.heartbeat(progress), HEARTBEAT_EVERY_MS);
    context.heartbeat(progress);
    const stopAnalyzer = (): void => void morph?.kill();
    context.signal.addEventListener('abort', stopAnalyzer);

    const outPath = join(context.scratchDir, 'masked.jsonl');
    const out = createWriteStream(outPath);
    let writeError: unknown;
    out.on('error', (error) => (writeError ??= error));
    const write = async (line: string): Promise<void> => {
      if (writeError !== undefined) throw writeError;
      if (!out.write(line)) await once(out, 'drain');
    };

    const maskBatch = async (batch: { row: CanonicalRow; where: RowLocation }[]): Promise<void> => {
      if (batch.length === 0) return;
      const analyzed = morph ? await morph.analyze(batch.map((b) => b.row.text)) : undefined;
      context.signal.throwIfAborted();
      progress.phase = 'masking';
      for (const [k, { row, where }] of batch.entries()) {
        const chars = Array.from(row.text);
        const bySource = new Map<SpanSource, Span[]>();
        if (sources.dataset)
          bySource.set(
            'dataset',
            checkedSpans(datasetSpans(row, chars, where, tagNames), chars.length, where, 'dataset'),
          );
        if (lexicon) bySource.set('lexicon', checkedSpans(lexicon.find(chars), chars.length, where, 'lexicon'));
        if (analyzed) bySource.set('morph', checkedSpans(analyzed[k] ?? [], chars.length, where, 'morph'));
        if (onnx) bySource.set('onnx', checkedSpans(await onnx.spans(row.text, where), chars.length, where, 'onnx'));
        const merged = mergeSpans(bySource);
        const tokens = target && merged.length > 0 ? await tokenRanges(target, row.text) : undefined;
        const masked: Masked = buildMasked(chars, merged, spec.maskToken, tokens);

        card.rows++;
        for (const [source, spans] of bySource) {
          const counts = card.perSource[source]!;
          counts.spans += spans.length;
          if (spans.length > 0) counts.rows++;
        }
        if (masked.spans.length > 0) card.rowsMasked++;
        for (const span of masked.spans) {
          card.spans++;
          card.maskTokens += span.masks;
          increment(card.perType, span.type);
          if (span.parts) card.merged++;
        }
        await write(JSON.stringify({ ...row, meta: { ...row.meta, masked } }) + '\n');
      }
      progress.rows = card.rows;
      progress.rowsMasked = card.rowsMasked;
    };

    try {
      const stream = await context.store.open(spec.dataset);
      let batch: { row: CanonicalRow; where: RowLocation }[] = [];
      for await (const row of canonicalRows(stream, datasetName)) {
        batch.push(row);
        if (batch.length >= batchSize) {
          await maskBatch(batch);
          batch = [];
        }
      }
      await maskBatch(batch);
      await morph?.close();
      out.end();
      await finished(out);
      if (writeError !== undefined) throw writeError;
    } catch (error) {
      out.destroy();
      await morph?.kill();
      // A cancelled activity reports its cancellation, not what the killed analyzer said.
      if (context.signal.aborted) throw context.signal.reason;
      throw error;
    } finally {
      clearInterval(beat);
      context.signal.removeEventListener('abort', stopAnalyzer);
      await morph?.kill();
      await onnx?.release();
    }

    if (card.rows === 0) throw new StageInputInvalid(context.stageId, `dataset ${datasetName} has no rows`);
    card.shareMasked = card.rowsMasked / card.rows;
    card.perType = Object.fromEntries(Object.entries(card.perType).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const dataset = await context.store.put({ path: outPath }, { kind: 'dataset', name: spec.name });
    const cardRef = await context.store.put(
      { bytes: JSON.stringify(card, null, 2) + '\n' },
      { kind: 'card', name: 'mask-card.json' },
    );
    context.log.info('masked', {
      rows: card.rows,
      rowsMasked: card.rowsMasked,
      spans: card.spans,
      sources: used.join(','),
    });
    return { dataset, card: cardRef, shareMasked: Math.round(card.shareMasked * 1e6) / 1e6 };
  },
  // The analyzer runs as `python -m trainer.morph`, in the environment trainer/requirements.txt pins.
  { python: ['trainer.morph'] },
);
