/**
 * Orchestration overhead per stage: what running a stage as a Temporal activity of `pipelineRun`
 * costs on top of the stage's own work, next to what Temporal itself costs per activity on the
 * same server and SDK (the floor), and the demo's cold time next to a fully cached rerun.
 *
 *     npx tsx bench/orchestration.ts [--stages 20] [--repeats 15] [--servers stock,fairline,eager,cluster] [--demo]
 *
 * For each server set-up (`--servers`), a fresh Temporal server and fresh in-process workers:
 *
 * - `stock`: the CLI's own dynamic config (what fairline started before DEV_SERVER_DYNAMIC_CONFIG);
 * - `fairline`: the dev server as fairline starts it (infra/temporal.ts DEV_SERVER_DYNAMIC_CONFIG);
 * - `eager`: the same plus `system.enableActivityEagerExecution` (off in the server by default),
 *   so that an activity on the workflow's own task queue can come back in the workflow task's
 *   completion instead of going through matching;
 * - `cluster` (not in the default list: it builds on the cluster suite's tools): the production
 *   topology of infra/cluster.ts, the Temporal server on PostgreSQL with 4 history shards and its
 *   own dynamic config (the same transfer-queue cap), no worker processes, a file store.
 *
 * On each, alternating, one warm-up round then `--repeats` measured rounds of:
 *
 * - floor: a bare chain of N no-op activities (bench/workflows/floor.ts), on a worker built with
 *   the options of fairline's cpu worker: nothing but Temporal. Twice: with eager dispatch
 *   refused by the workflow (`allowEagerDispatch: false`) and allowed (the SDK's default). Eager
 *   only changes anything where the server enables it (`eager`).
 * - fairline: a chain of N built-in `download` stages of a small file:// source (pinned sha256:
 *   real reads, a real FsArtifactStore write, fsync included) as one `pipelineRun` with real
 *   workers (test/engine.ts). Stages are `cache: false` and the run `noCache`, so every stage
 *   executes. Timed from `workflow.start` to its result, so it includes everything a run does
 *   around its stages: search-attribute upserts, heartbeats, scratch folders, the manifest.
 *   Its stage activities allow eager dispatch (the SDK's default), like the floor's second chain.
 * - fairline cached: the same chain with `cache: true`, filled once in the warm-up, so every
 *   stage is a cache lookup (a local activity that verifies the artifact by its digest) served
 *   without running: what a fully cached rerun costs per stage.
 * - direct: the same stage implementation called N times in a plain loop, same inputs and store,
 *   each call with a fresh scratch folder as runStage gives it: the stage's own work.
 *
 * Reported per set-up (medians over the rounds, ms per stage): floor, fairline, direct,
 * fairline's overhead (fairline − direct) and overhead ÷ floor, the latter with a 95 % bootstrap
 * interval over the rounds (the machine's noise moves it more than most changes do); and from each run's history
 * (server clock) the split into dispatch (scheduled → started), activity (started → completed)
 * and workflow turn (completed → next scheduled).
 *
 * `--demo`: also runs pipelines/demo.yaml (three small trainings; minutes on a 2-core machine)
 * on the last set-up as users start it, `fairline demo` in a new process (cli/bin.mjs) against
 * the same server and workers (as with `fairline dev` up): cold (empty store), then up to 7
 * times fully cached, and their median ÷ the cold run. In between, the workflow alone in
 * process: every stage executed (`noCache`) and fully cached. Off by default because of the
 * two runs that train.
 *
 * Results also go to bench/results/orchestration-<timestamp>.json (git-ignored).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { StageContext } from '../activities/stages/context';
import { withConfiguredQueues } from '../client/start';
import { ENV, PINS, workflowIds } from '../common/constants';
import { PROJECT_ROOT } from '../common/paths';
import { CLUSTER_DYNAMIC_CONFIG, startCluster } from '../infra/cluster';
import { DEV_SERVER_DYNAMIC_CONFIG, startTemporalDevServer } from '../infra/temporal';
import type { RunSpec } from '../pipeline/run-spec';
import { validatePipelineText } from '../pipeline/validate';
import { builtinStages } from '../stages/implementations';
import { startEngine, type Engine } from '../test/engine';
import { fairline } from '../test/helpers';
import { DEFAULT_CPU_CONCURRENCY, HEARTBEAT_THROTTLE_MS } from '../worker/create';
import type { PipelineRunInput, PipelineRunResult } from '../workflows/pipeline-run';
import type { FloorActivities, FloorChainInput } from './workflows/floor';
import { bootstrapInterval, environment, median, positiveInt, runMain, writeReport } from './support';

const FLOOR_WORKFLOWS = new URL('./workflows/floor.ts', import.meta.url).pathname;

/**
 * The server set-ups the benchmark knows: dev servers with dynamic config on top of the CLI's
 * defaults, and `cluster`, the production topology of infra/cluster.ts (the Temporal server on
 * PostgreSQL, its own dynamic config), with no worker processes and a file store.
 */
