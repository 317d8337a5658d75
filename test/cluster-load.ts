/**
 * Load and faults on the production topology (infra/cluster.ts), shared by the short chaos test
 * (test/infra/chaos.test.ts) and the longer benchmark (bench/cluster.ts).
 *
 * - chaosPipelines: pipelines of TypeScript stages only (dataset → pinned downloads → an unpinned
 *   download), with short heartbeats and fast retries, so a killed worker's stage is retried
 *   within seconds instead of the stage types' production timeouts.
 * - LoadDriver: keeps `concurrency` runs in flight (half with --no-cache, half served from the
 *   cache after their first run), records every run's workflow id and stage timings.
 * - faults: SIGKILL a worker (and start its replacement), restart the Temporal server, SIGSTOP
 *   MinIO for a while; each returns its recovery time, measured by a one-stage probe run.
 * - checks: every run completed, one execution per workflow id, every artifact in every manifest
 *   re-hashed, the S3 secret absent from histories, logs and manifests, no process left behind.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { workflowIds } from '../common/constants';
import { PROJECT_ROOT } from '../common/paths';
import type { Cluster, ClusterWorker } from '../infra/cluster';
import { validatePipelineText } from '../pipeline/validate';
import { openStore, type ArtifactStore } from '../store';
import { artifactRefSchema, type ArtifactRef } from '../store/types';
import { loadConfig, type FairlineConfig } from '../temporal.config';
import type { PipelineRunInput, RunProgress } from '../workflows/pipeline-run';

/** Stage overrides that make recovery from a dead worker quick. */
const FAST =
  'retry: { maximumAttempts: 20, initialInterval: 500ms, maximumInterval: 2s }\n    timeout: { startToClose: 5m, heartbeat: 5s }';

/** The demo's labelled data as a pipeline's first stage (id `data`), pinned, with the quick-recovery overrides. */
const DEMO_DATA = pathToFileURL(join(PROJECT_ROOT, 'data', 'demo')).href;
const DEMO_DATA_STAGE = `  - id: data
    uses: dataset
    ${FAST}
    with:
      format: json
      sources:
        train: { url: "${DEMO_DATA}/train.json", sha256: e7457f4562f848aa3722376fd1cbdfe78431823a8d2dc47a0e025ef25398bd30 }
        test: { url: "${DEMO_DATA}/test.json", sha256: db4c5e6a1dd5c38f090d16f48fef640e25cec9bbe4786940b99c3ab114231e7c }
      mapping:
        text: sentence
        labels: { column: labels }
        labelNames: [TA, UD, UI]`;

/** Writes the source files and returns the YAML of the load pipeline and of the probe. */
export async function chaosPipelines(dir: string): Promise<{ load: string; probe: string }> {
  const files: Record<string, string> = {};
  for (const name of ['a', 'b', 'c', 'd']) {
    const content = `${name}\n`.repeat(4096);
    await writeFile(join(dir, `${name}.txt`), content);
    files[name] = createHash('sha256').update(content).digest('hex');
  }
  const url = (name: string): string => pathToFileURL(join(dir, `${name}.txt`)).href;
  const load = `
name: chaos
description: TypeScript stages only, for the cluster chaos suite
stages:
${DEMO_DATA_STAGE}
  - id: a
    uses: download
    needs: [data]
    ${FAST}
    with: { url: "${url('a')}", sha256: ${files.a} }
  - id: b
    uses: download
    needs: [data]
    ${FAST}
    with: { url: "${url('b')}", sha256: ${files.b} }
  - id: c
    uses: download
    needs: [a, b]
    ${FAST}
    with: { url: "${url('c')}", sha256: ${files.c} }
  - id: unpinned
    uses: download
    needs: [c]
    ${FAST}
    with: { url: "${url('d')}" }
`;
  const probe = `
name: chaos-probe
stages:
  - id: probe
    uses: download
    ${FAST}
    with: { url: "${url('d')}" }
`;
  return { load, probe };
}

