/**
 * The deployment files that cannot run here (no container runtime on the development machine):
 * the worker images (deploy/Dockerfile, deploy/Dockerfile.cuda) and the Compose file, checked
 * statically against the code they package and the configuration the worker reads.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ENV } from '../../common/constants';
import { PROJECT_ROOT } from '../../common/paths';
import { loadConfig } from '../../temporal.config';

const deploy = (file: string): string => readFileSync(join(PROJECT_ROOT, 'deploy', file), 'utf8');
const fairlineEnvNames = new Set<string>(Object.values(ENV));
/** Variables whose values are secrets: they may only ever be references, never values. */
const SECRET_NAME = /PASSWORD|PWD|SECRET|ACCESS_KEY|API_KEY|TOKEN/;

/** Top-level folders of the repository that `fairline` (cli/bin.mjs) loads, following relative imports. */
function foldersTheCliLoads(): Set<string> {
  const seen = new Set<string>();
  const folders = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const top = relative(PROJECT_ROOT, file).split('/')[0]!;
    folders.add(top);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*|require\.resolve\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const target = resolve(dirname(file), match[1]!);
      const candidates = [target, `${target}.ts`, join(target, 'index.ts')];
      const found = candidates.find((c) => existsSync(c) && !c.endsWith('/') && /\.(ts|mjs|js|json)$/.test(c));
      if (found) visit(found);
    }
  };
  visit(join(PROJECT_ROOT, 'cli', 'bin.mjs'));
  return folders;
}

describe('the worker images', () => {
  for (const file of ['Dockerfile', 'Dockerfile.cuda']) {
    const text = deploy(file);
    // Every source of every `COPY a b … dest` (not the multi-stage `COPY --from=…`).
    const copies = [...text.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));

    it(`${file} copies only paths that exist`, () => {
      for (const source of copies)
        assert.ok(existsSync(join(PROJECT_ROOT, source)), `${file}: COPY ${source}: no such path`);
    });

    it(`${file} copies every folder the fairline command loads`, () => {
      for (const folder of foldersTheCliLoads()) {
        assert.ok(copies.includes(folder), `${file} does not COPY ${folder}, which cli/bin.mjs loads`);
      }
    });

    it(`${file} points FAIRLINE_TRAINER_PYTHON at the venv it builds from trainer/requirements.txt`, () => {
      const venv = /python3 -m venv (\S+)/.exec(text)?.[1];
      assert.ok(venv, 'no venv is built');
      assert.match(text, new RegExp(`${venv}/bin/pip install --no-cache-dir -r trainer/requirements.txt`));
      assert.match(text, new RegExp(`FAIRLINE_TRAINER_PYTHON=${venv}/bin/python`));
    });

    it(`${file} sets only fairline's own variables, and no secret`, () => {
      const names = [...text.matchAll(/\b(FAIRLINE_[A-Z_]+)=/g)].map((m) => m[1]!);
      assert.ok(names.length > 0);
      for (const name of names)
        assert.ok(fairlineEnvNames.has(name), `${file} sets ${name}, which fairline never reads`);
      assert.doesNotMatch(text, /AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|FAIRLINE_TEMPORAL_API_KEY/);
    });
  }

  it('the CUDA image runs a gpu worker, the CPU image a cpu worker', () => {
    assert.match(deploy('Dockerfile.cuda'), /^FROM nvidia\/cuda:\S+ AS base$/m);
    assert.match(deploy('Dockerfile.cuda'), /CMD \["worker", "--queues", "gpu"/);
    assert.match(deploy('Dockerfile'), /CMD \["worker", "--queues", "cpu"/);
  });
});

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  deploy?: {
    replicas?: number;
    resources?: { reservations?: { devices?: { driver: string; count: number; capabilities: string[] }[] } };
  };
}

/** Compose's variable interpolation (`${X}`, `${X:-default}`, `${X:?error}`, `$$`), for the checks below. */
function interpolate(value: string, env: Record<string, string>): string {
  return value
    .replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
      if (env[name] !== undefined && env[name] !== '') return env[name]!;
      if (op === '-') return arg ?? '';
      throw new Error(`${name} is required: ${arg}`);
    })
    .replace(/\$\$/g, '$');
}