const SERVERS: Record<
  'stock' | 'fairline' | 'eager' | 'cluster',
  { stock: boolean; dynamicConfig: Readonly<Record<string, string | number | boolean>>; cluster?: true }
> = {
  stock: { stock: true, dynamicConfig: {} },
  fairline: { stock: false, dynamicConfig: {} },
  eager: { stock: false, dynamicConfig: { 'system.enableActivityEagerExecution': true } },
  cluster: { stock: false, dynamicConfig: {}, cluster: true },
};
type ServerName = keyof typeof SERVERS;

/** What the benchmark needs of a server: where it answers, and how to stop it. */
interface BenchServer {
  address: string;
  namespace: string;
  uiUrl: string;
  stop(): Promise<void>;
}

async function startServer(server: ServerName): Promise<BenchServer> {
  const { stock, dynamicConfig, cluster } = SERVERS[server];
  if (!cluster) return startTemporalDevServer({ stock, dynamicConfig });
  const started = await startCluster({ workers: [], minio: false });
  return {
    address: started.temporal.address,
    namespace: started.namespace,
    // The cluster runs no Web UI; the links `fairline demo` prints lead nowhere.
    uiUrl: 'http://127.0.0.1:9',
    stop: () => started.stop(),
  };
}

/** How a set-up's server is described in the output. */
function serverDescription(server: ServerName): string {
  if (SERVERS[server].cluster)
    return `the Temporal server on PostgreSQL (infra/cluster.ts, dynamic config ${JSON.stringify(CLUSTER_DYNAMIC_CONFIG)})`;
  return `a Temporal dev server (${JSON.stringify({ ...(SERVERS[server].stock ? {} : DEV_SERVER_DYNAMIC_CONFIG), ...SERVERS[server].dynamicConfig })})`;
}

const SOURCE_BYTES = 4 * 1024;

const fmt = (ms: number, digits = 2): string => ms.toFixed(digits);

