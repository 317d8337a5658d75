/**
 * The `mine-hard-negatives` stage's own error conditions, in the style of common/errors.ts (one class per
 * condition, context as readonly fields, `type` = the class name). Workflow-safe: no Node built-ins.
 */
import { condition } from '../../common/errors';

/**
 * A dataset's labels do not fit a model's or the label names given with it: another task
 * (a 0/1 vector against a class index), or another number of labels. Not retryable: the data or
 * the model is the wrong one. `where` names the stage and inputs, e.g. `stage "mine": model`.
 */
export class LabelsMismatch extends condition('LabelsMismatch', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}
