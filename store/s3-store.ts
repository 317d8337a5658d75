/**
 * S3 artifact store (AWS S3, MinIO, or anything that speaks S3 with conditional writes).
 *
 * Atomicity: objects are uploaded straight to their final key. A single PutObject is atomic, and a
 * multipart upload becomes visible only at CompleteMultipartUpload, so no reader ever sees part of
 * an object; a failed upload is aborted (`leavePartsOnError: false`) and leaves nothing behind.
 *
 * Immutability: every write carries `If-None-Match: *`, which makes S3 refuse (412) to create an
 * object over an existing one. lib-storage's Upload spreads its params into both the single-part
 * PutObject and the final CompleteMultipartUpload, so the condition holds whichever path it takes
 * and the check happens at the instant the object would become visible: of two concurrent writers
 * of one key exactly one wins. The loser compares digests, like the filesystem backend does after
 * link(2) fails: same bytes is success, other bytes is an ArtifactConflict.
 *
 * Each object records its sha256 in user metadata (`x-amz-meta-sha256`), so head and list need not
 * read content; reads still hash every byte against the reference they were given.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createRequire } from 'node:module';
import type * as ClientS3 from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import { ENV } from '../common/constants';
import { ArtifactNotFound, FairlineError } from '../common/errors';
import {
  ArtifactConflict,
  ArtifactDigestMismatch,
  ArtifactUriInvalid,
  StoreBucketMissing,
  StoreFull,
  StorePermissionDenied,
  StoreUnavailable,
} from './errors';
import { digestOf, verifyingStream, type Digest } from './digest';
import { checkKey, checkPrefix, contentKey, contentTypeOf } from './keys';
import { readAll, writeFileAtomically } from './local-io';
import type { ArtifactRef, ArtifactSource, ArtifactStore, ObjectInfo } from './types';

const requireHere = createRequire(import.meta.url);
let sdk: { s3: typeof ClientS3; storage: typeof LibStorage } | undefined;
/**
 * The AWS SDK, loaded when the first S3 store is made: its modules take about 0.25 s to load,
 * which every command on the default file store would otherwise pay. (Workers load it anyway:
 * the download and train stages import it for s3:// sources and model prefixes.)
 */
function aws(): { s3: typeof ClientS3; storage: typeof LibStorage } {
  if (!sdk) {
    const s3: typeof ClientS3 = requireHere('@aws-sdk/client-s3');
    const storage: typeof LibStorage = requireHere('@aws-sdk/lib-storage');
    sdk = { s3, storage };
  }
  return sdk;
}

/** Multipart part size: above S3's 5 MiB minimum, small enough that 4 in flight stay cheap in memory. */
export const PART_SIZE = 8 * 1024 * 1024;
/** Parts uploaded in parallel; a few saturate a link without holding much memory. */
const QUEUE_SIZE = 4;
/** Objects headed in parallel while listing (ListObjectsV2 does not return user metadata). */
const LIST_HEAD_CONCURRENCY = 8;
/** A 409 ConditionalRequestConflict means another write of the key raced ours; a retry settles it. */
const CONDITIONAL_CONFLICT_RETRIES = 3;
const SHA256_HEX = /^[0-9a-f]{64}$/;
// Bucket naming rules of S3 (3-63 characters, lowercase letters, digits, dots and hyphens).
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// Connection failures Node reports by code: the server is down, restarting or unreachable.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETDOWN',
  'EHOSTDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
// Error names (S3 codes and SDK error names) that a later attempt may not meet again.
const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'XMinioServerNotInitialized',
  'XMinioReadQuorum',
  'XMinioWriteQuorum',
  // The server got fewer bytes than Content-Length: a body cut in transit, or MinIO stopping a
  // write whose drive just filled (it says ENOSPC when the same object is tried again).
  'IncompleteBody',
]);
// Out of room: MinIO below its free-drive threshold (HTTP 507), a bucket quota, or a drive that
// filled during a write (MinIO then answers InternalError with the OS's ENOSPC text).
const FULL_NAMES = new Set(['XMinioStorageFull', 'XMinioAdminBucketQuotaExceeded']);
const FULL_MESSAGE = /no space left on device|minimum free drive threshold/i;
const PERMISSION_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'AllAccessDisabled',
]);

/** Where an S3 store lives: `s3://bucket` or `s3://bucket/some/prefix`. */
export interface S3Location {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slash; '' for the bucket root. */
  prefix: string;
}

