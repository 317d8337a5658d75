/**
 * The trained classifier a stage's `with` names (the train stage's `classifier` bundle), loaded for
 * the evaluate, mine-hard-negatives and audit stages: the engine (inference/engine.ts) reads local
 * files only, so the store I/O happens here.
 */
import { Classifier, readClassifierBundle } from '../../inference/engine';
import type { InferenceOptions } from '../../pipeline/inference';
import { materialize } from '../../store/materialize';
import type { ArtifactRef } from '../../store/types';
import type { StageContext } from './context';

/**
 * Reads and checks the bundle (ClassifierInvalid naming the `with` key when it is not one),
 * downloads its model and tokenizer (verified) into the scratch folder, and loads the engine from
 * those files with its load-time checks. `key` names the with-key in errors, e.g. "models.baseline".
 */
export async function loadClassifier(
  ref: ArtifactRef,
  context: Pick<StageContext, 'stageId' | 'store' | 'scratchDir'>,
  options: InferenceOptions,
  key: string,
): Promise<Classifier> {
  const where = `stage "${context.stageId}": ${key}`;
  const bundle = await readClassifierBundle(ref, context.store, where);
  const model = await materialize(context.store, bundle.model, context.scratchDir, 'model.onnx');
  const tokenizer = await materialize(context.store, bundle.tokenizer, context.scratchDir, 'tokenizer.json');
  return Classifier.fromBundle(bundle, { model, tokenizer }, options, where);
}
