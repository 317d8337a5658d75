/**
 * Writes audit/default-groups.json, the audit's default identity-term pairs, from KoSBi's
 * demographic_groups.json (the rules and the pair table are in audit/derive-groups.ts).
 *
 *     npx tsx scripts/derive-audit-groups.ts [path/to/demographic_groups.json]
 *
 * The default path is the shared copy, ../shared/data/kosbi/demographic_groups.json. The output
 * records the source file's sha256, so a reader can tell which version the pairs came from;
 * test/audit/default-groups.test.ts fails when the committed file and this script's output differ.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { deriveDefaultGroups, formatDefaultGroups, KOSBI_GROUPS_PATH } from '../audit/derive-groups';
import { DEFAULT_GROUPS_FILE } from '../audit/pairs';
import { PROJECT_ROOT } from '../common/paths';

const source = resolve(process.argv[2] ?? KOSBI_GROUPS_PATH);
const derived = deriveDefaultGroups(await readFile(source));
await writeFile(join(PROJECT_ROOT, DEFAULT_GROUPS_FILE), formatDefaultGroups(derived));
const pairs = Object.values(derived.groups).reduce((n, g) => n + g.pairs.length, 0);
console.log(
  `wrote ${DEFAULT_GROUPS_FILE}: ${Object.keys(derived.groups).length} groups, ${pairs} pairs from ${source} (sha256 ${derived.source.sha256})`,
);
