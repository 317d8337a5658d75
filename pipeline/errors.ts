/**
 * What is wrong in a pipeline definition, and how it is shown. Validation returns problems rather
 * than throwing, so that every problem of a file is reported at once; the error classes are for
 * callers that must stop (a worker asked for a stage type it does not know).
 */
import { condition } from '../common/errors';

/** A position in a pipeline file, 1-based, and what is wrong there. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** `FILE:LINE:COL: message`, the form editors and terminals turn into links. */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.message}`;
}

/**
 * Schema issues (zod's `error.issues`) as one line: `path.to.key: message; …`. `emptyPath` names
 * an issue about the value as a whole (its path is empty).
 */
export function describeIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  emptyPath = '',
): string {
  return issues.map((i) => `${i.path.join('.') || emptyPath}: ${i.message}`).join('; ');
}

/** `uses:` names a stage type this worker does not implement. */
export class StageTypeUnknown extends condition('StageTypeUnknown', false) {
  constructor(
    readonly uses: string,
    readonly known: readonly string[],
  ) {
    super(`unknown stage type "${uses}" (this worker knows: ${known.join(', ')})`);
  }
}
