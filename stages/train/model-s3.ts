/**
 * A model folder under an `s3://bucket/prefix/`: listed (for the cache key: key, size and ETag of
 * every object, so new weights under the same prefix change the key) and downloaded into a local
 * folder for the trainer. The client is configured as the `download` stage's is (endpoint, region
 * and path style from `store.s3`, credentials from the SDK's default chain).
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ModelSourceInvalid } from './errors';
import type { FairlineConfig } from '../../temporal.config';
import type { StageContext } from '../../activities/stages/context';
import { fetchToFile } from '../download/implementation';

export interface S3Object {
  key: string;
  bytes: number;
  etag: string;
}

function clientFor(config: FairlineConfig): S3Client {
  return new S3Client({
    region: config.store.s3.region,
    forcePathStyle: config.store.s3.forcePathStyle,
    ...(config.store.s3.endpoint ? { endpoint: config.store.s3.endpoint } : {}),
    maxAttempts: 3,
  });
}

function parse(uri: string): { bucket: string; prefix: string } {
  const url = new URL(uri);
  const path = decodeURIComponent(url.pathname.slice(1));
  return { bucket: url.host, prefix: path === '' || path.endsWith('/') ? path : `${path}/` };
}

/** Every object under the prefix, sorted by key, with keys relative to the prefix. */
export async function s3Listing(uri: string, config: FairlineConfig): Promise<S3Object[]> {
  const { bucket, prefix } = parse(uri);
  const client = clientFor(config);
  const out: S3Object[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key || object.Key.endsWith('/')) continue;
      out.push({ key: object.Key.slice(prefix.length), bytes: object.Size ?? 0, etag: object.ETag ?? '' });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Downloads every object under the prefix into `dir`, keeping relative paths. */
export async function downloadS3Prefix(uri: string, dir: string, context: StageContext): Promise<void> {
  const objects = await s3Listing(uri, context.config);
  if (!objects.some((o) => o.key === 'config.json'))
    throw new ModelSourceInvalid(context.stageId, uri, 'no config.json under this prefix');
  const { bucket, prefix } = parse(uri);
  for (const object of objects) {
    if (object.key.split('/').some((part) => part === '..' || part === ''))
      throw new ModelSourceInvalid(context.stageId, uri, `unsafe key ${object.key}`);
    const destination = join(dir, ...object.key.split('/'));
    await mkdir(dirname(destination), { recursive: true });
    const url = `s3://${bucket}/${(prefix + object.key).split('/').map(encodeURIComponent).join('/')}`;
    await fetchToFile({ url }, destination, context);
  }
}
