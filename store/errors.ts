/**
 * What can go wrong in the artifact store (store/types.ts and its backends) and its garbage
 * collector; in the style of common/errors.ts (one class per condition, `condition()` for the
 * boilerplate). ArtifactNotFound stays in common/errors.ts: common/read-roots.ts, below the store,
 * throws it too for a missing local file.
 */
import { condition } from '../common/errors';

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
    super(
      `artifact store is full at ${uri} (${detail}): free space (\`fairline gc\` removes what nothing refers to) and run again; stages already stored are not redone`,
    );
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

/**
 * `fairline gc` met a record it cannot read (no recorded digest: written by another tool), so it cannot know what the
 * record keeps; it removes nothing.
 */
export class GcRecordUnreadable extends condition('GcRecordUnreadable', false) {
  constructor(readonly uri: string) {
    super(`gc cannot read ${uri}: it has no recorded digest (written by another tool?); nothing was removed`);
  }
}
