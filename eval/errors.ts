/**
 * What can go wrong reading metrics input (`fairline metrics`, the evaluate stage); see common/errors.ts for the style.
 */
import { condition } from '../common/errors';

/**
 * Input to the metrics library or `fairline metrics` cannot be scored: a ragged or out-of-range
 * row, a label list that does not fit, an excluded label that is not a label. `where` names the
 * place: `row 7` (library), `preds.jsonl:8` (command line), `exclude`.
 */
export class MetricsInputInvalid extends condition('MetricsInputInvalid', false) {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}