/** fairline's config for a client of the cluster (the same environment the workers get). */
export function clusterConfig(cluster: Cluster): FairlineConfig {
  return loadConfig({}, { ...cluster.env });
}

export interface RunRecord {
  workflowId: string;
  runId: string;
  noCache: boolean;
  submittedAt: number;
  endedAt?: number;
  status?: 'succeeded' | 'failed';
  error?: string;
  progress?: RunProgress;
}

/** Starts one pipelineRun the way `fairline run --detach` does. */
export async function startRun(
  client: Client,
  config: FairlineConfig,
  yaml: string,
  runId: string,
  noCache: boolean,
  file = 'chaos.yaml',
): Promise<WorkflowHandle> {
  const validation = validatePipelineText(yaml, file);
  if (!validation.ok) throw new Error(`pipeline invalid: ${JSON.stringify(validation.problems)}`);
  const spec = {
    ...validation.spec,
    stages: validation.spec.stages.map((s) => ({
      ...s,
      queue: config.taskQueues[s.queue as 'cpu' | 'gpu'] ?? s.queue,
    })),
  };
  const input: PipelineRunInput = { spec, runId, noCache, trigger: 'chaos', bookkeepingQueue: config.taskQueues.cpu };
  return client.workflow.start('pipelineRun', {
    workflowId: workflowIds.pipelineRun(spec.name, runId),
    taskQueue: config.taskQueues.cpu,
    args: [input],
  });
}

/** A failed run's reason: the workflow's failure wraps the stage's, so every message down the chain. */
function failureChain(error: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages.join(' ← ');
}

/**
 * Waits for a run's result, riding out a restarting server: while the frontend is down, the
 * long poll fails with UNAVAILABLE, and the wait simply starts again.
 */
