/**
 * The activities of the fairline worker, built by a factory that takes every dependency, so that
 * tests pass real small ones (a temp-dir store, a test config) and nothing reaches for globals.
 *
 * - runStage: runs one stage of a pipeline (heartbeats, scratch folder, cancellation, typed errors)
 *   and records its outputs in the cache;
 * - cacheLookup: a hit only when the cache entry exists and every artifact it names still
 *   verifies against its digest; the key also covers what a stage's `contentKey` reads (the
 *   digest of a model folder a path names);
 * - writeManifest: the run's lineage record.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Context } from '@temporalio/activity';
import { MAX_PAYLOAD_BYTES } from '../common/constants';
import { ArtifactNotFound, PayloadTooLarge } from '../common/errors';
import { ArtifactConflict, ArtifactDigestMismatch } from '../store/errors';
import { StageTypeUnknown } from '../pipeline/errors';
import { z } from 'zod';
import { canonicalJson } from '../pipeline/canonical-json';
import { jsonSchema, type Json } from '../pipeline/run-spec';
import { artifactRefSchema, type ArtifactRef, type ArtifactStore } from '../store/types';
import type { FairlineConfig } from '../temporal.config';
import { STAGE_TYPES, type StageType } from '../stages';
import { outageTolerant } from '../store/outage';
import { withFailures } from './failures';
import type { Logger, ResumePoint, RunInfo } from './stages/context';
import { builtinStages, type RegisteredStage } from '../stages/implementations';

export interface StageInvocation {
  id: string;
  uses: string;
  version: string;
  with: Record<string, Json>;
}

export interface RunStageInput {
  pipeline: string;
  runId: string;
  stage: StageInvocation;
  recordCache: boolean;
  /** Who the run is, for stages that record it (the report); absent in runs recorded before. */
  run?: RunInfo;
  /** False: never resume from checkpoints of an earlier execution of this run id (`--no-resume`). */
  resumeEarlier?: boolean;
}

/** What the workflow hands to writeManifest: the run's identity, spec digest and stage states. */
export interface ManifestInput {
  pipeline: string;
  runId: string;
  specDigest: string;
  params: Record<string, Json>;
  status: string;
  trigger: string;
  gitCommit?: string;
  /** Digests of the download stages' outputs (see workflows/pipeline-run.ts). */
  dataFingerprint?: string;
  stages: {
    id: string;
    uses: string;
    status: string;
    cached: boolean;
    attempts?: number;
    startedAt?: number;
    endedAt?: number;
    inputs?: Record<string, Json>;
    outputs?: Record<string, Json>;
    error?: string;
    /** The checkpoint a stage resumed from (activities/stages/context.ts ResumePoint). */
    resumedFrom?: ResumePoint;
  }[];
}

/** Key of the lineage entry recording that a stage of a run produced the artifact with this digest. */
export function lineageKey(sha256: string, pipeline: string, runId: string, stage: string, output: string): string {
  return `lineage/${sha256}/${pipeline}=${runId}=${stage}=${output}.json`;
}

/** Index entry: a successful run of `pipeline` with this spec digest saw these source digests. */
export function successKey(pipeline: string, specDigest: string, dataFingerprint: string): string {
  const data = createHash('sha256').update(dataFingerprint).digest('hex');
  return `runs-index/${pipeline}/${specDigest}/${data}.json`;
}

/** Where stage attempts get their scratch folders; shared by every worker on the machine. */
export const SCRATCH_ROOT = join(tmpdir(), 'fairline');
/** The owner record of scratch folders made before their names carried the pid. */
const SCRATCH_OWNER = '.fairline-owner';
/** The pid of the worker a scratch folder belongs to, at the end of its name. */
const OWNER_IN_NAME = /-pid(\d+)$/;

/**
 * A scratch folder's name: the stage, a unique part, and the pid of the worker that owns it.
 * The pid lives in the name rather than in an owner file so that making the folder is one
 * mkdir, not a mkdir and a file write on every stage.
 */
export const scratchName = (stageId: string, pid: number = process.pid): string =>
  `${stageId}-${randomUUID()}-pid${pid}`;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes the scratch folders whose owning worker process is dead (killed before it could clean
 * up): the owner is the pid at the end of the folder's name, or in its owner file for folders
 * made before names carried it. Folders of live workers, and folders without an owner, stay.
 * Returns what it removed.
 */
