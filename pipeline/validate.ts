/**
 * `fairline validate`: a pipeline YAML file in, a validated and resolved RunSpec out, or every
 * problem in the file reported as FILE:LINE:COL. Runs in the client (Node); the workflow only ever
 * sees the RunSpec (pipeline/run-spec.ts), never YAML.
 *
 * The checks run in three layers, and each problem kind belongs to exactly one of them so that a
 * mistake is reported once, not echoed by every later layer:
 *  1. YAML: syntax errors, duplicate keys, unresolvable tags (from the `yaml` parser);
 *  2. shape: pipeline/spec.ts's strict zod schemas (types, unknown keys, ids, durations, queues);
 *  3. meaning, on a lenient reading of the same data: `uses` registered, stage ids unique, `needs`
 *     known and acyclic, `${{ }}` references sound, `--set` values typed, each `with` accepted by
 *     its stage type's schema.
 * Zod issues carry paths into the parsed data; `locate` maps them back to YAML nodes, so every
 * problem points at the key or value it is about.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, Scalar, visit, type Document, type YAMLError } from 'yaml';
import { z } from 'zod';
import { canonicalJson } from './canonical-json';
import { formatDuration, parseDuration } from './duration';
import { PipelineCycle, type Problem } from './errors';
import { runSpecSchema, type Json, type ResolvedRetry, type ResolvedStage, type ResolvedTimeouts, type RunSpec } from './run-spec';
import { paramValueSchema, pipelineFileSchema, stageSpecSchema, type ParamValue, type ScheduleSpec, type StageSpec } from './spec';
import { checkCron, checkOverlap, checkTimeZone } from './schedule-checks';
import { aliasExpansionProblem } from './yaml-aliases';
import { placeholderFor, STAGE_TYPES, type StageType } from '../stages';

export { formatProblem, type Problem } from './errors';

/** The stage types `uses:` may name; injectable so tests (and plugins) can add their own. */
export type StageTypeRegistry = Readonly<Record<string, StageType>>;

export interface ValidateOptions {
  /** `params.NAME=VALUE` overrides, as given on the command line; later entries win. */
  readonly set?: readonly string[];
  /** Defaults to STAGE_TYPES. */
  readonly stageTypes?: StageTypeRegistry;
}

/**
 * A valid file gives the RunSpec and a one-line summary (and the `schedule:` block, kept for the
 * scheduling feature: it is not part of what runs, so not part of the RunSpec); an invalid one
 * gives every problem found, in file order.
 */
export type ValidationResult =
  | { ok: true; spec: RunSpec; summary: string; schedule?: ScheduleSpec }
  | { ok: false; problems: Problem[] };

type PathSegment = string | number;
type Path = readonly PathSegment[];

/** Reads and validates a pipeline file; an unreadable file is a single problem at 1:1. */
export async function validatePipelineFile(path: string, options: ValidateOptions = {}): Promise<ValidationResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, problems: [{ file: path, line: 1, col: 1, message: `cannot read the pipeline file: ${reason}` }] };
  }
  return validatePipelineText(text, path, options);
}

/**
 * Validates pipeline YAML `text` (named `file` in problems and in the spec's `sourceFile`) and
 * resolves it into a RunSpec: params substituted, `--set` applied, output references left as
 * OutputRefs, queues/retries/timeouts merged over the stage types' defaults.
 */
export function validatePipelineText(text: string, file: string, options: ValidateOptions = {}): ValidationResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { keepSourceTokens: true, uniqueKeys: true, lineCounter, prettyErrors: false });
  const problems = new ProblemList(file, lineCounter);

  for (const error of syntaxErrorsWorthReporting(doc.errors, lineCounter)) {
    problems.at(error.pos[0], yamlErrorMessage(error, doc, text, lineCounter));
  }
  // Unresolved tags (`!env FOO`) are only warnings to the parser, but the value silently becomes a
  // plain string: the author meant something fairline would not do, so it is a problem here.
  for (const warning of doc.warnings) problems.at(warning.pos[0], `YAML: ${warning.message}`);
  // After a syntax error the parser's recovered tree can be far from what the author meant
  // (an unclosed quote swallows the following lines); checking it would only add noise.
  if (doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) return { ok: false, problems: problems.sorted() };

  // Bounded before anything expands: toJS shares aliased nodes, but every check after it (and the
  // RunSpec) copies them, so a small file of reused anchors could take minutes and gigabytes.
  const bomb = aliasExpansionProblem(doc, lineCounter);
  if (bomb) {
    problems.at(bomb.offset, bomb.message);
    return { ok: false, problems: problems.sorted() };
  }
  let data: unknown;
  try {
    // The expansion bound above replaces the parser's alias count (which cannot say where).
    data = doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    problems.at(0, `YAML: ${err instanceof Error ? err.message : String(err)}`);
    return { ok: false, problems: problems.sorted() };
  }

  const checker = new PipelineChecker(doc, data, problems, options.stageTypes ?? STAGE_TYPES, file);
  const fileParse = pipelineFileSchema.safeParse(data);
  if (!fileParse.success) checker.reportIssues(fileParse.error.issues, [], pipelineFileSchema);
  const params = checker.resolveParams(options.set ?? []);
  const stages = checker.checkStages(params);
  checker.checkSchedule();

  if (problems.size > 0 || !fileParse.success || stages === undefined) return { ok: false, problems: problems.sorted() };

  const pipeline = fileParse.data;
  const paramsJson: Record<string, Json> = Object.fromEntries(params);
  const digest = createHash('sha256')
    .update(canonicalJson({ name: pipeline.name, params: paramsJson, stages }))
    .digest('hex');
  const spec = runSpecSchema.parse({
    name: pipeline.name,
    ...(pipeline.description !== undefined ? { description: pipeline.description } : {}),
    params: paramsJson,
    stages,
    specDigest: digest,
    sourceFile: file,
  });
  return {
    ok: true,
    spec,
    summary: summarize(file, spec),
    ...(pipeline.schedule !== undefined ? { schedule: pipeline.schedule } : {}),
  };
}

