/**
 * The `train` stage's own error conditions, in the style of common/errors.ts (one class per
 * condition, context as readonly fields, `type` = the class name). Workflow-safe: no Node built-ins.
 */
import { condition } from '../../common/errors';

/**
 * The trainer itself failed (crashed, ran out of memory) as many times as the train stage allows
 * for one execution. Attempts lost to the infrastructure (a worker gone, a store outage) do not
 * count, so they cannot use up the budget meant for these.
 */
export class TrainerFailureBudgetSpent extends condition('TrainerFailureBudgetSpent', false) {
  constructor(
    readonly stage: string,
    readonly failures: number,
    readonly detail: string,
  ) {
    super(
      `stage "${stage}": the trainer failed ${failures} times, its budget for this run (lost workers and store outages do not count); the last failure: ${detail}`,
    );
  }
}

/** The trainer refused its config or data (exit 2): fixing the pipeline is the only cure. */
export class TrainerConfigInvalid extends condition('TrainerConfigInvalid', false) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": the trainer refused its input: ${detail}`);
  }
}

/** The loss became NaN or infinite (exit 3): a learning rate or data problem, not an outage. */
export class TrainingDiverged extends condition('TrainingDiverged', false) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": training diverged: ${detail}`);
  }
}

/** The trainer ran out of (GPU) memory (exit 4); another worker or a retry may have room. */
export class TrainerOutOfMemory extends condition('TrainerOutOfMemory', true) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": the trainer ran out of memory: ${detail}`);
  }
}

/** The trainer process died for another reason (crash, killed): retried from the last checkpoint. */
export class TrainerCrashed extends condition('TrainerCrashed', true) {
  constructor(
    readonly stage: string,
    readonly detail: string,
  ) {
    super(`stage "${stage}": the trainer failed: ${detail}`);
  }
}

/** A stage's `model` names a local folder or S3 prefix that holds no model (missing, empty, not a folder). */
export class ModelSourceInvalid extends condition('ModelSourceInvalid', false) {
  constructor(
    readonly stage: string,
    readonly source: string,
    readonly reason: string,
  ) {
    super(`stage "${stage}": model ${JSON.stringify(source)}: ${reason}`);
  }
}