export async function sweepScratch(root: string = SCRATCH_ROOT): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return removed;
  }
  for (const name of names) {
    let owner: number;
    const named = OWNER_IN_NAME.exec(name);
    if (named) owner = Number(named[1]);
    else {
      try {
        owner = Number((await readFile(join(root, name, SCRATCH_OWNER), 'utf8')).trim());
      } catch {
        continue;
      }
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    await rm(join(root, name), { recursive: true, force: true });
    removed.push(join(root, name));
  }
  return removed;
}

export interface ActivityDependencies {
  store: ArtifactStore;
  config: FairlineConfig;
  log?: Logger;
  /** Stage implementations; defaults to the built-in ones. */
  stages?: Record<string, RegisteredStage>;
  /** Stage contracts (for `cacheable`); defaults to STAGE_TYPES. */
  stageTypes?: Readonly<Record<string, StageType>>;
}

/**
 * Input artifacts count by content: an ArtifactRef becomes its digest and kind, so the same
 * bytes stored under another name or store location hit the same cache entry.
 */
function byContent(value: Json): Json {
  const ref = artifactRefSchema.safeParse(value);
  if (ref.success) return { sha256: ref.data.sha256, kind: ref.data.kind };
  if (Array.isArray(value)) return value.map(byContent);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, byContent(v)]));
  return value;
}

const cacheEntrySchema = z.object({ outputs: z.record(z.string(), jsonSchema) }).passthrough();

/**
 * Index entries writeManifest writes at once (lineage, the success index). Each is a small fsynced
 * file: sixteen at a time let their syncs overlap (21 entries: ~25 ms one by one, ~10 ms eight at
 * a time, ~6 ms all at once on the development machine), while a run with hundreds of artifacts
 * still holds only a bounded number of files or S3 requests open.
 */
const MANIFEST_WRITE_CONCURRENCY = 16;

/** Runs `tasks`, at most `limit` at a time; rejects with the first failure once the running ones have settled. */
async function inBatches(tasks: readonly (() => Promise<unknown>)[], limit: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) await tasks[next++]!();
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

const consoleLogger: Logger = {
  info: (message, attrs) => console.log(message, attrs ?? ''),
  warn: (message, attrs) => console.warn(message, attrs ?? ''),
};