/**
 * The stages in an order where every stage comes after all it needs; among stages that are ready
 * together, declaration order is kept, so the order is stable. `needs` entries that name no stage
 * are ignored (a validated spec has none). Throws PipelineCycle when the stages form a cycle.
 */
export function topologicalOrder<T extends { readonly id: string; readonly needs: readonly string[] }>(stages: readonly T[]): T[] {
  const known = new Set(stages.map((s) => s.id));
  const done = new Set<string>();
  const order: T[] = [];
  let remaining = [...stages];
  while (remaining.length > 0) {
    const ready = remaining.filter((s) => s.needs.every((n) => done.has(n) || !known.has(n)));
    if (ready.length === 0) throw new PipelineCycle(findCycleAmong(remaining));
    for (const s of ready) {
      order.push(s);
      done.add(s.id);
    }
    remaining = remaining.filter((s) => !done.has(s.id));
  }
  return order;
}

/** Every stage left over by Kahn's algorithm has an unmet need among the others: walk until a repeat. */
function findCycleAmong(stages: readonly { readonly id: string; readonly needs: readonly string[] }[]): string[] {
  const byId = new Map(stages.map((s) => [s.id, s]));
  const walk: string[] = [];
  let current = stages[0];
  while (current !== undefined && !walk.includes(current.id)) {
    walk.push(current.id);
    current = current.needs.map((n) => byId.get(n)).find((s) => s !== undefined);
  }
  if (current === undefined) return walk;
  return [...walk.slice(walk.indexOf(current.id)), current.id];
}

