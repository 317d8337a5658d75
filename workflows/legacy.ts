/**
 * Rules that runs started under older workflow code still decide by, so that their histories
 * replay. Each belongs to a `patched()` marker in pipeline-run.ts; once no run started before
 * that marker is open, deprecate the patch and delete the rule here.
 */
import type { ResolvedStage } from '../pipeline/run-spec';

/**
 * Patch `stage-traits`: before the RunSpec carried stage traits, a skipIfUnchanged run took the
 * `download` stages as its data (and nothing else). Only runs without the marker use this.
 */
export function sourceBeforeTraits(stage: ResolvedStage): boolean {
  return stage.uses === 'download';
}
