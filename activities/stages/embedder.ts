/**
 * An embedder bundle (pipeline/embedder.ts) from the store, opened for a stage: the bundle's JSON
 * checked (ClassifierInvalid naming the `with` key when it is not one), model and tokenizer
 * downloaded into the stage's scratch folder, the ONNX session created (inference/embedder.ts).
 */
import { ClassifierInvalid } from '../../inference/errors';
import { Embedder } from '../../inference/embedder';
import { EMBEDDER_KIND, embedderBundleSchema, type EmbedderBundle } from '../../pipeline/embedder';
import type { InferenceOptions } from '../../pipeline/inference';
import type { ArtifactRef } from '../../store/types';
import type { StageContext } from './context';
import { localPath } from './files';

/** The bundle itself, checked; `key` names the `with` key in the error. */
export async function readEmbedderBundle(
  ref: ArtifactRef,
  context: StageContext,
  key: string,
): Promise<EmbedderBundle> {
  const where = `stage "${context.stageId}": ${key}`;
  let json: unknown;
  try {
    json = JSON.parse((await context.store.read(ref)).toString('utf8'));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new ClassifierInvalid(where, `${ref.uri} is not JSON: not an embedder bundle`);
  }
  const parsed = embedderBundleSchema.safeParse(json);
  if (!parsed.success)
    throw new ClassifierInvalid(
      where,
      `${ref.uri} is not an embedder bundle (a train stage's \`classifier\` output with mode: embedding; ` +
        `this artifact's kind is \`${ref.kind}\`${ref.kind === EMBEDDER_KIND ? '' : `, expected \`${EMBEDDER_KIND}\``}): ` +
        parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; '),
    );
  return parsed.data;
}

/** Opens the embedder a bundle names, its files made local. */
export async function loadEmbedder(
  ref: ArtifactRef,
  context: StageContext,
  options: InferenceOptions,
  key: string,
): Promise<{ embedder: Embedder; bundle: EmbedderBundle }> {
  const bundle = await readEmbedderBundle(ref, context, key);
  const embedder = await Embedder.fromFiles(
    {
      modelPath: await localPath(bundle.model, context, 'model.onnx'),
      tokenizerPath: await localPath(bundle.tokenizer, context, 'tokenizer.json'),
      maxLength: bundle.maxLength,
      textPrefix: bundle.textPrefix,
      modelDigest: bundle.model.sha256,
    },
    options,
    `stage "${context.stageId}": ${key}`,
  );
  return { embedder, bundle };
}
