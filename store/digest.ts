/** Hashing helpers shared by the store backends. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { ArtifactDigestMismatch } from './errors';
import type { ArtifactSource } from './types';

export interface Digest {
  sha256: string;
  bytes: number;
}

/** sha256 and size of a source; files are streamed, so any size works. */
export async function digestOf(source: ArtifactSource): Promise<Digest> {
  if ('bytes' in source) {
    const buf = typeof source.bytes === 'string' ? Buffer.from(source.bytes) : source.bytes;
    return { sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.byteLength };
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(source.path)) hash.update(chunk as Buffer);
  return { sha256: hash.digest('hex'), bytes: (await stat(source.path)).size };
}

/**
 * A pass-through stream that hashes what flows through it and fails at the end, before the
 * consumer sees a clean finish, when the bytes do not match the expected digest.
 */
export function verifyingStream(uri: string, expected: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      const actual = hash.digest('hex');
      done(actual === expected ? null : new ArtifactDigestMismatch(uri, expected, actual));
    },
  });
}
