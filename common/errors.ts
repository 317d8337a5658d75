/**
 * One error class per condition, each carrying its context as readonly fields. `type` is what
 * Temporal sees as the failure type; `retryable` says whether a retry could ever help. Activities
 * turn these into ApplicationFailures (activities/failures.ts) so that permanent errors are never
 * retried. This file is imported by workflow code: no Node built-ins.
 *
 * Errors live with the domain that owns them, each declared with `condition()` below: the store's
 * in store/errors.ts, the client's in client/errors.ts, pipeline definitions' in
 * pipeline/errors.ts, inference's, models', eval's and infra's in their folders' errors.ts. What
 * is left here is shared by several layers (config, payloads, stage input and output, read roots);
 * a stage type's own errors are in stages/<name>/errors.ts.
 */

export abstract class FairlineError extends Error {
  abstract readonly type: string;
  abstract readonly retryable: boolean;
}

/**
 * The base of the error class for one condition: its `type` (the class's own name, by
 * convention) and whether a retry could help are fixed per class, so each class states only its
 * context fields and its message: `class ArtifactNotFound extends condition('ArtifactNotFound',
 * false) { constructor(readonly uri: string) { super(`…`); } }`.
 */
export function condition<const T extends string, const R extends boolean>(type: T, retryable: R) {
  abstract class Condition extends FairlineError {
    readonly type: T = type;
    readonly retryable: R = retryable;
  }
  return Condition;
}

/** A config value failed validation. `path` is the key path, e.g. `store.uri`. */
export class ConfigInvalid extends condition('ConfigInvalid', false) {
  constructor(readonly issues: readonly { path: string; message: string }[]) {
    super(`invalid config:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
  }
}

/** A secret the config needs is not in the environment (or its file is missing). */
export class SecretMissing extends condition('SecretMissing', false) {
  constructor(
    readonly path: string,
    readonly variable: string,
    detail?: string,
  ) {
    super(`${path}: ${detail ?? `missing secret: set the environment variable ${variable}`}`);
  }
}

/** The artifact a reference names does not exist. */
export class ArtifactNotFound extends condition('ArtifactNotFound', false) {
  constructor(readonly uri: string) {
    super(`artifact not found: ${uri}`);
  }
}

/** A stage's `with` block failed its schema at run time (the client validates it first). */
export class StageInputInvalid extends condition('StageInputInvalid', false) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": invalid input: ${detail}`);
  }
}

/**
 * A stage's implementation returned outputs its contract does not declare: a value of the wrong
 * type, a declared output left out, or an undeclared one. A bug in the stage, never transient.
 */
export class StageOutputInvalid extends condition('StageOutputInvalid', false) {
  constructor(
    readonly stageType: string,
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}" (${stageType}) returned outputs that break its contract: ${detail}`);
  }
}

/** A stage's results are too large to travel in a workflow payload (they belong in the store). */
export class PayloadTooLarge extends condition('PayloadTooLarge', false) {
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`${what} is ${bytes} bytes, over the ${limit}-byte payload limit: store it as an artifact instead`);
  }
}

/** Where a dataset row is: its 1-based line in the JSONL artifact, and its id when it has one. */
export interface RowLocation {
  readonly dataset: string;
  readonly line: number;
  readonly id?: string;
}

/** A row as error messages name it: `row "id" (line N of dataset)`. */
export function rowName(row: RowLocation): string {
  return `row ${row.id !== undefined ? `"${row.id}" ` : ''}(line ${row.line} of ${row.dataset})`;
}

/** The most characters of user input (a header, a cell, a line) an error message quotes. */
export const SNIPPET_CHARS = 80;

/**
 * A bounded quote of user input for an error message: at most SNIPPET_CHARS characters, JSON-quoted
 * (so control characters stay visible), with the full length said when cut. Failure messages land
 * in the Temporal history; a whole file must never follow them there.
 */
export function snippet(text: string, max = SNIPPET_CHARS): string {
  const chars = [...text];
  return chars.length <= max
    ? JSON.stringify(text)
    : `${JSON.stringify(chars.slice(0, max).join(''))}… (${chars.length} characters)`;
}

/**
 * A stage asked to read a local file outside the readable roots (config `readRoots`,
 * FAIRLINE_READ_ROOTS). Permanent: the file is not read, and nothing of it is quoted.
 */
export class ReadRefused extends condition('ReadRefused', false) {
  constructor(
    readonly source: string,
    readonly rule: string,
  ) {
    super(`refused to read ${source}: ${rule}`);
  }
}

/** A dataset row is not valid JSON or not a canonical row (pipeline/dataset.ts), or its tokens do not fit its text. */
export class DatasetRowInvalid extends condition('DatasetRowInvalid', false) {
  constructor(
    readonly row: RowLocation,
    readonly detail: string,
  ) {
    super(`${rowName(row)}: ${detail}`);
  }
}

/** An audit's identity-groups file does not parse, or a group or pair in it is malformed. `line` is 1-based. */
export class AuditGroupsInvalid extends condition('AuditGroupsInvalid', false) {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`groups file ${file}:${line}: ${detail}`);
  }
}
