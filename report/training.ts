/**
 * How each compared model was trained, and where two models' training differed: the report marks
 * every configuration difference between compared models, so that a difference in F1 or
 * reactivity is never silently attributed to the method when the dropout, the schedule or the
 * data differed too. Pure and workflow-safe: zod only.
 */
import { z } from 'zod';

/** Keys of train_config.json that name local files: they differ between any two runs and say nothing. */
const LOCATION_KEYS = new Set(['trainFile', 'validationFile', 'outputDir', 'hardNegatives.path']);
/**
 * Keys (and key prefixes) that only restate others (effectiveLoss.formula says it in words) or never change results.
 */
const RESTATING_KEYS = [
  'effectiveLoss.values',
  'effectiveLoss.overrides',
  'effectiveLoss.mode',
  'effectiveLoss.preset',
  'logEvery',
  'checkpointEvery',
  'keepCheckpoints',
];
const restates = (key: string): boolean => RESTATING_KEYS.some((k) => key === k || key.startsWith(`${k}.`));

/** The keys that make up "the method" of a baseline-vs-debiased comparison: expected to differ. */
export const METHOD_KEYS: readonly string[] = ['mode', 'effectiveLoss.formula', 'attnImplementation'];

/** One evaluated model's training, as evaluation.json carries it. */
export const trainingSchema = z
  .object({
    /** The trainer's resolved train_config.json, flattened to dotted keys, location keys left out. */
    config: z.record(z.string(), z.unknown()),
    /** The loss the model minimised, in words (train_config.json effectiveLoss.formula), when recorded. */
    loss_formula: z.string().nullable(),
  })
  .strict();
export type Training = z.infer<typeof trainingSchema>;

/** A configuration key whose value differs between compared models, with every model's value (null: not set). */
export interface ConfigDifference {
  key: string;
  values: Record<string, unknown>;
}

/** A nested JSON object as dotted keys; arrays stay values. */
function flatten(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix !== '') {
    out[prefix] = value;
  }
  return out;
}

/**
 * A train_config.json as the report keeps it: dotted keys, local paths dropped (hard negatives become
 * `hardNegatives.given`).
 */
export function trainingOf(trainConfig: unknown): Training {
  const flat = flatten(trainConfig);
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) if (!LOCATION_KEYS.has(key)) config[key] = value;
  config['hardNegatives.given'] = 'hardNegatives.path' in flat;
  const formula = flat['effectiveLoss.formula'];
  return { config, loss_formula: typeof formula === 'string' ? formula : null };
}

/** Every key whose value is not the same for all models (missing counts as null), in key order. */
export function configDifferences(
  models: readonly { name: string; training?: Training | undefined }[],
): ConfigDifference[] {
  const trained = models.filter((m) => m.training !== undefined);
  if (trained.length < 2) return [];
  const keys = [...new Set(trained.flatMap((m) => Object.keys(m.training!.config)))].filter((k) => !restates(k)).sort();
  const differences: ConfigDifference[] = [];
  for (const key of keys) {
    const values = Object.fromEntries(trained.map((m) => [m.name, m.training!.config[key] ?? null]));
    const distinct = new Set(Object.values(values).map((v) => JSON.stringify(v)));
    if (distinct.size > 1) differences.push({ key, values });
  }
  return differences;
}
