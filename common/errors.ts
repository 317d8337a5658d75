/**
 * One error class per condition, each carrying its context as readonly fields. `type` is what
 * Temporal sees as the failure type; `retryable` says whether a retry could ever help. Activities
 * turn these into ApplicationFailures (activities/failures.ts) so that permanent errors are never
 * retried. This file is imported by workflow code: no Node built-ins.
 *
 * Errors live with the domain that owns them, each declared with `condition()` below: the store's
 * in store/errors.ts, the client's in client/errors.ts, pipeline definitions' in
 * pipeline/errors.ts, inference's, models', eval's and infra's in their folders' errors.ts. What
 * is left here is shared by several layers (config, payloads, stage input, read roots) or belongs
 * to a stage type (until each stage has its own folder).
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
  constructor(
    readonly issues: readonly { path: string; message: string }[],
  ) {
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

/** The download source answered with a client error (4xx): retrying cannot help. */
export class DownloadRejected extends condition('DownloadRejected', false) {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`download of ${url} failed with HTTP ${status}`);
  }
}

/** The download source failed in a way that may pass (5xx, 408, 429, connection reset). */
export class DownloadTransient extends condition('DownloadTransient', true) {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`download of ${url} failed (will retry): ${reason}`);
  }
}

/** The source is larger than the stage's `maxBytes` guard. */
export class DownloadTooLarge extends condition('DownloadTooLarge', false) {
  constructor(
    readonly url: string,
    readonly maxBytes: number,
  ) {
    super(`download of ${url} exceeds maxBytes ${maxBytes}`);
  }
}

