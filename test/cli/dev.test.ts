import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXIT_STACK_RUNNING } from '../../cli/dev';
import { PROJECT_ROOT } from '../../common/paths';
import { freePort } from '../../infra/ports';
import { cleanEnv, fairline, tempDir } from '../helpers';

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
  const dev = spawn(process.execPath, [join(PROJECT_ROOT, 'cli', 'bin.mjs'), 'dev'], { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    assert.match(second.stderr, new RegExp(`a fairline dev stack \\(pid ${dev.pid}\\) is already running on .*: use it`));

    const run = await fairline(['run', 'pipelines/demo.yaml', '--id', 'on-dev'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /reusing the dev server/);
    assert.doesNotMatch(run.stderr, /starting one in this process/, "the dev stack's worker ran the stages");
    assert.match(run.stdout, /data\s+succeeded.*train=s3:\/\/fairline-dev\/artifacts\/objects\//);
    assert.doesNotMatch(output + run.stdout + run.stderr + doctor.stdout, /fairline-dev-secret-key/, 'the secret never shows');
  } finally {
    dev.kill('SIGINT');
  }
  const code = await exited;
  assert.equal(code, 0, output);
  assert.match(output, /dev stack stopped/);
  for (const port of [temporalPort, uiPort, minioPort]) assert.equal(await portOpen(port), false, `port ${port} is closed after Ctrl-C`);
});
