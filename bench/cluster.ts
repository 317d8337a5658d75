/**
 * Load and chaos on the production topology (infra/cluster.ts: PostgreSQL, the real Temporal
 * server, MinIO, `fairline worker` processes).
 *
 * npx tsx bench/cluster.ts [--workers 1,2,4] [--seconds 60] [--concurrency 4] [--pause 30] [--phases
 * throughput,chaos,train]
 *
 * 1. Throughput: for each worker count (cpu worker processes; one gpu worker besides), keeps
 *    `--concurrency` runs of the chaos pipeline (test/cluster-load.ts: dataset → pinned
 *    downloads → an unpinned download; every other run --no-cache) in flight for `--seconds`,
 *    and reports runs/min, executed stages/s and p50/p95 latency of executed stages (activity
 *    start to end, from the runs' progress).
 * 2. Chaos, with 3 worker processes: while runs are in flight it SIGKILLs a random worker
 *    (twice), restarts the Temporal server, freezes MinIO for `--pause` s and submits one run id
 *    twice; after each fault it times a one-stage probe run (recovery time). Then it checks what
 *    the short test asserts: every run completed, no duplicate execution, every manifest's
 *    artifacts re-hashed, the S3 secret in no history, log or manifest, no process left behind.
 * 3. Training: a short training (checkpoint every 4 steps); once two checkpoints are durable the
 *    gpu worker is SIGKILLed. Reports the step the last heartbeat named, the newest durable
 *    checkpoint (where the retry resumes), whether the trainer died with its worker, and the run's
 *    outcome.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ENV, workflowIds } from '../common/constants';
import { startCluster, type Cluster } from '../infra/cluster';
import {
  awaitRun,
  chaosPipelines,
  clusterClient,
  descendants,
  duplicatedRuns,
  killWorker,
  LoadDriver,
  pauseMinio,
  probeRecovery,
  secretSightings,
  startRun,
  stillRunning,
  trainingUnderKill,
  verifyManifests,
  type RunRecord,
  type TrainingUnderKill,
} from '../test/cluster-load';
import { tempDir, TEST_READ_ROOTS } from '../test/helpers';
import { environment, positiveInt, runMain, writeReport } from './support';

const quantile = (values: number[], q: number): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * q;
  const lo = Math.floor(position);
  const hi = Math.ceil(position);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (position - lo);
};

interface LevelResult {
  workers: number;
  runs: number;
  runsPerMin: number;
  executedStagesPerS: number;
  stageP50Ms: number;
  stageP95Ms: number;
  /** The machine's 1-minute load average at the end of the level (the machine is shared). */
  loadAverage: number;
}

