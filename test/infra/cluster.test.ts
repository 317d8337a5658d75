/**
 * The production topology, for real: PostgreSQL, the Temporal server built from
 * go.temporal.io/server (schemas by temporal-sql-tool), MinIO, and three `fairline worker`
 * processes (two cpu, one gpu). First `fairline setup` against it; then the short chaos suite:
 * runs in flight (TypeScript stages, half of them --no-cache) and a short training while cpu
 * workers are SIGKILLed twice, the gpu worker once mid-training, the Temporal server restarts,
 * MinIO is frozen for 20 s and one run id is submitted twice at once. The longer version with
 * figures is bench/cluster.ts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { Client, Connection } from '@temporalio/client';
import { ENV, SEARCH_ATTRIBUTES, workflowIds } from '../../common/constants';
import { startCluster, type Cluster } from '../../infra/cluster';
import { postgresBinDir } from '../../infra/cluster-tools';
import type { ArtifactStore } from '../../store';
import type { FairlineConfig } from '../../temporal.config';
import {
  awaitRun,
  chaosPipelines,
  startRun,
  clusterClient,
  descendants,
  duplicatedRuns,
  killWorker,
  LoadDriver,
  pauseMinio,
  probeRecovery,
  secretSightings,
  stillRunning,
  trainingUnderKill,
  verifyManifests,
} from '../cluster-load';
import { cleanEnv, fairline, tempDir, TEST_READ_ROOTS } from '../helpers';

const execFileAsync = promisify(execFile);

describe('the PostgreSQL-backed cluster', { timeout: 600_000 }, () => {
  let cluster: Cluster;
  let client: Client;
  let connection: Connection;
  let config: FairlineConfig;
  let store: ArtifactStore;
  const seenPids = new Map<number, string>();
  let tracker: NodeJS.Timeout | undefined;
  const cliOutputs: { name: string; text: string }[] = [];

  /** Rows of a query against the cluster's PostgreSQL, one string per row. */
  const psql = async (database: string, sql: string): Promise<string[]> => {
    const { stdout } = await execFileAsync(join(postgresBinDir()!, 'psql'), [
      '-h',
      '127.0.0.1',
      '-p',
      String(cluster.postgres.port),
      '-U',
      'temporal',
      '-d',
      database,
      '-Atc',
      sql,
    ]);
    return stdout.split('\n').filter(Boolean);
  };

  before(async () => {
    tracker = setInterval(() => {
      for (const [pid, cmd] of descendants()) seenPids.set(pid, cmd);
    }, 500);
    // The pipelines this suite writes live in the temp folder: a local stack's workers read only readable roots.
    cluster = await startCluster({
      workers: ['cpu', 'cpu', 'gpu'],
      workerEnv: { [ENV.readRoots]: TEST_READ_ROOTS.join(':') },
    });
    ({ client, connection, config, store } = await clusterClient(cluster));
  });

  after(async () => {
    clearInterval(tracker);
    await store?.close();
    await connection?.close();
    await cluster?.stop();
  });

  it("runs the real 1.29 server on PostgreSQL: the namespace and the runs' visibility rows are in its databases", async () => {
    const info = await connection.workflowService.getSystemInfo({});
    assert.ok(info.serverVersion?.startsWith('1.29.'), `server version ${info.serverVersion}`);
    assert.deepEqual(await psql('temporal', 'SELECT name FROM namespaces ORDER BY name'), [
      'fairline',
      'temporal-system',
    ]);
    const handle = await startRun(
      client,
      config,
      (await chaosPipelines(await tempDir('fairline-pg-'))).probe,
      `pg-${randomBytes(3).toString('hex')}`,
      true,
      'probe.yaml',
    );
    await handle.result();
    // Visibility is PostgreSQL too: the run is a row of its executions_visibility table.
    const rows = await psql(
      'temporal_visibility',
      `SELECT status FROM executions_visibility WHERE workflow_id = '${handle.workflowId}'`,
    );
    assert.deepEqual(rows, ['2'], 'one row, status 2 (completed)');
  });

  it("serves a 200 on every worker process's /healthz while it polls", async () => {
    for (const worker of cluster.workers) {
      const response = await fetch(worker.healthUrl);
      assert.equal(response.status, 200, `worker ${worker.id} (${worker.queues})`);
      assert.deepEqual(
        ((await response.json()) as { states: string[] }).states.every((s) => s === 'RUNNING'),
        true,
      );
    }
  });

  it('fairline setup creates a missing namespace with every search attribute, then changes nothing on a second run', async () => {
    const env = cleanEnv({ ...cluster.env, FAIRLINE_TEMPORAL_NAMESPACE: `setup-${randomBytes(3).toString('hex')}` });
    const first = await fairline(['setup', '--retention', '1', '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    const firstResult = JSON.parse(first.stdout) as { namespaceCreated: boolean; searchAttributesAdded: string[] };
    assert.equal(firstResult.namespaceCreated, true);
    assert.deepEqual(firstResult.searchAttributesAdded.sort(), Object.keys(SEARCH_ATTRIBUTES).sort());
    const second = await fairline(['setup', '--json'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(JSON.parse(second.stdout), { ...firstResult, namespaceCreated: false, searchAttributesAdded: [] });
    cliOutputs.push({
      name: 'fairline setup output',
      text: first.stdout + first.stderr + second.stdout + second.stderr,
    });
  });

  it('fairline setup refuses a retention that is not a whole number of days', async () => {
    const result = await fairline(['setup', '--retention', '0.5'], cleanEnv({ ...cluster.env }));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--retention takes a whole number of days/);
  });

  it('survives killed workers, a server restart and a frozen MinIO: every run completes once, a training resumes from its checkpoint, every artifact verifies, no secret leaks, nothing is left running', async () => {
    const dir = await tempDir('fairline-chaos-');
    const { load, probe } = await chaosPipelines(dir);
    const tag = randomBytes(3).toString('hex');
    const deadline = Date.now() + 400_000;
    const driver = new LoadDriver(client, config, load, `run-${tag}`, deadline);
    driver.start(3);
    // Meanwhile a short training, whose gpu worker is SIGKILLed once two checkpoints are durable.
    const training = trainingUnderKill(cluster, client, config, store, `train-${tag}`, deadline);

    // The same run id twice at once, through the CLI as a user would: one start, one refusal.
    const pipelineFile = `${dir}/chaos.yaml`;
    await (await import('node:fs/promises')).writeFile(pipelineFile, load);
    const dupId = `dup-${tag}`;
    const env = cleanEnv({ ...cluster.env });
    // The second start must reach the server while the first run still runs (an ended run's id may
    // be used again): both commands start from the same kept bundle, none building it first, and
    // the run computes every stage (--no-cache) rather than finishing from the cache in a blink.
    await fairline(['--help'], env);
    const dups = await Promise.all(
      [0, 1].map(() => fairline(['run', pipelineFile, '--id', dupId, '--detach', '--no-cache'], env)),
    );
    cliOutputs.push(...dups.map((d, i) => ({ name: `fairline run (duplicate ${i})`, text: d.stdout + d.stderr })));
    // The second start is refused with the CLI's own exit code for a duplicate run id (3).
    assert.deepEqual(dups.map((d) => d.code).sort(), [0, 3], dups.map((d) => d.stderr).join('\n'));
    assert.match(dups.find((d) => d.code === 3)!.stderr, /is already running/);

    const probes: string[] = [];
    const recover = async (what: string): Promise<number> => {
      const id = `probe-${tag}-${probes.length}`;
      probes.push(id);
      const seconds = await probeRecovery(client, config, probe, id, deadline);
      process.stderr.write(`recovery after ${what}: ${seconds.toFixed(1)} s\n`);
      return seconds;
    };

    await new Promise((r) => setTimeout(r, 3_000));
    // cpu workers: they hold the workflow tasks and every stage of this pipeline.
    const cpuWorkers = (): typeof cluster.workers => cluster.workers.filter((w) => w.queues === 'cpu');
    const victim = cpuWorkers()[Math.floor(Math.random() * 2)]!;
    await killWorker(cluster, victim);
    await recover(`SIGKILL of worker ${victim.id} (${victim.queues})`);

    await cluster.temporal.restart();
    await recover('a Temporal server restart');

    await pauseMinio(cluster, 20_000);
    await recover('MinIO frozen for 20 s');

    const second = cpuWorkers()[Math.floor(Math.random() * 2)]!;
    await killWorker(cluster, second);
    await recover(`SIGKILL of worker ${second.id} (${second.queues})`);

    await driver.stop();
    const trained = await training;
    assert.equal(trained.status, 'succeeded', trained.error);
    assert.ok((trained.trainAttempts ?? 0) >= 2, 'the training was retried after its worker died');
    assert.ok(
      trained.stepsRecomputed !== undefined && trained.stepsRecomputed <= trained.checkpointInterval,
      `recomputed ${trained.stepsRecomputed} steps, interval ${trained.checkpointInterval}`,
    );
    assert.deepEqual(trained.trainerProcessesLeft, [], 'the trainer died with its worker');
    const dupOutcome = await awaitRun(client, workflowIds.pipelineRun('chaos', dupId), deadline);

    const runs = driver.runs;
    assert.ok(runs.length >= 6, `only ${runs.length} runs were submitted`);
    const failed = runs.filter((r) => r.status !== 'succeeded');
    assert.deepEqual(
      failed.map((r) => `${r.workflowId}: ${r.error}`),
      [],
    );
    assert.equal(dupOutcome.status, 'succeeded', dupOutcome.error);
    assert.ok(
      runs.some((r) => !r.noCache && r.progress?.stages.some((s) => s.cached)),
      'some runs were served from the cache',
    );

    assert.deepEqual(await duplicatedRuns(client), []);

    const manifests = [
      ...runs.map((r) => r.progress?.manifest),
      dupOutcome.progress?.manifest,
      trained.manifest,
    ].filter((m) => m !== undefined);
    assert.equal(manifests.length, runs.length + 2, 'every run wrote a manifest');
    const verified = await verifyManifests(store, manifests);
    assert.deepEqual(verified.problems, []);
    assert.ok(verified.artifacts >= 5, `only ${verified.artifacts} artifacts were checked`);

    const allIds = [
      ...runs.map((r) => r.workflowId),
      workflowIds.pipelineRun('chaos', dupId),
      trained.workflowId,
      ...probes.map((p) => workflowIds.pipelineRun('chaos-probe', p)),
    ];
    const secret = cluster.s3SecretKey!;
    const sightings = await secretSightings(
      client,
      secret,
      allIds,
      [cluster.logsDir],
      [...verified.texts.map((text, i) => ({ name: `manifest ${i}`, text })), ...cliOutputs],
    );
    assert.deepEqual(sightings, []);

    // Everything this test started, down to the trainer or sql-tool grandchildren, is gone.
    for (const [pid, cmd] of descendants()) seenPids.set(pid, cmd);
    clearInterval(tracker);
    await store.close();
    await connection.close();
    await cluster.stop();
    // tsx's esbuild service is this test process's own helper, not something the cluster started.
    const left = stillRunning(seenPids.keys())
      .filter((pid) => !/esbuild --service/.test(seenPids.get(pid) ?? ''))
      .map((pid) => `${pid}: ${seenPids.get(pid)}`);
    assert.deepEqual(left, []);
  });
});