/** The downloaded bytes do not hash to the pinned sha256. */
export class Sha256Mismatch extends condition('Sha256Mismatch', false) {
  constructor(
    readonly url: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`sha256 mismatch for ${url}: the pipeline pins ${expected}, the download hashes to ${actual}`);
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

function rowName(row: RowLocation): string {
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
  return chars.length <= max ? JSON.stringify(text) : `${JSON.stringify(chars.slice(0, max).join(''))}… (${chars.length} characters)`;
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

/**
 * The trainer itself failed (crashed, ran out of memory) as many times as the train stage allows
 * for one execution. Attempts lost to the infrastructure (a worker gone, a store outage) do not
 * count, so they cannot use up the budget meant for these.
 */
export class TrainerFailureBudgetSpent extends condition('TrainerFailureBudgetSpent', false) {
  constructor(
    readonly stage: string,
    readonly failures: number,
    readonly detail: string,
  ) {
    super(`stage "${stage}": the trainer failed ${failures} times, its budget for this run (lost workers and store outages do not count); the last failure: ${detail}`);
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

/** A row's NER tags follow no scheme fairline reads (BIO/IOB2, BIOES): e.g. `PER`, `L-PS`, `U-LC`. */
export class TagSchemeUnknown extends condition('TagSchemeUnknown', false) {
  constructor(
    readonly row: RowLocation,
    readonly tag: string,
    readonly index: number,
  ) {
    super(`${rowName(row)}: tag ${JSON.stringify(tag)} at token ${index} is not BIO/IOB2/BIOES (O, B-X, I-X, E-X, S-X)`);
  }
}

/** An entity span reaches outside its row's text (offsets count Unicode code points). */
export class SpanOutOfBounds extends condition('SpanOutOfBounds', false) {
  constructor(
    readonly row: RowLocation,
    readonly source: string,
    readonly span: { start: number; end: number; type: string },
    readonly textLength: number,
  ) {
    super(`${rowName(row)}: ${source} span [${span.start}, ${span.end}) ${span.type} is out of bounds of the text (${textLength} characters)`);
  }
}

/** Two spans from the same source overlap in one row: the annotation is ambiguous. */
export class SpansOverlap extends condition('SpansOverlap', false) {
  constructor(
    readonly row: RowLocation,
    readonly source: string,
    readonly first: { start: number; end: number; type: string },
    readonly second: { start: number; end: number; type: string },
  ) {
    super(
      `${rowName(row)}: ${source} spans [${first.start}, ${first.end}) ${first.type} and [${second.start}, ${second.end}) ${second.type} overlap`,
    );
  }
}

/** A lexicon file does not parse, or an entry is not a term. `line` is 1-based. */
export class LexiconInvalid extends condition('LexiconInvalid', false) {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`lexicon ${file}:${line}: ${detail}`);
  }
}

/** An external analyzer process (the morphological analyzer) failed. Retryable when it crashed, not when it cannot start. */
export class AnalyzerFailed extends FairlineError {
  readonly type = 'AnalyzerFailed';
  constructor(
    readonly analyzer: string,
    readonly detail: string,
    readonly retryable: boolean,
  ) {
    super(`${analyzer} failed: ${detail}`);
  }
}

/**
 * A dataset file cannot be read as its format at all (truncated JSON, an unterminated quoted
 * field, no records): nothing after the break can be trusted, so `onInvalidRow: skip` does not apply.
 * `where` names the place: `train.json: byte 1200`, `dev.tsv:17`.
 */
export class DatasetMalformed extends condition('DatasetMalformed', false) {
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
  }
}

/**
 * Rows of a dataset failed mapping or validation under `onInvalidRow: fail`; no dataset artifact
 * was written. `problems` holds the first ones as `source:row: reason`; `total` counts them all.
 */
export class DatasetRowsInvalid extends condition('DatasetRowsInvalid', false) {
  constructor(
    readonly total: number,
    readonly problems: readonly string[],
    readonly note = '',
  ) {
    super(
      `${total} invalid row${total === 1 ? '' : 's'}${note}${total > problems.length ? `; the first ${problems.length}` : ''}:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
}

/** A mapping names a column that the source does not have (not in its header, or past its last field). */
export class DatasetColumnMissing extends condition('DatasetColumnMissing', false) {
  constructor(
    readonly source: string,
    readonly column: string | number,
    readonly available: readonly string[],
  ) {
    // The header is input: a few columns, each a bounded snippet, are enough to spot a typo.
    const shown = available.slice(0, 12).map((c) => snippet(c, 40));
    const more = available.length > shown.length ? `, … ${available.length - shown.length} more` : '';
    super(`${source}: the mapping names column ${snippet(String(column), 40)}, which the header does not have (columns: ${shown.join(', ')}${more})`);
  }
}

/** The trainer refused its config or data (exit 2): fixing the pipeline is the only cure. */
export class TrainerConfigInvalid extends condition('TrainerConfigInvalid', false) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": the trainer refused its input: ${detail}`);
  }
}

/** The loss became NaN or infinite (exit 3): a learning rate or data problem, not an outage. */
export class TrainingDiverged extends condition('TrainingDiverged', false) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": training diverged: ${detail}`);
  }
}

/** The trainer ran out of (GPU) memory (exit 4); another worker or a retry may have room. */
export class TrainerOutOfMemory extends condition('TrainerOutOfMemory', true) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": the trainer ran out of memory: ${detail}`);
  }
}

/** The trainer process died for another reason (crash, killed): retried from the last checkpoint. */
export class TrainerCrashed extends condition('TrainerCrashed', true) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": the trainer failed: ${detail}`);
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

/**
 * The audited model exceeded a threshold of the audit's bias gate (`gate.mode: fail`). Not
 * retryable: the same model gives the same numbers. audit.json is stored before this is thrown,
 * and `outputs` holds what the stage would have returned, so a report can still be written.
 */
export class BiasGateFailed extends condition('BiasGateFailed', false) {
  constructor(
    readonly model: string,
    readonly reasons: readonly string[],
    readonly outputs: Readonly<Record<string, import('../pipeline/run-spec').Json>>,
  ) {
    super(`model "${model}" failed the bias gate: ${reasons.join('; ')}`);
  }
}

/**
 * A dataset's labels do not fit a model's or the label names given with it: another task
 * (a 0/1 vector against a class index), or another number of labels. Not retryable: the data or
 * the model is the wrong one. `where` names the stage and inputs, e.g. `stage "mine": model`.
 */
export class LabelsMismatch extends condition('LabelsMismatch', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

