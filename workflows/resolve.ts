/** Pure helpers of the pipelineRun workflow (deterministic; unit-tested directly). */
import type { Json } from '../pipeline/run-spec';

/** Outputs of a finished stage: ArtifactRefs and small scalars, keyed by output name. */
export type StageOutputs = Record<string, Json>;

function isOutputRef(value: Json): value is { $output: { stage: string; output: string } } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const ref = value.$output;
  return (
    Object.keys(value).length === 1 &&
    ref !== null &&
    typeof ref === 'object' &&
    !Array.isArray(ref) &&
    typeof ref.stage === 'string' &&
    typeof ref.output === 'string'
  );
}

/**
 * Replaces every `{ $output: { stage, output } }` in a `with` block by that stage's output. The
 * client has already checked that each referenced stage is an ancestor, so a missing output here
 * is a bug, reported loudly.
 */
export function resolveWith(value: Record<string, Json>, outputs: Record<string, StageOutputs>): Record<string, Json> {
  const walk = (v: Json): Json => {
    if (isOutputRef(v)) {
      const produced = outputs[v.$output.stage]?.[v.$output.output];
      if (produced === undefined) throw new Error(`output ${v.$output.stage}.${v.$output.output} is not available`);
      return produced;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
}
