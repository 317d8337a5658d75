/**
 * The stage implementations this worker runs, each with a fingerprint of its source code. The
 * fingerprint is part of the cache key: editing a stage's code invalidates exactly its results.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../common/paths';
import type { StageImplementation } from './context';
import { dataset, DATASET_SOURCE_FILES } from './dataset/stage';
import { audit, AUDIT_SOURCE_FILES } from './audit';
import { download } from './download';
import { evaluate, EVALUATE_SOURCE_FILES } from './evaluate';
import { report, REPORT_SOURCE_FILES } from './report';
import { mineHardNegatives, mineSourceFiles } from './mine-hard-negatives';
import { nerMask, nerMaskSourceFiles } from './ner-mask';
import { train } from './train';

export interface RegisteredStage {
  implementation: StageImplementation;
  /** sha256 of the implementation's source; changes whenever its code does. */
  fingerprint: string;
}

/** Fingerprint of source files, relative to the project root. */
export function fingerprintOf(...files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update('\0').update(readFileSync(join(PROJECT_ROOT, file))).update('\0');
  return hash.digest('hex');
}

/** The trainer package's Python files, relative to the project root (its tests excluded). */
function trainerSources(): string[] {
  return readdirSync(join(PROJECT_ROOT, 'trainer'))
    .filter((f) => f.endsWith('.py'))
    .sort()
    .map((f) => `trainer/${f}`);
}

/** The built-in stages. */
export function builtinStages(): Record<string, RegisteredStage> {
  return {
    download: { implementation: download, fingerprint: fingerprintOf('activities/stages/download.ts', 'pipeline/stage-types.ts') },
    dataset: { implementation: dataset, fingerprint: fingerprintOf(...DATASET_SOURCE_FILES) },
    'ner-mask': { implementation: nerMask, fingerprint: fingerprintOf(...nerMaskSourceFiles()) },
    audit: { implementation: audit, fingerprint: fingerprintOf(...AUDIT_SOURCE_FILES) },
    evaluate: { implementation: evaluate, fingerprint: fingerprintOf(...EVALUATE_SOURCE_FILES) },
    report: { implementation: report, fingerprint: fingerprintOf(...REPORT_SOURCE_FILES) },
    'mine-hard-negatives': { implementation: mineHardNegatives, fingerprint: fingerprintOf(...mineSourceFiles()) },
    // The trainer's Python code is this stage's code too: editing it retrains.
    train: { implementation: train, fingerprint: fingerprintOf('activities/stages/train.ts', 'pipeline/train-stage.ts', 'trainer/requirements.txt', ...trainerSources()) },
  };
}
