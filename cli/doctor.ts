/**
 * `fairline doctor`: checks each real part fairline depends on and prints one row per check.
 * A failing row carries the fix in one line. Exit code 1 when anything failed.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../common/constants';
import { connectClient, TemporalUnreachable } from '../common/connections';
import { openStore } from '../store';
import type { FairlineConfig } from '../temporal.config';

export interface CheckResult {
  name: string;
  ok: boolean;
  /** Passing, but worth a look (no worker polls a queue, say). */
  warning?: boolean;
  detail: string;
  fix?: string;
}

/**
 * A one-node ONNX model (y = sigmoid(x)), made with the onnx package; loading and running it
 * proves onnxruntime-node's native binding works on this machine.
 */
const PROBE_MODEL_BASE64 =
  'CAgSD2ZhaXJsaW5lLWRvY3Rvcjo+Cg8KAXgSAXkiB1NpZ21vaWQSBXByb2JlWhEKAXgSDAoKCAESBgoACgIIAmIRCgF5EgwKCggBEgYKAAoCCAJCBAoAEA0=';

const { TaskQueueType } = proto.temporal.api.enums.v1;

const errorText = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';

export async function checkTemporal(config: FairlineConfig): Promise<CheckResult[]> {
  const { address, namespace, uiUrl } = config.temporal;
  let connection;
  try {
    connection = await connectClient(config, { connectTimeout: 3_000 });
    await connection.withDeadline(Date.now() + 5_000, () =>
      connection!.workflowService.describeNamespace({ namespace }),
    );
  } catch (error) {
    await connection?.close();
    return [
      {
        name: 'temporal',
        ok: false,
        detail: `cannot reach namespace "${namespace}" at ${address}: ${errorText(error instanceof TemporalUnreachable ? error.detail : error)}`,
        fix: config.temporal.embedded
          ? 'start the embedded stack with `npx fairline dev` (or `npm run demo`)'
          : `check ${address} is a Temporal frontend and "${namespace}" exists (temporal operator namespace create ${namespace})`,
      },
    ];
  }
  try {
    const pollerRows: CheckResult[] = [];
    for (const [logical, queue] of Object.entries(config.taskQueues)) {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: queue },
        taskQueueType: TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      const count = (pollers ?? []).length;
      pollerRows.push(
        count > 0
          ? {
              name: `workers: ${logical}`,
              ok: true,
              detail: `${count} poller${count === 1 ? '' : 's'} on task queue ${queue}`,
            }
          : {
              name: `workers: ${logical}`,
              ok: true,
              warning: true,
              detail: `no worker polls task queue ${queue}: its stages will wait`,
              fix: `start one: npx fairline worker --queues ${logical} (or npx fairline dev)`,
            },
      );
    }
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    const present = new Set(Object.keys(listed.customAttributes ?? {}));
    const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !present.has(name));
    return [
      {
        name: 'temporal',
        ok: true,
        detail: `${address}, namespace ${namespace} · Web UI ${uiUrl}/namespaces/${namespace}/workflows`,
      },
      ...pollerRows,
      missing.length === 0
        ? {
            name: 'search attributes',
            ok: true,
            detail: `${present.size} custom, all ${Object.keys(SEARCH_ATTRIBUTES).length} of fairline's registered`,
          }
        : {
            name: 'search attributes',
            ok: false,
            detail: `missing: ${missing.map(([name]) => name).join(', ')}`,
            fix: `register them: ${missing.map(([name, type]) => `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${type}`).join(' && ')}`,
          },
    ];
  } finally {
    await connection.close();
  }
}

