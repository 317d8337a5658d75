/**
 * Where things are in a pipeline file: zod and the checks speak in data paths
 * (`['stages', 2, 'with', 'url']`); `locate` maps a path back to the YAML node it came from, and
 * ProblemList turns the node's offset into the FILE:LINE:COL a problem is reported at.
 */
import { isAlias, isMap, isNode, isScalar, isSeq, type Document, type LineCounter } from 'yaml';
import type { Problem } from '../errors';

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/** Problems of one file, positioned by source offset. */
export class ProblemList {
  private readonly list: Problem[] = [];
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  get size(): number {
    return this.list.length;
  }

  at(offset: number, message: string): void {
    const { line, col } = this.lines.linePos(offset);
    // The same node can be reached twice (an alias, a duplicate key); say each thing once.
    if (this.list.some((p) => p.line === line && p.col === col && p.message === message)) return;
    this.list.push({ file: this.file, line, col, message });
  }

  lineOf(offset: number): number {
    return this.lines.linePos(offset).line;
  }

  sorted(): Problem[] {
    return [...this.list].sort((a, b) => a.line - b.line || a.col - b.col);
  }
}

/** Where the value (or key) at a data path is in the YAML source; undefined `node` when it is absent. */
export interface Located {
  /** The YAML node at the full path, when it exists. */
  readonly node: unknown;
  /** Offset of that node, or of the deepest ancestor that exists. */
  readonly offset: number;
  /** Offset of the key of the last path step, when that step is a map key that exists. */
  readonly keyOffset: number | undefined;
}

/** Where a YAML node starts in the source, when it has a place there. */
export function rangeStart(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}

/** `key:` with nothing after it parses as an empty null scalar placed after the colon. */
function isEmptyScalar(node: unknown): boolean {
  return (
    isScalar(node) &&
    node.value === null &&
    node.range !== undefined &&
    node.range !== null &&
    node.range[0] === node.range[1]
  );
}

/** A map key's text, when the key is a scalar. */
export function keyText(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

/** Where the value at `path` is in the YAML source (aliases followed), or its nearest existing ancestor. */
export function locate(doc: Document, path: Path): Located {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  let keyOffset: number | undefined;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    keyOffset = undefined;
    if (isMap(node)) {
      // The last of duplicate keys, because that is the one toJS() keeps.
      const pair = [...node.items].reverse().find((p) => keyText(p.key) === String(segment));
      if (pair === undefined) return { node: undefined, offset, keyOffset: undefined };
      keyOffset = rangeStart(pair.key);
      const valueOffset = isEmptyScalar(pair.value) ? undefined : rangeStart(pair.value);
      offset = valueOffset ?? keyOffset ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) return { node: undefined, offset, keyOffset: undefined };
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      return { node: undefined, offset, keyOffset: undefined };
    }
  }
  if (isAlias(node)) node = node.resolve(doc);
  return { node: node ?? null, offset, keyOffset };
}

/** A plain mapping (as YAML and JSON give), not an array, null or a class instance. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Whether `path` lies at or under `prefix`. */
export function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => path[i] === s);
}

/** A path as a map key. */
export const pathKey = (path: Path): string => JSON.stringify(path);