interface Phases {
  /** Means over the run's activities, ms (means, not medians: with start and finish they add up to the total). */
  dispatchMs: number;
  activityMs: number;
  workflowTurnMs: number;
  /**
   * Workflow started → first activity scheduled, and last activity completed → workflow completed (the manifest), ms.
   */
  startMs: number;
  finishMs: number;
  /** Workflow started → completed (server clock), ms: the client's wall time less the start and result round trips. */
  totalMs: number;
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

const NO_PHASES: Phases = { dispatchMs: 0, activityMs: 0, workflowTurnMs: 0, startMs: 0, finishMs: 0, totalMs: 0 };

/** Splits a chain run's history (server timestamps) into per-activity phases, for activities of type `activityType`. */
function phasesOf(history: temporal.api.history.v1.IHistory, activityType: string): Phases {
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
    Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
  const events = history.events ?? [];
  const scheduled = new Map<string, number>();
  const stages: { scheduled: number; started: number; completed: number }[] = [];
  const started = new Map<string, number>();
  let workflowStarted = 0;
  let workflowCompleted = 0;
  for (const e of events) {
    const t = ms(e.eventTime);
    const id = String(e.eventId);
    if (e.workflowExecutionStartedEventAttributes) workflowStarted = t;
    if (e.workflowExecutionCompletedEventAttributes) workflowCompleted = t;
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === activityType) scheduled.set(id, t);
    const startedOf = e.activityTaskStartedEventAttributes?.scheduledEventId;
    if (startedOf !== undefined && startedOf !== null) started.set(String(startedOf), t);
    const completedOf = e.activityTaskCompletedEventAttributes?.scheduledEventId;
    if (completedOf !== undefined && completedOf !== null && scheduled.has(String(completedOf))) {
      const key = String(completedOf);
      stages.push({ scheduled: scheduled.get(key)!, started: started.get(key) ?? scheduled.get(key)!, completed: t });
    }
  }
  const totalMs = workflowCompleted - workflowStarted;
  if (stages.length === 0) return { ...NO_PHASES, finishMs: totalMs, totalMs };
  return {
    dispatchMs: mean(stages.map((s) => s.started - s.scheduled)),
    activityMs: mean(stages.map((s) => s.completed - s.started)),
    workflowTurnMs: stages.length > 1 ? mean(stages.slice(1).map((s, i) => s.scheduled - stages[i]!.completed)) : 0,
    startMs: stages[0]!.scheduled - workflowStarted,
    finishMs: workflowCompleted - stages.at(-1)!.completed,
    totalMs,
  };
}

/** A chain of `n` downloads of `url`, each needing the one before. */
function chainYaml(n: number, url: string, sha256: string, cache: boolean): string {
  const id = (i: number): string => `s${String(i + 1).padStart(String(n).length, '0')}`;
  const stages = Array.from(
    { length: n },
    (_, i) =>
      `  - { id: ${id(i)}, uses: download, cache: ${cache}${i > 0 ? `, needs: [${id(i - 1)}]` : ''}, with: { url: "${url}", sha256: "${sha256}" } }`,
  );
  return `name: bench-chain\nstages:\n${stages.join('\n')}\n`;
}

function specOf(yaml: string, file: string, engine: Engine): RunSpec {
  const validated = validatePipelineText(yaml, file);
  if (!validated.ok)
    throw new Error(
      `invalid benchmark pipeline ${file}: ${validated.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('; ')}`,
    );
  return withConfiguredQueues(validated.spec, engine.config);
}

/** Runs `spec` as `pipelineRun` and waits for it: wall ms (client clock) and the history's phases. */
async function runPipeline(
  engine: Engine,
  spec: RunSpec,
  noCache: boolean,
): Promise<{ ms: number; result: PipelineRunResult; phases: Phases }> {
  const runId = randomUUID().slice(0, 8);
  const input: PipelineRunInput = {
    spec,
    runId,
    noCache,
    bookkeepingQueue: engine.config.taskQueues.cpu,
    trigger: 'bench',
  };
  const started = performance.now();
  const handle = await engine.client.workflow.start('pipelineRun', {
    workflowId: workflowIds.pipelineRun(spec.name, runId),
    taskQueue: engine.config.taskQueues.cpu,
    args: [input],
  });
  const result = (await handle.result()) as PipelineRunResult;
  const ms = performance.now() - started;
  return { ms, result, phases: phasesOf(await handle.fetchHistory(), 'runStage') };
}

/** A bare chain of `n` no-op activities: wall ms and phases. */
async function runFloor(
  client: Client,
  taskQueue: string,
  input: FloorChainInput,
): Promise<{ ms: number; phases: Phases }> {
  const started = performance.now();
  const handle = await client.workflow.start('floorChain', {
    workflowId: `bench-floor-${randomUUID()}`,
    taskQueue,
    args: [input],
  });
  await handle.result();
  const ms = performance.now() - started;
  return { ms, phases: phasesOf(await handle.fetchHistory(), 'noop') };
}

