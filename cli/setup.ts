/** `fairline setup`: the namespace and fairline's search attributes on the configured cluster, idempotently. */
import { connectClient } from '../common/connections';
import { setupNamespace } from '../common/setup';
import { openStore } from '../store';
import { S3ArtifactStore } from '../store/s3-store';
import type { FairlineConfig } from '../temporal.config';

const say = (line: string): void => void process.stderr.write(`${line}\n`);

/** Creates the S3 bucket of an s3:// store when missing (MinIO in Compose; on AWS the bucket usually exists). */
async function ensureBucket(config: FairlineConfig): Promise<string | undefined> {
  if (!config.store.uri.startsWith('s3://')) return undefined;
  const store = openStore(config);
  try {
    if (store instanceof S3ArtifactStore) await store.ensureBucket();
    return config.store.uri;
  } finally {
    await store.close();
  }
}

export async function setupCommand(
  config: FairlineConfig,
  opts: { retention: string; json?: boolean; bucket?: boolean },
): Promise<number> {
  const retentionDays = Number(opts.retention);
  if (!Number.isInteger(retentionDays) || retentionDays < 1) {
    say(`--retention takes a whole number of days (1 or more), got ${JSON.stringify(opts.retention)}`);
    return 2;
  }
  const connection = await connectClient(config);
  try {
    const result = await setupNamespace(connection, config.temporal.namespace, { retentionDays, log: say });
    const bucket = opts.bucket ? await ensureBucket(config) : undefined;
    if (bucket) say(`store ${bucket}: bucket present`);
    if (opts.json)
      process.stdout.write(
        `${JSON.stringify({ namespace: config.temporal.namespace, address: config.temporal.address, ...result })}\n`,
      );
    else say(`${config.temporal.address} namespace ${config.temporal.namespace}: ready for fairline`);
    return 0;
  } finally {
    await connection.close();
  }
}
