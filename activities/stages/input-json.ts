/**
 * A stage's JSON input artifact (another stage's evaluation.json, audit.json, …) read and parsed
 * by its schema. Bad bytes are the pipeline's mistake, not a transient fault: a non-retryable
 * StageInputInvalid that names the `with` key, the URI and what was expected.
 */
import type { z } from 'zod';
import { StageInputInvalid } from '../../common/errors';
import type { ArtifactRef } from '../../store/types';
import type { StageContext } from './context';

/** `expected` completes "KEY (URI) is not …", e.g. "an evaluate stage's evaluation.json". */
export async function readInputJson<T>(
  ref: ArtifactRef,
  schema: z.ZodType<T>,
  key: string,
  expected: string,
  context: StageContext,
): Promise<T> {
  let json: unknown;
  try {
    json = JSON.parse((await context.store.read(ref)).toString('utf8'));
  } catch (error) {
    throw new StageInputInvalid(
      context.stageId,
      `${key} (${ref.uri}) is not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new StageInputInvalid(context.stageId, `${key} (${ref.uri}) is not ${expected}: ${issues.join('; ')}`);
  }
  return parsed.data;
}