/** What one measured round records, per way of running the chain. */
const WAYS = ['floor', 'floorEager', 'floorUpsert', 'fairline', 'fairlineCached', 'direct'] as const;
type Way = (typeof WAYS)[number];
const LABELS: Record<Way, string> = {
  floor: 'floor: bare no-op chain, eager refused',
  floorEager: 'floor: bare no-op chain, eager allowed',
  floorUpsert: '  the same, one search-attribute upsert per activity',
  fairline: 'fairline: download chain, executed',
  fairlineCached: 'fairline: download chain, all cached',
  direct: 'direct: the stage in a plain loop',
};
type Round = Record<Way, { ms: number; phases: Phases }>;

interface ServerSummary {
  server: ServerName;
  dynamicConfig: Record<string, unknown>;
  msPerStage: Record<Way, number>;
  phases: Record<Way, Phases>;
  /** fairline − direct, ms per stage: what orchestration adds to the stage's own work. */
  overheadMsPerStage: number;
  /** The same for the all-cached chain (a cached stage does no work of its own). */
  cachedOverheadMsPerStage: number;
  /** overhead ÷ the floor of the same dispatch mode (fairline's stage activities allow eager dispatch). */
  overheadOverFloor: number;
  /** 95 % percentile bootstrap interval of overheadOverFloor, resampling the rounds. */
  overheadOverFloorInterval: [number, number];
  cachedOverFloor: number;
  rounds: Round[];
}

interface DemoFigures {
  server: ServerName;
  /**
   * `fairline demo` as a user runs it with `fairline dev` up: a new process per run (node
   * cli/bin.mjs), on the benchmark's server and workers. First on the empty store (cold, wall
   * ms), then with everything cached (wall ms of each run).
   */
  cliColdMs: number;
  cliCachedMs: number[];
  /** Their median ÷ the cold run through the command line: like for like, both pay the command's start. */
  cliCachedOverCliCold: number;
  /** In process (the workflow alone, started and awaited by this script): every stage executed (`noCache`), wall ms. */
  coldMs: number;
  /** In process, everything cached. */
  cachedMs: number;
  cachedOverCold: number;
  coldStages: Record<string, number>;
  cachedStages: Record<string, number>;
}

