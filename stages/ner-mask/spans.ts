/**
 * Span bookkeeping of the `ner-mask` stage: checking one source's spans, merging the sources'
 * spans, and building x̂ with its offset map. Pure functions; the format they produce is
 * documented in ./implementation.ts and in README.md.
 *
 * Every offset counts Unicode code points (Python's `str` indices, the offsets Hugging Face
 * tokenizers return in Python and in the npm binding), never UTF-16 code units: callers pass the
 * text as an array of code points (`Array.from(text)`).
 */
import { type RowLocation } from '../../common/errors';
import { SpanOutOfBounds, SpansOverlap } from './errors';
import { SPAN_SOURCES, type SpanSource } from './contract';

/** A span `[start, end)` of a text, in code points, with its entity type. */
export interface Span {
  start: number;
  end: number;
  type: string;
}

export interface SourcedSpan extends Span {
  source: SpanSource;
}

/** One masked span of x̂, as written to `meta.masked.spans`. */
export interface MaskedSpan {
  /** The span in x, `[start, end)`. */
  start: number;
  end: number;
  type: string;
  /** The source that found it, or the sources whose overlapping spans were merged, `+`-joined in fixed order. */
  source: string;
  /** Where its mask tokens are in x̂, `[maskStart, maskEnd)`. */
  maskStart: number;
  maskEnd: number;
  /** Number of mask tokens (1 in perSpan mode). */
  masks: number;
  /** perSubtoken mode: the x range `[s, e)` of the sub-token each mask stands for, in order. */
  subtokens?: [number, number][];
  /** Present when spans of several sources were merged: the original spans. */
  parts?: SourcedSpan[];
}

/**
 * A segment of the offset map: `[hatStart, hatEnd, xStart, xEnd, span]`. `span` is -1 for text
 * copied unchanged (both sides equally long and equal), else the index in `spans` of the mask
 * that x̂ `[hatStart, hatEnd)` holds in place of x `[xStart, xEnd)`.
 */
export type Segment = [number, number, number, number, number];

/** What the stage writes to `meta.masked`. */
export interface Masked {
  text: string;
  spans: MaskedSpan[];
  offsets: Segment[];
}

const byPosition = (a: Span, b: Span): number =>
  a.start - b.start || a.end - b.end || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0);

/**
 * One source's spans of a row, sorted, duplicates dropped: SpanOutOfBounds when a span reaches
 * past the text, SpansOverlap when two of them overlap (the annotation is then ambiguous).
 */
export function checkedSpans(spans: readonly Span[], length: number, row: RowLocation, source: SpanSource): Span[] {
  const sorted = [...spans].sort(byPosition);
  const kept: Span[] = [];
  for (const span of sorted) {
    if (
      !Number.isInteger(span.start) ||
      !Number.isInteger(span.end) ||
      span.start < 0 ||
      span.end > length ||
      span.end <= span.start
    ) {
      throw new SpanOutOfBounds(row, source, span, length);
    }
    const previous = kept[kept.length - 1];
    if (previous && previous.start === span.start && previous.end === span.end && previous.type === span.type) continue;
    if (previous && span.start < previous.end) throw new SpansOverlap(row, source, previous, span);
    kept.push(span);
  }
  return kept;
}

/** A span after merging: its extent, its type and source, and the parts it was made of. */
export interface MergedSpan extends Span {
  source: string;
  parts: SourcedSpan[];
}

/**
 * Unions overlapping spans of different sources, deterministically: spans sorted by start, end,
 * source order (dataset, lexicon, morph, onnx) and type; a span that starts before the current
 * group ends joins it, and the group covers `[min start, max end)`. Its type is that of the part
 * from the first source in that order (gold annotations first, then the identity lexicon, the
 * analyzer, the model), its `source` the parts' sources joined by `+`. Touching spans
 * (`end == start`) stay apart: each gets its own mask.
 */