export async function awaitRun(
  client: Client,
  workflowId: string,
  deadlineMs: number,
): Promise<{ status: 'succeeded' | 'failed'; progress?: RunProgress; error?: string }> {
  for (;;) {
    try {
      const progress = (await client.workflow.getHandle(workflowId).result()) as RunProgress;
      return { status: 'succeeded', progress };
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'WorkflowFailedError') return { status: 'failed', error: failureChain(error) };
      if (Date.now() > deadlineMs)
        return { status: 'failed', error: `no result before the deadline: ${(error as Error).message}` };
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Keeps `concurrency` runs in flight until stop(); every other run is --no-cache. */
export class LoadDriver {
  readonly runs: RunRecord[] = [];
  private stopping = false;
  private readonly loops: Promise<void>[] = [];
  private counter = 0;

  constructor(
    private readonly client: Client,
    private readonly config: FairlineConfig,
    private readonly yaml: string,
    private readonly prefix: string,
    private readonly deadlineMs: number,
  ) {}

  start(concurrency: number): void {
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const n = this.counter++;
      const record: RunRecord = {
        workflowId: '',
        runId: `${this.prefix}-${n}`,
        noCache: n % 2 === 0,
        submittedAt: Date.now(),
      };
      this.runs.push(record);
      record.workflowId = workflowIds.pipelineRun('chaos', record.runId);
      // The start itself retries while the server restarts.
      for (;;) {
        try {
          await startRun(this.client, this.config, this.yaml, record.runId, record.noCache);
          break;
        } catch (error) {
          if (error instanceof WorkflowExecutionAlreadyStartedError) break;
          if (Date.now() > this.deadlineMs) throw error;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      const outcome = await awaitRun(this.client, record.workflowId, this.deadlineMs);
      Object.assign(record, outcome, { endedAt: Date.now() });
    }
  }

  /** Stops submitting and waits for the runs in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }
}

/** Seconds from now until a one-stage probe run completes: how long until the cluster serves runs again. */
export async function probeRecovery(
  client: Client,
  config: FairlineConfig,
  probeYaml: string,
  runId: string,
  deadlineMs: number,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await startRun(client, config, probeYaml, runId, true, 'probe.yaml');
      break;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) break;
      if (Date.now() > deadlineMs) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const outcome = await awaitRun(client, workflowIds.pipelineRun('chaos-probe', runId), deadlineMs);
  if (outcome.status !== 'succeeded') throw new Error(`probe ${runId} failed: ${outcome.error}`);
  return (Date.now() - started) / 1000;
}

/** SIGKILLs the worker and starts a replacement polling the same queues; returns the replacement. */
export async function killWorker(cluster: Cluster, victim: ClusterWorker): Promise<ClusterWorker> {
  victim.process.kill('SIGKILL');
  await new Promise((r) =>
    victim.process.exitCode !== null || victim.process.signalCode !== null
      ? r(undefined)
      : victim.process.once('exit', r),
  );
  cluster.workers.splice(cluster.workers.indexOf(victim), 1);
  return cluster.startWorker(victim.queues);
}

/** SIGSTOPs MinIO for `ms`, then SIGCONT: every S3 request hangs meanwhile, none is refused. */
export async function pauseMinio(cluster: Cluster, ms: number): Promise<void> {
  const minio = cluster.minio;
  if (!minio) throw new Error('the cluster runs without MinIO');
  minio.process.kill('SIGSTOP');
  try {
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    minio.process.kill('SIGCONT');
  }
}

/** Workflow ids that have more than one execution, from the cluster's (PostgreSQL) visibility store. */
export async function duplicatedRuns(client: Client): Promise<string[]> {
  const counts = new Map<string, number>();
  for await (const execution of client.workflow.list({ query: `WorkflowType = 'pipelineRun'` })) {
    counts.set(execution.workflowId, (counts.get(execution.workflowId) ?? 0) + 1);
  }
  return [...counts].filter(([, n]) => n > 1).map(([id]) => id);
}

/** Every ArtifactRef anywhere inside a JSON value. */
export function artifactRefsIn(value: unknown, found: ArtifactRef[] = []): ArtifactRef[] {
  const ref = artifactRefSchema.safeParse(value);
  if (ref.success) found.push(ref.data);
  else if (Array.isArray(value)) for (const v of value) artifactRefsIn(v, found);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) artifactRefsIn(v, found);
  return found;
}

/**
 * Reads every manifest and every artifact it names, hashing the bytes here (not trusting the
 * store's own check); returns the problems and the manifests' text (for the secret scan).
 */
export async function verifyManifests(
  store: ArtifactStore,
  manifests: ArtifactRef[],
): Promise<{ problems: string[]; artifacts: number; texts: string[] }> {
  const problems: string[] = [];
  const texts: string[] = [];
  const seen = new Set<string>();
  const check = async (ref: ArtifactRef): Promise<Buffer | undefined> => {
    const stream = await store.open(ref);
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) {
        hash.update(chunk as Buffer);
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      problems.push(`${ref.uri}: ${(error as Error).message}`);
      return undefined;
    }
    const digest = hash.digest('hex');
    if (digest !== ref.sha256) problems.push(`${ref.uri}: sha256 ${digest}, the manifest says ${ref.sha256}`);
    return Buffer.concat(chunks);
  };
  for (const manifest of manifests) {
    const bytes = await check(manifest);
    if (!bytes) continue;
    const text = bytes.toString('utf8');
    texts.push(text);
    for (const ref of artifactRefsIn(JSON.parse(text))) {
      if (seen.has(`${ref.uri}@${ref.sha256}`)) continue;
      seen.add(`${ref.uri}@${ref.sha256}`);
      await check(ref);
    }
  }
  return { problems, artifacts: seen.size, texts };
}

/** Where `secret` appears: in the histories of the given workflow ids, the files under `dirs`, or `texts`. */
export async function secretSightings(
  client: Client,
  secret: string,
  workflowIdsToScan: string[],
  dirs: string[],
  texts: { name: string; text: string }[],
): Promise<string[]> {
  const found: string[] = [];
  for (const id of workflowIdsToScan) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    if (JSON.stringify(history).includes(secret)) found.push(`history of ${id}`);
  }
  for (const dir of dirs) {
    for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (!entry.isFile()) continue;
      const file = join(entry.parentPath, entry.name);
      if (readFileSync(file).includes(secret)) found.push(file);
    }
  }
  for (const { name, text } of texts) if (text.includes(secret)) found.push(name);
  return found;
}

