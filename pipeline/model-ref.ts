/**
 * What a stage's `model` may name, and how each kind is told apart. Workflow-safe (no I/O): the
 * client, the stage registry's `cacheable` and the worker all classify the same way.
 *
 * - `scratch`: a small BERT trained from zero (the trainer's own).
 * - a built-in name (`multilingual-e5-small`, `all-minilm-l6-v2`): built offline from pinned PyPI
 *   wheels by `trainer/pretrained.py`, cached on the worker (models/builtin.ts; names in models/names.ts).
 * - a local folder: an absolute path or a `file://` URL (the client turns `./x` into one).
 * - an `s3://bucket/prefix/`: every object under the prefix, downloaded into a folder.
 * - a model artifact: an `hf-model` bundle reference (the `huggingface` output of a train stage).
 * - anything else is a Hugging Face hub id, passed to `from_pretrained` as it is.
 */
import { isBuiltinModelName, type BuiltinModelName } from '../models/names';
import type { ArtifactRef } from '../store/types';

export type ModelReference =
  | { kind: 'scratch' }
  | { kind: 'builtin'; name: BuiltinModelName }
  | { kind: 'folder'; path: string }
  | { kind: 's3'; uri: string }
  | { kind: 'artifact'; ref: ArtifactRef }
  | { kind: 'hub'; id: string };

/** Decodes a file:// URL's path without Node's url module (this file is workflow-safe). */
function filePath(url: string): string {
  return decodeURIComponent(url.slice('file://'.length));
}

/** Which kind of model `model` names; undefined (the default) is `scratch`. */
export function classifyModel(model: string | ArtifactRef | undefined): ModelReference {
  if (model === undefined || model === 'scratch') return { kind: 'scratch' };
  if (typeof model !== 'string') return { kind: 'artifact', ref: model };
  if (isBuiltinModelName(model)) return { kind: 'builtin', name: model };
  if (model.startsWith('file://')) return { kind: 'folder', path: filePath(model) };
  if (model.startsWith('/')) return { kind: 'folder', path: model };
  if (model.startsWith('s3://')) return { kind: 's3', uri: model };
  return { kind: 'hub', id: model };
}

/**
 * Whether a train stage naming this model may be served from the cache. A hub id may point at new
 * weights tomorrow (a moved branch) and fairline cannot read the hub's digest offline, so a stage
 * naming one always runs. Every other kind puts the weights' digest into the cache key.
 */
export function modelCacheable(model: string | ArtifactRef | undefined): boolean {
  return classifyModel(model).kind !== 'hub';
}
