/**
 * Starting a pipeline run: a run id, the git commit it ran from, the spec's logical queues mapped
 * to the configured task queues, and the `pipelineRun` workflow started with an input that fits
 * in one Temporal payload.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { MAX_PAYLOAD_BYTES, workflowIds } from '../common/constants';
import { PayloadTooLarge } from '../common/errors';
import { PROJECT_ROOT } from '../common/paths';
import type { RunSpec } from '../pipeline/run-spec';
import type { FairlineConfig } from '../temporal.config';
import type { PipelineRunInput } from '../workflows/pipeline-run';

/** A sortable, readable run id: UTC time plus 4 random hex characters. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}-${randomBytes(2).toString('hex')}`.toLowerCase();
}

/** The commit the project is checked out at, recorded in the run's manifest; undefined outside a git checkout. */
export function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

/** Maps each stage's logical queue (cpu/gpu) to the configured task-queue name. */
export function withConfiguredQueues(spec: RunSpec, config: FairlineConfig): RunSpec {
  const queues: Record<string, string> = config.taskQueues;
  return { ...spec, stages: spec.stages.map((s) => ({ ...s, queue: queues[s.queue] ?? s.queue })) };
}

/** What to start: a validated spec (queues already configured) and how this run treats the cache and checkpoints. */
export interface StartRequest {
  readonly spec: RunSpec;
  readonly runId: string;
  readonly noCache?: boolean;
  /** Do not resume from checkpoints an earlier execution of this run id left. */
  readonly noResume?: boolean;
  /** Who started it: `cli`, `schedule`, … (the FairlineTrigger search attribute). */
  readonly trigger?: string;
  /** The spec's origin as PayloadTooLarge names it (`the run spec of pipelines/x.yaml`). */
  readonly source: string;
}

/** A run started, or the id already taken by a run that is still running (Temporal refuses a second start). */
export type StartResult =
  | { readonly started: true; readonly workflowId: string; readonly handle: WorkflowHandle }
  | { readonly started: false; readonly workflowId: string };

/** Starts `pipelineRun` for the spec; PayloadTooLarge when the input would not fit in one payload. */
export async function startRun(client: Client, config: FairlineConfig, request: StartRequest): Promise<StartResult> {
  const { spec, runId } = request;
  const workflowId = workflowIds.pipelineRun(spec.name, runId);
  const commit = gitCommit();
  const input: PipelineRunInput = {
    spec,
    runId,
    noCache: request.noCache ?? false,
    ...(request.noResume ? { noResume: true } : {}),
    trigger: request.trigger ?? 'cli',
    bookkeepingQueue: config.taskQueues.cpu,
    ...(commit ? { gitCommit: commit } : {}),
  };
  const inputBytes = Buffer.byteLength(JSON.stringify(input));
  if (inputBytes > MAX_PAYLOAD_BYTES) throw new PayloadTooLarge(request.source, inputBytes, MAX_PAYLOAD_BYTES);
  try {
    const handle = await client.workflow.start('pipelineRun', {
      workflowId,
      taskQueue: config.taskQueues.cpu,
      args: [input],
      staticSummary: `${spec.name}: ${spec.stages.map((s) => s.id).join(' → ')}`,
      staticDetails: spec.description ?? '',
    });
    return { started: true, workflowId, handle };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    return { started: false, workflowId };
  }
}
