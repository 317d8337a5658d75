/**
 * Artifacts as local files, for code that reads files rather than streams (onnxruntime, the
 * tokenizers binding): the stage runtime downloads into its scratch folder and hands the paths on.
 */
import { join } from 'node:path';
import type { ArtifactRef, ArtifactStore } from './types';

/** An artifact's file name (the last segment of its URI), for messages and row locations. */
export const artifactName = (ref: ArtifactRef): string => decodeURIComponent(ref.uri.split('/').pop() ?? ref.uri);

/**
 * Downloads the artifact (verified; the file appears only once complete) into `dir` as
 * `<first 16 hex of its sha256>-<name>` and returns that path. The digest prefix keeps two
 * artifacts given the same name (two models' `model.onnx`) apart in one folder.
 */
export async function materialize(
  store: Pick<ArtifactStore, 'download'>,
  ref: ArtifactRef,
  dir: string,
  name: string = artifactName(ref),
): Promise<string> {
  const path = join(dir, `${ref.sha256.slice(0, 16)}-${name}`);
  await store.download(ref, path);
  return path;
}
