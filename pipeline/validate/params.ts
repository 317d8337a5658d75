/**
 * A pipeline's params: the declared defaults, then `--set params.NAME=VALUE` overrides from the
 * command line, each held to its default's type.
 */
import { isScalar, parseDocument } from 'yaml';
import { paramValueSchema, type ParamValue } from '../spec';
import { isRecord } from './positions';
import { didYouMean, quoteList, type Reporter } from './wording';

/** Declared params with their typed defaults, then `--set` overrides checked against those types. */
export function resolveParams(
  root: Record<string, unknown>,
  set: readonly string[],
  reporter: Reporter,
): Map<string, ParamValue> {
  const declared = isRecord(root.params) ? root.params : {};
  const params = new Map<string, ParamValue>();
  for (const [name, value] of Object.entries(declared)) {
    const typed = paramValueSchema.safeParse(value);
    if (typed.success) params.set(name, typed.data);
  }
  for (const entry of set) applySet(entry, declared, params, reporter);
  return params;
}

function applySet(
  entry: string,
  declared: Record<string, unknown>,
  params: Map<string, ParamValue>,
  reporter: Reporter,
): void {
  const eq = entry.indexOf('=');
  const target = (eq < 0 ? entry : entry.slice(0, eq)).trim();
  if (eq < 0 || !target.startsWith('params.')) {
    reporter.at(0, `--set ${entry}: expected params.NAME=VALUE (only params can be set)`);
    return;
  }
  const name = target.slice('params.'.length);
  const text = entry.slice(eq + 1);
  if (!Object.hasOwn(declared, name)) {
    const known = Object.keys(declared);
    const hint = known.length === 0 ? 'the pipeline declares no params' : `declared params: ${quoteList(known)}`;
    reporter.reportBare(
      ['params'],
      `--set ${target}: unknown param "${name}"${didYouMean(name, known)}; ${hint}`,
      'key',
    );
    return;
  }
  const current = params.get(name);
  // A default of the wrong type is reported by the shape check; there is no type to hold to.
  if (current === undefined) return;
  const value = parseSetValue(text, typeof current);
  if (value === undefined) {
    reporter.reportBare(
      ['params', name],
      `--set ${target}=${text}: expected a ${typeof current} like the default ${JSON.stringify(current)}, got ${JSON.stringify(text)}`,
      'key',
    );
    return;
  }
  params.set(name, value);
}

/**
 * A `--set` value is read as a YAML scalar (`5`, `3.0e-5`, `true`, `'quoted'`) and must have the
 * param's type. For string params any text is accepted as is: `--set params.tag=2024` means the
 * string "2024", and refusing it because YAML reads a number would only surprise.
 */
function parseSetValue(text: string, type: string): ParamValue | undefined {
  const doc = parseDocument(text, { prettyErrors: false });
  const node = doc.contents;
  const scalar = doc.errors.length === 0 && isScalar(node) ? paramValueSchema.safeParse(node.value) : undefined;
  const value = scalar?.success ? scalar.data : undefined;
  if (type === 'string') return typeof value === 'string' ? value : text;
  return typeof value === type ? value : undefined;
}
