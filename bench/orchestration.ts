/**
 * Orchestration overhead per stage: what running a stage as a Temporal activity of `pipelineRun`
 * costs on top of the stage's own work.
 *
 *     npx tsx bench/orchestration.ts [--stages 20] [--repeats 5]
 *
 * The stage is the built-in `download` of a small file:// source (pinned sha256): real reads, a
 * real FsArtifactStore write (fsync included), no network. Two ways, side by side in one process:
 *
 * - orchestrated: a chain of N such stages (each `needs` the one before) as one `pipelineRun` on
 *   a real Temporal dev server (started here) with real in-process workers (test/engine.ts).
 *   Stages are `cache: false` and the run is `noCache`, so every stage executes and none reads or
 *   writes cache entries: the activity does the same work as the direct loop. Timed from
 *   `workflow.start` to its result, so it includes the run's own bookkeeping (search-attribute
 *   upserts, the manifest activity at the end), spread over the N stages.
 * - direct: the same stage implementation (activities/stages/download.ts) called N times in a
 *   loop, same inputs, same store, each call with a fresh scratch folder as runStage gives it.
 *
 * Each way runs once to warm up, then `--repeats` times, alternating. Reported: medians in
 * ms/stage, the ratio orchestrated/direct, and overhead = orchestrated − direct (ms/stage).
 * From each orchestrated run's history (server clock) it also splits a stage's time into
 * dispatch (activity scheduled → started), activity (started → completed: the stage's work plus
 * the worker's share) and workflow turn (completed → the next stage's activity scheduled: a
 * workflow task round trip). Results also go to bench/results/orchestration-<timestamp>.json
 * (git-ignored).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { temporal } from '@temporalio/proto';
import { builtinStages } from '../activities/stages';
import type { StageContext } from '../activities/stages/context';
import { withConfiguredQueues } from '../client/start';
import { PINS, workflowIds } from '../common/constants';
import { startTemporalDevServer, type DevServer } from '../infra/temporal';
import type { RunSpec } from '../pipeline/run-spec';
import { validatePipelineText } from '../pipeline/validate';
import { startEngine, type Engine } from '../test/engine';
import type { PipelineRunInput, PipelineRunResult } from '../workflows/pipeline-run';
import { environment, median, positiveInt, runMain, writeReport } from './support';

const SOURCE_BYTES = 4 * 1024;

const fmt = (ms: number, digits = 2): string => ms.toFixed(digits);

interface Phases {
  /** Medians over the run's stages, ms. */
  dispatchMs: number;
  activityMs: number;
  workflowTurnMs: number;
  /** Workflow started → first stage scheduled, and last stage completed → workflow completed (manifest), ms. */
  startMs: number;
  finishMs: number;
}

/** Splits a chain run's history (server timestamps) into per-stage phases. */
function phasesOf(history: temporal.api.history.v1.IHistory): Phases {
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
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
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'runStage') scheduled.set(id, t);
    const startedOf = e.activityTaskStartedEventAttributes?.scheduledEventId;
    if (startedOf !== undefined && startedOf !== null) started.set(String(startedOf), t);
    const completedOf = e.activityTaskCompletedEventAttributes?.scheduledEventId;
    if (completedOf !== undefined && completedOf !== null && scheduled.has(String(completedOf))) {
      const key = String(completedOf);
      stages.push({ scheduled: scheduled.get(key)!, started: started.get(key) ?? scheduled.get(key)!, completed: t });
    }
  }
  return {
    dispatchMs: median(stages.map((s) => s.started - s.scheduled)),
    activityMs: median(stages.map((s) => s.completed - s.started)),
    workflowTurnMs: median(stages.slice(1).map((s, i) => s.scheduled - stages[i]!.completed)),
    startMs: (stages[0]?.scheduled ?? workflowStarted) - workflowStarted,
    finishMs: workflowCompleted - (stages.at(-1)?.completed ?? workflowCompleted),
  };
}

