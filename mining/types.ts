/**
 * The shapes the mining recipes share. The provenance schema is the report's
 * (report/schema.ts `hardNegativeProvenanceSchema`): what a hard-negative row carries in
 * `meta.hard_negative` is what the report shows.
 */
import type { z } from 'zod';
import type { hardNegativeProvenanceSchema } from '../report/schema';

/** Why one row was mined: reason, the label it is hard for, source and neighbour ids, score. */
export type HardNegativeProvenance = z.infer<typeof hardNegativeProvenanceSchema>;

/** The reasons, in the order they rank when everything else ties (model-based first). */
export const MINING_REASONS = [
  'confident-wrong',
  'low-margin',
  'bm25',
] as const satisfies readonly HardNegativeProvenance['reason'][];

/** A mined row (by its index in the pool) and one reason it was mined for. */
export interface Find {
  readonly row: number;
  readonly provenance: HardNegativeProvenance;
}
