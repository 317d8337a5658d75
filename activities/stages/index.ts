/**
 * The stage implementations this worker runs, each with a fingerprint of its code. The
 * fingerprint is part of the cache key: editing a stage's code invalidates exactly its results.
 * Each stage names only its implementation module (and what it reads or launches besides its
 * imports); `fingerprint.ts` follows the imports.
 */
import { DEFAULT_GROUPS_FILE } from '../../audit/pairs';
import type { StageImplementation } from './context';
import { codeFingerprints, type StageCode } from './fingerprint';
import { dataset } from './dataset/stage';
import { audit } from './audit';
import { download } from './download';
import { evaluate } from './evaluate';
import { report } from './report';
import { mineHardNegatives } from './mine-hard-negatives';
import { nerMask } from './ner-mask';
import { train, trainContentKey } from './train';
import type { Json } from '../../pipeline/run-spec';
import type { FairlineConfig } from '../../temporal.config';

export interface RegisteredStage {
  implementation: StageImplementation;
  /** sha256 of the files that decide the implementation's output; changes whenever they do. */
  fingerprint: string;
  /**
   * What the cache key must see beyond `with` and the code: the content behind a path or name in
   * `with` (a model folder's digest). Undefined when `with` holds only artifacts and values.
   */
  contentKey?: (input: Record<string, Json>, config: FairlineConfig) => Promise<Json | undefined>;
}

/** Each built-in stage: its implementation and where its code is (the module that exports it). */
export const BUILTIN_STAGE_CODE: Readonly<Record<string, { implementation: StageImplementation; code: StageCode; contentKey?: RegisteredStage['contentKey'] }>> = {
  download: { implementation: download, code: { entry: 'activities/stages/download.ts' } },
  dataset: { implementation: dataset, code: { entry: 'activities/stages/dataset/stage.ts' } },
  // The analyzer runs as `python -m trainer.morph`, in the environment trainer/requirements.txt pins.
  'ner-mask': { implementation: nerMask, code: { entry: 'activities/stages/ner-mask/index.ts', python: ['trainer.morph'] } },
  // The default pairs are data the stage reads: a new default set re-runs the audits that use it.
  audit: { implementation: audit, code: { entry: 'activities/stages/audit.ts', data: [DEFAULT_GROUPS_FILE] } },
  evaluate: { implementation: evaluate, code: { entry: 'activities/stages/evaluate.ts' } },
  report: { implementation: report, code: { entry: 'activities/stages/report.ts' } },
  'mine-hard-negatives': { implementation: mineHardNegatives, code: { entry: 'activities/stages/mine-hard-negatives.ts' } },
  // The trainer's Python code is this stage's code too: editing it retrains. Built-in encoders
  // come from `python -m trainer.pretrained` with the wheels trainer/pretrained.json pins.
  train: {
    implementation: train,
    code: { entry: 'activities/stages/train.ts', python: ['trainer', 'trainer.pretrained'], data: ['trainer/pretrained.json'] },
    contentKey: trainContentKey,
  },
};

/** The built-in stages; their fingerprints are computed once per process. */
export function builtinStages(): Record<string, RegisteredStage> {
  const fingerprints = codeFingerprints(Object.fromEntries(Object.entries(BUILTIN_STAGE_CODE).map(([name, s]) => [name, s.code])));
  return Object.fromEntries(
    Object.entries(BUILTIN_STAGE_CODE).map(([name, s]) => [
      name,
      { implementation: s.implementation, fingerprint: fingerprints[name]!, ...(s.contentKey ? { contentKey: s.contentKey } : {}) },
    ]),
  );
}
