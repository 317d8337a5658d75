/**
 * The `download` stage's own error conditions, in the style of common/errors.ts (one class per
 * condition, context as readonly fields, `type` = the class name). Workflow-safe: no Node built-ins.
 */
import { condition } from '../../common/errors';

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