describe('the Compose file', () => {
  const compose = parse(deploy('compose.yaml'), { merge: true }) as { services: Record<string, ComposeService> };
  const services = compose.services;
  const fairlineServices = Object.entries(services).filter(([, s]) => s.image?.startsWith('fairline:'));
  const given = {
    POSTGRES_PASSWORD: 'pg-test',
    FAIRLINE_S3_ACCESS_KEY: 'access-test',
    FAIRLINE_S3_SECRET_KEY: 'secret-test',
  };

  it('has Temporal on PostgreSQL with its schema job, the UI, MinIO, setup, and cpu and gpu workers', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'fairline-setup',
      'minio',
      'postgresql',
      'temporal',
      'temporal-schema',
      'temporal-ui',
      'worker-cpu',
      'worker-gpu',
    ]);
    assert.equal(services.temporal!.environment!.DB, 'postgres12');
    assert.match(
      String(services['temporal-schema']!.command),
      /temporal-sql-tool --plugin postgres12 .* update-schema/,
    );
    assert.deepEqual(services['worker-cpu']!.command?.slice(0, 3), ['worker', '--queues', 'cpu']);
    assert.deepEqual(services['worker-gpu']!.command?.slice(0, 3), ['worker', '--queues', 'gpu']);
    assert.deepEqual(services['fairline-setup']!.command?.slice(0, 1), ['setup']);
  });

  it('starts every service after the ones it depends on exist', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {}))
        assert.ok(services[dependency], `${name} depends on a missing service ${dependency}`);
    }
  });

  it('gives fairline containers only variables the worker reads, and a config loadConfig accepts', () => {
    assert.equal(fairlineServices.length, 3);
    for (const [name, service] of fairlineServices) {
      const env = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), given)]),
      );
      for (const key of Object.keys(env))
        assert.ok(
          fairlineEnvNames.has(key),
          `${name}: ${key} is not one of fairline's variables (common/constants.ts ENV)`,
        );
      const config = loadConfig({}, env);
      assert.equal(config.temporal.address, 'temporal:7233');
      assert.equal(config.temporal.embedded, false);
      assert.equal(config.store.uri, 's3://fairline');
      assert.equal(config.store.s3.endpoint, 'http://minio:9000');
      assert.equal(env[ENV.s3SecretAccessKey], given.FAIRLINE_S3_SECRET_KEY, 'the workers and MinIO share one key');
    }
  });

  it('takes every secret from the environment it is given, never as a value', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [key, value] of Object.entries(service.environment ?? {})) {
        if (!SECRET_NAME.test(key)) continue;
        assert.match(
          String(value),
          /^\$\{[A-Z0-9_]+:\?[^}]+\}$/,
          `${name}.${key} must be a required reference like \${VAR:?…}`,
        );
      }
    }
    assert.throws(
      () => interpolate(String(services['worker-cpu']!.environment!.AWS_SECRET_ACCESS_KEY), {}),
      /FAIRLINE_S3_SECRET_KEY is required/,
    );
  });

  it('probes the workers on their --health-port and gives the gpu worker a GPU and time to checkpoint', () => {
    for (const name of ['worker-cpu', 'worker-gpu']) {
      const service = services[name]!;
      const command = service.command as string[];
      const port = command[command.indexOf('--health-port') + 1];
      assert.ok(port, `${name} has no --health-port`);
      assert.ok(
        service.healthcheck?.test.join(' ').includes(`127.0.0.1:${port}/healthz`),
        `${name}'s healthcheck does not probe port ${port}`,
      );
    }
    const gpu = services['worker-gpu']!;
    assert.deepEqual(gpu.deploy?.resources?.reservations?.devices, [
      { driver: 'nvidia', count: 1, capabilities: ['gpu'] },
    ]);
    assert.equal(gpu.stop_grace_period, '10m');
  });
});