/** Processes descended from `root` (read from /proc), by pid → command line. */
export function descendants(root: number = process.pid): Map<number, string> {
  const children = new Map<number, number[]>();
  const cmdlines = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie has exited; only its parent has not collected its status yet.
      if (fields[0] === 'Z') continue;
      const ppid = Number(fields[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
      cmdlines.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim());
    } catch {
      // The process ended while we looked.
    }
  }
  const found = new Map<number, string>();
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      found.set(child, cmdlines.get(child) ?? '');
      walk(child);
    }
  };
  walk(root);
  return found;
}

/** Which of these pids still run (zombies count as gone). */
export function stillRunning(pids: Iterable<number>): number[] {
  return [...pids].filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
}

/** A client of the cluster; close its connection when done. */
export async function clusterClient(
  cluster: Cluster,
): Promise<{ client: Client; connection: Connection; config: FairlineConfig; store: ArtifactStore }> {
  const config = clusterConfig(cluster);
  const connection = await Connection.connect({ address: config.temporal.address });
  return {
    client: new Client({ connection, namespace: config.temporal.namespace }),
    connection,
    config,
    store: openStore(config, { ...cluster.env }),
  };
}

/** A short training on the gpu queue: the demo data, a tiny scratch model, a checkpoint every `interval` steps. */
export function trainPipeline(interval: number): string {
  return `
name: chaos-train
stages:
${DEMO_DATA_STAGE}
  - id: train
    uses: train
    needs: [data]
    retry: { maximumAttempts: 5, initialInterval: 1s, maximumInterval: 2s }
    timeout: { startToClose: 20m, heartbeat: 5s }
    with:
      dataset: \${{ stages.data.outputs.train }}
      validation: \${{ stages.data.outputs.test }}
      mode: baseline
      epochs: 30 # ~300 steps: the trainer must still run when the test has seen two checkpoints and kills it
      batchSize: 8
      lr: 0.003
      maxLength: 32
      labelNames: [TA, UD, UI]
      checkpointEvery: ${interval}
`;
}

export interface TrainingUnderKill {
  checkpointInterval: number;
  /** The newest checkpoint bundle in the store when the gpu worker was killed: where the retry resumes. */
  newestCheckpointAtKill: number;
  /** The last step the killed attempt's trainer recorded (its metrics.jsonl, left in its scratch folder). */
  lastStepOfKilledAttempt: number | undefined;
  /** Steps the retry trains again: last step of the killed attempt minus the resume step. */
  stepsRecomputed: number | undefined;
  /**
   * How long the orphaned trainer lived on after its worker was killed (SIGTERM from its lifeline, then its last step
   * and checkpoint).
   */
  trainerExitSeconds: number | undefined;
  /** Trainer processes of the killed worker still running 60 s after the kill. */
  trainerProcessesLeft: string[];
  status: 'succeeded' | 'failed';
  trainAttempts: number | undefined;
  workflowId: string;
  manifest?: ArtifactRef;
  error?: string;
}

function heartbeatStep(details: unknown): number | undefined {
  const payloads = (details as { payloads?: { data?: Uint8Array | null }[] } | null | undefined)?.payloads ?? [];
  for (const payload of payloads) {
    try {
      const value = JSON.parse(Buffer.from(payload.data ?? []).toString('utf8')) as { step?: unknown };
      if (typeof value.step === 'number') return value.step;
    } catch {
      // Not a JSON heartbeat.
    }
  }
  return undefined;
}

