/**
 * RunSpec assembly: each stage's `with` resolved and checked against its type's schema, retries
 * and timeouts merged over the type's defaults (and refused where Temporal would refuse them, or
 * where they could never work), paths made absolute file:// URLs, and the whole given its digest.
 */
import { createHash } from 'node:crypto';
import { dirname, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { canonicalJson } from '../canonical-json';
import { formatDuration, parseDuration } from '../duration';
import {
  runSpecSchema,
  type Json,
  type ResolvedRetry,
  type ResolvedStage,
  type ResolvedTimeouts,
  type RunSpec,
} from '../run-spec';
import { stageSpecSchema, type ParamValue, type PipelineFile, type StageSpec } from '../spec';
import type { StageType } from '../../stages';
import type { StageDraft, StageGraph } from './graph';
import { isRecord, startsWith, type Path } from './positions';
import type { References, ResolveContext } from './references';
import { pathOf, type Reporter } from './wording';

/** Resolves every stage of a pipeline into the ResolvedStage the RunSpec holds. */
export class StageResolver {
  constructor(
    private readonly graph: StageGraph,
    private readonly references: References,
    private readonly reporter: Reporter,
    private readonly root: Record<string, unknown>,
    /** The pipeline file, against whose folder relative paths in `with` resolve. */
    private readonly file: string,
  ) {}

  /** Every stage resolved, in file order; undefined when any stage has a problem (reported). */
  resolveAll(params: ReadonlyMap<string, ParamValue>, stageCount: number): ResolvedStage[] | undefined {
    const resolved: ResolvedStage[] = [];
    let complete = true;
    for (const draft of this.graph.drafts) {
      const stage = this.resolveStage(draft, params);
      if (stage === undefined) complete = false;
      else resolved.push(stage);
    }
    return complete && resolved.length === stageCount ? resolved : undefined;
  }

  /**
   * A `with` key the stage type lists in `relativePaths` may hold `./x` or `../x`: a path relative
   * to the pipeline file, turned into an absolute file:// URL so that a pipeline and its data can
   * live side by side in a repository and run from any working directory. An absolute path
   * (`/data/x.csv`) is accepted wherever a relative one is, and becomes a file:// URL the same way.
   */
  private resolveRelativePaths<T extends { spec: Json; check: unknown }>(resolved: T, type: StageType | undefined): T {
    const keys = type?.relativePaths ?? [];
    if (keys.length === 0 || !isRecord(resolved.spec) || Array.isArray(resolved.spec) || !isRecord(resolved.check))
      return resolved;
    const rewrite = (value: string): string =>
      /^(\.\.?)?\//.test(value) ? pathToFileURL(resolvePath(dirname(resolvePath(this.file)), value)).href : value;
    let spec = resolved.spec;
    let check = resolved.check;
    for (const key of keys) {
      spec = rewriteAt(spec, key.split('.'), rewrite);
      check = rewriteAt(check, key.split('.'), rewrite);
    }
    return { ...resolved, spec, check };
  }

  /** Resolves one stage's `with` and checks it against its type; the ResolvedStage when all is well. */
  private resolveStage(draft: StageDraft, params: ReadonlyMap<string, ParamValue>): ResolvedStage | undefined {
    const stage = stageSpecSchema.safeParse(draft.raw);
    // Checked even when `with` has problems: an impossible retry policy is a problem of its own.
    const retry =
      stage.success && draft.type !== undefined ? this.resolveRetry(draft, stage.data, draft.type) : undefined;
    const timeout =
      stage.success && draft.type !== undefined ? this.resolveTimeouts(draft, stage.data, draft.type) : undefined;

    const withPath: Path = ['stages', draft.index, 'with'];
    const rawWith = draft.raw.with;
    if (rawWith !== undefined && !isRecord(rawWith)) return undefined; // the shape check reports it
    const context: ResolveContext = {
      draft,
      ancestors: this.graph.ancestorsOf(draft),
      params,
      declaredParams: isRecord(this.root.params) ? Object.keys(this.root.params) : [],
      broken: [],
      notes: new Map(),
    };
    const resolved = this.references.resolveRecord(rawWith ?? {}, withPath, context);
    const { spec: resolvedWith, check: checkWith } = this.resolveRelativePaths(resolved, draft.type);

    let withAccepted = false;
    if (draft.type !== undefined) {
      const checked = draft.type.with.safeParse(checkWith);
      withAccepted = checked.success;
      if (!checked.success) {
        // A reference already reported as broken was left out of checkWith; the schema's
        // complaint about its absence would only repeat that problem.
        const issues = checked.error.issues.filter(
          (issue) => !context.broken.some((b) => startsWith([...withPath, ...pathOf(issue)], b)),
        );
        this.reporter.reportIssues(issues, withPath, draft.type.with, context.notes);
      }
    }

    if (!stage.success || draft.type === undefined || retry === undefined || timeout === undefined || !withAccepted)
      return undefined;
    if (!draft.primary || context.broken.length > 0) return undefined;
    return {
      id: stage.data.id,
      uses: stage.data.uses,
      version: draft.type.version,
      needs: stage.data.needs ?? [],
      queue: stage.data.queue ?? draft.type.defaults.queue,
      retry,
      timeout,
      cache: stage.data.cache ?? true,
      with: resolvedWith,
      ...(draft.type.publish ? { publish: { ...draft.type.publish } } : {}),
      ...(draft.type.alwaysRuns ? { alwaysRuns: true } : {}),
      ...(draft.type.source ? { source: true } : {}),
      ...(draft.type.report !== undefined ? { report: draft.type.report } : {}),
    };
  }

  /**
   * Merges the stage's timeouts over its type's. A heartbeat timeout longer than startToClose is
   * refused: the attempt ends at startToClose first, so a stuck worker would never be noticed by
   * its silence (Temporal accepts it and the heartbeat timeout silently does nothing).
   */
  private resolveTimeouts(draft: StageDraft, stage: StageSpec, type: StageType): ResolvedTimeouts | undefined {
    const timeout = resolveTimeouts(stage, type);
    if (timeout.heartbeatMs === undefined || timeout.heartbeatMs <= timeout.startToCloseMs) return timeout;
    const own = stage.timeout ?? {};
    const heartbeat =
      own.heartbeat !== undefined
        ? `timeout.heartbeat ${own.heartbeat}`
        : `the ${type.name} stage's default heartbeat timeout ${formatDuration(timeout.heartbeatMs)}`;
    const startToClose =
      own.startToClose !== undefined
        ? `timeout.startToClose ${own.startToClose}`
        : `its default startToClose ${formatDuration(timeout.startToCloseMs)}`;
    const key = own.heartbeat !== undefined ? 'heartbeat' : own.startToClose !== undefined ? 'startToClose' : undefined;
    const at: Path = key === undefined ? ['stages', draft.index] : ['stages', draft.index, 'timeout', key];
    this.reporter.reportBare(
      at,
      `${this.reporter.subject(at).owner}: ${heartbeat} is longer than ${startToClose}: an attempt is cut off at startToClose before a silent worker could be noticed, so the heartbeat timeout would never fire; make the heartbeat timeout shorter than startToClose`,
    );
    return undefined;
  }

  /** Merges the stage's retry over its type's; an interval cap below the first interval is refused. */
  private resolveRetry(draft: StageDraft, stage: StageSpec, type: StageType): ResolvedRetry | undefined {
    const own = stage.retry ?? {};
    const retry: ResolvedRetry = {
      maximumAttempts: own.maximumAttempts ?? type.defaults.retry.maximumAttempts,
      initialIntervalMs: durationOr(own.initialInterval, type.defaults.retry.initialIntervalMs),
      backoffCoefficient: own.backoffCoefficient ?? type.defaults.retry.backoffCoefficient,
      maximumIntervalMs: durationOr(own.maximumInterval, type.defaults.retry.maximumIntervalMs),
    };
    if (retry.maximumIntervalMs < retry.initialIntervalMs) {
      // Temporal rejects such a policy when the activity is scheduled: say so now, at the line.
      const key = own.maximumInterval !== undefined ? 'maximumInterval' : 'initialInterval';
      this.reporter.report(
        ['stages', draft.index, 'retry', key],
        `maximumInterval (${formatDuration(retry.maximumIntervalMs)}) is shorter than initialInterval (${formatDuration(retry.initialIntervalMs)})`,
      );
      return undefined;
    }
    return retry;
  }
}

/**
 * A copy of `value` with `rewrite` applied to the strings at a dotted key path (`url`,
 * `sources.*.url`; `*` is every key of a mapping); everything else, and paths that do not exist,
 * are left alone. Strings become strings, so the copy keeps the shape (and type) of `value`.
 */
function rewriteAt<V>(value: V, path: readonly string[], rewrite: (v: string) => string): V {
  const [head, ...rest] = path;
  if (head === undefined) return typeof value === 'string' ? (rewrite(value) as V) : value;
  if (!isRecord(value)) return value;
  const keys = head === '*' ? Object.keys(value) : Object.hasOwn(value, head) ? [head] : [];
  if (keys.length === 0) return value;
  const copy: Record<string, unknown> = { ...value };
  for (const key of keys) copy[key] = rewriteAt(value[key], rest, rewrite);
  return copy as V;
}

function durationOr(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : (parseDuration(text) ?? fallback);
}

function resolveTimeouts(stage: StageSpec, type: StageType): ResolvedTimeouts {
  const own = stage.timeout ?? {};
  const defaults = type.defaults.timeout;
  const heartbeatMs = own.heartbeat !== undefined ? parseDuration(own.heartbeat) : defaults.heartbeatMs;
  const scheduleToStartMs =
    own.scheduleToStart !== undefined ? parseDuration(own.scheduleToStart) : defaults.scheduleToStartMs;
  return {
    startToCloseMs: durationOr(own.startToClose, defaults.startToCloseMs),
    ...(heartbeatMs !== undefined ? { heartbeatMs } : {}),
    ...(scheduleToStartMs !== undefined ? { scheduleToStartMs } : {}),
  };
}

/** The RunSpec of a pipeline whose every stage resolved, and its one-line summary. */
export function assembleRunSpec(
  pipeline: PipelineFile,
  params: ReadonlyMap<string, ParamValue>,
  stages: ResolvedStage[],
  file: string,
): { spec: RunSpec; summary: string } {
  const paramsJson: Record<string, Json> = Object.fromEntries(params);
  const digest = createHash('sha256')
    .update(canonicalJson({ name: pipeline.name, params: paramsJson, stages }))
    .digest('hex');
  const spec = runSpecSchema.parse({
    name: pipeline.name,
    ...(pipeline.description !== undefined ? { description: pipeline.description } : {}),
    params: paramsJson,
    stages,
    specDigest: digest,
    sourceFile: file,
  });
  return { spec, summary: summarize(file, spec) };
}

function summarize(file: string, spec: RunSpec): string {
  const counts = new Map<string, number>();
  for (const stage of spec.stages) counts.set(stage.uses, (counts.get(stage.uses) ?? 0) + 1);
  const types = [...counts].map(([uses, n]) => (n > 1 ? `${uses} ×${n}` : uses)).join(', ');
  const stageCount = plural(spec.stages.length, 'stage');
  const paramCount = plural(Object.keys(spec.params).length, 'param');
  return `${file}: ok — pipeline "${spec.name}", ${stageCount} (${types}), ${paramCount}`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