function summarize(file: string, spec: RunSpec): string {
  const counts = new Map<string, number>();
  for (const stage of spec.stages) counts.set(stage.uses, (counts.get(stage.uses) ?? 0) + 1);
  const types = [...counts].map(([uses, n]) => (n > 1 ? `${uses} ×${n}` : uses)).join(', ');
  const stageCount = plural(spec.stages.length, 'stage');
  const paramCount = plural(Object.keys(spec.params).length, 'param');
  return `${file}: ok — pipeline "${spec.name}", ${stageCount} (${types}), ${paramCount}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * One mistake can make the parser emit dozens of errors: after it loses the document structure,
 * every later token is "unexpected … in YAML stream". Those echoes are dropped (once any error was
 * kept), and only the first error of each line is kept, so the output points at the real mistakes.
 */
function syntaxErrorsWorthReporting(errors: readonly YAMLError[], lines: LineCounter): YAMLError[] {
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

function yamlErrorMessage(error: YAMLError, doc: Document, text: string, lines: LineCounter): string {
  if (error.code === 'DUPLICATE_KEY') {
    const key = keyStartingAt(doc, error.pos[0]);
    return `duplicate key${key === undefined ? '' : ` ${JSON.stringify(key)}`}: keys must be unique`;
  }
  // `{ url: ${{ params.x }} }`: braces are flow-mapping syntax, so an unquoted expression inside
  // { } or [ ] breaks the YAML. The parser cannot know what was meant; a hint can.
  const line = lines.linePos(error.pos[0]).line;
  const start = lines.lineStarts[line - 1] ?? 0;
  const end = lines.lineStarts[line] ?? text.length;
  const hint = text.slice(start, end).includes('${{') ? ' (inside { } or [ ], a ${{ }} expression must be quoted: "${{ … }}")' : '';
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

/** Problems of one file, positioned by source offset. */
class ProblemList {
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
interface Located {
  /** The YAML node at the full path, when it exists. */
  readonly node: unknown;
  /** Offset of that node, or of the deepest ancestor that exists. */
  readonly offset: number;
  /** Offset of the key of the last path step, when that step is a map key that exists. */
  readonly keyOffset: number | undefined;
}

function rangeStart(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}

/** `key:` with nothing after it parses as an empty null scalar placed after the colon. */
function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null && node.range !== undefined && node.range !== null && node.range[0] === node.range[1];
}

function keyText(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

function locate(doc: Document, path: Path): Located {
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

/** What a YAML node holds, for "expected X, got Y". */
function describeNode(node: unknown): string {
  if (isScalar(node)) return node.value === null ? 'nothing (null)' : JSON.stringify(node.value) ?? String(node.value);
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  return 'nothing';
}

/**
 * A copy of `value` with `rewrite` applied to the strings at a dotted key path (`url`,
 * `sources.*.url`; `*` is every key of a mapping); everything else, and paths that do not exist,
 * are left alone. Strings become strings, so the copy keeps the shape (and type) of `value`.
 */
function rewriteAt<V>(value: V, path: readonly string[], rewrite: (v: string) => string): V {
  const [head, ...rest] = path;
  if (head === undefined) return typeof value === 'string' ? (rewrite(value) as V) : value;
  if (!isRecord(value)) return value;
  const keys = head === '*' ? Object.keys(value) : Object.hasOwn(value, head) ? [head] : [];
  if (keys.length === 0) return value;
  const copy: Record<string, unknown> = { ...value };
  for (const key of keys) copy[key] = rewriteAt(value[key], rest, rewrite);
  return copy as V;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
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
function didYouMean(word: string, candidates: Iterable<string>): string {
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

function quoteList(names: Iterable<string>): string {
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
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) current = current.unwrap();
    else if (current instanceof z.ZodPipe) current = current.in;
    else return current;
  }
}

function pathOf(issue: z.core.$ZodIssue): PathSegment[] {
  return issue.path.filter((s): s is PathSegment => typeof s === 'string' || typeof s === 'number');
}

function startsWith(path: Path, prefix: Path): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => path[i] === s);
}

const pathKey = (path: Path): string => JSON.stringify(path);

/** A `${{ }}` expression, parsed. */
type Reference = { kind: 'param'; name: string } | { kind: 'output'; stage: string; output: string };

/** Any `${{ … }}` in a string; `s` so a multi-line expression is still seen (and rejected). */
const EXPRESSION = /\$\{\{(.*?)\}\}/gs;
const PARAM_REFERENCE = /^params\.([A-Za-z_][A-Za-z0-9_-]*)$/;
const OUTPUT_REFERENCE = /^stages\.([a-z0-9][a-z0-9-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)$/;

function parseReference(inner: string): Reference | undefined {
  const expression = inner.trim();
  const param = PARAM_REFERENCE.exec(expression);
  if (param?.[1] !== undefined) return { kind: 'param', name: param[1] };
  const output = OUTPUT_REFERENCE.exec(expression);
  if (output?.[1] !== undefined && output[2] !== undefined) return { kind: 'output', stage: output[1], output: output[2] };
  return undefined;
}

/** The lenient reading of one `stages:` entry that the meaning checks work from. */
interface StageDraft {
  readonly index: number;
  readonly id: string | undefined;
  /** Its `uses` looked up in the registry; undefined when unknown (reported) or not a string. */
  readonly type: StageType | undefined;
  /** String entries of `needs`, with their index in the list (for positions). */
  readonly needs: readonly { readonly id: string; readonly index: number }[];
  readonly raw: Record<string, unknown>;
  /** Whether this entry is the first with its id (later duplicates are reported, then ignored). */
  readonly primary: boolean;
}

/** A `with` value resolved twice over: for the RunSpec, and for the stage type's schema check. */
interface Resolved {
  readonly spec: Json;
  readonly check: unknown;
}

class PipelineChecker {
  private readonly root: Record<string, unknown>;
  private readonly drafts: StageDraft[] = [];
  private readonly byId = new Map<string, StageDraft>();

  constructor(
    private readonly doc: Document,
    data: unknown,
    private readonly problems: ProblemList,
    private readonly registry: StageTypeRegistry,
    /** The pipeline file, against whose folder relative paths in `with` resolve. */
    private readonly file: string,
  ) {
    this.root = isRecord(data) ? data : {};
  }

  /** `stage "id"` for paths inside a stage (its index when it has no usable id), then the rest. */
  private subject(path: Path): { owner: string; rest: string } {
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
  private report(path: Path, message: string, where: 'value' | 'key' = 'value'): void {
    const label = this.label(path);
    this.reportBare(path, label === '' ? message : `${label}: ${message}`, where);
  }

  /** Reports at the node at `path` (or its key), the message as given. */
  private reportBare(path: Path, message: string, where: 'value' | 'key' = 'value'): void {
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
          this.reportKey(path, key, `unknown key "${key}"`, `${didYouMean(key, allowed)}; allowed keys: ${quoteList(allowed)}`, 'key');
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
   * The `schedule:` block as Temporal will check it at `fairline schedule apply`
   * (pipeline/schedule-checks.ts): cron fields and ranges, time zones, overlap policies. The
   * shape check has already reported values of the wrong type.
   */
  checkSchedule(): void {
    const schedule = this.root.schedule;
    if (!isRecord(schedule)) return;
    let cronZone: string | undefined;
    if (typeof schedule.cron === 'string') {
      const { problem, timeZone } = checkCron(schedule.cron);
      if (problem) this.reportInString(['schedule', 'cron'], problem.at, `schedule.cron: ${problem.message}`);
      if (timeZone) {
        cronZone = timeZone.name;
        const zoneProblem = checkTimeZone(timeZone.name);
        if (zoneProblem) this.reportInString(['schedule', 'cron'], timeZone.at, `schedule.cron: ${zoneProblem.message}`);
      }
    }
    if (typeof schedule.timezone === 'string') {
      const zoneProblem = checkTimeZone(schedule.timezone);
      if (zoneProblem) this.reportBare(['schedule', 'timezone'], `schedule.timezone: ${zoneProblem.message}`);
      else if (cronZone !== undefined && cronZone !== schedule.timezone) {
        this.reportBare(['schedule', 'timezone'], `schedule.timezone: ${schedule.timezone} conflicts with the cron's own zone ${cronZone}; Temporal refuses two zones, so give one`);
      }
    }
    if (typeof schedule.overlap === 'string') {
      const overlapProblem = checkOverlap(schedule.overlap);
      if (overlapProblem) this.reportBare(['schedule', 'overlap'], `schedule.overlap: ${overlapProblem.message}`);
    }
  }

  /**
   * Reports at character `at` of the string value at `path` when the source spells the string
   * out as is (plain or quoted on one line, no escapes); otherwise at the value's start.
   */
  private reportInString(path: Path, at: number | undefined, message: string): void {
    const { node, offset } = locate(this.doc, path);
    let position = offset;
    if (at !== undefined && isScalar(node) && typeof node.value === 'string' && node.range) {
      const quoted = node.type === Scalar.QUOTE_DOUBLE || node.type === Scalar.QUOTE_SINGLE;
      const spelledOut = (node.type === Scalar.PLAIN || quoted) && node.range[1] - node.range[0] === node.value.length + (quoted ? 2 : 0);
      if (spelledOut) position = node.range[0] + (quoted ? 1 : 0) + at;
    }
    this.problems.at(position, message);
  }

  /** Declared params with their typed defaults, then `--set` overrides checked against those types. */
  resolveParams(set: readonly string[]): Map<string, ParamValue> {
    const declared = isRecord(this.root.params) ? this.root.params : {};
    const params = new Map<string, ParamValue>();
    for (const [name, value] of Object.entries(declared)) {
      const typed = paramValueSchema.safeParse(value);
      if (typed.success) params.set(name, typed.data);
    }
    for (const entry of set) this.applySet(entry, declared, params);
    return params;
  }

  private applySet(entry: string, declared: Record<string, unknown>, params: Map<string, ParamValue>): void {
    const eq = entry.indexOf('=');
    const target = (eq < 0 ? entry : entry.slice(0, eq)).trim();
    if (eq < 0 || !target.startsWith('params.')) {
      this.problems.at(0, `--set ${entry}: expected params.NAME=VALUE (only params can be set)`);
      return;
    }
    const name = target.slice('params.'.length);
    const text = entry.slice(eq + 1);
    if (!Object.hasOwn(declared, name)) {
      const known = Object.keys(declared);
      const hint = known.length === 0 ? 'the pipeline declares no params' : `declared params: ${quoteList(known)}`;
      this.reportBare(['params'], `--set ${target}: unknown param "${name}"${didYouMean(name, known)}; ${hint}`, 'key');
      return;
    }
    const current = params.get(name);
    // A default of the wrong type is reported by the shape check; there is no type to hold to.
    if (current === undefined) return;
    const value = parseSetValue(text, typeof current);
    if (value === undefined) {
      this.reportBare(
        ['params', name],
        `--set ${target}=${text}: expected a ${typeof current} like the default ${JSON.stringify(current)}, got ${JSON.stringify(text)}`,
        'key',
      );
      return;
    }
    params.set(name, value);
  }

  /** Reads every `stages:` entry leniently and runs the checks that need the whole pipeline. */
  checkStages(params: ReadonlyMap<string, ParamValue>): ResolvedStage[] | undefined {
    const rawStages = Array.isArray(this.root.stages) ? this.root.stages : [];
    rawStages.forEach((raw: unknown, index) => {
      if (!isRecord(raw)) return;
      const id = typeof raw.id === 'string' ? raw.id : undefined;
      const uses = typeof raw.uses === 'string' ? raw.uses : undefined;
      const type = uses !== undefined && Object.hasOwn(this.registry, uses) ? this.registry[uses] : undefined;
      const needs = Array.isArray(raw.needs)
        ? raw.needs.flatMap((n: unknown, i) => (typeof n === 'string' ? [{ id: n, index: i }] : []))
        : [];
      const primary = id !== undefined && !this.byId.has(id);
      const draft: StageDraft = { index, id, type, needs, raw, primary };
      this.drafts.push(draft);
      if (primary) this.byId.set(id, draft);
      else if (id !== undefined) {
        const first = this.byId.get(id);
        const where = first === undefined ? '' : ` (first defined at line ${this.lineOf(['stages', first.index, 'id'])})`;
        this.report(['stages', index, 'id'], `duplicate stage id "${id}"${where}`);
      }
      if (uses !== undefined && type === undefined) {
        this.report(
          ['stages', index, 'uses'],
          `unknown stage type "${uses}"${didYouMean(uses, Object.keys(this.registry))}; known types: ${quoteList(Object.keys(this.registry))}`,
        );
      }
    });

    for (const draft of this.drafts) this.checkNeeds(draft);
    this.checkCycles();

    const resolved: ResolvedStage[] = [];
    let complete = true;
    for (const draft of this.drafts) {
      const stage = this.resolveStage(draft, params);
      if (stage === undefined) complete = false;
      else resolved.push(stage);
    }
    return complete && resolved.length === rawStages.length ? resolved : undefined;
  }

  private lineOf(path: Path): number {
    return this.problems.lineOf(locate(this.doc, path).offset);
  }

  private checkNeeds(draft: StageDraft): void {
    const seen = new Set<string>();
    for (const need of draft.needs) {
      const path = ['stages', draft.index, 'needs', need.index];
      if (seen.has(need.id)) this.report(path, `"${need.id}" is listed twice in needs`);
      seen.add(need.id);
      if (need.id === draft.id) continue; // a cycle of one: reported by checkCycles
      if (!this.byId.has(need.id)) {
        this.report(path, `unknown stage "${need.id}"${didYouMean(need.id, this.byId.keys())}; stages: ${quoteList(this.byId.keys())}`);
      }
    }
  }

  /**
   * Depth-first over `needs` in declaration order; an edge back into the current walk closes a
   * cycle, reported at that `needs` entry as `a → b → c → a` (read: a needs b, …, c needs a).
   */
  private checkCycles(): void {
    const state = new Map<string, 'walking' | 'done'>();
    const walk: string[] = [];
    const visit = (draft: StageDraft): void => {
      if (draft.id === undefined) return;
      state.set(draft.id, 'walking');
      walk.push(draft.id);
      for (const need of draft.needs) {
        const next = this.byId.get(need.id);
        if (next?.id === undefined) continue;
        const seen = state.get(next.id);
        if (seen === 'walking') {
          const cycle = [...walk.slice(walk.indexOf(next.id)), next.id];
          this.report(['stages', draft.index, 'needs', need.index], `stages depend on each other in a cycle: ${cycle.join(' → ')}`);
        } else if (seen === undefined) {
          visit(next);
        }
      }
      walk.pop();
      state.set(draft.id, 'done');
    };
    for (const draft of this.drafts) if (draft.primary && draft.id !== undefined && !state.has(draft.id)) visit(draft);
  }

  /** Ids of every stage `draft` depends on, directly or through other stages' needs. */
  private ancestorsOf(draft: StageDraft): Set<string> {
    const ancestors = new Set<string>();
    const pending = [...draft.needs.map((n) => n.id)];
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      if (ancestors.has(id)) continue;
      ancestors.add(id);
      const stage = this.byId.get(id);
      if (stage) pending.push(...stage.needs.map((n) => n.id));
    }
    return ancestors;
  }

  /**
   * A `with` key the stage type lists in `relativePaths` may hold `./x` or `../x`: a path relative
   * to the pipeline file, turned into an absolute file:// URL so that a pipeline and its data can
   * live side by side in a repository and run from any working directory. An absolute path
   * (`/data/x.csv`) is accepted wherever a relative one is, and becomes a file:// URL the same way.
   */
  private resolveRelativePaths<T extends { spec: Json; check: unknown }>(resolved: T, type: StageType | undefined): T {
    const keys = type?.relativePaths ?? [];
    if (keys.length === 0 || !isRecord(resolved.spec) || Array.isArray(resolved.spec) || !isRecord(resolved.check)) return resolved;
    const rewrite = (value: string): string => (/^(\.\.?)?\//.test(value) ? pathToFileURL(resolvePath(dirname(resolvePath(this.file)), value)).href : value);
    let spec = resolved.spec;
    let check = resolved.check;
    for (const key of keys) {
      spec = rewriteAt(spec, key.split('.'), rewrite);
      check = rewriteAt(check, key.split('.'), rewrite);
    }
    return { ...resolved, spec, check };
  }

  /** Resolves one stage's `with` and checks it against its type; the ResolvedStage when all is well. */
  private resolveStage(draft: StageDraft, params: ReadonlyMap<string, ParamValue>): ResolvedStage | undefined {
    const stage = stageSpecSchema.safeParse(draft.raw);
    // Checked even when `with` has problems: an impossible retry policy is a problem of its own.
    const retry = stage.success && draft.type !== undefined ? this.resolveRetry(draft, stage.data, draft.type) : undefined;
    const timeout = stage.success && draft.type !== undefined ? this.resolveTimeouts(draft, stage.data, draft.type) : undefined;

    const withPath: Path = ['stages', draft.index, 'with'];
    const rawWith = draft.raw.with;
    if (rawWith !== undefined && !isRecord(rawWith)) return undefined; // the shape check reports it
    const context: ResolveContext = {
      draft,
      ancestors: this.ancestorsOf(draft),
      params,
      declaredParams: isRecord(this.root.params) ? Object.keys(this.root.params) : [],
      broken: [],
      notes: new Map(),
    };
    const resolved = this.resolveRecord(rawWith ?? {}, withPath, context);
    const { spec: resolvedWith, check: checkWith } = this.resolveRelativePaths(resolved, draft.type);

    let withAccepted = false;
    if (draft.type !== undefined) {
      const checked = draft.type.with.safeParse(checkWith);
      withAccepted = checked.success;
      if (!checked.success) {
        // A reference already reported as broken was left out of checkWith; the schema's
        // complaint about its absence would only repeat that problem.
        const issues = checked.error.issues.filter((issue) => !context.broken.some((b) => startsWith([...withPath, ...pathOf(issue)], b)));
        this.reportIssues(issues, withPath, draft.type.with, context.notes);
      }
    }

    if (!stage.success || draft.type === undefined || retry === undefined || timeout === undefined || !withAccepted) return undefined;
    if (!draft.primary || context.broken.length > 0) return undefined;
    return {
      id: stage.data.id,
      uses: stage.data.uses,
      version: draft.type.version,
      needs: stage.data.needs ?? [],
      queue: stage.data.queue ?? draft.type.defaults.queue,
      retry,
      timeout,
      cache: stage.data.cache ?? true,
      with: resolvedWith,
      ...(draft.type.publish ? { publish: { ...draft.type.publish } } : {}),
      ...(draft.type.alwaysRuns ? { alwaysRuns: true } : {}),
      ...(draft.type.source ? { source: true } : {}),
      ...(draft.type.report !== undefined ? { report: draft.type.report } : {}),
    };
  }

  /**
   * Merges the stage's timeouts over its type's. A heartbeat timeout longer than startToClose is
   * refused: the attempt ends at startToClose first, so a stuck worker would never be noticed by
   * its silence (Temporal accepts it and the heartbeat timeout silently does nothing).
   */
  private resolveTimeouts(draft: StageDraft, stage: StageSpec, type: StageType): ResolvedTimeouts | undefined {
    const timeout = resolveTimeouts(stage, type);
    if (timeout.heartbeatMs === undefined || timeout.heartbeatMs <= timeout.startToCloseMs) return timeout;
    const own = stage.timeout ?? {};
    const heartbeat = own.heartbeat !== undefined ? `timeout.heartbeat ${own.heartbeat}` : `the ${type.name} stage's default heartbeat timeout ${formatDuration(timeout.heartbeatMs)}`;
    const startToClose = own.startToClose !== undefined ? `timeout.startToClose ${own.startToClose}` : `its default startToClose ${formatDuration(timeout.startToCloseMs)}`;
    const key = own.heartbeat !== undefined ? 'heartbeat' : own.startToClose !== undefined ? 'startToClose' : undefined;
    const at: Path = key === undefined ? ['stages', draft.index] : ['stages', draft.index, 'timeout', key];
    this.reportBare(
      at,
      `${this.subject(at).owner}: ${heartbeat} is longer than ${startToClose}: an attempt is cut off at startToClose before a silent worker could be noticed, so the heartbeat timeout would never fire; make the heartbeat timeout shorter than startToClose`,
    );
    return undefined;
  }

  /** Merges the stage's retry over its type's; an interval cap below the first interval is refused. */
  private resolveRetry(draft: StageDraft, stage: StageSpec, type: StageType): ResolvedRetry | undefined {
    const own = stage.retry ?? {};
    const retry: ResolvedRetry = {
      maximumAttempts: own.maximumAttempts ?? type.defaults.retry.maximumAttempts,
      initialIntervalMs: durationOr(own.initialInterval, type.defaults.retry.initialIntervalMs),
      backoffCoefficient: own.backoffCoefficient ?? type.defaults.retry.backoffCoefficient,
      maximumIntervalMs: durationOr(own.maximumInterval, type.defaults.retry.maximumIntervalMs),
    };
    if (retry.maximumIntervalMs < retry.initialIntervalMs) {
      // Temporal rejects such a policy when the activity is scheduled: say so now, at the line.
      const key = own.maximumInterval !== undefined ? 'maximumInterval' : 'initialInterval';
      this.report(
        ['stages', draft.index, 'retry', key],
        `maximumInterval (${formatDuration(retry.maximumIntervalMs)}) is shorter than initialInterval (${formatDuration(retry.initialIntervalMs)})`,
      );
      return undefined;
    }
    return retry;
  }

  /**
   * Substitutes `${{ }}` references at any depth. Returns undefined (after reporting, and noting
   * the path in `context.broken`) when the value cannot be resolved.
   */
  private resolveValue(value: unknown, path: Path, context: ResolveContext): Resolved | undefined {
    if (typeof value === 'string') return this.resolveString(value, path, context);
    if (typeof value === 'boolean' || value === null) return { spec: value, check: value };
    if (typeof value === 'number') {
      if (Number.isFinite(value)) return { spec: value, check: value };
      return this.broken(path, context, `${value} is not a finite number: stage inputs must be plain JSON`);
    }
    if (Array.isArray(value)) {
      const spec: Json[] = [];
      const check: unknown[] = [];
      let ok = true;
      value.forEach((item: unknown, i) => {
        const r = this.resolveValue(item, [...path, i], context);
        if (r === undefined) ok = false;
        else {
          spec.push(r.spec);
          check.push(r.check);
        }
      });
      // Keep indices aligned with the YAML for the schema check: a hole would shift them.
      return ok ? { spec, check } : undefined;
    }
    if (isRecord(value)) return this.resolveRecord(value, path, context);
    return this.broken(path, context, 'unsupported YAML value (binary or tagged data): stage inputs must be plain JSON');
  }

  /** A mapping never fails as a whole: members that do not resolve are left out (and reported). */
  private resolveRecord(
    value: Record<string, unknown>,
    path: Path,
    context: ResolveContext,
  ): { spec: Record<string, Json>; check: Record<string, unknown> } {
    const spec: Record<string, Json> = {};
    const check: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === '$output') {
        // The workflow swaps `{ $output: … }` for another stage's output; written by hand it
        // would dodge every reference check, so only a `${{ }}` expression may produce one.
        context.broken.push([...path, key]);
        this.report([...path, key], '"$output" is reserved: write ${{ stages.ID.outputs.NAME }} instead', 'key');
        continue;
      }
      const r = this.resolveValue(item, [...path, key], context);
      if (r === undefined) continue;
      spec[key] = r.spec;
      check[key] = r.check;
    }
    return { spec, check };
  }

  private resolveString(text: string, path: Path, context: ResolveContext): Resolved | undefined {
    const matches = [...text.matchAll(EXPRESSION)];
    const opened = text.split('${{').length - 1;
    if (opened > matches.length) return this.broken(path, context, `unterminated expression in ${JSON.stringify(text)}: "\${{" without a closing "}}"`);
    if (matches.length === 0) return { spec: text, check: text };

    const whole = matches.length === 1 && matches[0]?.[0] === text;
    if (whole) {
      const reference = this.checkReference(matches[0]?.[1] ?? '', path, context);
      if (reference === undefined) return undefined;
      if (reference.kind === 'param') {
        context.notes.set(pathKey(path), `\${{ params.${reference.name} }} = ${JSON.stringify(reference.value)}`);
        return { spec: reference.value, check: reference.value };
      }
      const what = reference.kind === 'artifact' ? 'an artifact reference' : 'a scalar output';
      context.notes.set(pathKey(path), `\${{ stages.${reference.stage}.outputs.${reference.output} }} (${what})`);
      return { spec: { $output: { stage: reference.stage, output: reference.output } }, check: placeholderFor(reference.kind) };
    }

    let ok = true;
    const interpolated = text.replace(EXPRESSION, (match: string, inner: string) => {
      const reference = this.checkReference(inner, path, context);
      if (reference === undefined) {
        ok = false;
        return match;
      }
      if (reference.kind !== 'param') {
        ok = false;
        this.broken(
          path,
          context,
          `${match.trim()} is embedded in a longer string; a stage output can only be used as a whole value ("\${{ stages.${reference.stage}.outputs.${reference.output} }}")`,
        );
        return match;
      }
      return String(reference.value);
    });
    return ok ? { spec: interpolated, check: interpolated } : undefined;
  }

  /** Checks one expression; reports (and returns undefined) when it does not resolve. */
  private checkReference(
    inner: string,
    path: Path,
    context: ResolveContext,
  ): { kind: 'param'; name: string; value: ParamValue } | { kind: 'artifact' | 'scalar'; stage: string; output: string } | undefined {
    const reference = parseReference(inner);
    const shown = `\${{ ${inner.trim()} }}`;
    if (reference === undefined) {
      this.broken(path, context, `unsupported expression ${shown}: expected \${{ params.NAME }} or \${{ stages.ID.outputs.NAME }}`);
      return undefined;
    }
    if (reference.kind === 'param') {
      const value = context.params.get(reference.name);
      if (value !== undefined) return { kind: 'param', name: reference.name, value };
      if (context.declaredParams.includes(reference.name)) {
        context.broken.push(path); // declared with a bad default: reported by the shape check
        return undefined;
      }
      const known = context.declaredParams;
      const list = known.length === 0 ? 'the pipeline declares no params' : `declared params: ${quoteList(known)}`;
      this.broken(path, context, `${shown}: unknown param "${reference.name}"${didYouMean(reference.name, known)}; ${list}`);
      return undefined;
    }

    const { draft } = context;
    const target = this.byId.get(reference.stage);
    if (target === undefined) {
      const ids = [...this.byId.keys()];
      this.broken(path, context, `${shown}: unknown stage "${reference.stage}"${didYouMean(reference.stage, ids)}; stages: ${quoteList(ids)}`);
      return undefined;
    }
    if (reference.stage === draft.id) {
      this.broken(path, context, `${shown}: a stage cannot use its own outputs`);
      return undefined;
    }
    if (target.type === undefined) {
      context.broken.push(path); // its unknown `uses` is reported already; its outputs are unknowable
      return undefined;
    }
    const kind = Object.hasOwn(target.type.outputs, reference.output) ? target.type.outputs[reference.output] : undefined;
    if (kind === undefined) {
      const outputs = Object.keys(target.type.outputs);
      this.broken(
        path,
        context,
        `${shown}: stage "${reference.stage}" (${target.type.name}) has no output "${reference.output}"${didYouMean(reference.output, outputs)}; its outputs: ${quoteList(outputs)}`,
      );
      return undefined;
    }
    if (!context.ancestors.has(reference.stage)) {
      this.broken(
        path,
        context,
        `${shown}: stage "${reference.stage}" is not among this stage's needs (directly or through them), so it may not have run yet; add "${reference.stage}" to needs`,
      );
      return undefined;
    }
    return { kind, stage: reference.stage, output: reference.output };
  }

  private broken(path: Path, context: ResolveContext, message: string): undefined {
    context.broken.push(path);
    this.report(path, message);
    return undefined;
  }
}

