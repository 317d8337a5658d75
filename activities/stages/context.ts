/** What every stage implementation receives from the runStage activity. */
import type { Json } from '../../pipeline/run-spec';
import type { ArtifactStore } from '../../store/types';
import type { FairlineConfig } from '../../temporal.config';

export interface Logger {
  info(message: string, attrs?: Record<string, unknown>): void;
  warn(message: string, attrs?: Record<string, unknown>): void;
}

export interface StageContext {
  readonly stageId: string;
  readonly store: ArtifactStore;
  readonly config: FairlineConfig;
  readonly log: Logger;
  /** Reports progress to Temporal (also how cancellation reaches the stage). */
  heartbeat(details: Record<string, Json>): void;
  /** Aborted when the activity is cancelled or times out. */
  readonly signal: AbortSignal;
  /** A private folder for this attempt; removed when the attempt ends. */
  readonly scratchDir: string;
  /** The last heartbeat details of the previous attempt (a resume token), if this is a retry. */
  readonly previousHeartbeat?: unknown;
  /** 1 on the first attempt. */
  readonly attempt?: number;
  /**
   * Names this stage in this workflow execution (`<pipeline>/<run>/<execution>/<stage>`), the same
   * across retries: where a stage keeps what a retry needs (checkpoints) under the store's keys.
   */
  readonly executionKey?: string;
  /**
   * The stage's cache key (type, version, inputs by digest, code): equal keys mean the same work,
   * so a checkpoint written under one key can resume another execution with the same key.
   */
  readonly stageKey?: string;
  /**
   * Whether a stage may resume from what an earlier execution of the same run id left (default true; `--no-resume`).
   */
  readonly resumeEarlier?: boolean;
  /** Records where the stage resumed from; the workflow puts it into the manifest. */
  noteResume?(point: ResumePoint): void;
  /**
   * The folder of the pipeline's YAML file, when the run came from one: a default readable root (common/read-roots.ts).
   */
  readonly pipelineDir?: string;
  /** The run this stage belongs to (pipeline, run id, workflow id, spec digest, trigger, git commit). */
  readonly run?: RunInfo & { pipeline: string; runId: string };
}

/** A checkpoint a stage resumed from: which execution of the run wrote it, at which step. */
export interface ResumePoint {
  /** Workflow execution (run) id that wrote the checkpoint; this execution's own on a plain retry. */
  execution: string;
  step: number;
  checkpoint: string;
}

/** The run a stage belongs to, as the workflow knows it. */
export interface RunInfo {
  workflowId: string;
  specDigest: string;
  trigger: string;
  params: Record<string, Json>;
  gitCommit?: string;
  /** The pipeline's YAML file as the client named it (RunSpec.sourceFile). */
  sourceFile?: string;
}

/** A stage implementation: parses its own `with`, does the work, returns its outputs. */
export type StageImplementation = (input: Record<string, Json>, context: StageContext) => Promise<Record<string, Json>>;
