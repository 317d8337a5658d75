/**
 * A small YAML (or JSON) data file read with line numbers, for errors that name the file's line:
 * lexicons (stages/ner-mask) and audit group files (audit/pairs.ts).
 */
import { isNode, LineCounter, parseDocument, type ParsedNode } from 'yaml';

export interface LinedDocument {
  /** The document's root node; null for an empty document. */
  root: ParsedNode | null;
  /** The 1-based line a node starts on (1 when it has no position). */
  lineOf(node: unknown): number;
}

/** Parses `source`; a syntax error goes to `fail` with its line and first message line, position suffix removed. */
export function parseWithLines(source: string, fail: (line: number, message: string) => never): LinedDocument {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, uniqueKeys: true });
  const [error] = doc.errors;
  if (error)
    fail(error.linePos?.[0].line ?? 1, error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));
  return {
    root: doc.contents,
    lineOf(node: unknown): number {
      const range = isNode(node) ? node.range : undefined;
      return range ? lines.linePos(range[0]).line : 1;
    },
  };
}
