/**
 * The artifact store contract. Every dataset, model and report lives in a store and travels
 * through workflows as an ArtifactRef (a claim check): Temporal payloads stay tiny, and every
 * read verifies the digest the reference carries.
 *
 * Two backends implement it: the local filesystem (the embedded default) and S3. Both give the
 * same guarantees, which test/store/contract.test.ts checks against each:
 * - immutable objects: a key that holds content keeps it; writing the same bytes again is a no-op,
 *   writing other bytes is an ArtifactConflict;
 * - atomic writes: no partial object is ever visible under its final key;
 * - verified reads: bytes that do not hash to the reference's sha256 raise ArtifactDigestMismatch.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';

export const artifactRefSchema = z
  .object({
    uri: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'),
    bytes: z.number().int().nonnegative(),
    kind: z.string().min(1),
  })
  .strict();
/** A reference to an immutable artifact: where it is, what it hashes to, how big, what it is. */
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

/** What to store: a local file (streamed, never loaded whole) or bytes already in memory. */
export type ArtifactSource = { path: string } | { bytes: Uint8Array | string };

/** What the store knows of an object without reading it. */
export interface ObjectInfo {
  key: string;
  uri: string;
  bytes: number;
  /** Recorded digest; undefined only for objects written by something other than fairline. */
  sha256: string | undefined;
  /** Last write, in ms since the epoch, where the backend knows it (`fairline gc` spares recent objects). */
  modifiedAt?: number;
}

export interface ArtifactStore {
  /** Root URI, e.g. `file:///home/me/project/.fairline/artifacts` or `s3://bucket/prefix`. */
  readonly rootUri: string;
  /** Stores content under its own digest, at `objects/<sha256>/<name>`. */
  put(source: ArtifactSource, options: { kind: string; name: string }): Promise<ArtifactRef>;
  /** Stores content under a chosen key (run manifests, cache entries, checkpoints). */
  putAt(key: string, source: ArtifactSource, options: { kind: string }): Promise<ArtifactRef>;
  /** A stream of the artifact's bytes that errors with ArtifactDigestMismatch at its end if they differ. */
  open(ref: ArtifactRef): Promise<Readable>;
  /** The whole artifact in memory, verified. For small artifacts (manifests, metrics). */
  read(ref: ArtifactRef): Promise<Buffer>;
  /** Copies the artifact to a local file, verified; the file appears only once complete. */
  download(ref: ArtifactRef, destination: string): Promise<void>;
  /** Object metadata, or undefined when the key holds nothing. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Objects whose keys start with `prefix` (a folder-like prefix ending in `/`, or ''), sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Removes an object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  uriOf(key: string): string;
  /** The key of a URI under this store's root; ArtifactUriInvalid otherwise. */
  keyOf(uri: string): string;
  /** Releases connections. */
  close(): Promise<void>;
}