export function createActivities(deps: ActivityDependencies) {
  const { store, config } = deps;
  const stages = deps.stages ?? builtinStages();
  const log = deps.log ?? consoleLogger;
  const stageTypes = deps.stageTypes ?? STAGE_TYPES;

  const registered = (uses: string): RegisteredStage => {
    const stage = stages[uses];
    if (!stage) throw new StageTypeUnknown(uses, Object.keys(stages));
    return stage;
  };

  /**
   * The cache key covers everything that can change a stage's output: its type and version, its
   * resolved inputs (ArtifactRefs carry their digests) and the fingerprint of its code.
   */
  const cacheKeyOf = async (stage: StageInvocation): Promise<string> => {
    const registration = registered(stage.uses);
    // The content behind names and paths (a model folder's digest); absent for most stages, whose
    // keys therefore stay what they were.
    const content = await registration.contentKey?.(stage.with, config);
    return createHash('sha256')
      .update(
        canonicalJson({
          uses: stage.uses,
          version: stage.version,
          with: byContent(stage.with),
          code: registration.fingerprint,
          ...(content !== undefined ? { content } : {}),
        }),
      )
      .digest('hex');
  };

  const cacheEntryKey = (key: string): string => `cache/${key}.json`;

  const readCacheEntry = async (key: string): Promise<{ outputs: Record<string, Json> } | undefined> => {
    const info = await store.head(cacheEntryKey(key));
    if (!info?.sha256) return undefined;
    const raw = await store.read({ uri: info.uri, sha256: info.sha256, bytes: info.bytes, kind: 'cache-entry' });
    const entry = cacheEntrySchema.safeParse(JSON.parse(raw.toString('utf8')));
    if (!entry.success) log.warn('unreadable cache entry: ignoring it', { uri: info.uri });
    return entry.success ? { outputs: entry.data.outputs } : undefined;
  };

  /** True when every artifact among the outputs still exists and hashes to its digest. */
  const outputsVerify = async (outputs: Record<string, Json>, stageId: string): Promise<boolean> => {
    for (const value of Object.values(outputs)) {
      const ref = artifactRefSchema.safeParse(value);
      if (!ref.success) continue;
      try {
        await verify(ref.data);
      } catch (error) {
        if (error instanceof ArtifactNotFound || error instanceof ArtifactDigestMismatch) {
          log.warn('cache entry names a missing or corrupt artifact', { stage: stageId, uri: ref.data.uri });
          return false;
        }
        throw error;
      }
    }
    return true;
  };

  /**
   * Records a cache entry. Entries are immutable, so a key can already hold one: from a run with
   * equal inputs that finished first (concurrent backfills), which stands when its artifacts
   * verify; or a stale one whose artifacts were deleted, which the fresh entry replaces.
   */
  const recordCacheEntry = async (key: string, entry: Record<string, Json>): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await store.putAt(cacheEntryKey(key), { bytes: canonicalJson(entry) }, { kind: 'cache-entry' });
        return;
      } catch (error) {
        if (!(error instanceof ArtifactConflict) || attempt >= 3) throw error;
        const existing = await readCacheEntry(key);
        if (existing && (await outputsVerify(existing.outputs, String(entry.stage)))) return;
        await store.delete(cacheEntryKey(key));
      }
    }
  };

  /**
   * Writes a record under an immutable key where the first record written stands (a manifest,
   * lineage, the success index): its ref, or undefined when the key already held other bytes,
   * which are kept.
   */
  const recordFirst = async (key: string, bytes: string, kind: string): Promise<ArtifactRef | undefined> => {
    try {
      return await store.putAt(key, { bytes }, { kind });
    } catch (error) {
      if (error instanceof ArtifactConflict) return undefined;
      throw error;
    }
  };

  /** The ref of the record at `key`, which must be there. */
  const recordAt = async (key: string, kind: string): Promise<ArtifactRef> => {
    const info = await store.head(key);
    if (!info?.sha256) throw new ArtifactNotFound(store.uriOf(key));
    return { uri: info.uri, sha256: info.sha256, bytes: info.bytes, kind };
  };

  /** Drains an artifact through the verifying stream: throws unless every byte matches. */
  const verify = async (ref: ArtifactRef): Promise<void> => {
    const stream = await store.open(ref);
    for await (const _chunk of stream) {
      // Reading is the check: the stream errors at its end on a digest mismatch.
    }
  };

  return {
    async cacheLookup(input: {
      stage: StageInvocation;
    }): Promise<{ hit: boolean; key: string; outputs?: Record<string, Json> }> {
      return withFailures(async () => {
        const key = await cacheKeyOf(input.stage);
        if (stageTypes[input.stage.uses]?.cacheable?.(input.stage.with) === false) return { hit: false, key };
        const entry = await readCacheEntry(key);
        if (!entry) return { hit: false, key };
        if (!(await outputsVerify(entry.outputs, input.stage.id))) return { hit: false, key };
        return { hit: true, key, outputs: entry.outputs };
      })();
    },

    async runStage(
      input: RunStageInput,
    ): Promise<{ outputs: Record<string, Json>; cacheKey: string; attempt: number; resumedFrom?: ResumePoint }> {
      return withFailures(
        async () => {
          const context = Context.current();
          const stage = registered(input.stage.uses);
          // Its name says who owns it: a worker killed outright cannot remove it; the next one to start does
          // (sweepScratch).
          const scratchDir = join(SCRATCH_ROOT, scratchName(input.stage.id));
          await mkdir(scratchDir, { recursive: true });
          try {
            // Store outages up to the configured window are waited out here, not counted as failures.
            const riding = outageTolerant(store, {
              windowMs: config.store.outageWindowMs,
              heartbeat: () => context.heartbeat(),
              signal: context.cancellationSignal,
              log: (m, a) => context.log.warn(m, { stage: input.stage.id, ...a }),
            });
            let resumedFrom: ResumePoint | undefined;
            // Keyed on the inputs as they were when the stage began (a model folder may change later).
            const cacheKey = await cacheKeyOf(input.stage);
            const outputs = await stage.implementation(input.stage.with, {
              stageId: input.stage.id,
              store: riding,
              stageKey: cacheKey,
              resumeEarlier: input.resumeEarlier ?? true,
              noteResume: (point) => (resumedFrom = point),
              config,
              log: {
                info: (m, a) => context.log.info(m, { stage: input.stage.id, ...a }),
                warn: (m, a) => context.log.warn(m, { stage: input.stage.id, ...a }),
              },
              heartbeat: (details) => context.heartbeat(details),
              signal: context.cancellationSignal,
              scratchDir,
              previousHeartbeat: context.info.heartbeatDetails,
              attempt: context.info.attempt,
              ...(input.run ? { run: { pipeline: input.pipeline, runId: input.runId, ...input.run } } : {}),
              ...(input.run?.sourceFile ? { pipelineDir: dirname(resolve(input.run.sourceFile)) } : {}),
              executionKey: `${input.pipeline}/${input.runId}/${context.info.workflowExecution?.runId ?? 'no-execution'}/${input.stage.id}`,
            });
            const size = Buffer.byteLength(JSON.stringify(outputs));
            if (size > MAX_PAYLOAD_BYTES)
              throw new PayloadTooLarge(`outputs of stage "${input.stage.id}"`, size, MAX_PAYLOAD_BYTES);
            // A result the cache may never serve (an unpinned download, a report naming its run) is not recorded.
            if (input.recordCache && stageTypes[input.stage.uses]?.cacheable?.(input.stage.with) !== false) {
              await recordCacheEntry(cacheKey, {
                outputs,
                stage: input.stage.id,
                uses: input.stage.uses,
                pipeline: input.pipeline,
                runId: input.runId,
              });
            }
            return { outputs, cacheKey, attempt: context.info.attempt, ...(resumedFrom ? { resumedFrom } : {}) };
          } finally {
            await rm(scratchDir, { recursive: true, force: true });
          }
        },
        () => Context.current().info.attempt,
      )();
    },

    /** A successful run of this pipeline with this spec and these source digests, if one was recorded. */
    async findSuccessfulRun(input: {
      pipeline: string;
      specDigest: string;
      dataFingerprint: string;
    }): Promise<{ runId: string } | undefined> {
      return withFailures(async () => {
        const key = successKey(input.pipeline, input.specDigest, input.dataFingerprint);
        const info = await store.head(key);
        if (!info?.sha256) return undefined;
        const parsed = z
          .object({ runId: z.string() })
          .passthrough()
          .safeParse(
            JSON.parse(
              (await store.read({ uri: info.uri, sha256: info.sha256, bytes: info.bytes, kind: 'run-index' })).toString(
                'utf8',
              ),
            ),
          );
        return parsed.success ? { runId: parsed.data.runId } : undefined;
      })();
    },

    /**
     * Writes the run's manifest, and one lineage entry per artifact a stage of this run produced
     * (not those it took from the cache), so `fairline lineage` finds an artifact's producer by
     * its digest without scanning every manifest.
     */
    async writeManifest(manifest: ManifestInput): Promise<ArtifactRef> {
      return withFailures(async () => {
        const execution = Context.current().info.workflowExecution?.runId ?? 'no-execution';
        const body = JSON.stringify(
          { ...manifest, workflowRunId: execution, writtenAt: new Date().toISOString() },
          null,
          2,
        );
        // The key names this execution, so only an earlier attempt of this same write can have put
        // a manifest there: a retry after its reply was lost (a frozen store), or the workflow task
        // replayed on another worker after the first one died before recording the local
        // activity. Its `writtenAt` differs; the first manifest recorded stands, and its lineage
        // is finished below.
        const key = `runs/${manifest.pipeline}/${manifest.runId}/${execution}/manifest.json`;
        const ref = (await recordFirst(key, body, 'manifest')) ?? (await recordAt(key, 'manifest'));
        const writes: (() => Promise<unknown>)[] = [];
        for (const stage of manifest.stages) {
          if (stage.cached || stage.status !== 'succeeded') continue;
          for (const [output, value] of Object.entries(stage.outputs ?? {})) {
            const produced = artifactRefSchema.safeParse(value);
            if (!produced.success) continue;
            const entry = {
              artifact: produced.data,
              output,
              stage: stage.id,
              uses: stage.uses,
              pipeline: manifest.pipeline,
              runId: manifest.runId,
              workflowRunId: execution,
              manifest: ref.uri,
            };
            // A rerun of the same run id that produces the same bytes again finds the first
            // producer's entry there: it stands (lineage names who produced the bytes first).
            writes.push(() =>
              recordFirst(
                lineageKey(produced.data.sha256, manifest.pipeline, manifest.runId, stage.id, output),
                canonicalJson(entry),
                'lineage',
              ),
            );
          }
        }
        const fingerprint = manifest.dataFingerprint;
        if (manifest.status === 'succeeded' && fingerprint) {
          const entry = canonicalJson({ runId: manifest.runId, workflowRunId: execution, manifest: ref.uri });
          // Several successful runs can share spec and data; the first one recorded stands.
          writes.push(() =>
            recordFirst(successKey(manifest.pipeline, manifest.specDigest, fingerprint), entry, 'run-index'),
          );
        }
        // The entries are independent small files, each made durable (fsync) before it becomes
        // visible: written a few at a time, their syncs overlap instead of queueing one by one
        // (about 10 ms each on a busy disk, once per artifact the run produced).
        await inBatches(writes, MANIFEST_WRITE_CONCURRENCY);
        return ref;
      })();
    },
  };
}
