/**
 * `fairline cluster up` as a person runs it: it prints the addresses, writes the clients' env
 * file (0600, the only place the S3 key goes), serves `fairline` commands pointed at it, and
 * Ctrl-C stops every process it started and removes its folder.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../../common/paths';
import { descendants, stillRunning } from '../cluster-load';
import { cleanEnv, fairline } from '../helpers';

/** `export K='v'` lines of the env file, as a map. */
function readEnvFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const match = /^export ([A-Z0-9_]+)='(.*)'$/.exec(line);
        assert.ok(match, `unexpected line in ${file}: ${line}`);
        return [match[1]!, match[2]!.replace(/'\\''/g, "'")];
      }),
  );
}

describe('fairline cluster up', { timeout: 600_000 }, () => {
  it('prints the addresses, writes a 0600 env file clients use, and stops everything on Ctrl-C', async () => {
    const child = spawn(
      process.execPath,
      [join(PROJECT_ROOT, 'cli', 'bin.mjs'), 'cluster', 'up', '--cpu-workers', '1', '--gpu-workers', '0'],
      {
        cwd: PROJECT_ROOT,
        env: cleanEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      const deadline = Date.now() + 300_000;
      while (!output.includes('Ctrl-C stops it all')) {
        if (child.exitCode !== null) assert.fail(`cluster up exited ${child.exitCode}:\n${output}`);
        if (Date.now() > deadline) assert.fail(`cluster up was not ready in 300 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(output, /Temporal frontend: 127\.0\.0\.1:\d+ \(namespace fairline; PostgreSQL 127\.0\.0\.1:\d+\)/);
      assert.match(output, /worker 1: +--queues cpu, pid \d+/);
      const envFile = /source (\S+cluster\.env)/.exec(output)?.[1];
      assert.ok(envFile, output);
      assert.equal(statSync(envFile).mode & 0o777, 0o600);
      const env = readEnvFile(envFile);
      const secret = env.AWS_SECRET_ACCESS_KEY;
      assert.ok(secret && secret.length >= 16, 'the env file carries the S3 key');
      assert.ok(!output.includes(secret), 'the S3 key is never printed');

      // A client pointed at it by the env file finds the namespace it set up.
      const setup = await fairline(['setup', '--json'], cleanEnv(env));
      assert.equal(setup.code, 0, setup.stderr);
      assert.deepEqual(JSON.parse(setup.stdout), {
        namespace: 'fairline',
        address: env.FAIRLINE_TEMPORAL_ADDRESS,
        namespaceCreated: false,
        searchAttributesAdded: [],
      });

      const started = [...descendants(child.pid)].filter(([, cmd]) => !/esbuild --service/.test(cmd));
      assert.ok(
        started.length >= 4,
        `PostgreSQL, the server, MinIO and a worker run under it: ${started.map(([, c]) => c).join('\n')}`,
      );
      child.kill('SIGINT');
      assert.equal(await exited, 0, output);
      assert.match(output, /cluster stopped/);
      assert.deepEqual(stillRunning(started.map(([pid]) => pid)), []);
      assert.equal(existsSync(envFile), false, 'its temp folder is removed');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