/** Everything one server set-up needs: the server, fairline's engine, the floor's worker; stop() undoes all. */
async function setUp(
  server: ServerName,
  work: string,
): Promise<{ dev: BenchServer; engine: Engine; floorQueue: string; stop(): Promise<void> }> {
  const dev = await startServer(server);
  let engine: Engine | undefined;
  let floorWorker: Worker | undefined;
  let floorRunning: Promise<void> | undefined;
  let connection: NativeConnection | undefined;
  const stop = async (): Promise<void> => {
    if (floorWorker?.getState() === 'RUNNING') floorWorker.shutdown();
    await floorRunning?.catch((e: unknown) => console.error('the floor worker:', e));
    await connection?.close();
    await engine?.close().catch((e: unknown) => console.error('closing the workers:', e));
    await dev.stop();
  };
  try {
    engine = await startEngine({ address: dev.address, storeDir: join(work, `store-${server}`) });
    connection = await NativeConnection.connect({ address: dev.address });
    const floorQueue = `floor-${randomUUID().slice(0, 8)}`;
    const floorActivities: FloorActivities = { noop: async (i) => i };
    // The options of fairline's cpu worker (worker/create.ts), so that only the workflow differs.
    floorWorker = await Worker.create({
      connection,
      namespace: dev.namespace,
      taskQueue: floorQueue,
      workflowBundle: await floorBundle(),
      activities: floorActivities,
      maxConcurrentActivityTaskExecutions: DEFAULT_CPU_CONCURRENCY,
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE_MS,
      shutdownGraceTime: 2_000,
    });
    floorRunning = floorWorker.run();
    return { dev, engine, floorQueue, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

let floorBundlePromise: ReturnType<typeof bundleWorkflowCode> | undefined;
function floorBundle(): ReturnType<typeof bundleWorkflowCode> {
  floorBundlePromise ??= bundleWorkflowCode({
    workflowsPath: FLOOR_WORKFLOWS,
    logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
  });
  return floorBundlePromise;
}

function wallByStage(result: PipelineRunResult): Record<string, number> {
  return Object.fromEntries(
    result.stages.map((s) => [
      s.id,
      s.startedAt !== undefined && s.endedAt !== undefined ? s.endedAt - s.startedAt : 0,
    ]),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stages: { type: 'string' },
      repeats: { type: 'string' },
      servers: { type: 'string' },
      demo: { type: 'boolean' },
    },
  });
  const n = positiveInt('stages', values.stages, 20);
  const repeats = positiveInt('repeats', values.repeats, 15);
  const servers = (values.servers ?? 'stock,fairline,eager').split(',').map((name) => {
    if (!(name in SERVERS))
      throw new Error(`--servers: unknown set-up "${name}" (known: ${Object.keys(SERVERS).join(', ')})`);
    return name as ServerName;
  });

  let work: string | undefined;
  let current: { stop(): Promise<void> } | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    console.error(`\n${signal}: stopping the workers and the dev server`);
    void (current?.stop() ?? Promise.resolve())
      .then(() => (work ? rm(work, { recursive: true, force: true }) : undefined))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const summaries: ServerSummary[] = [];
  let demo: DemoFigures | undefined;
  try {
    console.log(
      `orchestration benchmark: chains of ${n} activities, ${repeats} repeats after 1 warm-up, servers: ${servers.join(', ')}`,
    );
    work = await mkdtemp(join(tmpdir(), 'fairline-bench-'));
    const body = Buffer.alloc(SOURCE_BYTES, 'fairline benchmark source\n');
    const sourcePath = join(work, 'source.txt');
    await writeFile(sourcePath, body);
    const url = pathToFileURL(sourcePath).href;
    const sha256 = createHash('sha256').update(body).digest('hex');

    for (const [index, server] of servers.entries()) {
      console.log(`\n[${server}] starting ${serverDescription(server)} and in-process workers…`);
      const setup = await setUp(server, work);
      current = setup;
      try {
        const { engine, floorQueue } = setup;
        const executed = specOf(chainYaml(n, url, sha256, false), 'bench-chain.yaml', engine);
        const cached = specOf(chainYaml(n, url, sha256, true), 'bench-chain-cached.yaml', engine);
        const download = builtinStages().download!.implementation;
        const stageInput = executed.stages[0]!.with;
        const direct = async (): Promise<{ ms: number; phases: Phases }> => {
          const started = performance.now();
          for (let i = 0; i < n; i++) {
            const scratchDir = join(work!, 'scratch', randomUUID());
            await mkdir(scratchDir, { recursive: true });
            const context: StageContext = {
              stageId: `direct-${i}`,
              store: engine.store,
              config: engine.config,
              log: { info() {}, warn() {} },
              heartbeat() {},
              signal: new AbortController().signal,
              scratchDir,
            };
            try {
              await download(stageInput, context);
            } finally {
              await rm(scratchDir, { recursive: true, force: true });
            }
          }
          return { ms: performance.now() - started, phases: NO_PHASES };
        };
        const round = async (): Promise<Round> => {
          const floor = await runFloor(engine.client, floorQueue, { n, eager: false });
          const floorEager = await runFloor(engine.client, floorQueue, { n, eager: true });
          const floorUpsert = await runFloor(engine.client, floorQueue, { n, eager: true, upsertEach: true });
          const fairline = await runPipeline(engine, executed, true);
          const fairlineCached = await runPipeline(engine, cached, false);
          const count = (run: { result: PipelineRunResult }, status: string): number =>
            run.result.stages.filter((s) => s.status === status).length;
          if (count(fairline, 'succeeded') !== n)
            throw new Error(`expected ${n} executed stages in the executed chain, got ${count(fairline, 'succeeded')}`);
          if (count(fairlineCached, 'cached') !== n)
            throw new Error(`expected ${n} cached stages in the cached chain, got ${count(fairlineCached, 'cached')}`);
          return { floor, floorEager, floorUpsert, fairline, fairlineCached, direct: await direct() };
        };
        // The warm-up also fills the cache the cached chain reads.
        await runPipeline(engine, cached, false);
        const warm = await round();
        console.log(`  warm-up: ${WAYS.map((w) => `${w} ${fmt(warm[w].ms / n, 1)}`).join(', ')} ms/stage`);
        const rounds: Round[] = [];
        for (let r = 1; r <= repeats; r++) {
          const measured = await round();
          const cachedRun = measured.fairlineCached;
          rounds.push(measured);
          console.log(
            `  repeat ${r}/${repeats}: ${WAYS.map((w) => `${w} ${fmt(measured[w].ms / n, 1)}`).join(', ')} ms/stage (fairline: dispatch ${fmt(measured.fairline.phases.dispatchMs, 1)}, activity ${fmt(measured.fairline.phases.activityMs, 1)}, turn ${fmt(measured.fairline.phases.workflowTurnMs, 1)}; cached chain ${fmt(cachedRun.ms, 0)} ms)`,
          );
        }
        const perStage = (way: Way): number => median(rounds.map((r) => r[way].ms / n));
        const phase = (way: Way): Phases => {
          const of = (key: keyof Phases): number => median(rounds.map((r) => r[way].phases[key]));
          return {
            dispatchMs: of('dispatchMs'),
            activityMs: of('activityMs'),
            workflowTurnMs: of('workflowTurnMs'),
            startMs: of('startMs'),
            finishMs: of('finishMs'),
            totalMs: of('totalMs'),
          };
        };
        const msPerStage = Object.fromEntries(WAYS.map((w) => [w, perStage(w)])) as Record<Way, number>;
        const overhead = msPerStage.fairline - msPerStage.direct;
        const overheadOverFloorOf = (sample: readonly Round[]): number => {
          const of = (way: Way): number => median(sample.map((r) => r[way].ms / n));
          return (of('fairline') - of('direct')) / of('floorEager');
        };
        summaries.push({
          server,
          dynamicConfig: SERVERS[server].cluster
            ? CLUSTER_DYNAMIC_CONFIG
            : { ...(SERVERS[server].stock ? {} : DEV_SERVER_DYNAMIC_CONFIG), ...SERVERS[server].dynamicConfig },
          msPerStage,
          phases: Object.fromEntries(WAYS.map((w) => [w, phase(w)])) as Record<Way, Phases>,
          overheadMsPerStage: overhead,
          cachedOverheadMsPerStage: msPerStage.fairlineCached,
          overheadOverFloor: overhead / msPerStage.floorEager,
          overheadOverFloorInterval: bootstrapInterval(rounds, overheadOverFloorOf),
          cachedOverFloor: msPerStage.fairlineCached / msPerStage.floorEager,
          rounds,
        });

        if (values.demo && index === servers.length - 1) demo = await runDemo(engine, setup.dev, server, work, repeats);
      } finally {
        await setup.stop();
        current = undefined;
      }
    }

    printTable(n, repeats, summaries);
    if (demo) {
      console.log(
        `\ndemo (pipelines/demo.yaml, server ${demo.server}), \`fairline demo\` as users run it with the stack up (a new process each): cold ${fmt(demo.cliColdMs / 1000, 1)} s, fully cached rerun ${fmt(median(demo.cliCachedMs) / 1000, 2)} s (median of ${demo.cliCachedMs.length}: ${demo.cliCachedMs.map((ms) => fmt(ms / 1000, 2)).join(', ')} s) = ${fmt(100 * demo.cliCachedOverCliCold, 2)} % of cold`,
      );
      console.log(
        `  in process (the workflow alone): every stage executed ${fmt(demo.coldMs / 1000, 1)} s, fully cached ${fmt(demo.cachedMs / 1000, 2)} s = ${fmt(100 * demo.cachedOverCold, 2)} %`,
      );
    }
    console.log();
    await writeReport('orchestration', {
      settings: {
        stages: n,
        repeats,
        warmups: 1,
        servers,
        stage: 'download',
        sourceBytes: SOURCE_BYTES,
        demo: values.demo === true,
      },
      environment: environment({ temporalCli: PINS.temporalCli }),
      summaries,
      ...(demo ? { demo } : {}),
    });
  } finally {
    console.log('stopping the workers and the dev server…');
    await current?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  }
}

function printTable(n: number, repeats: number, summaries: ServerSummary[]): void {
  console.log(`\n${n} stages × ${repeats} repeats, medians in ms per stage`);
  const head = ['', ...summaries.map((s) => s.server)];
  const rows: string[][] = [
    ...WAYS.map((w) => [LABELS[w], ...summaries.map((s) => fmt(s.msPerStage[w]))]),
    ['fairline overhead (fairline − direct)', ...summaries.map((s) => fmt(s.overheadMsPerStage))],
    ['overhead ÷ floor (eager allowed)', ...summaries.map((s) => `${fmt(s.overheadOverFloor)}×`)],
    [
      '  95 % interval (bootstrap over rounds)',
      ...summaries.map((s) => `${fmt(s.overheadOverFloorInterval[0])}–${fmt(s.overheadOverFloorInterval[1])}`),
    ],
    ['cached stage ÷ floor (eager allowed)', ...summaries.map((s) => `${fmt(s.cachedOverFloor)}×`)],
    ['server clock, workflow started → completed, per stage:', ...summaries.map(() => '')],
    ...WAYS.filter((w) => w !== 'direct').map((w) => [`  ${w}`, ...summaries.map((s) => fmt(s.phases[w].totalMs / n))]),
    ['fairline, per stage (server clock, means):', ...summaries.map(() => '')],
    ['  dispatch (scheduled → started)', ...summaries.map((s) => fmt(s.phases.fairline.dispatchMs))],
    ['  activity (started → completed)', ...summaries.map((s) => fmt(s.phases.fairline.activityMs))],
    ['  workflow turn (→ next scheduled)', ...summaries.map((s) => fmt(s.phases.fairline.workflowTurnMs))],
    ['  once per run: start → 1st stage', ...summaries.map((s) => fmt(s.phases.fairline.startMs))],
    ['  once per run: last stage → end', ...summaries.map((s) => fmt(s.phases.fairline.finishMs))],
    ['floor (eager allowed), per activity (server clock, means):', ...summaries.map(() => '')],
    ['  dispatch', ...summaries.map((s) => fmt(s.phases.floorEager.dispatchMs))],
    ['  activity', ...summaries.map((s) => fmt(s.phases.floorEager.activityMs))],
    ['  workflow turn', ...summaries.map((s) => fmt(s.phases.floorEager.workflowTurnMs))],
    ['  once per run: start → 1st activity', ...summaries.map((s) => fmt(s.phases.floorEager.startMs))],
    ['  once per run: last activity → end', ...summaries.map((s) => fmt(s.phases.floorEager.finishMs))],
  ];
  const width = Math.max(...rows.map(([k]) => k!.length));
  const cell = Math.max(10, ...head.map((h) => h.length + 2));
  console.log(
    `  ${''.padEnd(width)}  ${head
      .slice(1)
      .map((h) => h.padStart(cell))
      .join('')}`,
  );
  for (const [label, ...cells] of rows)
    console.log(`  ${label!.padEnd(width)}  ${cells.map((c) => c.padStart(cell)).join('')}`);
}

/**
 * `fairline demo` through the command line against the benchmark's server and workers, as with
 * `fairline dev` running: the embedded stack is found answering and a worker found polling, so
 * the command starts neither. Its config file names the engine's store, queues and read roots.
 * Returns a runner: each call is one measured command, wall ms.
 */
async function cliDemo(engine: Engine, dev: BenchServer, work: string): Promise<() => Promise<number>> {
  const configFile = join(work, 'cli-config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      store: { uri: engine.config.store.uri },
      taskQueues: engine.config.taskQueues,
      readRoots: engine.config.readRoots,
      temporal: { namespace: dev.namespace },
    }),
  );
  const env = {
    ...process.env,
    [ENV.temporalAddress]: dev.address,
    [ENV.temporalUiUrl]: dev.uiUrl,
    [ENV.temporalEmbedded]: 'true',
    [ENV.stateDir]: join(work, 'cli-state'),
  };
  return async () => {
    const started = performance.now();
    const { code, stdout, stderr } = await fairline(['--config', configFile, 'demo'], env, 900_000);
    const ms = performance.now() - started;
    if (code !== 0) throw new Error(`fairline demo exited with ${String(code)}:\n${stderr.slice(-4000)}`);
    if (!/^manifest: /m.test(stdout)) throw new Error(`fairline demo named no manifest:\n${stdout.slice(-4000)}`);
    return ms;
  };
}

