/**
 * The `klue-ner` adapter: KLUE-NER's character-level BIO files (klue-ner-v1.1_{train,dev}.tsv)
 * into canonical rows with `text` and `entities`.
 *
 * The file: `##` comment lines (a header, then before each sentence `## <id>\t<text with
 * <span:TAG> marks>`), one `CHAR\tTAG` line per character (spaces included), a blank line
 * between sentences. A row's id is the `##` line's id, its text the characters joined, its
 * entities the BIO spans: `B-X` opens a span of type X, `I-X` extends an open span of type X.
 * Offsets are `[start, end)` in Unicode code points (what Python's `str` indexes and the
 * ner-mask stage reads); for KLUE's text, all in the Basic Multilingual Plane, they equal
 * JavaScript string indices.
 *
 * A sentence is rejected (a row problem, with the line where it starts) when a character line
 * has no tab or an unknown tag, when `I-X` continues no open span of type X, or when the text in
 * its `##` line (marks removed) differs from its characters. The `<span:TAG>` marks are only
 * checked for the text, not parsed for spans: they are ambiguous when the text itself holds `<`.
 * NER rows carry no classification labels: `labels` is the empty 0/1 vector (see README.md beside this file).
 */
import type { EntitySpan } from '../../pipeline/dataset';
import { codePoints, decodeUtf8, linesOf, show, type SourceRecord, type Where } from './records';

const ID_LINE = /^## (\S+)\t(.*)$/s;
const TAG = /^(?:O|[BI]-[A-Z]+)$/;
const MARK = /<([^<>]*?):(PS|LC|OG|DT|TI|QT)>/g;

interface Sentence {
  where: Where;
  id?: string;
  marked?: string;
  chars: string[];
  tags: string[];
  problem?: { reason: 'invalid-utf8' | 'malformed-record'; detail: string };
}

/** BIO tags to spans; a problem when an `I-X` continues nothing. */
function spansOf(sentence: Sentence): { spans: EntitySpan[] } | { problem: string } {
  const spans: EntitySpan[] = [];
  let open: EntitySpan | undefined;
  let offset = 0;
  for (let i = 0; i < sentence.chars.length; i++) {
    const tag = sentence.tags[i]!;
    const length = codePoints(sentence.chars[i]!);
    if (tag === 'O' || tag.startsWith('B-')) {
      if (open) spans.push(open);
      open = tag === 'O' ? undefined : { start: offset, end: offset + length, type: tag.slice(2) };
    } else if (open && open.type === tag.slice(2)) open.end = offset + length;
    else return { problem: `tag ${tag} at character ${i + 1} continues no ${tag.slice(2)} entity` };
    offset += length;
  }
  if (open) spans.push(open);
  return { spans };
}

function recordOf(sentence: Sentence): SourceRecord {
  const { where } = sentence;
  if (sentence.problem)
    return { kind: 'invalid', where, reason: sentence.problem.reason, detail: sentence.problem.detail };
  const text = sentence.chars.join('');
  if (sentence.marked !== undefined) {
    const plain = sentence.marked.replace(MARK, '$1');
    if (plain !== text)
      return {
        kind: 'invalid',
        where,
        reason: 'malformed-record',
        detail: `the characters spell ${show(text)}, the ## line ${show(plain)}`,
      };
  }
  const spans = spansOf(sentence);
  if ('problem' in spans) return { kind: 'invalid', where, reason: 'malformed-record', detail: spans.problem };
  return {
    kind: 'row',
    where,
    row: { ...(sentence.id !== undefined ? { id: sentence.id } : {}), text, entities: spans.spans },
  };
}

export async function* readKlueNer(input: AsyncIterable<Buffer>, source: string): AsyncGenerator<SourceRecord[]> {
  let sentence: Sentence | undefined;
  for await (const lines of linesOf(input, source)) {
    const batch: SourceRecord[] = [];
    for (const line of lines) {
      if (line.bytes.length === 0) {
        if (sentence && (sentence.chars.length > 0 || sentence.problem)) batch.push(recordOf(sentence));
        sentence = undefined;
        continue;
      }
      const decoded = decodeUtf8(line.bytes, line.byte);
      const text = decoded.ok ? decoded.text : '';
      const idLine = decoded.ok ? ID_LINE.exec(text) : null;
      if (decoded.ok && text.startsWith('##') && !idLine) continue; // the file's header comments
      if (idLine && sentence && sentence.chars.length > 0) {
        // A new sentence without the blank line before it: close the one before.
        batch.push(recordOf(sentence));
        sentence = undefined;
      }
      sentence ??= { where: { line: line.line, byte: line.byte }, chars: [], tags: [] };
      if (!decoded.ok) {
        sentence.problem ??= { reason: 'invalid-utf8', detail: decoded.detail };
        continue;
      }
      if (idLine) {
        sentence.id = idLine[1]!;
        sentence.marked = idLine[2]!;
        continue;
      }
      const tab = text.lastIndexOf('\t');
      const tag = tab < 0 ? '' : text.slice(tab + 1);
      if (tab < 0 || !TAG.test(tag)) {
        sentence.problem ??= {
          reason: 'malformed-record',
          detail: `line ${line.line}: expected CHARACTER<TAB>TAG (O, B-X, I-X), got ${show(text)}`,
        };
        continue;
      }
      sentence.chars.push(text.slice(0, tab));
      sentence.tags.push(tag);
    }
    if (batch.length > 0) yield batch;
  }
  if (sentence && (sentence.chars.length > 0 || sentence.problem)) yield [recordOf(sentence)];
}
