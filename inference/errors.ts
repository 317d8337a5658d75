/**
 * What can go wrong loading or running a model for inference (inference/engine.ts); see common/errors.ts for the style.
 */
import { condition } from '../common/errors';

/**
 * A `with` input that should be a trained classifier (pipeline/classifier.ts) is not one, or its
 * model or tokenizer does not load or lacks what a sequence classifier has. `where` names the
 * input: `stage "evaluate": models.baseline`, or a file for a classifier loaded from files.
 */
export class ClassifierInvalid extends condition('ClassifierInvalid', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/** The tokenizer's ids and the model's word-embedding table do not fit: they belong to different models. */
export class TokenizerModelMismatch extends condition('TokenizerModelMismatch', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/** The model's logits do not have one column per label the bundle names (or are not float32 [batch, labels]). */
export class ModelOutputMismatch extends condition('ModelOutputMismatch', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

/**
 * The configured onnxruntime execution provider (`cuda`) cannot run on this worker: its library,
 * driver or device is missing. Not retried: a retry lands on a worker of the same task queue,
 * which is set up the same way; route the stage to a GPU worker's queue or choose `cpu`.
 */
export class ExecutionProviderUnavailable extends condition('ExecutionProviderUnavailable', false) {
  constructor(
    readonly where: string,
    readonly provider: string,
    readonly detail: string,
  ) {
    super(`${where}: the ${provider} execution provider is not available here: ${detail}`);
  }
}