/** The newest step a trainer recorded in its metrics.jsonl (beside its config), or undefined if unreadable. */
function lastRecordedStep(configFile: string): number | undefined {
  try {
    const outputDir = (JSON.parse(readFileSync(configFile, 'utf8')) as { outputDir: string }).outputDir;
    const steps = readFileSync(join(outputDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((line) => {
        try {
          const step: unknown = (JSON.parse(line) as { step?: unknown }).step;
          return typeof step === 'number' ? [step] : [];
        } catch {
          return []; // a line the trainer is still writing
        }
      });
    return steps.length ? Math.max(...steps) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a short training, SIGKILLs the gpu worker once at least two checkpoints are durable,
 * starts a replacement, and reports where the retry resumed and whether the trainer died with
 * its worker.
 */
export async function trainingUnderKill(
  cluster: Cluster,
  client: Client,
  config: FairlineConfig,
  store: ArtifactStore,
  runId: string,
  deadlineMs: number,
  interval = 4,
): Promise<TrainingUnderKill> {
  const handle = await startRun(client, config, trainPipeline(interval), runId, true, 'chaos-train.yaml');
  const prefix = `checkpoints/chaos-train/${runId}/`;
  const newestCheckpoint = async (): Promise<number> => {
    const steps = (await store.list(prefix)).map((o) => Number(/step-(\d+)\.json$/.exec(o.key)?.[1] ?? -1));
    return Math.max(-1, ...steps);
  };
  let step: number | undefined;
  for (;;) {
    if (Date.now() > deadlineMs) throw new Error('the training never got two checkpoints in');
    const description = await handle.describe();
    step = heartbeatStep(description.raw.pendingActivities?.find((a) => a.activityId === 'train')?.heartbeatDetails);
    if (step !== undefined && (await newestCheckpoint()) >= 2 * interval) break;
    if (description.status.name !== 'RUNNING') {
      const failure = await handle.result().then(
        () => '',
        (error: unknown) => {
          return `: ${failureChain(error)}`;
        },
      );
      throw new Error(`the training run ended (${description.status.name}) before the kill${failure}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  const newestAtKill = await newestCheckpoint();
  const victim = cluster.workers.find((w) => w.queues === 'gpu' || w.queues === 'cpu,gpu');
  if (!victim?.process.pid) throw new Error('no gpu worker to kill');
  const trainers = [...descendants(victim.process.pid)].filter(([, cmd]) => /-m trainer train/.test(cmd));
  const killedAt = Date.now();
  const replacement = killWorker(cluster, victim);
  // The killed attempt's trainer writes its last steps after the kill, and the replacement worker
  // sweeps the dead worker's scratch folder when it starts: its metrics are read while it lives.
  const configFile = /--config (\S+)/.exec(trainers[0]?.[1] ?? '')?.[1];
  let lastStep: number | undefined;
  const readLastStep = (): void => {
    const step = configFile ? lastRecordedStep(configFile) : undefined;
    if (step !== undefined) lastStep = Math.max(lastStep ?? step, step);
  };
  let trainerExitSeconds: number | undefined;
  while (Date.now() - killedAt < 60_000) {
    readLastStep();
    if (stillRunning(trainers.map(([pid]) => pid)).length === 0) {
      trainerExitSeconds = (Date.now() - killedAt) / 1000;
      readLastStep();
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const left = stillRunning(trainers.map(([pid]) => pid)).map(
    (pid) => `${pid}: ${trainers.find(([p]) => p === pid)?.[1]}`,
  );
  await replacement;
  const outcome = await awaitRun(client, handle.workflowId, deadlineMs);
  return {
    checkpointInterval: interval,
    newestCheckpointAtKill: newestAtKill,
    lastStepOfKilledAttempt: lastStep,
    stepsRecomputed: lastStep === undefined ? undefined : lastStep - newestAtKill,
    trainerExitSeconds,
    trainerProcessesLeft:
      trainers.length === 0 ? ['(no trainer process was found under the worker before the kill)'] : left,
    status: outcome.status,
    trainAttempts: outcome.progress?.stages.find((s) => s.id === 'train')?.attempts,
    workflowId: handle.workflowId,
    ...(outcome.progress?.manifest ? { manifest: outcome.progress.manifest } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
  };
}
