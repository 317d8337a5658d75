/**
 * The registry of stage types a pipeline's `uses:` may name: one contract per line, each from its
 * own folder (`stages/<name>/contract.ts`). This is the only place a stage type is registered on
 * the workflow-safe side; stages/implementations.ts registers the Node side. Shared by the client
 * (validation), the workflow (traits travel in the RunSpec) and the worker; no I/O.
 */
import { auditContract } from './audit/contract';
import { datasetContract } from './dataset/contract';
import { registryOf } from './define';
import { downloadContract } from './download/contract';
import { evaluateContract } from './evaluate/contract';
import { klueReSubmissionContract } from './klue-re-submission/contract';
import { evaluateEmbeddingContract } from './evaluate-embedding/contract';
import { mineContract } from './mine-hard-negatives/contract';
import { nerMaskContract } from './ner-mask/contract';
import { reportContract } from './report/contract';
import { sampleContract } from './sample/contract';
import { trainContract } from './train/contract';

export { placeholderFor, type StagePublish, type StageType } from './define';

export const STAGE_TYPES = registryOf([
  downloadContract,
  datasetContract,
  nerMaskContract,
  mineContract,
  trainContract,
  auditContract,
  evaluateContract,
  klueReSubmissionContract,
  evaluateEmbeddingContract,
  reportContract,
  sampleContract,
]);
