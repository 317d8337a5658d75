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
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  proxyLocalActivities,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributeUpdatePair } from '@temporalio/common';
import { SA, workflowIds } from '../common/constants';
import type { createActivities } from '../activities';
import type { ArtifactRef } from '../store/types';
import type { Json, ResolvedStage, RunSpec } from '../pipeline/run-spec';
import { sourceBeforeTraits } from './legacy';
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
  /** The checkpoint the stage's work resumed from (an earlier attempt's or an earlier execution's). */
  resumedFrom?: { execution: string; step: number; checkpoint: string };
}

/** `skipped`: a skipIfUnchanged run found its data and spec unchanged since a successful run. */
export type RunStatus = 'running' | 'succeeded' | 'skipped' | 'failed' | 'cancelled';

export interface RunProgress {
  pipeline: string;
  runId: string;
  status: RunStatus;
  stages: StageState[];
  manifest?: ArtifactRef;
}

export interface PipelineRunInput {
  spec: RunSpec;
  /** Defaults to the part of the workflow id after `pipeline/<name>/` (scheduled runs). */
  runId?: string;
  /**
   * End early as `skipped` when the source stages (those whose type says `source`: download,
   * dataset) yield the same digests as a successful run of the same spec (nightly retraining
   * with nothing new).
   */
  skipIfUnchanged?: boolean;
  /** Ignore cached results (they are still written for later runs). */
  noCache?: boolean;
  /** Upper bound on stages running at once. */
  maxParallel?: number;
  /** Who started the run: cli, schedule, backfill; derived from the schedule's attributes when absent. */
  trigger?: string;
  /** Git commit of the client's checkout, when known; recorded in the manifest. */
  gitCommit?: string;
  /** Never resume a stage from checkpoints an earlier execution of this run id left (`fairline run --no-resume`). */
  noResume?: boolean;
  /**
   * Task queue of the run's own bookkeeping activities (finding an earlier successful run; the
   * manifest, in runs recorded before it became a local activity): the configured cpu queue.
   */
  bookkeepingQueue: string;
}

export interface PipelineRunResult extends RunProgress {
  status: 'succeeded' | 'skipped';
}

export const progressQuery = defineQuery<RunProgress>('progress');

const DEFAULT_MAX_PARALLEL = 4;
const SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);
/** A scheduled run starting this long after its scheduled time counts as a backfill. */
const BACKFILL_LAG_MS = 60_000;

