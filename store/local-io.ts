/** Reads shared by both backends, built on each backend's verified `open`. */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Collects a (verifying) stream into one buffer. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Writes a (verifying) stream to `destination` through a sibling temporary file, renamed into
 * place only after the stream ended cleanly: a failed or corrupt read leaves nothing behind.
 */
export async function writeFileAtomically(stream: Readable, destination: string): Promise<void> {
  await mkdir(dirname(destination), { recursive: true });
  const temporary = join(dirname(destination), `.${randomUUID()}.partial`);
  try {
    await pipeline(stream, createWriteStream(temporary));
    await rename(temporary, destination);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
