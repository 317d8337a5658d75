/**
 * Crash recovery and cancellation of a training stage, as an operator sees them:
 *
 * - kill → resume: a worker process running the `train` stage is SIGKILLed and a fresh worker is
 *   started at once; timed from the kill until the stage's next attempt has started on the new
 *   worker (pending activity attempt + 1, its start time on the server's clock) and until the new
 *   trainer's first step (a heartbeat with a step past the checkpoint it resumed from);
 * - cancel → stop: `handle.cancel()` on a run whose trainer is training; timed until the trainer
 *   process has exited, with the steps trained after the cancel (from its heartbeats);
 * - run end → CLI exit: `fairline run` (attached) of a pipeline that fails at once (a download of a
 *   missing file); timed from the workflow's close (server clock) until the command has exited.
 *
 * "Training again" after a kill is read from the heartbeat details the server holds, so it includes
 * the heartbeat throttling of the checkout under test: it is when an operator sees progress again.
 *
 *     npx tsx bench/recovery.ts [--root DIR] [--repeats 1]
 *
 * `--root` runs the workers and the client of another checkout of fairline (the code before a
 * change, e.g. `git archive <commit> | tar -x -C DIR` with node_modules linked), so both sides run
 * on this machine and this Temporal dev server (started here). The pipeline uses the train
 * stage's default retry policy and timeouts (whatever the checkout's defaults are). Results go to
 * bench/results/recovery-<timestamp>.json.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { PROJECT_ROOT } from '../common/paths';
import { tinyTrainingPipeline } from '../test/pipelines';
import { startTemporalDevServer } from '../infra/temporal';
import { stopProcess } from '../infra/process';
import { environment, median, positiveInt, runMain, writeReport } from './support';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A tiny model over the demo data, long enough to be mid-training when the bench acts. */
function pipelineYaml(): string {
  return tinyTrainingPipeline({ name: 'recovery', epochs: 400, checkpointEvery: 20 });
}

function startWorker(root: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(root, 'cli', 'bin.mjs'), 'worker'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((ready, fail) => {
    let seen = '';
    const onData = (c: Buffer): void => {
      seen += c.toString();
      if (seen.includes('worker: polling')) ready(child);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => fail(new Error(`worker exited ${code}: ${seen.slice(-2000)}`)));
  });
}

function trainersOf(parent: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(parent), '-f', 'trainer train'])
      .toString()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface Pending {
  attempt: number;
  step?: number;
  startedMs?: number;
}

