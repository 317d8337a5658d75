/**
 * How problems are worded: the YAML parser's errors, zod's issues ("unknown key … allowed keys:",
 * "expected a string, got 5; quote it"), "did you mean" suggestions, and the `stage "id":` prefix
 * that says what a path names. Reporter puts each message at the node it is about.
 */
import { isMap, isScalar, isSeq, Scalar, visit, type Document, type LineCounter, type YAMLError } from 'yaml';
import { z } from 'zod';
import {
  isRecord,
  keyText,
  locate,
  pathKey,
  rangeStart,
  type Path,
  type PathSegment,
  type ProblemList,
} from './positions';

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** ` (did you mean "x"?)` when one candidate is a likely typo of `word`, else ''. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.min(2, Math.floor(word.length / 3)));
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    // A one-letter name is "close" to every other short name; suggest only when some of it matches.
    if (d <= bestDistance && d < word.length && candidate !== word) {
      best = candidate;
      bestDistance = d - 1;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

/** Names joined for a message; `(none)` for none. */
export function quoteList(names: Iterable<string>): string {
  const list = [...names];
  return list.length === 0 ? '(none)' : list.join(', ');
}

/** The keys a strict object schema allows at `path` inside `schema`, for "allowed keys: …". */
function allowedKeysAt(schema: z.ZodType, path: Path): string[] | undefined {
  let current: unknown = unwrapSchema(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject) current = current.shape[String(segment)];
    else if (current instanceof z.ZodArray) current = current.element;
    else if (current instanceof z.ZodRecord) current = current.valueType;
    else return undefined;
    current = unwrapSchema(current);
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : undefined;
}

function unwrapSchema(schema: unknown): unknown {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault)
      current = current.unwrap();
    else if (current instanceof z.ZodPipe) current = current.in;
    else return current;
  }
}

/** The path of a zod issue, as data-path segments. */
export function pathOf(issue: z.core.$ZodIssue): PathSegment[] {
  return issue.path.filter((s): s is PathSegment => typeof s === 'string' || typeof s === 'number');
}

/** What a YAML node holds, for "expected X, got Y". */
function describeNode(node: unknown): string {
  if (isScalar(node))
    return node.value === null ? 'nothing (null)' : (JSON.stringify(node.value) ?? String(node.value));
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'nothing';
}

/**
 * One mistake can make the parser emit dozens of errors: after it loses the document structure,
 * every later token is "unexpected … in YAML stream". Those echoes are dropped (once any error was
 * kept), and only the first error of each line is kept, so the output points at the real mistakes.
 */
export function syntaxErrorsWorthReporting(errors: readonly YAMLError[], lines: LineCounter): YAMLError[] {
  const kept: YAMLError[] = [];
  const linesSeen = new Set<number>();
  for (const error of errors) {
    const line = lines.linePos(error.pos[0]).line;
    if (error.code !== 'DUPLICATE_KEY') {
      if (linesSeen.has(line)) continue;
      if (kept.length > 0 && error.message.includes('in YAML stream')) continue;
      linesSeen.add(line);
    }
    kept.push(error);
  }
  return kept;
}

/** A YAML parser error as a message, with a hint where the usual cause is known. */
export function yamlErrorMessage(error: YAMLError, doc: Document, text: string, lines: LineCounter): string {
  if (error.code === 'DUPLICATE_KEY') {
    const key = keyStartingAt(doc, error.pos[0]);
    return `duplicate key${key === undefined ? '' : ` ${JSON.stringify(key)}`}: keys must be unique`;
  }
  // `{ url: ${{ params.x }} }`: braces are flow-mapping syntax, so an unquoted expression inside
  // { } or [ ] breaks the YAML. The parser cannot know what was meant; a hint can.
  const line = lines.linePos(error.pos[0]).line;
  const start = lines.lineStarts[line - 1] ?? 0;
  const end = lines.lineStarts[line] ?? text.length;
  const hint = text.slice(start, end).includes('${{')
    ? ' (inside { } or [ ], a ${{ }} expression must be quoted: "${{ … }}")'
    : '';
  return `YAML syntax: ${error.message}${hint}`;
}

/** The text of the map key whose node starts at `offset` (the parser's duplicate-key error gives only an offset). */
function keyStartingAt(doc: Document, offset: number): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (rangeStart(pair.key) !== offset) return undefined;
      found = keyText(pair.key);
      return visit.BREAK;
    },
  });
  return found;
}

/**
 * Reports problems at the node a data path names, each message prefixed with what the path names
 * (`stage "train": with.lr: …`).
 */
export class Reporter {
  private readonly root: Record<string, unknown>;

  constructor(
    private readonly doc: Document,
    private readonly problems: ProblemList,
    data: unknown,
  ) {
    this.root = isRecord(data) ? data : {};
  }

  /** `stage "id"` for paths inside a stage (its index when it has no usable id), then the rest. */
  subject(path: Path): { owner: string; rest: string } {
    let owner = '';
    let restPath = path;
    if (path[0] === 'stages' && typeof path[1] === 'number') {
      const stage: unknown = Array.isArray(this.root.stages) ? this.root.stages[path[1]] : undefined;
      const id = isRecord(stage) && typeof stage.id === 'string' ? stage.id : undefined;
      owner = id !== undefined ? `stage "${id}"` : `stages[${path[1]}]`;
      restPath = path.slice(2);
    }
    const rest = restPath.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
    return { owner, rest };
  }

