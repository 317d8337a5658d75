/**
 * `pipelineRun`: runs a validated RunSpec as a DAG of activities. Deterministic code only: it
 * decides what runs when, and every byte of data moves inside activities (as ArtifactRefs here).
 *
 * Scheduling: a stage starts once every stage it `needs` has succeeded (or was served from the
 * cache), at most `maxParallel` at a time. When a stage fails, the stages downstream of it are
 * marked skipped and never start; independent branches run to their end, then the run fails
 * naming the first failed stage.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  proxyLocalActivities,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { ArtifactRef } from '../store/types';
import type { Json, ResolvedStage, RunSpec } from '../pipeline/run-spec';
import { resolveWith, type StageOutputs } from './resolve';

type Activities = ReturnType<typeof createActivities>;

export type StageStatus = 'pending' | 'running' | 'succeeded' | 'cached' | 'failed' | 'skipped' | 'cancelled';

export interface StageState {
  id: string;
  uses: string;
  queue: string;
  status: StageStatus;
  cached: boolean;
  /** Attempts the stage's activity took (1 when it succeeded at once). */
  attempts?: number;
  startedAt?: number;
  endedAt?: number;
  /** The stage's resolved `with` (other stages' outputs in place): its inputs, for lineage. */
  inputs?: Record<string, Json>;
  outputs?: StageOutputs;
  error?: string;
  /** The stage that failed upstream, for skipped stages. */
  skippedBecause?: string;
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface RunProgress {
  pipeline: string;
  runId: string;
  status: RunStatus;
  stages: StageState[];
  manifest?: ArtifactRef;
}

export interface PipelineRunInput {
  spec: RunSpec;
  runId: string;
  /** Ignore cached results (they are still written for later runs). */
  noCache?: boolean;
  /** Upper bound on stages running at once. */
  maxParallel?: number;
  /** Who started the run: cli, schedule, backfill. */
  trigger?: string;
  /** Git commit of the client's checkout, when known; recorded in the manifest. */
  gitCommit?: string;
  /** Task queue of the run's own bookkeeping activities (the manifest): the configured cpu queue. */
  bookkeepingQueue: string;
}

export interface PipelineRunResult extends RunProgress {
  status: 'succeeded';
}

export const progressQuery = defineQuery<RunProgress>('progress');

const DEFAULT_MAX_PARALLEL = 4;

