/**
 * The `audit` stage's own error conditions, in the style of common/errors.ts (one class per
 * condition, context as readonly fields, `type` = the class name). Workflow-safe: no Node built-ins.
 */
import { condition } from '../../common/errors';
import type { Json } from '../../pipeline/run-spec';

/**
 * The audited model exceeded a threshold of the audit's bias gate (`gate.mode: fail`). Not
 * retryable: the same model gives the same numbers. audit.json is stored before this is thrown,
 * and `outputs` holds what the stage would have returned, so a report can still be written.
 */
export class BiasGateFailed extends condition('BiasGateFailed', false) {
  constructor(
    readonly model: string,
    readonly reasons: readonly string[],
    readonly outputs: Readonly<Record<string, Json>>,
  ) {
    super(`model "${model}" failed the bias gate: ${reasons.join('; ')}`);
  }
}
