/**
 * Token-level NER tags → character spans, for rows that carry the manual's `NER_results` shape
 * (`meta.tokens` + `meta.ner_tags`, tags aligned to a tokenizer's tokens) and for the ONNX
 * tagger's predictions.
 *
 * Schemes read: BIO/IOB2 (`B-X`, `I-X`, `O`) and BIOES (`E-X` ends, `S-X` is a single token).
 * Decoding is tolerant the way CoNLL evaluation is: an `I-X` that does not continue an `X` entity
 * starts one (IOB1), and a `B-X … I-X` without its `E-X` still ends where the tags stop
 * continuing it. Anything else (`PER`, BILOU's `L-`/`U-`, `B_PS`) is TagSchemeUnknown.
 */
import { DatasetRowInvalid, type RowLocation } from '../../common/errors';
import { TagSchemeUnknown } from './errors';
import type { Span } from './spans';

/** A parsed tag: `O`, or a prefix and an entity type. */
export type Tag = { prefix: 'O' } | { prefix: 'B' | 'I' | 'E' | 'S'; type: string };

const TAG = /^([BIES])-(\S+)$/;

/** The tag, or undefined when it belongs to no scheme fairline reads. */
export function parseTag(tag: string): Tag | undefined {
  if (tag === 'O') return { prefix: 'O' };
  const match = TAG.exec(tag);
  const prefix = match?.[1];
  if (!match || !(prefix === 'B' || prefix === 'I' || prefix === 'E' || prefix === 'S')) return undefined;
  return { prefix, type: match[2]! };
}

/**
 * Entity spans over token indices `[start, end)` from a tag sequence. `null` marks a
 * continuation sub-token that carries no tag of its own (Hugging Face's label -100): it extends
 * the entity of the token before it, if any.
 */
export function decodeTags(tags: readonly (string | null)[], row: RowLocation): Span[] {
  const spans: Span[] = [];
  let open: Span | undefined;
  const close = (): void => {
    if (open) spans.push(open);
    open = undefined;
  };
  tags.forEach((raw, i) => {
    if (raw === null) {
      if (open && open.end === i) open.end = i + 1;
      return;
    }
    const tag = parseTag(raw);
    if (!tag) throw new TagSchemeUnknown(row, raw, i);
    switch (tag.prefix) {
      case 'O':
        close();
        return;
      case 'B':
        close();
        open = { start: i, end: i + 1, type: tag.type };
        return;
      case 'I':
        if (open && open.type === tag.type && open.end === i) open.end = i + 1;
        else {
          close();
          open = { start: i, end: i + 1, type: tag.type };
        }
        return;
      case 'E':
        if (open && open.type === tag.type && open.end === i) open.end = i + 1;
        else {
          close();
          open = { start: i, end: i + 1, type: tag.type };
        }
        close();
        return;
      case 'S':
        close();
        spans.push({ start: i, end: i + 1, type: tag.type });
        return;
    }
  });
  close();
  return spans;
}

/**
 * Special tokens of common tokenizers: `[CLS]`, `[SEP]`, `[PAD]`, `<s>`, `</s>`, `<pad>`, … (not `[UNK]`/`<unk>`, which
 * stand for text).
 */
const SPECIAL = /^(\[(CLS|SEP|PAD|MASK|BOS|EOS)\]|<\/?(s|pad|mask|cls|sep|bos|eos)>)$/i;
const UNKNOWN = /^(\[UNK\]|<unk>)$/i;
/** Sub-word markers: WordPiece's `##` continuation prefix, SentencePiece's `▁` word prefix. */
const MARKER = /^(##|▁)/;

const lowerAscii = (c: string): string => (c >= 'A' && c <= 'Z' ? c.toLowerCase() : c);
const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/u.test(c);

/**
 * Character ranges (code points) of tokenizer tokens in the text they came from: markers are
 * stripped, whitespace between tokens skipped, ASCII compared case-insensitively (uncased
 * vocabularies); special tokens get undefined; `[UNK]`s take the words between their
 * neighbours. A token that does not fit the text is DatasetRowInvalid naming the row.
 */
export function alignTokens(
  chars: readonly string[],
  tokens: readonly string[],
  row: RowLocation,
): ([number, number] | undefined)[] {
  const ranges: ([number, number] | undefined)[] = new Array<[number, number] | undefined>(tokens.length).fill(
    undefined,
  );
  let pos = 0;
  let pendingUnknown: number[] = [];
  const placeUnknown = (until: number): void => {
    if (pendingUnknown.length === 0) return;
    const words: [number, number][] = [];
    let i = pos;
    while (i < until) {
      while (i < until && isSpace(chars[i])) i++;
      if (i >= until) break;
      const start = i;
      while (i < until && !isSpace(chars[i])) i++;
      words.push([start, i]);
    }
    if (words.length !== pendingUnknown.length) {
      throw new DatasetRowInvalid(
        row,
        `cannot align ${pendingUnknown.length} unknown token(s) at token ${pendingUnknown[0]} to the text (found ${words.length} word(s) there)`,
      );
    }
    pendingUnknown.forEach((t, k) => (ranges[t] = words[k]));
    pendingUnknown = [];
    pos = until;
  };
  tokens.forEach((token, t) => {
    if (SPECIAL.test(token)) return;
    if (UNKNOWN.test(token)) {
      pendingUnknown.push(t);
      return;
    }
    const surface = Array.from(token.replace(MARKER, ''));
    if (surface.length === 0) return; // a bare `▁`: a word boundary, no text
    // Where does the token start? Right after the previous one, or after whitespace.
    const fits = (at: number): boolean =>
      surface.every((c, k) => chars[at + k] !== undefined && lowerAscii(chars[at + k]!) === lowerAscii(c));
    let at = pos;
    if (pendingUnknown.length > 0) {
      // Unknown tokens before this one: search forward for where this token resumes.
      while (at < chars.length && !fits(at)) at++;
      if (at >= chars.length)
        throw new DatasetRowInvalid(
          row,
          `token ${t} ${JSON.stringify(token)} does not occur in the text after character ${pos}`,
        );
      let until = at;
      while (until > pos && isSpace(chars[until - 1])) until--;
      placeUnknown(until);
    } else {
      while (at < chars.length && isSpace(chars[at])) at++;
      if (!fits(at)) {
        throw new DatasetRowInvalid(
          row,
          `token ${t} ${JSON.stringify(token)} does not match the text at character ${at} (${JSON.stringify(chars.slice(at, at + surface.length).join(''))}); meta.tokens must be the tokenizer's tokens of this text`,
        );
      }
    }
    ranges[t] = [at, at + surface.length];
    pos = at + surface.length;
  });
  placeUnknown(chars.length);
  return ranges;
}

/** Character spans of the entities that tags over aligned tokens describe. */
export function spansFromTokenTags(
  ranges: readonly ([number, number] | undefined)[],
  tags: readonly (string | null)[],
  row: RowLocation,
): Span[] {
  const spans: Span[] = [];
  for (const entity of decodeTags(tags, row)) {
    const covered = ranges.slice(entity.start, entity.end).filter((r): r is [number, number] => r !== undefined);
    if (covered.length === 0) continue; // an entity tag on special tokens only: no text to mask
    spans.push({ start: covered[0]![0], end: covered[covered.length - 1]![1], type: entity.type });
  }
  return spans;
}
