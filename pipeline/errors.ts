/**
 * What is wrong in a pipeline definition, and how it is shown. Validation returns problems rather
 * than throwing, so that every problem of a file is reported at once.
 */
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
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[], emptyPath = ''): string {
  return issues.map((i) => `${i.path.join('.') || emptyPath}: ${i.message}`).join('; ');
}
