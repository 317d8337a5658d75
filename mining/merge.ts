/**
 * From the recipes' finds to the mined set: capped per source example, deduplicated by row with
 * their provenance merged, and cut to `maxTotal` in a deterministic order.
 *
 * Order. Scores of different reasons are not comparable (a BM25 score is unbounded, a probability
 * is not), so rows are not ordered by raw score. Every find gets a rank in its list: one list per
 * (reason, label), hardest first (model-based lists arrive in that order; a bm25 list is sorted by
 * score, then source id, then neighbour id). A row ranks by its best find: rank, then reason
 * (confident-wrong, low-margin, bm25), then score (higher first), then row id. `maxTotal` thus keeps
 * the hardest few of every list before the second tier of any, and no label or reason crowds out
 * the others.
 *
 * Cap. A source example contributes at most `capPerExample` distinct rows: its finds in the order
 * reason, score (higher first), neighbour id, and rows past the cap drop that source's finds. Only
 * bm25 sources can reach it (a model-based find is the row itself), e.g. a positive for three
 * labels with three neighbours each.
 */
import { MINING_REASONS, type Find, type HardNegativeProvenance } from './types';

export interface MergeOptions {
  readonly capPerExample: number;
  readonly maxTotal: number;
}

/** A mined row: its index in the pool, and every reason it was mined for, best first. */
export interface Mined {
  readonly row: number;
  readonly id: string;
  readonly provenance: HardNegativeProvenance[];
}

const reasonOrder = (reason: HardNegativeProvenance['reason']): number => MINING_REASONS.indexOf(reason);
/** Strings by UTF-16 code unit: how ids break ties throughout mining. */
export const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface Ranked extends Find {
  readonly rank: number;
}

/** Ranks each find within its (reason, label) list. */
function ranked(finds: readonly Find[]): Ranked[] {
  const lists = new Map<string, Find[]>();
  for (const find of finds) {
    const key = `${find.provenance.reason}\0${find.provenance.label}`;
    let list = lists.get(key);
    if (list === undefined) lists.set(key, (list = []));
    list.push(find);
  }
  const out: Ranked[] = [];
  for (const list of lists.values()) {
    if (list[0]!.provenance.reason === 'bm25') {
      list.sort(
        (a, b) =>
          b.provenance.score - a.provenance.score ||
          byString(a.provenance.source_id, b.provenance.source_id) ||
          byString(a.provenance.neighbour_id, b.provenance.neighbour_id),
      );
    }
    for (const [rank, find] of list.entries()) out.push({ ...find, rank });
  }
  return out;
}

/** Finds of sources past `cap` distinct rows dropped. */
function capped(finds: readonly Ranked[], cap: number): Ranked[] {
  const bySource = new Map<string, Ranked[]>();
  for (const find of finds) {
    let list = bySource.get(find.provenance.source_id);
    if (list === undefined) bySource.set(find.provenance.source_id, (list = []));
    list.push(find);
  }
  const kept: Ranked[] = [];
  for (const list of bySource.values()) {
    list.sort(
      (a, b) =>
        reasonOrder(a.provenance.reason) - reasonOrder(b.provenance.reason) ||
        b.provenance.score - a.provenance.score ||
        byString(a.provenance.neighbour_id, b.provenance.neighbour_id) ||
        byString(a.provenance.label, b.provenance.label),
    );
    const rows = new Set<number>();
    for (const find of list) {
      if (!rows.has(find.row)) {
        if (rows.size === cap) continue;
        rows.add(find.row);
      }
      kept.push(find);
    }
  }
  return kept;
}

const compareFinds = (a: Ranked, b: Ranked): number =>
  a.rank - b.rank ||
  reasonOrder(a.provenance.reason) - reasonOrder(b.provenance.reason) ||
  b.provenance.score - a.provenance.score ||
  byString(a.provenance.label, b.provenance.label) ||
  byString(a.provenance.source_id, b.provenance.source_id);

/** The mined rows, hardest first, at most `maxTotal`. `ids` are the pool's row ids by index. */
export function mergeFinds(finds: readonly Find[], ids: readonly string[], options: MergeOptions): Mined[] {
  const byRow = new Map<number, Ranked[]>();
  for (const find of capped(ranked(finds), options.capPerExample)) {
    let list = byRow.get(find.row);
    if (list === undefined) byRow.set(find.row, (list = []));
    list.push(find);
  }
  const rows = [...byRow.entries()].map(([row, list]) => ({ row, list: list.sort(compareFinds) }));
  rows.sort((a, b) => compareFinds(a.list[0]!, b.list[0]!) || byString(ids[a.row]!, ids[b.row]!));
  return rows
    .slice(0, options.maxTotal)
    .map(({ row, list }) => ({ row, id: ids[row]!, provenance: list.map((f) => f.provenance) }));
}

/** Rows per reason (a row mined for two reasons counts under both). */
export function countByReason(mined: readonly Mined[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(MINING_REASONS.map((r) => [r, 0]));
  for (const { provenance } of mined)
    for (const reason of new Set(provenance.map((p) => p.reason))) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}
