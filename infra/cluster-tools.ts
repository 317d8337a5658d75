/**
 * The tools behind the PostgreSQL-backed cluster (infra/cluster.ts) and the deployment tests,
 * built from source with the Go here and cached by pin outside the repository:
 * - the real Temporal server and its SQL schema tool (`go.temporal.io/server` v1.29.1, the line
 *   the CLI's dev server embeds), with the PostgreSQL schema files of the same module version;
 * - Helm v4, which lints and renders deploy/helm/fairline (no Kubernetes needed for that);
 * - PostgreSQL itself, Debian's package (installed with apt when missing and when we are root).
 *
 * Each `ensure…` returns at once when its build is complete and otherwise builds it: `go install`
 * into a private folder that is renamed into place, so a killed build never leaves a half tool.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PINS } from '../common/constants';
import { helmBinaryPath, temporalServerDir } from '../common/paths';

/** Where the parts of the Temporal server build are. */
export interface TemporalServerTools {
  /** `temporal-server start`: the real multi-service server binary (cmd/server). */
  server: string;
  /** `temporal-sql-tool` (cmd/tools/sql): create-database, setup-schema, update-schema. */
  sqlTool: string;
  /** `schema/postgresql/v12` of the same module version: `temporal/versioned`, `visibility/versioned`. */
  postgresSchemaDir: string;
}

const COMPLETE = '.fairline-complete';

/** Paths of the Temporal server build (they exist once ensureTemporalServer has run). */
export function temporalServerTools(dir = temporalServerDir()): TemporalServerTools {
  return {
    server: join(dir, 'temporal-server'),
    sqlTool: join(dir, 'temporal-sql-tool'),
    postgresSchemaDir: join(dir, 'schema', 'postgresql', 'v12'),
  };
}

function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<string> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      for (const line of chunk.toString().split('\n').filter(Boolean)) options.log?.(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => fail(new Error(`${command}: ${error.message}`)));
    child.on('exit', (code) =>
      code === 0
        ? done(output)
        : fail(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.split('\n').slice(-30).join('\n')}`)),
    );
  });
}

const goEnv = (gobin: string): NodeJS.ProcessEnv => ({
  ...process.env,
  GOBIN: gobin,
  CGO_ENABLED: '0',
  GOFLAGS: '-trimpath',
});

/** Builds into a temporary sibling of `target`, then renames it into place (atomic on one file system). */
async function buildAtomically(target: string, build: (staging: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(`${target}.staging-`);
  try {
    await build(staging);
    await writeFile(join(staging, COMPLETE), `${new Date().toISOString()}\n`);
    // Another process may have finished the same build meanwhile; theirs is as good as ours.
    if (existsSync(join(target, COMPLETE))) return;
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Builds the Temporal server (`cmd/server`) and `temporal-sql-tool` (`cmd/tools/sql`) with
 * `go install go.temporal.io/server/…@v1.29.1` (the module has no replace directives, so
 * `go install` takes it as published), and copies the PostgreSQL schema out of the module cache.
 * Takes many minutes on a small machine the first time; instant afterwards.
 */
export async function ensureTemporalServer(
  options: { log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<TemporalServerTools> {
  const dir = temporalServerDir(options.env);
  if (existsSync(join(dir, COMPLETE))) return temporalServerTools(dir);
  const module = PINS.temporalServerModule;
  const version = PINS.temporalServer;
  options.log?.(`building the Temporal server ${version} and temporal-sql-tool (go install; minutes)…`);
  await buildAtomically(dir, async (staging) => {
    await run('go', ['install', `${module}/cmd/server@${version}`, `${module}/cmd/tools/sql@${version}`], {
      env: goEnv(staging),
      ...(options.log ? { log: options.log } : {}),
    });
    await rename(join(staging, 'server'), join(staging, 'temporal-server'));
    await rename(join(staging, 'sql'), join(staging, 'temporal-sql-tool'));
    const modCache = (await run('go', ['env', 'GOMODCACHE'])).trim();
    const schema = join(modCache, `${module}@${version}`, 'schema', 'postgresql', 'v12');
    if (!existsSync(schema)) throw new Error(`the PostgreSQL schema of ${module}@${version} is not at ${schema}`);
    await cp(schema, join(staging, 'schema', 'postgresql', 'v12'), { recursive: true });
  });
  return temporalServerTools(dir);
}

/** Builds Helm (`go install helm.sh/helm/v4/cmd/helm@v4.3.2`); returns the binary's path. */
export async function ensureHelm(
  options: { log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const binary = helmBinaryPath(options.env);
  const dir = dirname(binary);
  if (existsSync(join(dir, COMPLETE))) return binary;
  options.log?.(`building Helm ${PINS.helm} (go install; minutes)…`);
  await buildAtomically(dir, (staging) =>
    run('go', ['install', `${PINS.helmModule}/cmd/helm@${PINS.helm}`], {
      env: goEnv(staging),
      ...(options.log ? { log: options.log } : {}),
    }).then(() => undefined),
  );
  return binary;
}

/** The newest PostgreSQL server's bin folder of Debian's packages (/usr/lib/postgresql/<major>/bin), or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length > 0 ? join(root, majors[0]!, 'bin') : undefined;
}

/**
 * Debian's PostgreSQL server binaries; installs the `postgresql` package with apt when missing
 * (root only; otherwise the error says what to install). Temporal's postgres12 plugin needs 12+.
 */
export async function ensurePostgres(options: { log?: (line: string) => void } = {}): Promise<string> {
  const found = postgresBinDir();
  if (found) return found;
  if (process.getuid?.() !== 0)
    throw new Error(
      'PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: install the `postgresql` package',
    );
  options.log?.('installing PostgreSQL (apt-get install postgresql)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env });
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], { env });
  const installed = postgresBinDir();
  if (!installed) throw new Error('apt-get installed postgresql, but no /usr/lib/postgresql/*/bin/initdb appeared');
  return installed;
}