export async function pipelineRun(input: PipelineRunInput): Promise<PipelineRunResult> {
  const { spec } = input;
  const info = workflowInfo();
  const runId = input.runId ?? workflowIds.runIdOf(info.workflowId);
  const trigger = input.trigger ?? triggerOf(info);
  const maxParallel = input.maxParallel ?? DEFAULT_MAX_PARALLEL;
  const states = new Map<string, StageState>(
    spec.stages.map((s) => [s.id, { id: s.id, uses: s.uses, queue: s.queue, status: 'pending', cached: false }]),
  );
  const progress: RunProgress = { pipeline: spec.name, runId, status: 'running', stages: [...states.values()] };
  setHandler(progressQuery, () => progress);

  /** Cache lookups, each named after its stage: the Web UI shows which stage a marker belongs to. */
  const cacheActsFor = (stage: ResolvedStage) =>
    proxyLocalActivities<Activities>({
      startToCloseTimeout: '1 minute',
      retry: { maximumAttempts: 3 },
      summary: `cache lookup: ${stage.id} (${stage.uses})`,
    });
  const bookkeeping = proxyActivities<Activities>({
    taskQueue: input.bookkeepingQueue,
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 5 },
  });
  // The manifest is written by the worker that runs the workflow, as a local activity: no trip
  // through the cpu queue (where it would wait behind other runs' stages on a busy cluster) and
  // no extra workflow task, so the run ends as soon as its manifest is durable. Runs recorded
  // before this wrote it as a regular activity and replay that way.
  const manifestLocal = proxyLocalActivities<Activities>({
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 5 },
    summary: 'manifest and lineage',
  });

  upsertSearchAttributes([
    { key: SA.pipeline, value: spec.name },
    { key: SA.status, value: 'running' },
    { key: SA.trigger, value: trigger },
  ]);

  const byId = new Map(spec.stages.map((s) => [s.id, s]));
  const running = new Map<string, Promise<void>>();
  let firstFailure: { stage: string; error: unknown } | undefined;

  const downstreamOf = (failed: string): void => {
    for (const stage of spec.stages) {
      const state = states.get(stage.id)!;
      // A stage that always runs waits: drive() starts or skips it once its needs have ended.
      if (state.status === 'pending' && !stage.alwaysRuns && dependsOn(byId, stage.id, failed)) {
        state.status = 'skipped';
        state.skippedBecause = failed;
      }
    }
  };

  const memo: Record<string, string> = {};
  /** Shows a stage's outputs as the search attributes and memo keys its type asks for. */
  const publish = (stage: ResolvedStage, outputs: StageOutputs | undefined): void => {
    if (!outputs || !stage.publish) return;
    const updates: SearchAttributeUpdatePair[] = [];
    for (const [output, name] of Object.entries(stage.publish.searchAttributes ?? {})) {
      const update = searchAttributeUpdate(name, outputs[output]);
      if (update) updates.push(update);
    }
    if (updates.length > 0) upsertSearchAttributes(updates);
    for (const [output, key] of Object.entries(stage.publish.memo ?? {})) {
      const uri = uriOf(outputs[output]);
      if (uri) memo[key] = uri;
    }
  };

  const runStage = async (stage: ResolvedStage): Promise<void> => {
    const state = states.get(stage.id)!;
    state.status = 'running';
    state.startedAt = Date.now();
    upsertSearchAttributes([{ key: SA.stage, value: stage.id }]);
    const outputsSoFar = Object.fromEntries(
      [...states.values()].filter((s) => s.outputs).map((s) => [s.id, s.outputs!]),
    );
    const resolvedWith = resolveWith(stage.with, outputsSoFar);
    state.inputs = resolvedWith;
    try {
      const lookup =
        stage.cache && !input.noCache
          ? await cacheActsFor(stage).cacheLookup({ stage: describe(stage, resolvedWith) })
          : undefined;
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
          ...(input.noResume ? { resumeEarlier: false } : {}),
          run: {
            workflowId: info.workflowId,
            specDigest: spec.specDigest,
            trigger,
            params: spec.params,
            ...(input.gitCommit ? { gitCommit: input.gitCommit } : {}),
            ...(spec.sourceFile ? { sourceFile: spec.sourceFile } : {}),
          },
        });
        state.status = 'succeeded';
        state.outputs = result.outputs;
        state.attempts = result.attempt;
        if (result.resumedFrom) state.resumedFrom = result.resumedFrom;
      }
      publish(stage, state.outputs);
    } catch (error) {
      if (isCancellation(error)) {
        state.status = 'cancelled';
        throw error;
      }
      state.status = 'failed';
      state.error = messageOf(error);
      state.attempts = attemptOfFailure(error);
      // A stage may fail with findings (an audit whose bias gate failed): they stay visible and
      // reach the stages that always run (the report).
      const handedOver = outputsOfFailure(error);
      if (handedOver) {
        state.outputs = handedOver;
        publish(stage, handedOver);
      }
      firstFailure ??= { stage: stage.id, error };
      downstreamOf(stage.id);
      log.warn('stage failed', { stage: stage.id, error: state.error });
    } finally {
      state.endedAt = Date.now();
    }
  };

  /** Starts every ready, eligible stage (up to maxParallel) until none is running. */
  const drive = async (eligible: (stage: ResolvedStage) => boolean): Promise<void> => {
    for (;;) {
      for (const stage of spec.stages) {
        if (running.size >= maxParallel) break;
        const state = states.get(stage.id)!;
        if (state.status !== 'pending' || !eligible(stage)) continue;
        const needs = stage.needs.map((n) => states.get(n)!);
        const ready = needs.every(
          (n) =>
            n.status === 'succeeded' ||
            n.status === 'cached' ||
            (stage.alwaysRuns === true && n.status === 'failed' && n.outputs !== undefined),
        );
        if (!ready) {
          const blocked =
            stage.alwaysRuns === true &&
            needs.find(
              (n) =>
                n.status === 'skipped' ||
                n.status === 'cancelled' ||
                (n.status === 'failed' && n.outputs === undefined),
            );
          if (blocked) {
            state.status = 'skipped';
            state.skippedBecause = blocked.skippedBecause ?? blocked.id;
            downstreamOf(stage.id);
          }
          continue;
        }
        running.set(
          stage.id,
          runStage(stage).finally(() => running.delete(stage.id)),
        );
      }
      if (running.size === 0) return;
      await Promise.race(running.values());
    }
  };

  // Which stages are the run's data. Runs started before stage traits reached the RunSpec keep
  // the rule they started under (workflows/legacy.ts): a skipIfUnchanged run replays its choices.
  const isSource =
    !input.skipIfUnchanged || patched('stage-traits')
      ? (stage: ResolvedStage) => stage.source === true
      : sourceBeforeTraits;
  let dataFingerprint: string | undefined;
  /** Writes the manifest of the run as it stands. */
  const writeManifest = (): Promise<ArtifactRef> =>
    (patched('manifest-local-activity') ? manifestLocal : bookkeeping).writeManifest(
      manifestInput(input, runId, trigger, progress, dataFingerprint),
    );
  try {
    if (input.skipIfUnchanged) {
      // Sources first: their digests decide whether anything downstream needs to run.
      await drive(isSource);
      dataFingerprint = fingerprintOfSources(spec.stages.filter(isSource), states);
      if (!firstFailure && dataFingerprint !== undefined) {
        const seen = await bookkeeping.findSuccessfulRun({
          pipeline: spec.name,
          specDigest: spec.specDigest,
          dataFingerprint,
        });
        if (seen) {
          for (const state of states.values()) {
            if (state.status === 'pending') {
              state.status = 'skipped';
              state.skippedBecause = `unchanged since run ${seen.runId}`;
            }
          }
          progress.status = 'skipped';
          upsertSearchAttributes([{ key: SA.status, value: 'skipped' }]);
          progress.manifest = await writeManifest();
          return { ...progress, status: 'skipped' };
        }
      }
    }
    await drive(() => true);
  } catch (error) {
    if (isCancellation(error)) {
      for (const state of states.values())
        if (state.status === 'pending' || state.status === 'running') state.status = 'cancelled';
      progress.status = 'cancelled';
      await CancellationScope.nonCancellable(async () => {
        await Promise.allSettled(running.values());
        upsertSearchAttributes([{ key: SA.status, value: 'cancelled' }]);
        progress.manifest = await writeManifest();
      });
    }
    throw error;
  }

  progress.status = firstFailure ? 'failed' : 'succeeded';
  upsertSearchAttributes([{ key: SA.status, value: progress.status }]);
  dataFingerprint ??= fingerprintOfSources(spec.stages.filter(isSource), states);
  progress.manifest = await writeManifest();
  // Runs recorded before the memo existed replay without it.
  if (patched('run-memo-summary'))
    upsertMemo({ summary: summaryOf(progress), manifest: progress.manifest.uri, ...memo });
  if (firstFailure) {
    throw ApplicationFailure.create({
      // A failed bias gate is the run's verdict, not an accident of one stage: say so in the type.
      type: failureTypeOf(firstFailure.error) === 'BiasGateFailed' ? 'BiasGateFailed' : 'StageFailed',
      message: `stage "${firstFailure.stage}" failed: ${messageOf(firstFailure.error)}`,
      nonRetryable: true,
      cause: firstFailure.error instanceof Error ? firstFailure.error : undefined,
      details: [progress],
    });
  }
  return { ...progress, status: 'succeeded' };
}

