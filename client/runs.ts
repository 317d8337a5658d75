/**
 * Finding pipeline runs on Temporal: how a run id a user types becomes a workflow id (one
 * resolver for every command), the run id inside a workflow id, and the newest runs with the
 * numbers their search attributes carry.
 */
import { isGrpcServiceError, ServiceError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { GRPC_STATUS, SA, workflowIds } from '../common/constants';
import { ListFilterInvalid, RunAmbiguous, RunNotFound } from './errors';

/** Every pipelineRun workflow of the namespace: what `runs` lists before any other filter. */
const PIPELINE_RUNS = `WorkflowType = 'pipelineRun'`;

/** One run as `runs --json` prints it. Numbers are null where the run did not publish them. */
export interface RunRow {
  run: string;
  pipeline: string;
  workflowId: string;
  trigger: string | null;
  /** ISO 8601. */
  started: string;
  closed: string | null;
  durationS: number;
  /** Temporal's execution status: running, completed, failed, cancelled, terminated, timed_out, … */
  status: string;
  /**
   * fairline's word for how the run ended: succeeded, failed, skipped, cancelled, running (Temporal's status where the
   * run could not say).
   */
  outcome: string;
  stage: string | null;
  macroF1: number | null;
  microF1: number | null;
  reactivity: number | null;
  gatePassed: boolean | null;
  datasetDigest: string | null;
  modelDigest: string | null;
}

/**
 * The list filter `runs` sends: pipelineRun workflows, of the pipeline if given, and the user's filter in parentheses
 * (so its OR stays inside).
 */
export function runsQuery(options: { pipeline?: string | undefined; where?: string | undefined }): string {
  const where = options.where?.trim();
  return [
    PIPELINE_RUNS,
    ...(options.pipeline ? [`FairlinePipeline = ${JSON.stringify(options.pipeline)}`] : []),
    ...(where ? [`(${where})`] : []),
  ].join(' AND ');
}

/** The run id inside a pipelineRun workflow id: the part after `pipeline/<name>/`. */
export function runOf(workflowId: string): string {
  return workflowId.split('/').slice(2).join('/');
}

/** The pipeline name inside a pipelineRun workflow id (`pipeline/<name>/<run>`). */
export function pipelineOf(workflowId: string): string {
  return workflowId.split('/')[1] ?? '';
}

const CLOSED_BY_THE_RUN = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/**
 * fairline's status when the run recorded its end, else Temporal's: a terminated or timed-out
 * run never got to upsert its last FairlineStatus, which still says `running`.
 */
function outcomeOf(info: WorkflowExecutionInfo): string {
  const temporal = info.status.name;
  if (temporal === 'RUNNING') return 'running';
  const recorded = info.typedSearchAttributes.get(SA.status);
  if (CLOSED_BY_THE_RUN.has(temporal) && recorded && recorded !== 'running') return recorded;
  return temporal.toLowerCase();
}

/** A listed workflow as a RunRow: its search attributes, or null where the run did not set them. */
export function rowOf(info: WorkflowExecutionInfo): RunRow {
  const sa = info.typedSearchAttributes;
  const end = info.closeTime ?? new Date();
  return {
    run: runOf(info.workflowId),
    pipeline: sa.get(SA.pipeline) ?? pipelineOf(info.workflowId),
    workflowId: info.workflowId,
    trigger: sa.get(SA.trigger) ?? null,
    started: info.startTime.toISOString(),
    closed: info.closeTime?.toISOString() ?? null,
    durationS: (end.getTime() - info.startTime.getTime()) / 1000,
    status: info.status.name.toLowerCase(),
    outcome: outcomeOf(info),
    stage: sa.get(SA.stage) ?? null,
    macroF1: sa.get(SA.macroF1) ?? null,
    microF1: sa.get(SA.microF1) ?? null,
    reactivity: sa.get(SA.reactivity) ?? null,
    gatePassed: sa.get(SA.gatePassed) ?? null,
    datasetDigest: sa.get(SA.datasetDigest) ?? null,
    modelDigest: sa.get(SA.modelDigest) ?? null,
  };
}

function isInvalidArgument(error: unknown): error is ServiceError & { cause: { details: string } } {
  return (
    error instanceof ServiceError && isGrpcServiceError(error.cause) && error.cause.code === GRPC_STATUS.invalidArgument
  );
}

/**
 * The newest runs matching the options (Temporal lists newest first). A filter Temporal refuses is a ListFilterInvalid.
 */
export async function listRuns(
  client: Client,
  options: { pipeline?: string | undefined; where?: string | undefined; limit: number },
): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  try {
    for await (const info of client.workflow.list({
      query: runsQuery(options),
      pageSize: Math.min(options.limit, 1000),
    })) {
      rows.push(rowOf(info));
      if (rows.length >= options.limit) break;
    }
  } catch (error) {
    if (options.where && isInvalidArgument(error)) throw new ListFilterInvalid(options.where, error.cause.details);
    throw error;
  }
  return rows;
}

/**
 * The workflow id of a run named as a user types it: `RUN` with `--pipeline P`, `P/RUN`, the whole
 * `pipeline/P/RUN`, or a bare `RUN`, looked up among the namespace's pipeline runs. A bare id
 * that several pipelines use is a RunAmbiguous naming them all.
 */
export async function resolveRun(
  client: Client,
  id: string,
  options: { pipeline?: string | undefined },
): Promise<string> {
  if (options.pipeline) return workflowIds.pipelineRun(options.pipeline, id);
  if (id.startsWith('pipeline/')) return id;
  const slash = id.indexOf('/');
  if (slash > 0) return workflowIds.pipelineRun(id.slice(0, slash), id.slice(slash + 1));
  const candidates = new Set<string>();
  // Temporal's list filters match WorkflowId exactly or by prefix (STARTS_WITH), never by
  // suffix, so the run id is matched here over the pipeline runs the filter returns.
  for await (const info of client.workflow.list({ query: PIPELINE_RUNS })) {
    if (runOf(info.workflowId) === id || workflowIds.runIdOf(info.workflowId) === id) candidates.add(info.workflowId);
  }
  const [only, ...others] = [...candidates].sort();
  if (!only) throw new RunNotFound(id, client.options.namespace);
  if (others.length > 0) throw new RunAmbiguous(id, [only, ...others]);
  return only;
}