export async function pipelineRun(input: PipelineRunInput): Promise<PipelineRunResult> {
  const { spec, runId } = input;
  const maxParallel = input.maxParallel ?? DEFAULT_MAX_PARALLEL;
  const states = new Map<string, StageState>(
    spec.stages.map((s) => [s.id, { id: s.id, uses: s.uses, queue: s.queue, status: 'pending', cached: false }]),
  );
  const progress: RunProgress = { pipeline: spec.name, runId, status: 'running', stages: [...states.values()] };
  setHandler(progressQuery, () => progress);

  const cacheActs = proxyLocalActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });
  const bookkeeping = proxyActivities<Activities>({
    taskQueue: input.bookkeepingQueue,
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 5 },
  });

  upsertSearchAttributes({ FairlinePipeline: [spec.name], FairlineStatus: ['running'], ...(input.trigger ? { FairlineTrigger: [input.trigger] } : {}) });

  const running = new Map<string, Promise<void>>();
  let firstFailure: { stage: string; error: unknown } | undefined;

  const downstreamOf = (failed: string): void => {
    for (const stage of spec.stages) {
      const state = states.get(stage.id)!;
      if (state.status === 'pending' && dependsOn(spec.stages, stage.id, failed)) {
        state.status = 'skipped';
        state.skippedBecause = failed;
      }
    }
  };

  const runStage = async (stage: ResolvedStage): Promise<void> => {
    const state = states.get(stage.id)!;
    state.status = 'running';
    state.startedAt = Date.now();
    upsertSearchAttributes({ FairlineStage: [stage.id] });
    const outputsSoFar = Object.fromEntries([...states.values()].filter((s) => s.outputs).map((s) => [s.id, s.outputs!]));
    const resolvedWith = resolveWith(stage.with, outputsSoFar);
    state.inputs = resolvedWith;
    try {
      const lookup = stage.cache && !input.noCache ? await cacheActs.cacheLookup({ stage: describe(stage, resolvedWith) }) : undefined;
      if (lookup?.hit) {
        state.status = 'cached';
        state.cached = true;
        state.outputs = lookup.outputs;
      } else {
        const acts = proxyActivities<Activities>({
          taskQueue: stage.queue,
          startToCloseTimeout: stage.timeout.startToCloseMs,
          ...(stage.timeout.heartbeatMs ? { heartbeatTimeout: stage.timeout.heartbeatMs } : {}),
          ...(stage.timeout.scheduleToStartMs ? { scheduleToStartTimeout: stage.timeout.scheduleToStartMs } : {}),
          retry: {
            maximumAttempts: stage.retry.maximumAttempts,
            initialInterval: stage.retry.initialIntervalMs,
            backoffCoefficient: stage.retry.backoffCoefficient,
            maximumInterval: stage.retry.maximumIntervalMs,
          },
          // The activity waits for its own cleanup (killing a trainer, removing temp files)
          // before the workflow sees it as cancelled.
          cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
          summary: `${stage.id} (${stage.uses})`,
          // The stage id as activity id lets `fairline run` match heartbeats to stages.
          activityId: stage.id,
        });
        const result = await acts.runStage({
          pipeline: spec.name,
          runId,
          stage: describe(stage, resolvedWith),
          recordCache: stage.cache,
        });
        state.status = 'succeeded';
        state.outputs = result.outputs;
        state.attempts = result.attempt;
      }
    } catch (error) {
      if (isCancellation(error)) {
        state.status = 'cancelled';
        throw error;
      }
      state.status = 'failed';
      state.error = messageOf(error);
      firstFailure ??= { stage: stage.id, error };
      downstreamOf(stage.id);
      log.warn('stage failed', { stage: stage.id, error: state.error });
    } finally {
      state.endedAt = Date.now();
    }
  };

  try {
    for (;;) {
      for (const stage of spec.stages) {
        if (running.size >= maxParallel) break;
        const state = states.get(stage.id)!;
        if (state.status !== 'pending') continue;
        const ready = stage.needs.every((n) => ['succeeded', 'cached'].includes(states.get(n)!.status));
        if (!ready) continue;
        running.set(stage.id, runStage(stage).finally(() => running.delete(stage.id)));
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
  } catch (error) {
    if (isCancellation(error)) {
      for (const state of states.values()) if (state.status === 'pending' || state.status === 'running') state.status = 'cancelled';
      progress.status = 'cancelled';
      await CancellationScope.nonCancellable(async () => {
        await Promise.allSettled(running.values());
        upsertSearchAttributes({ FairlineStatus: ['cancelled'] });
        progress.manifest = await bookkeeping.writeManifest(manifestInput(input, progress));
      });
    }
    throw error;
  }

  progress.status = firstFailure ? 'failed' : 'succeeded';
  upsertSearchAttributes({ FairlineStatus: [progress.status] });
  progress.manifest = await bookkeeping.writeManifest(manifestInput(input, progress));
  if (firstFailure) {
    throw ApplicationFailure.create({
      type: 'StageFailed',
      message: `stage "${firstFailure.stage}" failed: ${messageOf(firstFailure.error)}`,
      nonRetryable: true,
      cause: firstFailure.error instanceof Error ? firstFailure.error : undefined,
      details: [progress],
    });
  }
  return { ...progress, status: 'succeeded' };
}

function describe(stage: ResolvedStage, resolvedWith: Record<string, Json>) {
  return { id: stage.id, uses: stage.uses, version: stage.version, with: resolvedWith };
}

function manifestInput(input: PipelineRunInput, progress: RunProgress) {
  return {
    pipeline: input.spec.name,
    runId: input.runId,
    specDigest: input.spec.specDigest,
    params: input.spec.params,
    status: progress.status,
    trigger: input.trigger ?? 'cli',
    gitCommit: input.gitCommit,
    stages: progress.stages,
  };
}

/** True when `stage` needs `ancestor`, directly or through other stages. */
function dependsOn(stages: ResolvedStage[], stage: string, ancestor: string): boolean {
  const byId = new Map(stages.map((s) => [s.id, s]));
  const seen = new Set<string>();
  const stack = [...(byId.get(stage)?.needs ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (next === ancestor) return true;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(byId.get(next)?.needs ?? []));
  }
  return false;
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    // Activity failures wrap the activity's own error as their cause: that message is the useful one.
    return error.cause instanceof Error ? error.cause.message : error.message;
  }
  return String(error);
}