/** What resolving one stage's `with` needs to know, and what it learns on the way. */
interface ResolveContext {
  readonly draft: StageDraft;
  readonly ancestors: ReadonlySet<string>;
  readonly params: ReadonlyMap<string, ParamValue>;
  readonly declaredParams: readonly string[];
  /** Paths whose value could not be resolved (and were reported). */
  readonly broken: Path[];
  /** Path → what the `${{ }}` there stands for, to explain schema complaints about it. */
  readonly notes: Map<string, string>;
}

function durationOr(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : (parseDuration(text) ?? fallback);
}

function resolveTimeouts(stage: StageSpec, type: StageType): ResolvedTimeouts {
  const own = stage.timeout ?? {};
  const defaults = type.defaults.timeout;
  const heartbeatMs = own.heartbeat !== undefined ? parseDuration(own.heartbeat) : defaults.heartbeatMs;
  const scheduleToStartMs = own.scheduleToStart !== undefined ? parseDuration(own.scheduleToStart) : defaults.scheduleToStartMs;
  return {
    startToCloseMs: durationOr(own.startToClose, defaults.startToCloseMs),
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    ...(scheduleToStartMs !== undefined ? { scheduleToStartMs } : {}),
  };
}

/**
 * A `--set` value is read as a YAML scalar (`5`, `3.0e-5`, `true`, `'quoted'`) and must have the
 * param's type. For string params any text is accepted as is: `--set params.tag=2024` means the
 * string "2024", and refusing it because YAML reads a number would only surprise.
 */
function parseSetValue(text: string, type: string): ParamValue | undefined {
  const doc = parseDocument(text, { prettyErrors: false });
  const node = doc.contents;
  const scalar = doc.errors.length === 0 && isScalar(node) ? paramValueSchema.safeParse(node.value) : undefined;
  const value = scalar?.success ? scalar.data : undefined;
  if (type === 'string') return typeof value === 'string' ? value : text;
  return typeof value === type ? value : undefined;
}
