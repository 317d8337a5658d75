/**
 * YAML alias expansion, bounded before it happens. The parser's own guard (`maxAliasCount`)
 * counts aliases, not what they copy, and cannot say where: a 3 MB file whose anchored list 99
 * stages reuse passed it and cost the validator half a minute and over a gigabyte. Here every
 * node's expanded size is computed once, so the walk is linear in the file, and the alias that
 * goes over the bound is the one reported.
 */
import { isAlias, isMap, isScalar, isSeq, visit, type Document, type LineCounter } from 'yaml';
import { MAX_PAYLOAD_BYTES } from '../common/constants';
import { rangeStart } from './validate/positions';

/**
 * How much YAML aliases may add to a pipeline once expanded, in bytes of source: as much as a
 * whole RunSpec may hold (common/constants.ts MAX_PAYLOAD_BYTES), since anything bigger could
 * never run.
 */
export const ALIAS_EXPANSION_LIMIT = MAX_PAYLOAD_BYTES;

/**
 * The first alias at which the aliases of `doc`, expanded, would add more than
 * ALIAS_EXPANSION_LIMIT bytes, and an alias inside its own anchor. Sizes are computed once per
 * node (a scalar counts its source text, a collection its items), so the walk is linear in the
 * file and expands nothing.
 */
export function aliasExpansionProblem(
  doc: Document,
  lines: LineCounter,
): { offset: number; message: string } | undefined {
  const sizes = new Map<unknown, number>();
  const open = new Set<unknown>();
  let cycle: { alias: unknown; anchor: string } | undefined;
  const sizeOf = (node: unknown): number => {
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (open.has(target)) {
        cycle ??= { alias: node, anchor: node.source };
        return 0;
      }
      return target === undefined ? 0 : sizeOf(target);
    }
    const known = sizes.get(node);
    if (known !== undefined) return known;
    let size = 1;
    open.add(node);
    if (isScalar(node)) size = Math.max(1, node.range ? node.range[1] - node.range[0] : String(node.value).length);
    else if (isMap(node)) for (const pair of node.items) size += sizeOf(pair.key) + sizeOf(pair.value);
    else if (isSeq(node)) for (const item of node.items) size += sizeOf(item);
    open.delete(node);
    sizes.set(node, size);
    return size;
  };
  let added = 0;
  let problem: { offset: number; message: string } | undefined;
  visit(doc, {
    Alias(_, alias) {
      const target = alias.resolve(doc);
      const size = sizeOf(target);
      const offset = rangeStart(alias) ?? 0;
      const anchorAt = rangeStart(target);
      const where =
        anchorAt === undefined
          ? ''
          : ` (its anchored node starts at ${lines.linePos(anchorAt).line}:${lines.linePos(anchorAt).col})`;
      if (cycle !== undefined) {
        problem = {
          offset,
          message: `YAML: alias *${cycle.anchor} is inside the node it names${where}: it would expand forever`,
        };
        return visit.BREAK;
      }
      added += size;
      if (added > ALIAS_EXPANSION_LIMIT) {
        problem = {
          offset,
          message:
            `YAML: alias *${alias.source}${where} copies ${formatBytes(size)}; with the aliases before it, expanding aliases would add ${formatBytes(added)} to this file, ` +
            `more than the ${formatBytes(ALIAS_EXPANSION_LIMIT)} a whole run spec may hold: write the list once (a file or an artifact) instead of reusing it`,
        };
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return problem;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}
