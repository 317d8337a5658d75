/** Every stage's first step: its `with` block checked against its schema, or StageInputInvalid naming each bad key. */
import type { z } from 'zod';
import { StageInputInvalid } from '../../common/errors';
import { describeIssues } from '../../pipeline/errors';

/** `emptyPath` names an issue about the block as a whole. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, stageId: string, emptyPath = ''): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw new StageInputInvalid(stageId, describeIssues(parsed.error.issues, emptyPath));
  return parsed.data;
}