/** A chain of `n` downloads of `url`, each needing the one before. */
function chainYaml(n: number, url: string, sha256: string): string {
  const id = (i: number): string => `s${String(i + 1).padStart(String(n).length, '0')}`;
  const stages = Array.from({ length: n }, (_, i) =>
    `  - { id: ${id(i)}, uses: download, cache: false${i > 0 ? `, needs: [${id(i - 1)}]` : ''}, with: { url: "${url}", sha256: "${sha256}" } }`,
  );
  return `name: bench-chain\nstages:\n${stages.join('\n')}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { stages: { type: 'string' }, repeats: { type: 'string' } } });
  const n = positiveInt('stages', values.stages, 20);
  const repeats = positiveInt('repeats', values.repeats, 5);

  let server: DevServer | undefined;
  let engine: Engine | undefined;
  let work: string | undefined;
  let stopping: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (stopping ??= (async () => {
      await engine?.close().catch((e: unknown) => console.error('closing the workers:', e));
      await server?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    })());
  const onSignal = (signal: NodeJS.Signals): void => {
    console.error(`\n${signal}: stopping the workers and the dev server`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    console.log(`orchestration benchmark: a chain of ${n} download stages (${SOURCE_BYTES / 1024} KiB file:// source), ${repeats} repeats after 1 warm-up`);
    work = await mkdtemp(join(tmpdir(), 'fairline-bench-'));
    const body = Buffer.alloc(SOURCE_BYTES, 'fairline benchmark source\n');
    const sourcePath = join(work, 'source.txt');
    await writeFile(sourcePath, body);
    const url = pathToFileURL(sourcePath).href;
    const sha256 = createHash('sha256').update(body).digest('hex');

    console.log('starting a Temporal dev server and in-process workers…');
    server = await startTemporalDevServer();
    engine = await startEngine({ address: server.address, storeDir: join(work, 'store') });
    const { client, config, store } = engine;

    const validated = validatePipelineText(chainYaml(n, url, sha256), 'bench-chain.yaml');
    if (!validated.ok) throw new Error(`invalid benchmark pipeline: ${validated.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('; ')}`);
    const spec: RunSpec = withConfiguredQueues(validated.spec, config);

    const orchestrated = async (): Promise<{ ms: number; phases: Phases }> => {
      const runId = randomUUID().slice(0, 8);
      const input: PipelineRunInput = { spec, runId, noCache: true, bookkeepingQueue: config.taskQueues.cpu, trigger: 'bench' };
      const started = performance.now();
      const handle = await client.workflow.start('pipelineRun', {
        workflowId: workflowIds.pipelineRun(spec.name, runId),
        taskQueue: config.taskQueues.cpu,
        args: [input],
      });
      const result = (await handle.result()) as PipelineRunResult;
      const elapsed = performance.now() - started;
      const ran = result.stages.filter((s) => s.status === 'succeeded').length;
      if (ran !== n) throw new Error(`expected ${n} executed stages, the run reports ${ran}`);
      return { ms: elapsed, phases: phasesOf(await handle.fetchHistory()) };
    };

    const download = builtinStages().download!.implementation;
    const stageInput = spec.stages[0]!.with;
    const direct = async (): Promise<number> => {
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const scratchDir = join(work!, 'scratch', randomUUID());
        await mkdir(scratchDir, { recursive: true });
        const context: StageContext = {
          stageId: `direct-${i}`,
          store,
          config,
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
      return performance.now() - started;
    };

    console.log('warm-up…');
    const warmOrchestrated = await orchestrated();
    const warm = { orchestratedMs: warmOrchestrated.ms, directMs: await direct() };
    const wp = warmOrchestrated.phases;
    console.log(
      `  warm-up: orchestrated ${fmt(warm.orchestratedMs / n)} ms/stage (dispatch ${fmt(wp.dispatchMs, 1)}, activity ${fmt(wp.activityMs, 1)}, turn ${fmt(wp.workflowTurnMs, 1)}), direct ${fmt(warm.directMs / n, 3)} ms/stage`,
    );

    const runs: { orchestratedMs: number; directMs: number; phases: Phases }[] = [];
    for (let r = 1; r <= repeats; r++) {
      const { ms: orchestratedMs, phases } = await orchestrated();
      const directMs = await direct();
      runs.push({ orchestratedMs, directMs, phases });
      console.log(
        `  repeat ${r}/${repeats}: orchestrated ${fmt(orchestratedMs, 0)} ms (${fmt(orchestratedMs / n)} ms/stage: dispatch ${fmt(phases.dispatchMs, 1)}, activity ${fmt(phases.activityMs, 1)}, turn ${fmt(phases.workflowTurnMs, 1)}), direct ${fmt(directMs, 1)} ms (${fmt(directMs / n, 3)} ms/stage)`,
      );
    }

    const orchestratedPerStage = median(runs.map((r) => r.orchestratedMs / n));
    const directPerStage = median(runs.map((r) => r.directMs / n));
    const phase = (key: keyof Phases): number => median(runs.map((r) => r.phases[key]));
    const summary = {
      orchestratedMsPerStage: orchestratedPerStage,
      directMsPerStage: directPerStage,
      ratio: orchestratedPerStage / directPerStage,
      overheadMsPerStage: orchestratedPerStage - directPerStage,
      phases: { dispatchMs: phase('dispatchMs'), activityMs: phase('activityMs'), workflowTurnMs: phase('workflowTurnMs'), startMs: phase('startMs'), finishMs: phase('finishMs') },
    };

    const rows: [string, string][] = [
      ['orchestrated (median)', `${fmt(summary.orchestratedMsPerStage)} ms/stage`],
      ['direct (median)', `${fmt(summary.directMsPerStage, 3)} ms/stage`],
      ['ratio orchestrated/direct', `${fmt(summary.ratio, 1)}×`],
      ['overhead', `${fmt(summary.overheadMsPerStage)} ms/stage`],
      ['  of which, per stage (server clock):', ''],
      ['  dispatch (scheduled → started)', `${fmt(summary.phases.dispatchMs)} ms`],
      ['  activity (started → completed)', `${fmt(summary.phases.activityMs)} ms`],
      ['  workflow turn (→ next scheduled)', `${fmt(summary.phases.workflowTurnMs)} ms`],
      ['  once per run: start → 1st stage', `${fmt(summary.phases.startMs)} ms`],
      ['  once per run: last stage → end', `${fmt(summary.phases.finishMs)} ms`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    console.log(`\n${n} stages × ${repeats} repeats`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v.padStart(16)}`);

    console.log();
    await writeReport('orchestration', {
      settings: { stages: n, repeats, warmups: 1, stage: 'download', sourceBytes: SOURCE_BYTES, noCache: true, stageCache: false },
      environment: environment({ temporalCli: PINS.temporalCli }),
      summary,
      warmup: warm,
      runs: runs.map((r) => ({ ...r, orchestratedMsPerStage: r.orchestratedMs / n, directMsPerStage: r.directMs / n })),
    });
  } finally {
    console.log('stopping the workers and the dev server…');
    await cleanup();
  }
}

runMain(main);