function summarize(workers: number, runs: RunRecord[], seconds: number): LevelResult {
  const done = runs.filter((r) => r.status === 'succeeded');
  const executed = done.flatMap(
    (r) => r.progress?.stages.filter((s) => !s.cached && s.startedAt !== undefined && s.endedAt !== undefined) ?? [],
  );
  const latencies = executed.map((s) => s.endedAt! - s.startedAt!);
  return {
    workers,
    runs: done.length,
    runsPerMin: (done.length / seconds) * 60,
    executedStagesPerS: executed.length / seconds,
    stageP50Ms: quantile(latencies, 0.5),
    stageP95Ms: quantile(latencies, 0.95),
    loadAverage: loadavg()[0]!,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string' },
      seconds: { type: 'string' },
      concurrency: { type: 'string' },
      pause: { type: 'string' },
      phases: { type: 'string' },
    },
  });
  const phases = new Set((values.phases ?? 'throughput,chaos,train').split(','));
  const levels = (values.workers ?? '1,2,4').split(',').map((w) => positiveInt('workers', w, 1));
  const seconds = positiveInt('seconds', values.seconds, 60);
  const concurrency = positiveInt('concurrency', values.concurrency, 4);
  const pauseS = positiveInt('pause', values.pause, 30);
  const dir = await tempDir('fairline-bench-cluster-');
  const { load, probe } = await chaosPipelines(dir);
  const seenPids = new Map<number, string>();
  const tracker = setInterval(() => {
    for (const [pid, cmd] of descendants()) seenPids.set(pid, cmd);
  }, 500);

  let cluster: Cluster | undefined;
  const results: LevelResult[] = [];
  const recovery: { fault: string; seconds: number }[] = [];
  let checks: Record<string, unknown> = {};
  let training: TrainingUnderKill | undefined;
  try {
    cluster = await startCluster({
      workers: ['cpu', 'gpu'],
      log: (line) => console.error(line),
      workerEnv: { [ENV.readRoots]: TEST_READ_ROOTS.join(':') },
    });
    const { client, connection, config, store } = await clusterClient(cluster);
    try {
      // Warm-up: one run, so the first level does not pay for cold caches and workflow bundles.
      const warm = await startRun(client, config, load, `warm-${randomBytes(3).toString('hex')}`, true);
      await awaitRun(client, warm.workflowId, Date.now() + 300_000);

      for (const workers of phases.has('throughput') ? levels : []) {
        const cpuWorkers = cluster.workers.filter((w) => w.queues === 'cpu');
        while (cpuWorkers.length < workers) cpuWorkers.push(await cluster.startWorker('cpu'));
        while (cpuWorkers.length > workers) {
          const extra = cpuWorkers.pop()!;
          extra.process.kill('SIGTERM');
          await new Promise((r) => extra.process.once('exit', r));
          cluster.workers.splice(cluster.workers.indexOf(extra), 1);
        }
        const driver = new LoadDriver(
          client,
          config,
          load,
          `w${workers}-${randomBytes(3).toString('hex')}`,
          Date.now() + (seconds + 300) * 1000,
        );
        const started = Date.now();
        driver.start(concurrency);
        await new Promise((r) => setTimeout(r, seconds * 1000));
        await driver.stop();
        const elapsed = (Date.now() - started) / 1000;
        const result = summarize(workers, driver.runs, elapsed);
        results.push(result);
        console.error(`${workers} worker(s): ${JSON.stringify(result)}`);
      }

      if (phases.has('train')) {
        training = await trainingUnderKill(
          cluster,
          client,
          config,
          store,
          `train-${randomBytes(3).toString('hex')}`,
          Date.now() + 900_000,
        );
        console.error(`training under kill: ${JSON.stringify(training)}`);
      }
      if (phases.has('chaos')) {
        // Chaos with three worker processes (two cpu, one gpu).
        const cpuWorkers = cluster.workers.filter((w) => w.queues === 'cpu');
        while (cpuWorkers.length < 2) cpuWorkers.push(await cluster.startWorker('cpu'));
        while (cpuWorkers.length > 2) {
          const extra = cpuWorkers.pop()!;
          extra.process.kill('SIGTERM');
          await new Promise((r) => extra.process.once('exit', r));
          cluster.workers.splice(cluster.workers.indexOf(extra), 1);
        }
        const tag = randomBytes(3).toString('hex');
        const deadline = Date.now() + 900_000;
        const driver = new LoadDriver(client, config, load, `chaos-${tag}`, deadline);
        driver.start(concurrency);
        const dupId = `dup-${tag}`;
        const dupStarts = await Promise.allSettled([0, 1].map(() => startRun(client, config, load, dupId, true)));
        const refused = dupStarts.filter(
          (s) => s.status === 'rejected' && s.reason instanceof WorkflowExecutionAlreadyStartedError,
        ).length;
        const probes: string[] = [];
        const timeRecovery = async (fault: string): Promise<void> => {
          const id = `probe-${tag}-${probes.length}`;
          probes.push(id);
          const s = await probeRecovery(client, config, probe, id, deadline);
          recovery.push({ fault, seconds: s });
          console.error(`recovery after ${fault}: ${s.toFixed(1)} s`);
        };
        await new Promise((r) => setTimeout(r, 5_000));
        for (const round of [1, 2]) {
          // A cpu worker: it holds the workflow tasks and every stage of this pipeline (the gpu
          // worker's kill is the train phase's).
          const cpu = cluster.workers.filter((w) => w.queues === 'cpu');
          const victim = cpu[Math.floor(Math.random() * cpu.length)]!;
          await killWorker(cluster, victim);
          await timeRecovery(`SIGKILL of a ${victim.queues} worker (${round})`);
          await new Promise((r) => setTimeout(r, 5_000));
        }
        const restartStarted = Date.now();
        await cluster.temporal.restart();
        console.error(
          `Temporal server restart took ${((Date.now() - restartStarted) / 1000).toFixed(1)} s until it answered`,
        );
        await timeRecovery('Temporal server restart (SIGTERM, start)');
        await pauseMinio(cluster, pauseS * 1000);
        await timeRecovery(`MinIO frozen (SIGSTOP) for ${pauseS} s`);
        await driver.stop();
        const dup = await awaitRun(client, workflowIds.pipelineRun('chaos', dupId), deadline);

        const runs = driver.runs;
        const manifests = [...runs.map((r) => r.progress?.manifest), dup.progress?.manifest].filter(
          (m) => m !== undefined,
        );
        const verified = await verifyManifests(store, manifests);
        const ids = [
          ...runs.map((r) => r.workflowId),
          workflowIds.pipelineRun('chaos', dupId),
          ...probes.map((p) => workflowIds.pipelineRun('chaos-probe', p)),
        ];
        const sightings = await secretSightings(
          client,
          cluster.s3SecretKey!,
          ids,
          [cluster.logsDir],
          verified.texts.map((text, i) => ({ name: `manifest ${i}`, text })),
        );
        checks = {
          runs: runs.length,
          completed: runs.filter((r) => r.status === 'succeeded').length + (dup.status === 'succeeded' ? 1 : 0),
          failed: runs.filter((r) => r.status !== 'succeeded').map((r) => `${r.workflowId}: ${r.error}`),
          duplicateStartRefused: refused === 1,
          duplicatedRuns: await duplicatedRuns(client),
          artifactsVerified: verified.artifacts,
          digestProblems: verified.problems,
          secretSightings: sightings,
        };
      }
    } finally {
      await store.close();
      await connection.close();
    }
  } finally {
    for (const [pid, cmd] of descendants()) seenPids.set(pid, cmd);
    clearInterval(tracker);
    await cluster?.stop();
  }
  // tsx's esbuild service is this process's own helper, not something the cluster started.
  const leftBehind = stillRunning(seenPids.keys())
    .filter((pid) => !/esbuild --service/.test(seenPids.get(pid) ?? ''))
    .map((pid) => `${pid}: ${seenPids.get(pid)}`);
  checks.processesLeftBehind = leftBehind;

  const table = [
    '| worker processes (cpu) | runs | runs/min | executed stages/s | stage p50 (ms) | stage p95 (ms) | load average |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.workers} | ${r.runs} | ${r.runsPerMin.toFixed(1)} | ${r.executedStagesPerS.toFixed(2)} | ${r.stageP50Ms.toFixed(0)} | ${r.stageP95Ms.toFixed(0)} | ${r.loadAverage.toFixed(1)} |`,
    ),
    '',
    '| fault | recovery (s) |',
    '| --- | ---: |',
    ...recovery.map((r) => `| ${r.fault} | ${r.seconds.toFixed(1)} |`),
  ].join('\n');
  console.log(table);
  console.log(JSON.stringify({ checks, training }, null, 2));
  const file = await writeReport('cluster', {
    environment: environment({ seconds, concurrency, levels, phases: [...phases] }),
    results,
    recovery,
    checks,
    training,
  });
  await writeFile(join(dir, 'table.md'), `${table}\n`);
  console.log(`table also in ${join(dir, 'table.md')} (results: ${file})`);
}

runMain(main);
