/**
 * The embedded stack behind `fairline dev` and `npm run demo`: the Temporal dev server (SQLite
 * file in .fairline/, Web UI on) and, when the configured store is S3 on a loopback endpoint,
 * MinIO. A part that is already running (another `fairline dev`) is reused, not started twice.
 *
 * The servers it starts die with it, even on SIGKILL (infra/process.ts parentDeathSignal). With
 * `supervise` (`fairline dev`), a server that exits while the stack runs is started again on the
 * same port with the same data folder, and one line says so.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ENV } from '../common/constants';
import { connectClient } from '../common/connections';
import { PortInUse } from '../infra/errors';
import { stateDir } from '../common/paths';
import { startMinio, type MinioServer } from '../infra/minio';
import { bindable } from '../infra/ports';
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
      await connection.withDeadline(Date.now() + 2_000, () =>
        connection.workflowService.describeNamespace({ namespace: config.temporal.namespace }),
      );
      await ensureSearchAttributes(connection, config.temporal.namespace);
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

const RESTART_RETRY_MS = 2_000;

/**
 * Watches a server's process; when it exits before `stopping()` says the stack is going down, starts
 * it again with `start` (same options: same port, same data folder), hands the new one to `replace`
 * and watches that. One line per restart; a failed start is said and tried again.
 */
function supervise<T extends { process: ChildProcess | undefined; stop(): Promise<void> }>(
  name: string,
  server: T,
  start: () => Promise<T>,
  replace: (next: T) => void,
  stopping: () => boolean,
  say: (line: string) => void,
): void {
  const watch = (current: T): void => {
    current.process?.once('exit', (code, signal) => {
      if (stopping()) return;
      void (async () => {
        for (let attempt = 1; !stopping(); attempt++) {
          try {
            const next = await start();
            if (stopping()) return void (await next.stop());
            replace(next);
            watch(next);
            say(
              `${name} exited (${signal ?? `code ${code}`}) while the dev stack ran: restarted it on the same port and data folder`,
            );
            return;
          } catch (error) {
            say(
              `${name} exited and could not be restarted (try ${attempt}): ${(error as Error).message.split('\n')[0]}; trying again in ${RESTART_RETRY_MS / 1000} s`,
            );
            await new Promise((r) => setTimeout(r, RESTART_RETRY_MS));
          }
        }
      })();
    });
  };
  watch(server);
}

/** Refuses at once, in one line, to start on a port another program holds (instead of the server's own bind error). */
async function requireFreePorts(ports: ReadonlyArray<readonly [number, string]>): Promise<void> {
  for (const [port, purpose] of ports) {
    if (!(await bindable(port))) {
      throw new PortInUse(
        port,
        purpose,
        `stop it, or give this stack free ports: ${ENV.temporalAddress}=127.0.0.1:PORT ${ENV.temporalUiUrl}=http://127.0.0.1:PORT ${ENV.temporalEmbedded}=true`,
      );
    }
  }
}

export async function startEmbeddedStack(
  config: FairlineConfig,
  say: (line: string) => void,
  options: { supervise?: boolean } = {},
): Promise<EmbeddedStack> {
  let stopping = false;
  const stack: EmbeddedStack = {
    async stop() {
      stopping = true;
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
        await requireFreePorts([
          [Number(port), 'Temporal frontend'],
          [Number(uiPort), 'Temporal Web UI'],
        ]);
        const dbFile = join(stateDir(), 'temporal.db');
        say(`Temporal: starting the dev server on ${config.temporal.address} (history in ${dbFile})…`);
        const start = (): Promise<DevServer> =>
          startTemporalDevServer({
            dbFile,
            port: Number(port),
            uiPort: Number(uiPort),
            namespace: config.temporal.namespace,
          });
        stack.temporal = await start();
        if (options.supervise)
          supervise(
            'Temporal dev server',
            stack.temporal,
            start,
            (next) => (stack.temporal = next),
            () => stopping,
            say,
          );
      }
      say(`Temporal Web UI: ${config.temporal.uiUrl}/namespaces/${config.temporal.namespace}/workflows`);
    }
    const endpoint = config.store.s3.endpoint;
    if (
      config.store.uri.startsWith('s3://') &&
      endpoint &&
      /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?/.test(endpoint)
    ) {
      const accessKeyId = process.env[ENV.s3AccessKeyId] ?? '';
      const secretAccessKey = process.env[ENV.s3SecretAccessKey] ?? '';
      const store = createS3Store({
        uri: config.store.uri,
        endpoint,
        region: config.store.s3.region,
        credentials: { accessKeyId, secretAccessKey },
      });
      try {
        await store.ensureBucket();
        say(`MinIO: reusing the server at ${endpoint}`);
      } catch {
        say(`MinIO: starting on ${endpoint}…`);
        const start = (): Promise<MinioServer> =>
          startMinio({
            dataDir: join(stateDir(), 'minio'),
            port: Number(new URL(endpoint).port || 80),
            accessKey: accessKeyId,
            secretKey: secretAccessKey,
          });
        stack.minio = await start();
        await store.ensureBucket();
        if (options.supervise)
          supervise(
            'MinIO',
            stack.minio,
            start,
            (next) => (stack.minio = next),
            () => stopping,
            say,
          );
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