/** The ApplicationFailure type of a failed activity (BiasGateFailed, DownloadRejected, …). */
function failureTypeOf(error: unknown): string | undefined {
  return error instanceof ActivityFailure && error.cause instanceof ApplicationFailure
    ? (error.cause.type ?? undefined)
    : undefined;
}

/**
 * The attempt a failed stage ended on, from its failure's details (activities/failures.ts); unknown after a timeout.
 */
function attemptOfFailure(error: unknown): number | undefined {
  if (!(error instanceof ActivityFailure) || !(error.cause instanceof ApplicationFailure)) return undefined;
  const first: unknown = error.cause.details?.[0];
  if (typeof first !== 'object' || first === null || !('attempt' in first)) return undefined;
  return typeof first.attempt === 'number' ? first.attempt : undefined;
}

/** Outputs a failed stage handed over in its failure's details (activities/failures.ts). */
function outputsOfFailure(error: unknown): StageOutputs | undefined {
  if (!(error instanceof ActivityFailure) || !(error.cause instanceof ApplicationFailure)) return undefined;
  const first: unknown = error.cause.details?.[0];
  if (typeof first !== 'object' || first === null || !('outputs' in first)) return undefined;
  const outputs: unknown = first.outputs;
  if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs)) return undefined;
  return Object.fromEntries(Object.entries(outputs).filter((e): e is [string, Json] => e[1] !== undefined));
}

