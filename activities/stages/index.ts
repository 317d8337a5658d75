/**
 * The stage implementations this worker runs, each with a fingerprint of its source code. The
 * fingerprint is part of the cache key: editing a stage's code invalidates exactly its results.
 */
import type { StageImplementation } from './context';
import { filesIn, fingerprintOf } from './fingerprint';
import { dataset, DATASET_SOURCE_FILES } from './dataset/stage';
import { audit, auditSourceFiles } from './audit';
import { download } from './download';
import { evaluate, evaluateSourceFiles } from './evaluate';
import { report, REPORT_SOURCE_FILES } from './report';
import { mineHardNegatives, mineSourceFiles } from './mine-hard-negatives';
import { nerMask, nerMaskSourceFiles } from './ner-mask';
import { train, trainContentKey } from './train';
import type { Json } from '../../pipeline/run-spec';
import type { FairlineConfig } from '../../temporal.config';

export interface RegisteredStage {
  implementation: StageImplementation;
  /** sha256 of the implementation's source; changes whenever its code does. */
  fingerprint: string;
  /**
   * What the cache key must see beyond `with` and the code: the content behind a path or name in
   * `with` (a model folder's digest). Undefined when `with` holds only artifacts and values.
   */
  contentKey?: (input: Record<string, Json>, config: FairlineConfig) => Promise<Json | undefined>;
}

/** The built-in stages. */
export function builtinStages(): Record<string, RegisteredStage> {
  return {
    download: { implementation: download, fingerprint: fingerprintOf('activities/stages/download.ts', 'pipeline/stage-types.ts') },
    dataset: { implementation: dataset, fingerprint: fingerprintOf(...DATASET_SOURCE_FILES) },
    'ner-mask': { implementation: nerMask, fingerprint: fingerprintOf(...nerMaskSourceFiles()) },
    audit: { implementation: audit, fingerprint: fingerprintOf(...auditSourceFiles()) },
    evaluate: { implementation: evaluate, fingerprint: fingerprintOf(...evaluateSourceFiles()) },
    report: { implementation: report, fingerprint: fingerprintOf(...REPORT_SOURCE_FILES) },
    'mine-hard-negatives': { implementation: mineHardNegatives, fingerprint: fingerprintOf(...mineSourceFiles()) },
    // The trainer's Python code is this stage's code too: editing it retrains.
    train: {
      implementation: train,
      fingerprint: fingerprintOf('activities/stages/train.ts', 'pipeline/train-stage.ts', 'pipeline/model-ref.ts', 'trainer/requirements.txt', ...filesIn('models'), ...filesIn('trainer', '.py'), ...filesIn('trainer', '.json')),
      contentKey: trainContentKey,
    },
  };
}

export { fingerprintOf };
