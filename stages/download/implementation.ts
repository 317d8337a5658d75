/**
 * The `download` stage: fetches a file from http(s), s3 or file, streams it to a scratch file
 * while hashing it, checks the pinned sha256, and stores it as an immutable artifact.
 *
 * Errors are classified for Temporal: 5xx/408/429 and dropped connections retry; other 4xx, a
 * sha256 mismatch or a `maxBytes` overrun do not. Data mirrors (config.dataMirrors) redirect a
 * URL prefix to a local one, so pipelines keep their authors' public URLs in air-gapped labs.
 * The fetch itself (`fetchToFile`) is shared with the `dataset` stage, which parses the file
 * instead of storing it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ArtifactNotFound } from '../../common/errors';
import { DownloadRejected, DownloadTooLarge, DownloadTransient, Sha256Mismatch } from './errors';
import { checkReadable, readPolicy } from '../../common/read-roots';
import { downloadContract } from './contract';
import type { FairlineConfig } from '../../temporal.config';
import type { StageContext } from '../../activities/stages/context';
import { defineStage } from '../../activities/stages/define';

const HEARTBEAT_EVERY_MS = 1_000;

/** Applies the first matching data mirror: `from` prefix replaced by `to`. */
export function applyMirrors(url: string, mirrors: FairlineConfig['dataMirrors']): string {
  const mirror = mirrors.find((m) => url.startsWith(m.from));
  return mirror ? mirror.to + url.slice(mirror.from.length) : url;
}

function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

async function openSource(url: string, context: StageContext): Promise<{ body: Readable; total?: number }> {
  const { config, signal } = context;
  const scheme = new URL(url).protocol;
  if (scheme === 'file:') {
    // Only under the readable roots, checked on the real path, which is what is then opened.
    const path = await checkReadable(url, readPolicy(config, context.pipelineDir));
    const body = createReadStream(path);
    await new Promise<void>((ok, fail) => {
      body.once('open', () => ok());
      body.once('error', (error: NodeJS.ErrnoException) =>
        fail(error.code === 'ENOENT' ? new ArtifactNotFound(url) : error),
      );
    });
    return { body };
  }
  if (scheme === 's3:') {
    const parsed = new URL(url);
    const s3 = new S3Client({
      region: config.store.s3.region,
      forcePathStyle: config.store.s3.forcePathStyle,
      ...(config.store.s3.endpoint ? { endpoint: config.store.s3.endpoint } : {}),
      maxAttempts: 3,
    });
    try {
      const response = await s3.send(
        new GetObjectCommand({ Bucket: parsed.host, Key: decodeURIComponent(parsed.pathname.slice(1)) }),
        { abortSignal: signal },
      );
      if (!(response.Body instanceof Readable)) throw new DownloadTransient(url, 'S3 returned no body');
      return {
        body: response.Body,
        ...(response.ContentLength !== undefined ? { total: response.ContentLength } : {}),
      };
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== undefined && !isTransientStatus(status)) throw new DownloadRejected(url, status);
      if (error instanceof DownloadTransient) throw error;
      throw new DownloadTransient(url, error instanceof Error ? error.message : String(error));
    }
  }
  let response: Response;
  try {
    response = await fetch(url, { signal, redirect: 'follow' });
  } catch (error) {
    if (signal.aborted) throw error;
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new DownloadTransient(url, cause);
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw isTransientStatus(response.status)
      ? new DownloadTransient(url, `HTTP ${response.status}`)
      : new DownloadRejected(url, response.status);
  }
  if (!response.body) throw new DownloadTransient(url, 'empty response body');
  const length = Number(response.headers.get('content-length'));
  return { body: Readable.fromWeb(response.body), ...(Number.isFinite(length) && length > 0 ? { total: length } : {}) };
}

/** What a fetch is told: the URL as the pipeline names it, its pin and its size guard. */
export interface FetchSpec {
  url: string;
  sha256?: string | undefined;
  maxBytes?: number | undefined;
}

/**
 * Fetches `spec.url` (after data mirrors) into the local file `destination`, hashing it on the
 * way, heartbeating `{ phase: 'download', … }`, and enforcing `maxBytes` and the sha256 pin. The
 * `download` stage stores the file; the `dataset` stage parses it. Errors name `spec.url`.
 */
export async function fetchToFile(
  spec: FetchSpec,
  destination: string,
  context: StageContext,
): Promise<{ sha256: string; bytes: number }> {
  const url = applyMirrors(spec.url, context.config.dataMirrors);
  if (url !== spec.url) context.log.info('download redirected by a data mirror', { from: spec.url, to: url });

  const { body, total } = await openSource(url, context);
  if (spec.maxBytes !== undefined && total !== undefined && total > spec.maxBytes) {
    body.destroy();
    throw new DownloadTooLarge(spec.url, spec.maxBytes);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  // The first heartbeat comes one interval into the transfer, not with its first bytes: a transfer
  // shorter than that ends long before the heartbeat timeout, and each heartbeat is a round trip
  // to the server and a write of the workflow's state (on every stage that reads a small file).
  let lastBeat = Date.now();
  const meter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      bytes += chunk.length;
      if (spec.maxBytes !== undefined && bytes > spec.maxBytes)
        return done(new DownloadTooLarge(spec.url, spec.maxBytes));
      hash.update(chunk);
      const now = Date.now();
      if (now - lastBeat >= HEARTBEAT_EVERY_MS) {
        lastBeat = now;
        context.heartbeat({ phase: 'download', bytes, ...(total !== undefined ? { total } : {}) });
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, meter, createWriteStream(destination), { signal: context.signal });
  } catch (error) {
    if (error instanceof DownloadTooLarge || context.signal.aborted) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (
      code === 'ECONNRESET' ||
      code === 'UND_ERR_SOCKET' ||
      code === 'ERR_STREAM_PREMATURE_CLOSE' ||
      url.startsWith('http')
    ) {
      throw new DownloadTransient(spec.url, error instanceof Error ? error.message : String(error));
    }
    throw error;
  }
  const sha256 = hash.digest('hex');
  if (spec.sha256 && spec.sha256 !== sha256) throw new Sha256Mismatch(spec.url, spec.sha256, sha256);
  return { sha256, bytes };
}

export const download = defineStage(downloadContract, async (spec, context) => {
  const name =
    spec.name ?? decodeURIComponent(new URL(spec.url).pathname.split('/').filter(Boolean).pop() ?? 'download');
  const scratch = join(context.scratchDir, 'download');
  const { sha256, bytes } = await fetchToFile(spec, scratch, context);
  const dataset = await context.store.put({ path: scratch }, { kind: 'dataset', name });
  context.log.info('downloaded', { url: spec.url, bytes, sha256 });
  return { dataset };
});
