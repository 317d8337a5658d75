/**
 * The `ner-mask` stage's own error conditions, in the style of common/errors.ts (one class per
 * condition, context as readonly fields, `type` = the class name). Workflow-safe: no Node built-ins.
 */
import { condition, FairlineError, rowName, type RowLocation } from '../../common/errors';

/** A row's NER tags follow no scheme fairline reads (BIO/IOB2, BIOES): e.g. `PER`, `L-PS`, `U-LC`. */
export class TagSchemeUnknown extends condition('TagSchemeUnknown', false) {
  constructor(
    readonly row: RowLocation,
    readonly tag: string,
    readonly index: number,
  ) {
    super(
      `${rowName(row)}: tag ${JSON.stringify(tag)} at token ${index} is not BIO/IOB2/BIOES (O, B-X, I-X, E-X, S-X)`,
    );
  }
}

/** An entity span reaches outside its row's text (offsets count Unicode code points). */
export class SpanOutOfBounds extends condition('SpanOutOfBounds', false) {
  constructor(
    readonly row: RowLocation,
    readonly source: string,
    readonly span: { start: number; end: number; type: string },
    readonly textLength: number,
  ) {
    super(
      `${rowName(row)}: ${source} span [${span.start}, ${span.end}) ${span.type} is out of bounds of the text (${textLength} characters)`,
    );
  }
}

/** Two spans from the same source overlap in one row: the annotation is ambiguous. */
export class SpansOverlap extends condition('SpansOverlap', false) {
  constructor(
    readonly row: RowLocation,
    readonly source: string,
    readonly first: { start: number; end: number; type: string },
    readonly second: { start: number; end: number; type: string },
  ) {
    super(
      `${rowName(row)}: ${source} spans [${first.start}, ${first.end}) ${first.type} and [${second.start}, ${second.end}) ${second.type} overlap`,
    );
  }
}

/** A lexicon file does not parse, or an entry is not a term. `line` is 1-based. */
export class LexiconInvalid extends condition('LexiconInvalid', false) {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`lexicon ${file}:${line}: ${detail}`);
  }
}

/**
 * An external analyzer process (the morphological analyzer) failed. Retryable when it crashed, not when it cannot
 * start.
 */
export class AnalyzerFailed extends FairlineError {
  readonly type = 'AnalyzerFailed';
  constructor(
    readonly analyzer: string,
    readonly detail: string,
    readonly retryable: boolean,
  ) {
    super(`${analyzer} failed: ${detail}`);
  }
}
