import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../../common/paths';
import { stopProcess } from '../../../infra/temporal';
import { FsArtifactStore } from '../../../store/fs-store';
import { artifactRefSchema } from '../../../store/types';
import type { pipelineRun } from '../../../workflows/pipeline-run';
import { alive, cleanEnv, fairline, startWorkerProcess, suiteTemporal, tempDir } from '../../helpers';

const CHECKPOINT_EVERY = 5;

/** Pids of `python -m trainer train` processes whose parent is `parent`. */
function trainerChildren(parent: number): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(parent), '-f', 'trainer train']).toString();
  } catch {
    return [];
  }
  return out.split('\n').filter(Boolean).map(Number);
}

const workers: ChildProcess[] = [];
after(async () => {
  for (const w of workers) await stopProcess(w);
});

test('a worker killed (SIGKILL) mid-training leaves no trainer behind, and a new worker resumes from the last checkpoint', async () => {
  const dir = await tempDir();
  const storeDir = join(dir, 'store');
  const { address, uiUrl } = suiteTemporal();
  const env = cleanEnv({
    FAIRLINE_TEMPORAL_ADDRESS: address,
    FAIRLINE_TEMPORAL_UI_URL: uiUrl,
    FAIRLINE_STORE: pathToFileURL(storeDir).href,
  });
  const configFile = join(dir, 'queues.json');
  await writeFile(configFile, JSON.stringify({ taskQueues: { cpu: 'resume-cpu', gpu: 'resume-gpu' } }));
  const data = join(PROJECT_ROOT, 'data', 'demo');
  const file = join(dir, 'resume.yaml');
  await writeFile(
    file,
    `name: resume
stages:
  - id: data
    uses: dataset
    with: { format: json, url: "file://${data}/train.json", mapping: { text: sentence, labels: { column: labels } } }
  - id: model
    uses: train
    needs: [data]
    timeout: { heartbeat: 5s }
    retry: { maximumAttempts: 3, initialInterval: 1s }
    with: { dataset: "\${{ stages.data.outputs.train }}", epochs: 10, batchSize: 8, lr: 0.001, maxLength: 32, scratch: { hidden: 256, intermediate: 1024, layers: 4, heads: 4 }, checkpointEvery: ${CHECKPOINT_EVERY}, keepCheckpoints: 0 }
`,
  );

  const first = await startWorkerProcess(env, ['--config', configFile]);
  workers.push(first);
  const started = await fairline(['--config', configFile, 'run', file, '--id', 'resume-1', '--detach'], env);
  assert.equal(started.code, 0, started.stderr);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'fairline' });
  const handle = client.workflow.getHandle<typeof pipelineRun>('pipeline/resume/resume-1');

  // Wait until two checkpoints are in the store, then kill the worker right after a new one lands.
  const store = new FsArtifactStore(storeDir);
  const prefix = 'checkpoints/resume/resume-1/';
  const bundles = async (): Promise<string[]> => (await store.list(prefix)).map((o) => o.key);
  let before: string[] = [];
  for (let i = 0; i < 1200; i++) {
    const now = await bundles();
    if (before.length >= 2 && now.length > before.length) break;
    before = now;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(before.length >= 2, 'the training stage uploaded checkpoints');
  const trainers = trainerChildren(first.pid!);
  assert.equal(trainers.length, 1, 'the worker runs one trainer');

  first.kill('SIGKILL');
  const orphan = trainers[0]!;
  for (let i = 0; i < 100 && alive(orphan); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(orphan), false, 'the trainer exited with its worker: no orphan');

  // What the retry resumes from: the newest checkpoint bundle in the store.
  const newest = (await store.list(prefix)).at(-1)!;
  const checkpointStep = z
    .object({ step: z.number() })
    .passthrough()
    .parse(
      JSON.parse(
        (
          await store.read({ uri: newest.uri, sha256: newest.sha256!, bytes: newest.bytes, kind: 'checkpoint' })
        ).toString(),
      ),
    ).step;

  // The killed attempt's scratch folder stays behind; its metrics say how far it really got.
  const scratch = join(tmpdir(), 'fairline');
  const candidates = [];
  for (const name of await readdir(scratch)) {
    if (!name.startsWith('model-')) continue;
    const metrics = join(scratch, name, 'output', 'metrics.jsonl');
    try {
      candidates.push({ metrics, mtime: (await stat(metrics)).mtimeMs });
    } catch {
      // not a training folder of this test
    }
  }
  candidates.sort((a, b) => b.mtime - a.mtime);
  const killedSteps = (await readFile(candidates[0]!.metrics, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === 'step')
    .map((e) => Number(e.step));
  const lastStepReached = Math.max(...killedSteps);
  const recomputed = lastStepReached - checkpointStep;

  workers.push(await startWorkerProcess(env, ['--config', configFile]));
  const result = await handle.result();
  await connection.close();
  const model = result.stages.find((s) => s.id === 'model')!;
  assert.equal(model.status, 'succeeded');
  assert.equal(model.attempts, 2, 'the second attempt finished the training');
  const metrics = (await store.read(artifactRefSchema.parse(model.outputs!.metrics)))
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const steps = metrics.filter((e) => e.event === 'step').map((e) => Number(e.step));
  assert.deepEqual(
    steps,
    Array.from({ length: steps.length }, (_, i) => i + 1),
    'one step event per step, in order: the resumed run continued the record',
  );
  assert.ok(
    recomputed < CHECKPOINT_EVERY + 1,
    `recomputed ${recomputed} steps (reached ${lastStepReached}, resumed from ${checkpointStep})`,
  );
  process.stdout.write(
    `# resume: reached step ${lastStepReached}, resumed from checkpoint step ${checkpointStep}, recomputed ${recomputed} of ${steps.length} steps\n`,
  );
});
