/**
 * Identity-term pairs for the reactivity audit: groups (gender, age, …), each a list of
 * counterpart pairs [a, b] that name two identities and nothing else differently (남학생/여학생).
 *
 * Three sources, one at a time: the pipeline's inline `groups`, a `groupsFile` (YAML or JSON,
 * checked here with file:line errors), or the default set, audit/default-groups.json, which
 * scripts/derive-audit-groups.ts derives from KoSBi's demographic_groups.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq } from 'yaml';
import { z } from 'zod';
import { AuditGroupsInvalid } from '../common/errors';
import { PROJECT_ROOT } from '../common/paths';
import { parseWithLines } from '../pipeline/yaml-lines';
import { auditGroupsSchema, type AuditGroups } from '../stages/audit/contract';

/** One pair with the group it belongs to, in the order groups and pairs were given. */
export interface IdentityPair {
  readonly group: string;
  readonly a: string;
  readonly b: string;
}

/** The groups as a flat list of pairs, group by group, pairs in their given order. */
export function flattenGroups(groups: AuditGroups): IdentityPair[] {
  return Object.entries(groups).flatMap(([group, pairs]) => pairs.map(([a, b]) => ({ group, a, b })));
}

/** Where the committed default set lives, relative to the project root. */
export const DEFAULT_GROUPS_FILE = 'audit/default-groups.json';

/**
 * The default set's file: the groups, and how they were derived (the source file's sha256, the
 * rule per category, the categories left out and why). Written by scripts/derive-audit-groups.ts.
 */
export const defaultGroupsFileSchema = z
  .object({
    source: z.object({ repository: z.string(), file: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
    rule: z.string(),
    groups: z.record(
      z.string(),
      z
        .object({
          category: z.string(),
          rule: z.enum(['counterparts', 'reference']),
          why: z.string(),
          pairs: z
            .array(
              z
                .object({
                  a: z.string(),
                  b: z.string(),
                  source: z.enum(['kosbi', 'manual']),
                  note: z.string().optional(),
                })
                .strict(),
            )
            .min(1),
        })
        .strict(),
    ),
    /** Every category of the source file: the groups built from it, the terms no pair uses, and why. */
    categories: z.array(
      z
        .object({ category: z.string(), groups: z.array(z.string()), unused: z.array(z.string()), why: z.string() })
        .strict(),
    ),
  })
  .strict();
export type DefaultGroupsFile = z.infer<typeof defaultGroupsFileSchema>;

/** The default groups: audit/default-groups.json reduced to group → [a, b] pairs. */
export function defaultGroups(): AuditGroups {
  const file = defaultGroupsFileSchema.parse(JSON.parse(readFileSync(join(PROJECT_ROOT, DEFAULT_GROUPS_FILE), 'utf8')));
  return auditGroupsSchema.parse(
    Object.fromEntries(Object.entries(file.groups).map(([group, g]) => [group, g.pairs.map((p) => [p.a, p.b])])),
  );
}

/**
 * Groups from a file: a YAML (or JSON) mapping group → list of pairs, each a two-term list
 * (`- [남학생, 여학생]`). The same rules as inline `groups` (a non-empty list per group, two
 * different non-empty terms per pair); a problem is AuditGroupsInvalid naming the file's line.
 */
export function parseGroupsFile(source: string, file: string): AuditGroups {
  const { root, lineOf } = parseWithLines(source, (line, message) => {
    throw new AuditGroupsInvalid(file, line, message);
  });
  if (!isMap(root))
    throw new AuditGroupsInvalid(
      file,
      lineOf(root),
      'the file must be a mapping group → list of [a, b] pairs, e.g. `gender: [[남학생, 여학생]]`',
    );
  if (root.items.length === 0) throw new AuditGroupsInvalid(file, lineOf(root), 'the file names no group');
  const groups: AuditGroups = {};
  for (const item of root.items) {
    const group = isScalar(item.key) ? item.key.value : undefined;
    if (typeof group !== 'string' || group.trim() === '')
      throw new AuditGroupsInvalid(file, lineOf(item.key), 'a group name must be a non-empty string');
    const value = item.value;
    if (!isSeq(value))
      throw new AuditGroupsInvalid(
        file,
        lineOf(value ?? item.key),
        `group ${JSON.stringify(group)} must hold a list of [a, b] pairs`,
      );
    if (value.items.length === 0)
      throw new AuditGroupsInvalid(
        file,
        lineOf(value),
        `group ${JSON.stringify(group)} has no pairs: give at least one [a, b] pair`,
      );
    groups[group] = value.items.map((pair): [string, string] => {
      const terms = isSeq(pair)
        ? pair.items.map((t) => (isScalar(t) && typeof t.value === 'string' ? t.value.trim() : ''))
        : [];
      const [a, b] = terms;
      if (terms.length !== 2 || !a || !b) {
        throw new AuditGroupsInvalid(
          file,
          lineOf(pair),
          `a pair of group ${JSON.stringify(group)} must be a list of two non-empty terms, e.g. [남학생, 여학생]`,
        );
      }
      if (a === b)
        throw new AuditGroupsInvalid(
          file,
          lineOf(pair),
          `the pair [${a}, ${b}] of group ${JSON.stringify(group)} names the same term twice: the two terms of a pair must differ`,
        );
      return [a, b];
    });
  }
  return groups;
}
