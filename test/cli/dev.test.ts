import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { EXIT_STACK_RUNNING } from '../../cli/dev';
import { PROJECT_ROOT } from '../../common/paths';
import { freePort } from '../../infra/ports';
import { alive, cleanEnv, fairline, tempDir } from '../helpers';

function portOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

test('fairline dev starts Temporal, its Web UI, MinIO and a worker, serves runs, and stops it all on Ctrl-C', async () => {
  const [temporalPort, uiPort, minioPort] = [await freePort(), await freePort(), await freePort()];
  const env = cleanEnv({
    FAIRLINE_TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    FAIRLINE_TEMPORAL_EMBEDDED: 'true',
    FAIRLINE_TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
    FAIRLINE_STATE_DIR: await tempDir(),
    FAIRLINE_STORE: 's3://fairline-dev/artifacts',
    FAIRLINE_S3_ENDPOINT: `http://127.0.0.1:${minioPort}`,
    AWS_ACCESS_KEY_ID: 'fairline-dev-user',
    AWS_SECRET_ACCESS_KEY: 'fairline-dev-secret-key',
  });
  const dev = spawn(process.execPath, [join(PROJECT_ROOT, 'cli', 'bin.mjs'), 'dev'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((done) => dev.on('exit', (code) => done(code)));
  try {
    await new Promise<void>((ready, fail) => {
      const onData = (c: Buffer): void => {
        output += c.toString();
        if (output.includes('worker: polling')) ready();
      };
      dev.stdout.on('data', onData);
      dev.stderr.on('data', onData);
      void exited.then((code) => fail(new Error(`dev exited early (${code}):\n${output}`)));
    });
    assert.match(output, new RegExp(`Temporal Web UI: http://127\\.0\\.0\\.1:${uiPort}/namespaces/fairline/workflows`));
    assert.match(output, new RegExp(`MinIO: starting on http://127\\.0\\.0\\.1:${minioPort}`));

    const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
    assert.equal(ui.status, 200, 'the Web UI answers');

    const doctor = await fairline(['doctor'], env);
    assert.equal(doctor.code, 0, doctor.stdout);
    assert.match(doctor.stdout, /✓ artifact store\s+write\/read\/delete ok .* at s3:\/\/fairline-dev\/artifacts/);

    // A second stack on the same state folder is refused, pointing at the live one.
    const second = await fairline(['dev'], env);
    assert.equal(second.code, EXIT_STACK_RUNNING, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(`a fairline dev stack \\(pid ${dev.pid}\\) is already running on .*: use it`),
    );

    const run = await fairline(['run', 'pipelines/demo.yaml', '--id', 'on-dev'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /reusing the dev server/);
    assert.doesNotMatch(run.stderr, /starting one in this process/, "the dev stack's worker ran the stages");
    assert.match(run.stdout, /data\s+succeeded.*train=s3:\/\/fairline-dev\/artifacts\/objects\//);
    assert.doesNotMatch(
      output + run.stdout + run.stderr + doctor.stdout,
      /fairline-dev-secret-key/,
      'the secret never shows',
    );
  } finally {
    dev.kill('SIGINT');
  }
  const code = await exited;
  assert.equal(code, 0, output);
  assert.match(output, /dev stack stopped/);
  for (const port of [temporalPort, uiPort, minioPort])
    assert.equal(await portOpen(port), false, `port ${port} is closed after Ctrl-C`);
});

/** `fairline dev` as a user starts it; resolves once its worker polls, with its output so far (and later). */
async function startDev(
  env: NodeJS.ProcessEnv,
): Promise<{ dev: ChildProcessWithoutNullStreams; output: () => string; exited: Promise<number | null> }> {
  const dev = spawn(process.execPath, [join(PROJECT_ROOT, 'cli', 'bin.mjs'), 'dev'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((done) => dev.on('exit', (code) => done(code)));
  await new Promise<void>((ready, fail) => {
    const onData = (c: Buffer): void => {
      output += c.toString();
      if (output.includes('worker: polling')) ready();
    };
    dev.stdout.on('data', onData);
    dev.stderr.on('data', onData);
    void exited.then((code) => fail(new Error(`dev exited early (${code}):\n${output}`)));
  });
  return { dev, output: () => output, exited };
}

/** The child processes of `pid` whose command line matches `pattern`. */
function childrenOf(pid: number, pattern: string): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-f', pattern])
      .toString()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

const until = async (check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> => {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
};

test('a SIGKILLed fairline dev leaves no Temporal server and no MinIO behind', async () => {
  const [temporalPort, uiPort, minioPort] = [await freePort(), await freePort(), await freePort()];
  const env = cleanEnv({
    FAIRLINE_TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    FAIRLINE_TEMPORAL_EMBEDDED: 'true',
    FAIRLINE_TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
    FAIRLINE_STATE_DIR: await tempDir(),
    FAIRLINE_STORE: 's3://fairline-dev/artifacts',
    FAIRLINE_S3_ENDPOINT: `http://127.0.0.1:${minioPort}`,
    AWS_ACCESS_KEY_ID: 'fairline-dev-user',
    AWS_SECRET_ACCESS_KEY: 'fairline-dev-secret-key',
  });
  const { dev, exited } = await startDev(env);
  const temporal = childrenOf(dev.pid!, 'start-dev');
  const minio = childrenOf(dev.pid!, 'minio');
  assert.equal(temporal.length, 1, 'fairline dev runs one Temporal server');
  assert.equal(minio.length, 1, 'fairline dev runs one MinIO');

  dev.kill('SIGKILL');
  await exited;
  for (const [name, pid] of [
    ['Temporal', temporal[0]!],
    ['MinIO', minio[0]!],
  ] as const) {
    assert.ok(await until(() => !alive(pid), 10_000), `${name} (pid ${pid}) died with fairline dev`);
  }
  for (const port of [temporalPort, uiPort, minioPort])
    assert.equal(await portOpen(port), false, `nothing listens on ${port}`);
});

test('a Temporal server killed under a live fairline dev is restarted, with a line saying so, and a run finishes after it', async () => {
  const [temporalPort, uiPort] = [await freePort(), await freePort()];
  const state = await tempDir();
  const env = cleanEnv({
    FAIRLINE_TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    FAIRLINE_TEMPORAL_EMBEDDED: 'true',
    FAIRLINE_TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
    FAIRLINE_STATE_DIR: state,
    FAIRLINE_STORE: pathToFileURL(join(state, 'artifacts')).href,
  });
  // A TypeScript-only run: one dataset stage over the demo data.
  const pipeline = join(state, 'restart.yaml');
  await writeFile(
    pipeline,
    `name: restart\nstages:\n  - id: data\n    uses: dataset\n    with: { format: json, url: "${pathToFileURL(join(PROJECT_ROOT, 'data', 'demo', 'train.json')).href}", mapping: { text: sentence, labels: { column: labels } } }\n`,
  );
  const { dev, output, exited } = await startDev(env);
  try {
    const before = await fairline(['run', pipeline, '--id', 'before'], env);
    assert.equal(before.code, 0, before.stderr);
    const [temporal] = childrenOf(dev.pid!, 'start-dev');
    assert.ok(temporal, 'fairline dev runs a Temporal server');
    process.kill(temporal, 'SIGKILL');

    assert.ok(
      await until(
        () =>
          /Temporal dev server exited \(SIGKILL\) while the dev stack ran: restarted it on the same port and data folder/.test(
            output(),
          ),
        90_000,
      ),
      output(),
    );
    assert.equal(output().match(/restarted it on the same port/g)?.length, 1, 'one line says so');
    const [restarted] = childrenOf(dev.pid!, 'start-dev');
    assert.ok(restarted !== undefined && restarted !== temporal, 'a new server process runs');

    const after = await fairline(['run', pipeline, '--id', 'after'], env);
    assert.equal(after.code, 0, `${after.stderr}\n${output()}`);
    assert.match(after.stdout, /data\s+succeeded/);
    // Same history file: the run from before the restart is still known.
    const runs = await fairline(['runs', '--pipeline', 'restart', '--json'], env);
    assert.equal(runs.code, 0, runs.stderr);
    assert.match(runs.stdout, /"before"/);
  } finally {
    dev.kill('SIGINT');
  }
  assert.equal(await exited, 0, output());
});

test('a MinIO killed under a live fairline dev is restarted on its port with its data, and the store answers again', async () => {
  const [temporalPort, uiPort, minioPort] = [await freePort(), await freePort(), await freePort()];
  const env = cleanEnv({
    FAIRLINE_TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    FAIRLINE_TEMPORAL_EMBEDDED: 'true',
    FAIRLINE_TEMPORAL_UI_URL: `http://127.0.0.1:${uiPort}`,
    FAIRLINE_STATE_DIR: await tempDir(),
    FAIRLINE_STORE: 's3://fairline-dev/artifacts',
    FAIRLINE_S3_ENDPOINT: `http://127.0.0.1:${minioPort}`,
    AWS_ACCESS_KEY_ID: 'fairline-dev-user',
    AWS_SECRET_ACCESS_KEY: 'fairline-dev-secret-key',
  });
  const { dev, output, exited } = await startDev(env);
  try {
    const [minio] = childrenOf(dev.pid!, 'minio');
    assert.ok(minio, 'fairline dev runs MinIO');
    process.kill(minio, 'SIGKILL');
    assert.ok(
      await until(
        () =>
          /MinIO exited \(SIGKILL\) while the dev stack ran: restarted it on the same port and data folder/.test(
            output(),
          ),
        60_000,
      ),
      output(),
    );
    const doctor = await fairline(['doctor'], env);
    assert.match(
      doctor.stdout,
      /✓ artifact store\s+write\/read\/delete ok .* at s3:\/\/fairline-dev\/artifacts/,
      doctor.stdout,
    );
  } finally {
    dev.kill('SIGINT');
  }
  assert.equal(await exited, 0, output());
});