export function mergeSpans(bySource: ReadonlyMap<SpanSource, readonly Span[]>): MergedSpan[] {
  const rank = (s: SpanSource): number => SPAN_SOURCES.indexOf(s);
  const all: SourcedSpan[] = [];
  for (const [source, spans] of bySource)
    for (const s of spans) all.push({ start: s.start, end: s.end, type: s.type, source });
  all.sort((a, b) => byPosition(a, b) || rank(a.source) - rank(b.source));
  const merged: MergedSpan[] = [];
  let group: SourcedSpan[] = [];
  let groupEnd = -1;
  const flush = (): void => {
    if (group.length === 0) return;
    const lead = [...group].sort((a, b) => rank(a.source) - rank(b.source) || a.start - b.start)[0]!;
    const sources = SPAN_SOURCES.filter((s) => group.some((p) => p.source === s));
    merged.push({ start: group[0]!.start, end: groupEnd, type: lead.type, source: sources.join('+'), parts: group });
    group = [];
  };
  for (const span of all) {
    if (group.length > 0 && span.start < groupEnd) {
      group.push(span);
      groupEnd = Math.max(groupEnd, span.end);
    } else {
      flush();
      group = [span];
      groupEnd = span.end;
    }
  }
  flush();
  return merged;
}

/** Sub-tokens of x under the target tokenizer: `[start, end)` code-point ranges, in order. */
export type SubtokenRanges = readonly (readonly [number, number])[];

/** The sub-tokens a span covers (those overlapping it), clipped to the span; at least the span itself. */
export function subtokensOf(span: Span, tokens: SubtokenRanges): [number, number][] {
  const covered: [number, number][] = [];
  for (const [s, e] of tokens) {
    if (e <= s || e <= span.start) continue;
    if (s >= span.end) break;
    covered.push([Math.max(s, span.start), Math.min(e, span.end)]);
  }
  return covered.length > 0 ? covered : [[span.start, span.end]];
}

/**
 * Builds x̂ from x (as code points) and the merged spans: each span becomes one mask token
 * (perSpan, `tokens` undefined) or one per sub-token it covers (perSubtoken), masks concatenated
 * without separators. The offset map covers x̂ and x completely, in order.
 */
export function buildMasked(
  chars: readonly string[],
  spans: readonly MergedSpan[],
  maskToken: string,
  tokens?: SubtokenRanges,
): Masked {
  const maskLength = Array.from(maskToken).length;
  const pieces: string[] = [];
  const offsets: Segment[] = [];
  const out: MaskedSpan[] = [];
  let x = 0;
  let hat = 0;
  // Tokens are sorted by start; spans too: advance a cursor instead of rescanning.
  let tokenCursor = 0;
  for (const span of spans) {
    if (span.start > x) {
      pieces.push(chars.slice(x, span.start).join(''));
      const length = span.start - x;
      offsets.push([hat, hat + length, x, span.start, -1]);
      hat += length;
    }
    let subtokens: [number, number][] | undefined;
    if (tokens) {
      while (tokenCursor < tokens.length && tokens[tokenCursor]![1] <= span.start) tokenCursor++;
      subtokens = subtokensOf(span, tokens.slice(tokenCursor));
    }
    const masks = subtokens?.length ?? 1;
    pieces.push(maskToken.repeat(masks));
    offsets.push([hat, hat + masks * maskLength, span.start, span.end, out.length]);
    out.push({
      start: span.start,
      end: span.end,
      type: span.type,
      source: span.source,
      maskStart: hat,
      maskEnd: hat + masks * maskLength,
      masks,
      ...(subtokens ? { subtokens } : {}),
      ...(span.parts.length > 1 ? { parts: span.parts } : {}),
    });
    hat += masks * maskLength;
    x = span.end;
  }
  if (x < chars.length) {
    pieces.push(chars.slice(x).join(''));
    offsets.push([hat, hat + chars.length - x, x, chars.length, -1]);
  }
  return { text: pieces.join(''), spans: out, offsets };
}

/**
 * x rebuilt from x̂ and the offset map: copied segments from x̂, masked ones from the entity
 * texts (the x text of each span, in span order). The inverse the trainer relies on.
 */
export function reconstruct(masked: Masked, entityTexts: readonly string[]): string {
  const hat = Array.from(masked.text);
  return masked.offsets
    .map(([hs, he, , , span]) => (span < 0 ? hat.slice(hs, he).join('') : (entityTexts[span] ?? '')))
    .join('');
}

/** The x range (code points) behind x̂ position `p`: one character of copied text, or a masked span's whole range. */
export function toOriginal(
  offsets: readonly Segment[],
  p: number,
): { start: number; end: number; span: number } | undefined {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [hs, he, xs, xe, span] = offsets[mid]!;
    if (p < hs) hi = mid - 1;
    else if (p >= he) lo = mid + 1;
    else return span < 0 ? { start: xs + (p - hs), end: xs + (p - hs) + 1, span } : { start: xs, end: xe, span };
  }
  return undefined;
}
