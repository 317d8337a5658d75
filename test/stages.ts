/**
 * A stage type that tests register next to the built-ins, the way a plugin would: `concat`
 * reads its input artifacts from the store and writes their concatenation as a new artifact.
 * It consumes other stages' outputs, which the built-in `download` does not.
 */
import { z } from 'zod';
import { builtinStages, type RegisteredStage } from '../stages/implementations';
import type { StageImplementation } from '../activities/stages/context';
import { STAGE_TYPES, type StageType } from '../stages';
import { artifactRefSchema } from '../store/types';

const concatWith = z
  .object({ parts: z.array(artifactRefSchema).min(1), name: z.string().default('concat.txt') })
  .strict();

export const concatType: StageType = {
  name: 'concat',
  version: '1',
  description: 'Concatenate artifacts (test plugin)',
  with: concatWith,
  outputs: { dataset: 'artifact' },
  defaults: STAGE_TYPES.download!.defaults,
};

const concat: StageImplementation = async (input, context) => {
  const { parts, name } = concatWith.parse(input);
  const chunks = await Promise.all(parts.map((ref) => context.store.read(ref)));
  return { dataset: await context.store.put({ bytes: Buffer.concat(chunks) }, { kind: 'dataset', name }) };
};

export const testStageTypes = { ...STAGE_TYPES, concat: concatType };

/** The built-in stages plus concat, whose code fingerprint the caller chooses. */
export function testStages(concatFingerprint = 'c'.repeat(64)): Record<string, RegisteredStage> {
  return { ...builtinStages(), concat: { implementation: concat, fingerprint: concatFingerprint } };
}
