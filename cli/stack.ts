/**
 * The embedded stack behind `fairline dev` and `npm run demo`: the Temporal dev server (SQLite
 * file in .fairline/, Web UI on) and, when the configured store is S3 on a loopback endpoint,
 * MinIO. A part that is already running (another `fairline dev`) is reused, not started twice.
 */
import { join } from 'node:path';
import { ENV } from '../common/constants';
import { connectClient } from '../common/connections';
import { stateDir } from '../common/paths';
import { startMinio, type MinioServer } from '../infra/minio';
import { ensureSearchAttributes, startTemporalDevServer, type DevServer } from '../infra/temporal';
import { createS3Store } from '../store/s3-store';
import type { FairlineConfig } from '../temporal.config';

export interface EmbeddedStack {
  temporal?: DevServer;
  minio?: MinioServer;
  stop(): Promise<void>;
}

async function temporalAnswers(config: FairlineConfig): Promise<boolean> {
  try {
    const connection = await connectClient(config, { connectTimeout: 1_000 });
    try {
      await connection.withDeadline(Date.now() + 2_000, () => connection.workflowService.describeNamespace({ namespace: config.temporal.namespace }));
      await ensureSearchAttributes(connection, config.temporal.namespace);
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

export async function startEmbeddedStack(config: FairlineConfig, say: (line: string) => void): Promise<EmbeddedStack> {
  const stack: EmbeddedStack = {
    async stop() {
      await stack.minio?.stop();
      await stack.temporal?.stop();
    },
  };
  try {
    if (config.temporal.embedded) {
      if (await temporalAnswers(config)) {
        say(`Temporal: reusing the dev server already at ${config.temporal.address}`);
      } else {
        const [, port] = config.temporal.address.split(':');
        const uiPort = new URL(config.temporal.uiUrl).port;
        const dbFile = join(stateDir(), 'temporal.db');
        say(`Temporal: starting the dev server on ${config.temporal.address} (history in ${dbFile})…`);
        stack.temporal = await startTemporalDevServer({
          dbFile,
          port: Number(port),
          uiPort: Number(uiPort),
          namespace: config.temporal.namespace,
        });
      }
      say(`Temporal Web UI: ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
    }
    const endpoint = config.store.s3.endpoint;
    if (config.store.uri.startsWith('s3://') && endpoint && /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?/.test(endpoint)) {
      const accessKeyId = process.env[ENV.s3AccessKeyId] ?? '';
      const secretAccessKey = process.env[ENV.s3SecretAccessKey] ?? '';
      const store = createS3Store({ uri: config.store.uri, endpoint, region: config.store.s3.region, credentials: { accessKeyId, secretAccessKey } });
      try {
        await store.ensureBucket();
        say(`MinIO: reusing the server at ${endpoint}`);
      } catch {
        say(`MinIO: starting on ${endpoint}…`);
        stack.minio = await startMinio({
          dataDir: join(stateDir(), 'minio'),
          port: Number(new URL(endpoint).port || 80),
          accessKey: accessKeyId,
          secretKey: secretAccessKey,
        });
        await store.ensureBucket();
      } finally {
        await store.close();
      }
    }
    return stack;
  } catch (error) {
    await stack.stop();
    throw error;
  }
}