  private label(path: Path): string {
    const { owner, rest } = this.subject(path);
    return [owner, rest].filter((s) => s !== '').join(': ');
  }

  /** Reports at the node at `path`, the message prefixed with what the path names. */
  report(path: Path, message: string, where: 'value' | 'key' = 'value'): void {
    const label = this.label(path);
    this.reportBare(path, label === '' ? message : `${label}: ${message}`, where);
  }

  /** Reports at the node at `path` (or its key), the message as given. */
  reportBare(path: Path, message: string, where: 'value' | 'key' = 'value'): void {
    const located = locate(this.doc, path);
    this.problems.at(where === 'key' ? (located.keyOffset ?? located.offset) : located.offset, message);
  }

  /**
   * A message about a key (missing, unknown) belongs to the object holding it:
   * `stage "x": unknown key "urll" in with; allowed keys: …` (`head`, where, `tail`).
   */
  private reportKey(objectPath: Path, key: string, head: string, tail: string, pointAt: 'key' | 'object'): void {
    const { owner, rest } = this.subject(objectPath);
    const text = `${head}${rest !== '' ? ` in ${rest}` : ''}${tail}`;
    const located = locate(this.doc, pointAt === 'key' ? [...objectPath, key] : objectPath);
    const offset = pointAt === 'key' ? (located.keyOffset ?? located.offset) : located.offset;
    this.problems.at(offset, owner === '' ? text : `${owner}: ${text}`);
  }

  /**
   * Turns zod issues into positioned problems. `base` is where the validated value sits in the
   * file; `schema` is consulted for the allowed keys; `notes` explain values that came from a
   * `${{ }}` reference (the YAML shows the expression, the schema saw what it stands for).
   */
  reportIssues(
    issues: readonly z.core.$ZodIssue[],
    base: Path,
    schema: z.ZodType,
    notes: ReadonlyMap<string, string> = new Map(),
  ): void {
    for (const issue of issues) {
      const relative = pathOf(issue);
      const path = [...base, ...relative];
      if (issue.code === 'unrecognized_keys') {
        const allowed = allowedKeysAt(schema, relative) ?? [];
        for (const key of issue.keys) {
          this.reportKey(
            path,
            key,
            `unknown key "${key}"`,
            `${didYouMean(key, allowed)}; allowed keys: ${quoteList(allowed)}`,
            'key',
          );
        }
        continue;
      }
      if (issue.code === 'invalid_key') {
        const key = String(relative[relative.length - 1] ?? '');
        const reason = issue.issues[0]?.message ?? issue.message;
        this.reportKey(path.slice(0, -1), key, `invalid name "${key}"`, `: ${reason}`, 'key');
        continue;
      }
      const located = locate(this.doc, path);
      if (issue.code === 'invalid_type' && located.node === undefined && path.length > 0) {
        const key = String(path[path.length - 1]);
        this.reportKey(path.slice(0, -1), key, `missing required key "${key}"`, '', 'object');
        continue;
      }
      const note = notes.get(pathKey(path));
      if (issue.code === 'invalid_type') {
        const got = note ?? describeNode(located.node);
        const generic = issue.message.startsWith('Invalid input');
        const expected = generic ? `expected ${issue.expected}` : issue.message;
        // `sha256: 0e12…` or `version: 1.10` are read by YAML as numbers; the fix is quoting. A
        // schema with its own message (durations) knows better: quoting `10` gives no duration.
        const hint =
          generic &&
          issue.expected === 'string' &&
          isScalar(located.node) &&
          located.node.type === Scalar.PLAIN &&
          (typeof located.node.value === 'number' || typeof located.node.value === 'boolean')
            ? `; YAML reads this unquoted value as a ${typeof located.node.value}: quote it to make it a string`
            : '';
        this.report(path, `${expected}, got ${got}${hint}`);
        continue;
      }
      this.report(path, note === undefined ? issue.message : `${issue.message} (got ${note})`);
    }
  }

  /**
   * Reports at character `at` of the string value at `path` when the source spells the string
   * out as is (plain or quoted on one line, no escapes); otherwise at the value's start.
   */
  reportInString(path: Path, at: number | undefined, message: string): void {
    const { node, offset } = locate(this.doc, path);
    let position = offset;
    if (at !== undefined && isScalar(node) && typeof node.value === 'string' && node.range) {
      const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
      const spelledOut =
        (node.type === Scalar.PLAIN || quoted) &&
        node.range[1] - node.range[0] === node.value.length + (quoted ? 2 : 0);
      if (spelledOut) position = node.range[0] + (quoted ? 1 : 0) + at;
    }
    this.problems.at(position, message);
  }

  /** Reports at a source offset (for problems that belong to no path: `--set`, YAML itself). */
  at(offset: number, message: string): void {
    this.problems.at(offset, message);
  }

  /** The line the node at `path` starts on. */
  lineOf(path: Path): number {
    return this.problems.lineOf(locate(this.doc, path).offset);
  }
}
