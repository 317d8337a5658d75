/**
 * The stage implementations this worker runs: one line per stage type, each the `defineStage` of
 * `stages/<name>/implementation.ts`. This is the only place a stage is registered on the Node
 * side (stages/index.ts registers the contracts). Each comes with a fingerprint of its code,
 * part of the cache key: editing a stage's code invalidates exactly its results. The fingerprint
 * follows the imports of the implementation module (activities/stages/fingerprint.ts), plus the
 * data files and Python modules its `defineStage` names.
 */
import type { ContentKey, DefinedStage } from '../activities/stages/define';
import { codeFingerprints, type StageCode } from '../activities/stages/fingerprint';
import type { StageImplementation } from '../activities/stages/context';
import { audit } from './audit/implementation';
import { dataset } from './dataset/implementation';
import { download } from './download/implementation';
import { evaluate } from './evaluate/implementation';
import { klueReSubmission } from './klue-re-submission/implementation';
import { evaluateEmbedding } from './evaluate-embedding/implementation';
import { mineHardNegatives } from './mine-hard-negatives/implementation';
import { nerMask } from './ner-mask/implementation';
import { report } from './report/implementation';
import { sample } from './sample/implementation';
import { train } from './train/implementation';

const IMPLEMENTATIONS: readonly DefinedStage[] = [
  download,
  dataset,
  nerMask,
  mineHardNegatives,
  train,
  audit,
  evaluate,
  klueReSubmission,
  evaluateEmbedding,
  report,
  sample,
];

export interface RegisteredStage {
  implementation: StageImplementation;
  /** sha256 of the files that decide the implementation's output; changes whenever they do. */
  fingerprint: string;
  /**
   * What the cache key must see beyond `with` and the code: the content behind a path or name in
   * `with` (a model folder's digest). Undefined when `with` holds only artifacts and values.
   */
  contentKey?: ContentKey;
}

/** Where a stage type's implementation module is: by convention, `stages/<name>/implementation.ts`. */
export const implementationModule = (name: string): string => `stages/${name}/implementation.ts`;

/** Each built-in stage: its implementation and where its code is (the module that exports it). */
export const BUILTIN_STAGE_CODE: Readonly<
  Record<string, { implementation: StageImplementation; code: StageCode; contentKey?: ContentKey }>
> = Object.fromEntries(
  IMPLEMENTATIONS.map((stage) => {
    const { data, python, contentKey } = stage.extras;
    const code: StageCode = {
      entry: implementationModule(stage.contract.name),
      ...(data ? { data } : {}),
      ...(python ? { python } : {}),
    };
    return [stage.contract.name, { implementation: stage, code, ...(contentKey ? { contentKey } : {}) }];
  }),
);

/** The built-in stages; their fingerprints are computed once per process. */
export function builtinStages(): Record<string, RegisteredStage> {
  const fingerprints = codeFingerprints(
    Object.fromEntries(Object.entries(BUILTIN_STAGE_CODE).map(([name, s]) => [name, s.code])),
  );
  return Object.fromEntries(
    Object.entries(BUILTIN_STAGE_CODE).map(([name, s]) => [
      name,
      {
        implementation: s.implementation,
        fingerprint: fingerprints[name]!,
        ...(s.contentKey ? { contentKey: s.contentKey } : {}),
      },
    ]),
  );
}
