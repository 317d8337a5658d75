import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test, before } from 'node:test';
import { Connection } from '@temporalio/client';
import Long from 'long';
import { PROJECT_ROOT } from '../../common/paths';
import { freePort } from '../../infra/ports';
import { cleanEnv, fairline, suiteTemporal, tempDir } from '../helpers';

describe('fairline doctor', () => {
  let env: NodeJS.ProcessEnv;
  let dir: string;

  before(async () => {
    dir = await tempDir();
    const { address, uiUrl } = suiteTemporal();
    env = cleanEnv({
      FAIRLINE_TEMPORAL_ADDRESS: address,
      FAIRLINE_TEMPORAL_UI_URL: uiUrl,
      FAIRLINE_STORE: pathToFileURL(join(dir, 'store')).href,
    });
  });

  test('is green when Temporal, the store, the trainer env and onnxruntime all work', async () => {
    const { code, stdout } = await fairline(['doctor'], env);
    assert.equal(code, 0, stdout);
    for (const row of ['config', 'temporal', 'search attributes', 'artifact store', 'trainer env', 'onnxruntime']) {
      assert.match(stdout, new RegExp(`✓ ${row}`), `row ${row} should pass:\n${stdout}`);
    }
    assert.match(stdout, /Web UI http:\/\/127\.0\.0\.1:\d+\/namespaces\/fairline\/workflows/);
    assert.match(stdout, /torch 2\.\d+\.\d+/);
  });

  test('warns, without failing, about a task queue that no worker polls', async () => {
    const file = join(dir, 'queues.json');
    await writeFile(file, JSON.stringify({ taskQueues: { cpu: 'doctor-cpu', gpu: 'doctor-gpu' } }));
    const { code, stdout } = await fairline(['--config', file, 'doctor'], env);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /! workers: cpu\s+no worker polls task queue doctor-cpu/);
    assert.match(stdout, /! workers: gpu\s+no worker polls task queue doctor-gpu: its stages will wait/);
    assert.match(stdout, /fix: start one: npx fairline worker --queues gpu/);
  });

  test('names an unreachable Temporal address and how to fix it', async () => {
    const port = await freePort();
    const { code, stdout } = await fairline(['doctor'], { ...env, FAIRLINE_TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(code, 1);
    assert.match(stdout, new RegExp(`✗ temporal\\s+cannot reach namespace "fairline" at 127\\.0\\.0\\.1:${port}`));
    assert.match(stdout, /fix: check 127\.0\.0\.1:\d+ is a Temporal frontend/);
  });

  test('reports a namespace that lacks fairline search attributes, with the commands that register them', async () => {
    const connection = await Connection.connect({ address: suiteTemporal().address });
    await connection.workflowService
      .registerNamespace({
        namespace: 'doctor-bare',
        workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) },
      })
      .catch(() => undefined);
    await connection.close();
    const { code, stdout } = await fairline(['doctor'], { ...env, FAIRLINE_TEMPORAL_NAMESPACE: 'doctor-bare' });
    assert.equal(code, 1);
    assert.match(stdout, /✗ search attributes\s+missing: FairlinePipeline/);
    assert.match(
      stdout,
      /fix: register them: temporal operator search-attribute create --namespace doctor-bare --name FairlinePipeline --type Keyword/,
    );
  });

  test('reports an artifact store it cannot write to', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'not a folder');
    const { code, stdout } = await fairline(['doctor'], {
      ...env,
      FAIRLINE_STORE: pathToFileURL(join(blocker, 'store')).href,
    });
    assert.equal(code, 1);
    assert.match(stdout, /✗ artifact store\s+file:\/\/.*a-file\/store: /);
    assert.match(stdout, /fix: point FAIRLINE_STORE at a writable folder/);
  });

  test('reports a missing trainer venv and says to bootstrap', async () => {
    const { code, stdout } = await fairline(['doctor'], {
      ...env,
      FAIRLINE_TRAINER_PYTHON: join(dir, 'no-venv', 'bin', 'python'),
    });
    assert.equal(code, 1);
    assert.match(stdout, /✗ trainer env\s+.*no-venv\/bin\/python: spawn .* ENOENT/);
    assert.match(stdout, /fix: build the trainer venv with `npm run bootstrap`/);
  });

  test('reports an onnxruntime-node that does not load', async () => {
    const loader = pathToFileURL(join(PROJECT_ROOT, 'test', 'fixtures', 'loaders', 'break-onnxruntime.mjs')).href;
    const { code, stdout } = await fairline(['doctor'], { ...env, NODE_OPTIONS: `--import=${loader}` });
    assert.equal(code, 1);
    assert.match(stdout, /✗ onnxruntime\s+onnxruntime-node failed to load or run: .*broken on purpose/);
    assert.match(stdout, /✓ temporal/);
  });
});
