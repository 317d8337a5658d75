/**
 * Canonical JSON: object keys sorted (by UTF-16 code units, as Array#sort does), no whitespace,
 * `undefined` object members dropped. Two values that are equal as JSON give the same text, so
 * its hash identifies a spec whatever order its keys were written in. Pure: workflow-safe.
 */
import type { Json } from './run-spec';

/** The canonical JSON text of a JSON value. */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const members: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const member = value[key];
    // Optional fields parsed by zod may be present-but-undefined; JSON.stringify drops them too.
    if (member === undefined) continue;
    members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
  }
  return `{${members.join(',')}}`;
}
