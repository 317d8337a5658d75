/**
 * Artifact keys are relative, slash-separated paths. They are checked before any I/O so that a key
 * can never escape the store's root (`..`, absolute paths) or smuggle control characters into
 * file names, URIs or logs.
 */
import { ArtifactKeyInvalid } from './errors';

const SEGMENT = /^[\p{L}\p{N}._\-=+@,~]+$/u;
const MAX_KEY_BYTES = 1024;
/** Staging area of the filesystem backend; never a valid user key. */
export const STAGING_PREFIX = '.staging';

/** Returns the key unchanged if it is safe, else throws ArtifactKeyInvalid naming the reason. */
export function checkKey(key: string): string {
  if (key.length === 0) throw new ArtifactKeyInvalid(key, 'empty key');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new ArtifactKeyInvalid(key, `longer than ${MAX_KEY_BYTES} bytes`);
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new ArtifactKeyInvalid(key, 'contains a control character');
  if (key.startsWith('/')) throw new ArtifactKeyInvalid(key, 'absolute path; keys are relative to the store root');
  if (key.includes('\\')) throw new ArtifactKeyInvalid(key, 'contains a backslash; use / between segments');
  for (const segment of key.split('/')) {
    if (segment === '') throw new ArtifactKeyInvalid(key, 'empty path segment (// or a trailing /)');
    if (segment === '.' || segment === '..') throw new ArtifactKeyInvalid(key, `"${segment}" segments are not allowed`);
    if (!SEGMENT.test(segment)) {
      throw new ArtifactKeyInvalid(key, `segment "${segment}" has characters outside letters, digits and ._-=+@,~`);
    }
  }
  if (key === STAGING_PREFIX || key.startsWith(`${STAGING_PREFIX}/`)) {
    throw new ArtifactKeyInvalid(key, `the ${STAGING_PREFIX}/ prefix is reserved`);
  }
  return key;
}

/** Checks a listing prefix: '' (everything) or a valid key, optionally ending in '/'. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** The content-addressed key of an artifact: `objects/<sha256>/<name>`. */
export function contentKey(sha256: string, name: string): string {
  return checkKey(`objects/${sha256}/${name}`);
}

/** Content types by file extension: a browser opening a stored report.html shows it instead of downloading it. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  json: 'application/json',
  jsonl: 'application/x-ndjson',
  svg: 'image/svg+xml',
  txt: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  png: 'image/png',
};

/** The content type an object with this key is stored with; application/octet-stream when unknown. */
export function contentTypeOf(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return (dot > 0 ? CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] : undefined) ?? 'application/octet-stream';
}