export async function checkStore(config: FairlineConfig): Promise<CheckResult> {
  const started = Date.now();
  let store;
  try {
    store = openStore(config);
    const key = `doctor/probe-${randomUUID()}`;
    const body = `fairline doctor ${new Date().toISOString()}`;
    const ref = await store.putAt(key, { bytes: body }, { kind: 'probe' });
    const back = (await store.read(ref)).toString('utf8');
    if (back !== body) throw new Error('read back different bytes than were written');
    await store.delete(key);
    if (await store.head(key)) throw new Error('the probe object is still there after delete');
    return {
      name: 'artifact store',
      ok: true,
      detail: `write/read/delete ok in ${Date.now() - started} ms at ${store.rootUri}`,
    };
  } catch (error) {
    return {
      name: 'artifact store',
      ok: false,
      detail: `${config.store.uri}: ${errorText(error)}`,
      fix: config.store.uri.startsWith('s3://')
        ? 'check FAIRLINE_S3_ENDPOINT, the bucket and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or start MinIO with `npx fairline dev`)'
        : 'point FAIRLINE_STORE at a writable folder (file:///absolute/path)',
    };
  } finally {
    await store?.close();
  }
}

export function checkTrainer(config: FairlineConfig): Promise<CheckResult> {
  const python = config.trainer.python;
  const script =
    'import torch, transformers, tokenizers, onnx; print(torch.__version__, transformers.__version__, "cuda" if torch.cuda.is_available() else "cpu")';
  return new Promise((done) => {
    const child = spawn(python, ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const fix =
      'build the trainer venv with `npm run bootstrap` (or set FAIRLINE_TRAINER_PYTHON to a python with trainer/requirements.txt installed)';
    child.on('error', (error) => done({ name: 'trainer env', ok: false, detail: `${python}: ${error.message}`, fix }));
    child.on('exit', (code) => {
      if (code === 0) {
        const [torch, transformers, device] = out.trim().split(' ');
        done({
          name: 'trainer env',
          ok: true,
          detail: `torch ${torch}, transformers ${transformers} (${device}) · ${python}`,
        });
      } else {
        const last = err.trim().split('\n').pop() ?? `exit ${code}`;
        done({ name: 'trainer env', ok: false, detail: `${python}: ${last}`, fix });
      }
    });
  });
}

export async function checkOnnxRuntime(): Promise<CheckResult> {
  try {
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(Buffer.from(PROBE_MODEL_BASE64, 'base64'));
    const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.from([0, 0]), [1, 2]) });
    if (!y || Math.abs(Number(y.data[0]) - 0.5) > 1e-6) throw new Error('the probe model computed a wrong value');
    await session.release();
    return {
      name: 'onnxruntime',
      ok: true,
      detail: `onnxruntime-node ${ort.env.versions.common} ran a probe model on CPU`,
    };
  } catch (error) {
    return {
      name: 'onnxruntime',
      ok: false,
      detail: `onnxruntime-node failed to load or run: ${errorText(error)}`,
      fix: 'reinstall npm packages with `rm -rf node_modules && npm run bootstrap`',
    };
  }
}

/** Runs every check; the config itself was already validated by the caller. */
export async function runDoctor(config: FairlineConfig): Promise<CheckResult[]> {
  const configRow: CheckResult = {
    name: 'config',
    ok: true,
    detail: `temporal ${config.temporal.address}${config.temporal.embedded ? ' (embedded dev server)' : ''}${config.temporal.tls ? ' mTLS' : ''}, store ${config.store.uri}`,
  };
  const [temporal, store, trainer, onnx] = await Promise.all([
    checkTemporal(config),
    checkStore(config),
    checkTrainer(config),
    checkOnnxRuntime(),
  ]);
  return [configRow, ...temporal, store, trainer, onnx];
}

/** Renders the rows as an aligned table, with each failure's fix on the line below it. */
export function formatChecks(rows: CheckResult[]): string {
  const width = Math.max(...rows.map((r) => r.name.length));
  return rows
    .map(
      (r) =>
        `${r.ok ? (r.warning ? '!' : '✓') : '✗'} ${r.name.padEnd(width)}  ${r.detail}${r.fix ? `\n  ${' '.repeat(width)}  fix: ${r.fix}` : ''}`,
    )
    .join('\n');
}
