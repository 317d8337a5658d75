/**
 * The names of the built-in pretrained encoders (models/builtin.ts builds them). Workflow-safe (no
 * imports): the validator, stage contracts and workflows classify model names with it, and bootstrap,
 * which prebuilds the models, reads it from a layer below its own.
 */

/** Names the converter knows (trainer/pretrained.json lists the same; a test checks they agree). */
export const BUILTIN_MODEL_NAMES = ['multilingual-e5-small', 'all-minilm-l6-v2'] as const;
export type BuiltinModelName = (typeof BUILTIN_MODEL_NAMES)[number];

export function isBuiltinModelName(value: string): value is BuiltinModelName {
  return (BUILTIN_MODEL_NAMES as readonly string[]).includes(value);
}