/** The URI of an artifact output, if it is one. */
function uriOf(value: Json | undefined): string | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof value.uri === 'string'
    ? value.uri
    : undefined;
}

/**
 * A search attribute update from an output: Double from a number, Bool from a boolean, Keyword from a string or an
 * artifact's digest.
 */
function searchAttributeUpdate(name: string, value: Json | undefined): SearchAttributeUpdatePair | undefined {
  const known = Object.values(SA).find((k) => k.name === name);
  if (!known) return undefined;
  // Re-defined per type so that the pair is typed without a cast; the name and type come from SA.
  switch (known.type) {
    case SearchAttributeType.DOUBLE:
      return typeof value === 'number' && Number.isFinite(value)
        ? { key: defineSearchAttributeKey(name, SearchAttributeType.DOUBLE), value }
        : undefined;
    case SearchAttributeType.INT:
      return typeof value === 'number' && Number.isSafeInteger(value)
        ? { key: defineSearchAttributeKey(name, SearchAttributeType.INT), value }
        : undefined;
    case SearchAttributeType.BOOL:
      return typeof value === 'boolean'
        ? { key: defineSearchAttributeKey(name, SearchAttributeType.BOOL), value }
        : undefined;
    case SearchAttributeType.KEYWORD: {
      const digest = typeof value === 'object' && value !== null && !Array.isArray(value) ? value.sha256 : value;
      return typeof digest === 'string'
        ? { key: defineSearchAttributeKey(name, SearchAttributeType.KEYWORD), value: digest }
        : undefined;
    }
  }
}

function describe(stage: ResolvedStage, resolvedWith: Record<string, Json>) {
  return { id: stage.id, uses: stage.uses, version: stage.version, with: resolvedWith };
}

function manifestInput(
  input: PipelineRunInput,
  runId: string,
  trigger: string,
  progress: RunProgress,
  dataFingerprint: string | undefined,
) {
  return {
    pipeline: input.spec.name,
    runId,
    specDigest: input.spec.specDigest,
    params: input.spec.params,
    status: progress.status,
    trigger,
    ...(input.gitCommit ? { gitCommit: input.gitCommit } : {}),
    ...(dataFingerprint ? { dataFingerprint } : {}),
    stages: progress.stages,
  };
}

/** A one-line summary for the run's memo: how its stages ended. */
export function summaryOf(progress: RunProgress): string {
  const counts = new Map<string, number>();
  for (const s of progress.stages) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const parts = [...counts.entries()].map(([status, n]) => `${n} ${status}`);
  return `${progress.pipeline} ${progress.runId}: ${progress.status} (${parts.join(', ')})`;
}

/**
 * The digests of the source stages' outputs, sorted and joined: what "the data" of a run is for
 * skipIfUnchanged. Undefined while any source stage has no outputs (failed, not run).
 */
function fingerprintOfSources(sources: ResolvedStage[], states: Map<string, StageState>): string | undefined {
  const digests: string[] = [];
  for (const stage of sources) {
    const outputs = states.get(stage.id)?.outputs;
    if (!outputs) return undefined;
    for (const [name, value] of Object.entries(outputs)) {
      if (value !== null && typeof value === 'object' && !Array.isArray(value) && typeof value.sha256 === 'string')
        digests.push(`${stage.id}.${name}=${value.sha256}`);
    }
  }
  return digests.length > 0 ? digests.sort().join(';') : undefined;
}

/**
 * How a run without an explicit trigger was started. Temporal stamps scheduled runs with
 * TemporalScheduledStartTime: a run that starts well after its scheduled time was backfilled
 * (or caught up after downtime); otherwise the schedule fired it.
 */
function triggerOf(info: ReturnType<typeof workflowInfo>): string {
  const scheduled = info.typedSearchAttributes.get(SCHEDULED_START_TIME);
  if (!scheduled) return 'cli';
  return info.startTime.getTime() - scheduled.getTime() > BACKFILL_LAG_MS ? 'backfill' : 'schedule';
}

/** True when `stage` needs `ancestor`, directly or through other stages. */
function dependsOn(byId: ReadonlyMap<string, ResolvedStage>, stage: string, ancestor: string): boolean {
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