/** Splits and validates an `s3://bucket[/prefix]` URI; ArtifactUriInvalid when malformed. */
export function parseS3Uri(uri: string): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  if (!match || match[1] === undefined) throw new ArtifactUriInvalid(uri, 'expected s3://bucket or s3://bucket/prefix');
  const bucket = match[1];
  if (!BUCKET_NAME.test(bucket)) {
    throw new ArtifactUriInvalid(uri, `"${bucket}" is not a valid bucket name (3-63 of a-z, 0-9, '.', '-')`);
  }
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  if (prefix !== '') {
    try {
      checkKey(prefix);
    } catch (error) {
      throw new ArtifactUriInvalid(uri, `bad prefix: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { bucket, prefix };
}

/** Options for createS3Store: where the store is, and how to reach the server. */
export interface S3StoreOptions {
  /** `s3://bucket[/prefix]`. */
  uri: string;
  /** A non-AWS endpoint such as MinIO's `http://127.0.0.1:9000`; omit for AWS. */
  endpoint?: string;
  /** Defaults to us-east-1, which MinIO accepts whatever its own region. */
  region?: string;
  /** Path-style addressing (`endpoint/bucket/key`); defaults to true when an endpoint is given. */
  forcePathStyle?: boolean;
  /** Omit to use the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, IAM role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts per request including the first; default 3, so a dead server fails within seconds. */
  maxAttempts?: number;
  /** TCP connect timeout per attempt; default 5 s. */
  connectionTimeoutMs?: number;
  /** A socket idle this long is dropped and the attempt fails; default 30 s. */
  socketTimeoutMs?: number;
}

/** The dependencies of an S3ArtifactStore: a client, where its objects go, what never to print. */
export interface S3StoreDeps {
  client: S3Client;
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing slash); '' or omitted for the bucket root. */
  prefix?: string;
  /** Strings blanked out of every error message (access keys, session tokens). */
  secrets?: readonly string[];
}

/** Options of put/putAt; `onProgress` is an S3 extension that lets long uploads heartbeat. */
export interface S3PutOptions {
  kind: string;
  /** Called as parts complete with the bytes uploaded so far and the total. */
  onProgress?: (uploaded: number, total: number) => void;
}

/** Builds an S3 client with modest retries and timeouts, and the store over it. */
export function createS3Store(options: S3StoreOptions): S3ArtifactStore {
  const { bucket, prefix } = parseS3Uri(options.uri);
  const client = new (aws().s3.S3Client)({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    // The SDK's default backoff reaches tens of seconds; 3 attempts fail a dead server in about a
    // second and leave longer outages to Temporal's activity retries, which are visible in the UI.
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      // An idle-socket limit rather than a whole-request one: a 1 GiB upload may legitimately take
      // minutes, but a server that stops answering for this long is gone.
      socketTimeout: options.socketTimeoutMs ?? 30_000,
    },
  });
  const secrets = [
    options.credentials?.accessKeyId,
    options.credentials?.secretAccessKey,
    options.credentials?.sessionToken,
    process.env[ENV.s3AccessKeyId],
    process.env[ENV.s3SecretAccessKey],
    process.env.AWS_SESSION_TOKEN,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
  return new S3ArtifactStore({ client, bucket, prefix, secrets });
}

/** The artifact store on an S3 bucket; see the file comment for its guarantees. */
export class S3ArtifactStore implements ArtifactStore {
  readonly rootUri: string;
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly secrets: readonly string[];

  constructor(deps: S3StoreDeps) {
    this.client = deps.client;
    this.bucket = deps.bucket;
    this.prefix = (deps.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (this.prefix !== '') checkKey(this.prefix);
    // Longest first, so that a secret containing another is blanked whole.
    this.secrets = [...(deps.secrets ?? [])].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
    this.rootUri = `s3://${this.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
  }

  uriOf(key: string): string {
    return `${this.rootUri}/${checkKey(key)}`;
  }

  keyOf(uri: string): string {
    const root = `${this.rootUri}/`;
    if (!uri.startsWith(root)) throw new ArtifactUriInvalid(uri, `not under the store root ${this.rootUri}`);
    return checkKey(uri.slice(root.length));
  }

  /** The S3 object key of a store key (the store's prefix joined in front). */
  objectKey(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(source: ArtifactSource, options: S3PutOptions & { name: string }): Promise<ArtifactRef> {
    const digest = await digestOf(source);
    return this.write(contentKey(digest.sha256, options.name), source, digest, options);
  }

  async putAt(key: string, source: ArtifactSource, options: S3PutOptions): Promise<ArtifactRef> {
    checkKey(key);
    return this.write(key, source, await digestOf(source), options);
  }

  private async write(
    key: string,
    source: ArtifactSource,
    digest: Digest,
    options: S3PutOptions,
  ): Promise<ArtifactRef> {
    const uri = this.uriOf(key);
    const ref: ArtifactRef = { uri, sha256: digest.sha256, bytes: digest.bytes, kind: options.kind };
    // A cheap HEAD first: re-putting a large content-addressed artifact is common (cache hits,
    // retried activities) and should not re-upload it. The conditional write below stays the
    // guarantee; this only saves bandwidth.
    if (await this.settleExisting(key, uri, digest)) return ref;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.upload(key, uri, source, digest, options.onProgress);
        return ref;
      } catch (error) {
        const { name, status } = describe(error);
        const lostRace = name === 'PreconditionFailed' || status === 412;
        const raced = name === 'ConditionalRequestConflict' || status === 409;
        if (!lostRace && !raced) {
          // The source changed between hashing and uploading; verifyingStream stopped the upload
          // before CompleteMultipartUpload, so nothing was stored. Same report as the fs backend.
          if (error instanceof ArtifactDigestMismatch) throw new ArtifactConflict(uri, digest.sha256, error.actual);
          throw this.translate(error, uri);
        }
        if (await this.settleExisting(key, uri, digest)) return ref;
        // 409, or a 412 whose winner has since been deleted: nothing holds the key now; try again.
        if (attempt >= CONDITIONAL_CONFLICT_RETRIES) {
          throw new StoreUnavailable(uri, new Error(`concurrent writes to ${key} kept conflicting (${name})`));
        }
      }
    }
  }

  /**
   * When the key already holds an object: true if it holds these bytes (a no-op write),
   * ArtifactConflict if other bytes. False when the key is free.
   */
  private async settleExisting(key: string, uri: string, digest: Digest): Promise<boolean> {
    const existing = await this.head(key);
    if (!existing) return false;
    // An object written by another tool has no recorded digest; hash its content instead.
    const sha256 = existing.sha256 ?? (await this.hashObject(key, uri));
    if (sha256 !== digest.sha256) throw new ArtifactConflict(uri, sha256, digest.sha256);
    return true;
  }

  private async upload(
    key: string,
    uri: string,
    source: ArtifactSource,
    digest: Digest,
    onProgress: S3PutOptions['onProgress'],
  ): Promise<void> {
    let body: Buffer | Readable;
    let file: Readable | undefined;
    if ('path' in source) {
      file = createReadStream(source.path);
      // Re-hash while uploading: if the file changed since digestOf read it, the verifier fails
      // at end of stream, which is before lib-storage sends CompleteMultipartUpload (or the
      // single PutObject), so the wrong bytes never land under the key. pipeline forwards read
      // errors into the verifier, where the upload sees them.
      const verifier = verifyingStream(uri, digest.sha256);
      pipeline(file, verifier, () => {});
      body = verifier;
    } else {
      body = Buffer.from(source.bytes);
    }
    const upload = new (aws().storage.Upload)({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.objectKey(key),
        Body: body,
        ContentLength: digest.bytes,
        ContentType: contentTypeOf(key),
        Metadata: { sha256: digest.sha256 },
        // Forwarded by lib-storage to PutObject and to CompleteMultipartUpload (its params are
        // spread into both; CreateMultipartUpload and UploadPart have no such field and drop it).
        IfNoneMatch: '*',
      },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    if (onProgress) {
      upload.on('httpUploadProgress', (progress) => onProgress(progress.loaded ?? 0, progress.total ?? digest.bytes));
    }
    try {
      await upload.done();
    } finally {
      file?.destroy();
    }
  }

  async open(ref: ArtifactRef): Promise<Readable> {
    const body = await this.getBody(this.keyOf(ref.uri), ref.uri);
    const verifier = verifyingStream(ref.uri, ref.sha256);
    // A connection lost mid-body is a StoreUnavailable like any other, not a raw socket error.
    body.once('error', (error) => verifier.destroy(this.translate(error, ref.uri)));
    // A consumer that stops early (or a digest mismatch) must release the HTTP connection.
    verifier.once('close', () => body.destroy());
    return body.pipe(verifier);
  }

  private async getBody(key: string, uri: string): Promise<Readable> {
    let response;
    try {
      response = await this.client.send(
        new (aws().s3.GetObjectCommand)({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
    } catch (error) {
      throw this.translate(error, uri);
    }
    // In Node the SDK's body is an http.IncomingMessage; check rather than cast.
    const body: unknown = response.Body;
    if (!(body instanceof Readable)) throw new StoreUnavailable(uri, new Error('GetObject returned no body stream'));
    return body;
  }

  async read(ref: ArtifactRef): Promise<Buffer> {
    return readAll(await this.open(ref));
  }

  async download(ref: ArtifactRef, destination: string): Promise<void> {
    await writeFileAtomically(await this.open(ref), destination);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const uri = this.uriOf(key);
    try {
      const response = await this.client.send(
        new (aws().s3.HeadObjectCommand)({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      const recorded = response.Metadata?.sha256;
      return {
        key,
        uri,
        bytes: response.ContentLength ?? 0,
        sha256: recorded !== undefined && SHA256_HEX.test(recorded) ? recorded : undefined,
        ...(response.LastModified ? { modifiedAt: response.LastModified.getTime() } : {}),
      };
    } catch (error) {
      const { name, status } = describe(error);
      // HEAD responses have no body, so a missing bucket also reads as a bare 404 NotFound here;
      // writes and lists report it properly as StoreBucketMissing.
      if (name === 'NotFound' || name === 'NoSuchKey' || status === 404) return undefined;
      throw this.translate(error, uri);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    checkPrefix(prefix);
    const root = this.prefix ? `${this.prefix}/` : '';
    const keys: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new (aws().s3.ListObjectsV2Command)({ Bucket: this.bucket, Prefix: root + prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw this.translate(error, `${this.rootUri}/${prefix}`);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(root)) continue;
        const key = object.Key.slice(root.length);
        // Objects other tools put in the bucket under names fairline could never address
        // (folder markers ending in '/', '..' segments) are not artifacts; skip them.
        if (isValidKey(key)) keys.push(key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);

    const found: ObjectInfo[] = [];
    for (let i = 0; i < keys.length; i += LIST_HEAD_CONCURRENCY) {
      const infos = await Promise.all(keys.slice(i, i + LIST_HEAD_CONCURRENCY).map((key) => this.head(key)));
      // An object deleted between the listing and its HEAD is simply gone.
      for (const info of infos) if (info) found.push(info);
    }
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const uri = this.uriOf(key);
    try {
      // S3 answers 204 whether or not the key existed, which is the contract's semantics.
      await this.client.send(new (aws().s3.DeleteObjectCommand)({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (error) {
      throw this.translate(error, uri);
    }
  }

  /** Creates the bucket if it does not exist (tests, `fairline dev`); an existing one is fine. */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new (aws().s3.CreateBucketCommand)({ Bucket: this.bucket }));
    } catch (error) {
      const { name } = describe(error);
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return;
      throw this.translate(error, this.rootUri);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** sha256 of an object's content, for objects without recorded metadata. */
  private async hashObject(key: string, uri: string): Promise<string> {
    const body = await this.getBody(key, uri);
    const hash = createHash('sha256');
    try {
      for await (const chunk of body) hash.update(chunk as Buffer);
    } catch (error) {
      throw this.translate(error, uri);
    }
    return hash.digest('hex');
  }

  /** Maps an SDK or network error to fairline's error classes, with secrets blanked out. */
  private translate(error: unknown, uri: string): Error {
    if (error instanceof FairlineError) return error;
    const { name, status, code, message } = describe(error);
    const clean = this.redact(message);
    if (name === 'NoSuchKey') return new ArtifactNotFound(uri);
    if (name === 'NoSuchBucket') return new StoreBucketMissing(this.bucket, this.rootUri);
    if (status === 507 || FULL_NAMES.has(name) || FULL_MESSAGE.test(clean))
      return new StoreFull(uri, `${name}: ${clean}`);
    if (status === 403 || PERMISSION_NAMES.has(name)) {
      // HEAD responses have no body, so the SDK can only say "Unknown"; say what 403 means instead.
      const detail =
        name === 'Unknown' || clean === 'UnknownError'
          ? 'HTTP 403: check the access key, secret key and the bucket policy'
          : `${name}: ${clean}`;
      return new StorePermissionDenied(uri, detail);
    }
    if (
      (code !== undefined && NETWORK_CODES.has(code)) ||
      TRANSIENT_NAMES.has(name) ||
      (status !== undefined && status >= 500) ||
      status === 429
    ) {
      // A fresh error rather than the SDK's: the original carries request details we do not
      // want serialized into Temporal failures or logs.
      return new StoreUnavailable(uri, namedError(code ?? name, clean));
    }
    return namedError(name, `S3 request for ${uri} failed: ${clean}`);
  }

  private redact(text: string): string {
    return this.secrets.reduce((out, secret) => out.split(secret).join('***'), text);
  }
}

function isValidKey(key: string): boolean {
  try {
    checkKey(key);
    return true;
  } catch {
    return false;
  }
}

/** The parts of an unknown error that classify it: S3 code/name, HTTP status, Node error code. */
function describe(error: unknown): {
  name: string;
  status: number | undefined;
  code: string | undefined;
  message: string;
} {
  if (!(error instanceof Error)) return { name: 'Error', status: undefined, code: undefined, message: String(error) };
  const metadata: unknown = '$metadata' in error ? error.$metadata : undefined;
  const status =
    typeof metadata === 'object' &&
    metadata !== null &&
    'httpStatusCode' in metadata &&
    typeof metadata.httpStatusCode === 'number'
      ? metadata.httpStatusCode
      : undefined;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  return { name: error.name, status, code, message: error.message || error.name };
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}
