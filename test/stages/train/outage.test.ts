import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { startMinio, type MinioServer } from '../../../infra/minio';
import { createS3Store, type S3ArtifactStore } from '../../../store/s3-store';
import { artifactRefSchema } from '../../../store/types';
import { startEngine, type Engine } from '../../engine';
import { tinyTrainingPipeline } from '../../pipelines';
import { tempDir } from '../../helpers';

const ACCESS = 'outage-test-user';
const SECRET = 'outage-test-secret-0123456789';
const OUTAGE_MS = 60_000;
const CHECKPOINT_EVERY = 10;

/** A tiny model over the demo data: 10 steps an epoch, a checkpoint every 10 steps. */
function pipeline(name: string, epochs: number, retry = ''): string {
  return tinyTrainingPipeline({ name, epochs, checkpointEvery: CHECKPOINT_EVERY, retry });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the train stage on an S3 store', () => {
  let dataDir: string;
  let minio: MinioServer;
  let s3: S3ArtifactStore;
  let engine: Engine;

  before(async () => {
    dataDir = await tempDir('fairline-outage-minio-');
    minio = await startMinio({ dataDir, accessKey: ACCESS, secretKey: SECRET });
    s3 = createS3Store({
      uri: 's3://outage-test/artifacts',
      endpoint: minio.endpoint,
      credentials: { accessKeyId: ACCESS, secretAccessKey: SECRET },
    });
    await s3.ensureBucket();
    engine = await startEngine({ activityStore: s3 });
  });
  after(async () => {
    await engine?.close();
    await s3?.close();
    await minio?.stop();
  });

  test('a MinIO killed for 60 s during training is waited out: the run completes on its first attempt', async () => {
    const handle = await engine.start(pipeline('outage', 30), { runId: 'outage-1' });
    for (let i = 0; i < 1200 && (await s3.list('checkpoints/outage/outage-1/')).length === 0; i++) await sleep(100);
    assert.ok((await s3.list('checkpoints/outage/outage-1/')).length > 0, 'a first checkpoint was stored');

    const port = minio.port;
    minio.process.kill('SIGKILL');
    await minio.stop();
    const downAt = Date.now();
    await sleep(OUTAGE_MS);
    minio = await startMinio({ dataDir, accessKey: ACCESS, secretKey: SECRET, port });
    const upAfter = Date.now() - downAt;

    const outcome = await engine.outcome(handle);
    assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
    const model = outcome.progress.stages.find((s) => s.id === 'model')!;
    assert.equal(model.attempts, 1, 'the outage cost no attempt');
    const metrics = (await s3.read(artifactRefSchema.parse(model.outputs!.metrics)))
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(
      Math.max(...metrics.filter((m) => m.event === 'step').map((m) => Number(m.step))),
      300,
      'training ran to its end',
    );
    process.stdout.write(
      `# outage: MinIO down for ${upAfter} ms; the model stage finished on attempt ${model.attempts}\n`,
    );
  });

  test('a rerun of a failed run resumes training from the checkpoint the earlier execution left, and the manifest says so', async () => {
    // Not from the cache: the outage test above trained the same model already.
    const yaml = pipeline('rerun', 30, 'retry: { maximumAttempts: 1 }');
    const first = await engine.start(yaml, { runId: 'rerun-1', noCache: true });
    // Kill the trainer once two checkpoints are stored: with one attempt allowed, the run fails.
    const trainerPids = (): number[] => {
      try {
        return execFileSync('pgrep', ['-P', String(process.pid), '-f', 'trainer train'])
          .toString()
          .split('\n')
          .filter(Boolean)
          .map(Number);
      } catch {
        return [];
      }
    };
    for (let i = 0; i < 1200 && (await s3.list('checkpoints/rerun/rerun-1/')).length < 2; i++) await sleep(50);
    const killedPids = trainerPids();
    for (const pid of killedPids) process.kill(pid, 'SIGKILL');
    const failed = await engine.outcome(first);
    assert.equal(
      failed.status,
      'failed',
      JSON.stringify(failed.progress.stages.map((s) => [s.id, s.status, s.attempts, s.cached])) +
        ' killed ' +
        JSON.stringify(killedPids),
    );
    const firstExecution = (await first.describe()).runId;
    const left = (await s3.list('checkpoints/rerun/rerun-1/')).at(-1)!;
    const leftStep = z
      .object({ step: z.number() })
      .passthrough()
      .parse(
        JSON.parse(
          (await s3.read({ uri: left.uri, sha256: left.sha256!, bytes: left.bytes, kind: 'checkpoint' })).toString(),
        ),
      ).step;
    assert.ok(left.key.includes(`/${firstExecution}/model/`));

    const second = await engine.outcome(await engine.start(yaml, { runId: 'rerun-1', noCache: true }));
    assert.equal(
      second.status,
      'succeeded',
      JSON.stringify(second.progress.stages.map((s) => [s.id, s.status, s.error, s.attempts])),
    );
    const model = second.progress.stages.find((s) => s.id === 'model')!;
    assert.deepEqual(model.resumedFrom, { execution: firstExecution, step: leftStep, checkpoint: left.uri });
    const manifest = JSON.parse((await s3.read(second.progress.manifest!)).toString());
    assert.deepEqual(
      manifest.stages.find((s: { id: string }) => s.id === 'model').resumedFrom,
      model.resumedFrom,
      'the manifest records the resumed-from point',
    );
    process.stdout.write(`# rerun: resumed from step ${leftStep} of execution ${firstExecution}\n`);
  });
});