async function pendingTrain(client: Client, workflowId: string): Promise<Pending | undefined> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const activity = description.raw.pendingActivities?.find((a) => a.activityId === 'model');
  if (!activity) return undefined;
  let step: number | undefined;
  const payload = activity.heartbeatDetails?.payloads?.[0]?.data;
  if (payload) {
    try {
      const details: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
      if (details && typeof details === 'object' && 'step' in details && typeof details.step === 'number')
        step = details.step;
    } catch {
      // not JSON: no step
    }
  }
  const started = activity.lastStartedTime;
  return {
    attempt: activity.attempt ?? 1,
    ...(step !== undefined ? { step } : {}),
    ...(started ? { startedMs: Number(started.seconds ?? 0) * 1000 + Math.floor((started.nanos ?? 0) / 1e6) } : {}),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { root: { type: 'string' }, repeats: { type: 'string' } } });
  const root = values.root ?? PROJECT_ROOT;
  const repeats = positiveInt('repeats', values.repeats, 1);
  const server = await startTemporalDevServer();
  const work = await mkdtemp(join(tmpdir(), 'fairline-recovery-'));
  const file = join(work, 'recovery.yaml');
  await writeFile(file, pipelineYaml());
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FAIRLINE_TEMPORAL_ADDRESS: server.address,
    FAIRLINE_TEMPORAL_UI_URL: server.uiUrl,
    FAIRLINE_STORE: pathToFileURL(join(work, 'store')).href,
    FAIRLINE_READ_ROOTS: [PROJECT_ROOT, root, work].join(':'),
  };
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const workers: ChildProcess[] = [];
  const kills: { resumeStartMs: number; firstStepMs: number; attempt: number }[] = [];
  const cancels: { stopMs: number; stepsAfterCancel: number }[] = [];
  const cliEnds: number[] = [];
  const start = (id: string): void => {
    execFileSync(process.execPath, [join(root, 'cli', 'bin.mjs'), 'run', file, '--id', id, '--detach'], {
      cwd: root,
      env,
      stdio: 'ignore',
    });
  };
  /** Waits until the trainer of `worker` is training (a step heartbeat), returns its pid and step. */
  const training = async (
    worker: ChildProcess,
    workflowId: string,
    pastStep = 0,
  ): Promise<{ pid: number; step: number }> => {
    for (let i = 0; i < 6000; i++) {
      const [pid] = trainersOf(worker.pid!);
      const pending = await pendingTrain(client, workflowId).catch(() => undefined);
      if (pid !== undefined && pending?.step !== undefined && pending.step > pastStep)
        return { pid, step: pending.step };
      await sleep(100);
    }
    throw new Error('training never started');
  };
  try {
    for (let r = 0; r < repeats; r++) {
      // kill → resume
      let worker = await startWorker(root, env);
      workers.push(worker);
      const killId = `kill-${r}-${Date.now()}`;
      const killWorkflow = `pipeline/recovery/${killId}`;
      start(killId);
      const before = await training(worker, killWorkflow, 40);
      const attemptBefore = (await pendingTrain(client, killWorkflow))!.attempt;
      worker.kill('SIGKILL');
      const killedAt = Date.now();
      worker = await startWorker(root, env);
      workers.push(worker);
      let resumeStartMs = NaN;
      let firstStepMs = NaN;
      let attempt = attemptBefore;
      // The new attempt's first heartbeats carry no step (setup); a step after them is the new trainer's.
      let sawSetup = false;
      for (;;) {
        const pending = await pendingTrain(client, killWorkflow).catch(() => undefined);
        if (
          pending &&
          pending.attempt > attemptBefore &&
          Number.isNaN(resumeStartMs) &&
          pending.startedMs !== undefined &&
          pending.startedMs > killedAt - 1000
        ) {
          resumeStartMs = pending.startedMs - killedAt;
          attempt = pending.attempt;
        }
        if (!Number.isNaN(resumeStartMs) && pending?.step === undefined) sawSetup = true;
        if (
          sawSetup &&
          trainersOf(worker.pid!).length > 0 &&
          pending?.step !== undefined &&
          pending.attempt > attemptBefore
        ) {
          firstStepMs = Date.now() - killedAt;
          break;
        }
        if (Date.now() - killedAt > 400_000) throw new Error('no resume within 400 s');
        await sleep(100);
      }
      kills.push({ resumeStartMs, firstStepMs, attempt });
      console.log(
        `kill → resume: next attempt (${attempt}) started after ${(resumeStartMs / 1000).toFixed(1)} s, training again after ${(firstStepMs / 1000).toFixed(1)} s (killed at step ${before.step})`,
      );
      await client.workflow.getHandle(killWorkflow).cancel();

      // cancel → stop
      const cancelId = `cancel-${r}-${Date.now()}`;
      const cancelWorkflow = `pipeline/recovery/${cancelId}`;
      start(cancelId);
      const running = await training(worker, cancelWorkflow, 40);
      const cancelledAt = Date.now();
      await client.workflow.getHandle(cancelWorkflow).cancel();
      let lastStep = running.step;
      while (alive(running.pid)) {
        const pending = await pendingTrain(client, cancelWorkflow).catch(() => undefined);
        if (pending?.step !== undefined) lastStep = Math.max(lastStep, pending.step);
        if (Date.now() - cancelledAt > 300_000) throw new Error('the trainer did not stop within 300 s');
        await sleep(50);
      }
      const stopMs = Date.now() - cancelledAt;
      cancels.push({ stopMs, stepsAfterCancel: lastStep - running.step });
      console.log(
        `cancel → stop: trainer exited ${(stopMs / 1000).toFixed(1)} s after the cancel, ≥ ${lastStep - running.step} steps trained after it (heartbeat view)`,
      );
      // run end → CLI exit
      const failId = `fail-${r}-${Date.now()}`;
      const failing = join(work, 'failing.yaml');
      await writeFile(
        failing,
        `name: failing\nstages:\n  - { id: gone, uses: download, with: { url: "file://${work}/no-such-file.csv" } }\n`,
      );
      const cli = spawn(process.execPath, [join(root, 'cli', 'bin.mjs'), 'run', failing, '--id', failId], {
        cwd: root,
        env,
        stdio: 'ignore',
      });
      await new Promise((done) => cli.on('exit', done));
      const exitedAt = Date.now();
      const closed = (await client.workflow.getHandle(`pipeline/failing/${failId}`).describe()).closeTime;
      const cliMs = exitedAt - (closed?.getTime() ?? exitedAt);
      cliEnds.push(cliMs);
      console.log(`run end → CLI exit: ${(cliMs / 1000).toFixed(2)} s`);
      for (const w of workers.splice(0)) await stopProcess(w, 5_000);
    }
  } finally {
    for (const w of workers) await stopProcess(w, 5_000);
    await connection.close();
    await server.stop();
  }
  const summary = {
    killToNextAttemptS: median(kills.map((k) => k.resumeStartMs / 1000)),
    killToTrainingS: median(kills.map((k) => k.firstStepMs / 1000)),
    cancelToStopS: median(cancels.map((c) => c.stopMs / 1000)),
    runEndToCliExitS: median(cliEnds.map((ms) => ms / 1000)),
  };
  console.log(JSON.stringify(summary));
  await writeReport('recovery', { environment: environment({ root, repeats }), kills, cancels, cliEnds, summary });
}

runMain(main);