/**
 * pipelines/demo.yaml through the command line: cold (the engine's store is still empty: the
 * demo runs nowhere else before), then cached, `repeats` times (at most 7). In between, in
 * process: every stage executed (`noCache`) and everything cached. The workers' store is the
 * engine's, so the command line's cold run has to come first.
 */
async function runDemo(
  engine: Engine,
  dev: BenchServer,
  server: ServerName,
  work: string,
  repeats: number,
): Promise<DemoFigures> {
  const file = join(PROJECT_ROOT, 'pipelines', 'demo.yaml');
  const validated = validatePipelineText(await readFile(file, 'utf8'), file);
  if (!validated.ok)
    throw new Error(`invalid ${file}: ${validated.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('; ')}`);
  const spec = withConfiguredQueues(validated.spec, engine.config);
  const cli = await cliDemo(engine, dev, work);
  // Unmeasured: builds the command line's kept bundle when the code changed.
  const help = await fairline(['--help'], process.env);
  if (help.code !== 0)
    throw new Error(`fairline --help exited with ${String(help.code)}:\n${help.stderr.slice(-4000)}`);
  console.log('\ndemo: cold, through the command line (three small trainings; minutes)…');
  const cliColdMs = await cli();
  console.log(`  cold through the command line: ${fmt(cliColdMs / 1000, 1)} s`);
  const executed = await runPipeline(engine, spec, true);
  console.log(
    `  in process, every stage executed: ${fmt(executed.ms / 1000, 1)} s (${executed.result.stages.map((s) => `${s.id} ${s.status}`).join(', ')})`,
  );
  const cachedRun = await runPipeline(engine, spec, false);
  console.log(
    `  in process, cached: ${fmt(cachedRun.ms / 1000, 2)} s (${cachedRun.result.stages.map((s) => `${s.id} ${s.status}`).join(', ')})`,
  );
  const cliCachedMs: number[] = [];
  for (let r = 1; r <= Math.min(repeats, 7); r++) {
    cliCachedMs.push(await cli());
    console.log(`  cached through the command line ${r}: ${fmt(cliCachedMs.at(-1)! / 1000, 2)} s`);
  }
  return {
    server,
    cliColdMs,
    cliCachedMs,
    cliCachedOverCliCold: median(cliCachedMs) / cliColdMs,
    coldMs: executed.ms,
    cachedMs: cachedRun.ms,
    cachedOverCold: cachedRun.ms / executed.ms,
    coldStages: wallByStage(executed.result),
    cachedStages: wallByStage(cachedRun.result),
  };
}

runMain(main);
