/**
 * The `dataset` stage's own error conditions, in the style of common/errors.ts (one class per
 * condition, context as readonly fields, `type` = the class name). Workflow-safe: no Node built-ins.
 */
import { condition, snippet } from '../../common/errors';

/**
 * A dataset file cannot be read as its format at all (truncated JSON, an unterminated quoted
 * field, no records): nothing after the break can be trusted, so `onInvalidRow: skip` does not apply.
 * `where` names the place: `train.json: byte 1200`, `dev.tsv:17`.
 */
export class DatasetMalformed extends condition('DatasetMalformed', false) {
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
  }
}

/**
 * Rows of a dataset failed mapping or validation under `onInvalidRow: fail`; no dataset artifact
 * was written. `problems` holds the first ones as `source:row: reason`; `total` counts them all.
 */
export class DatasetRowsInvalid extends condition('DatasetRowsInvalid', false) {
  constructor(
    readonly total: number,
    readonly problems: readonly string[],
    readonly note = '',
  ) {
    super(
      `${total} invalid row${total === 1 ? '' : 's'}${note}${total > problems.length ? `; the first ${problems.length}` : ''}:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
}

/** A mapping names a column that the source does not have (not in its header, or past its last field). */
export class DatasetColumnMissing extends condition('DatasetColumnMissing', false) {
  constructor(
    readonly source: string,
    readonly column: string | number,
    readonly available: readonly string[],
  ) {
    // The header is input: a few columns, each a bounded snippet, are enough to spot a typo.
    const shown = available.slice(0, 12).map((c) => snippet(c, 40));
    const more = available.length > shown.length ? `, … ${available.length - shown.length} more` : '';
    super(
      `${source}: the mapping names column ${snippet(String(column), 40)}, which the header does not have (columns: ${shown.join(', ')}${more})`,
    );
  }
}

/** `split: { shuffle, trainFirst }` asks for at least as many training rows as the dataset has valid rows. */
export class DatasetSplitTooLarge extends condition('DatasetSplitTooLarge', false) {
  constructor(
    readonly trainFirst: number,
    readonly rows: number,
  ) {
    super(
      `split.trainFirst is ${trainFirst}, but the dataset has ${rows} valid rows: nothing would be left to test on`,
    );
  }
}
