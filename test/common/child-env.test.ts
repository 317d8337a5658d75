import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { MorphAnalyzer } from '../../stages/ner-mask/morph';
import { train } from '../../stages/train/implementation';
import { CHILD_ENV, childEnv } from '../../common/child-env';
import { startMinio } from '../../infra/minio';
import { startTemporalDevServer } from '../../infra/temporal';
import { loadConfig } from '../../temporal.config';
import { demoRows, directContext } from '../classifier';
import { tempDir } from '../helpers';

/** A value that must never show up in a child's environment. */
const CANARY = `s3-secret-canary-${process.pid}`;

/** The environment of a live process, as the kernel shows it to anyone running as its user. */
function environOf(pid: number): Map<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return new Map(
    raw
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}

function assertClean(pid: number, child: string): Map<string, string> {
  const env = environOf(pid);
  const holding = [...env].filter(([, value]) => value.includes(CANARY)).map(([name]) => name);
  assert.deepEqual(holding, [], `${child} (pid ${pid}) holds the S3 secret`);
  assert.equal(env.has('AWS_ACCESS_KEY_ID'), false, `${child} holds AWS_ACCESS_KEY_ID`);
  assert.ok(env.has('PATH'), `${child} still gets PATH`);
  return env;
}

/** Pids of the live processes whose parent is this test process and whose command line matches. */
function childrenMatching(pattern: string): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-f', pattern])
      .toString()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

describe('child processes get only the environment they need', () => {
  const saved = {
    id: process.env.AWS_ACCESS_KEY_ID,
    secret: process.env.AWS_SECRET_ACCESS_KEY,
    token: process.env.HF_TOKEN,
  };
  before(() => {
    // As on a worker of an S3 store: the credentials sit in the worker's environment.
    process.env.AWS_ACCESS_KEY_ID = 'worker-access-key';
    process.env.AWS_SECRET_ACCESS_KEY = CANARY;
    process.env.HF_TOKEN = CANARY;
  });
  after(() => {
    for (const [name, value] of [
      ['AWS_ACCESS_KEY_ID', saved.id],
      ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ['HF_TOKEN', saved.token],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test('the trainer', async () => {
    const direct = await directContext('env-train');
    const dataset = await direct.dataset(demoRows('train').slice(0, 32));
    const running = train(
      {
        dataset,
        epochs: 1,
        batchSize: 16,
        lr: 0.001,
        maxLength: 16,
        checkpointEvery: 0,
        scratch: { hidden: 32, layers: 1, heads: 2, intermediate: 64, vocabSize: 200 },
        labelNames: ['TA', 'UD', 'UI'],
      },
      direct.context,
    );
    let seen: number[] = [];
    for (let i = 0; i < 600 && seen.length === 0; i++) {
      seen = childrenMatching('trainer train');
      if (seen.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(seen.length, 1, 'the train stage started one trainer');
    const env = assertClean(seen[0]!, 'the trainer');
    assert.equal(env.get('FAIRLINE_TRAINER_ACK_CHECKPOINTS'), '1', 'what the stage sets for the trainer still arrives');
    await running;
  });

  test('the Korean analyzer', async () => {
    const analyzer = MorphAnalyzer.start(loadConfig({}, {}).trainer.python, ['NNG']);
    try {
      assertClean(analyzer.pid!, 'the analyzer');
    } finally {
      await analyzer.kill();
    }
  });

  test('the Temporal dev server', async () => {
    const server = await startTemporalDevServer();
    try {
      assert.ok(server.process?.pid, 'the bootstrapped binary runs as our child');
      assertClean(server.process.pid, 'the dev server');
    } finally {
      await server.stop();
    }
  });

  test('MinIO, which gets its own root credentials and nothing of the store client’s', async () => {
    const minio = await startMinio({
      dataDir: await tempDir('fairline-minio-env-'),
      accessKey: 'minio-root',
      secretKey: 'minio-root-secret',
    });
    try {
      const env = assertClean(minio.process.pid!, 'MinIO');
      assert.equal(env.get('MINIO_ROOT_PASSWORD'), 'minio-root-secret');
    } finally {
      await minio.stop();
    }
  });

  test('the allow-lists never pass a credential, whatever a prefix allows', () => {
    const from = {
      PATH: '/bin',
      CUDA_VISIBLE_DEVICES: '0',
      TORCH_TOKEN: 'x',
      NVIDIA_API_KEY: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      FAIRLINE_TEMPORAL_API_KEY: 'x',
      MINIO_ROOT_PASSWORD: 'x',
      LC_ALL: 'C',
    };
    assert.deepEqual(childEnv('trainer', {}, from), { PATH: '/bin', CUDA_VISIBLE_DEVICES: '0', LC_ALL: 'C' });
    assert.deepEqual(childEnv('temporal', {}, from), { PATH: '/bin', LC_ALL: 'C' });
    // The model converter may read pip's settings (it downloads pinned wheels), never a pip credential.
    assert.deepEqual(childEnv('converter', {}, { ...from, PIP_FIND_LINKS: '/opt/wheels', PIP_INDEX_PASSWORD: 'x' }), {
      PATH: '/bin',
      LC_ALL: 'C',
      PIP_FIND_LINKS: '/opt/wheels',
    });
    assert.deepEqual(Object.keys(CHILD_ENV).sort(), ['analyzer', 'converter', 'minio', 'temporal', 'trainer']);
  });
});
