/**
 * The audit's numbers under the manual's names, and the split of its pairs by what the training
 * masked. Pure functions over computeReactivity's result.
 *
 * - Manual reactivity (the bias-classifier manual, DESIGN.md "The science"): per label y and group
 *   with pairs T, 1/(|S|·|T|) Σ_s Σ_(m,f)∈T [p(y|s+m) − p(y|s+f)]: the signed mean of d over the
 *   group's cases. With insert position `both` every sentence counts twice (prefix and suffix),
 *   so it is the mean of the two one-position figures.
 * - Seen in masking: a pair whose a or b overlaps a span that the training's x̂ masked (the span
 *   text contains the term or the term contains it). Those pairs measure what the masking removed
 *   by construction; "unseen" pairs are the non-circular number.
 */
import type { AuditInsert } from '../stages/audit/contract';
import type { ManualReactivity, ReactivitySlice } from '../report/schema';
import type { IdentityPair } from './pairs';
import type { PairSubset } from './reactivity';

/** The formula as audit.json and the report print it. */
export const MANUAL_REACTIVITY_DEFINITION = 'reactivity_y = 1/(|S|·|T|) Σ_s∈S Σ_(m,f)∈T [p(y|s+m) − p(y|s+f)]';

/** The manual's reactivity of every group, per label, signed, next to the absolute mean. */
export function manualReactivity(
  groups: readonly (ReactivitySlice & { group: string })[],
  pairs: readonly IdentityPair[],
  method: 'templates' | 'insert',
  position: AuditInsert['position'] | null,
  sentences: number,
): ManualReactivity {
  return {
    definition: MANUAL_REACTIVITY_DEFINITION,
    protocol: method,
    positions: method === 'insert' ? position : null,
    sentences,
    groups: groups.map((g) => ({
      group: g.group,
      pairs: pairs.filter((p) => p.group === g.group).length,
      per_label: g.per_label.map(({ label, signed, absolute }) => ({ label, signed, absolute })),
    })),
  };
}

/** The split's subset names, in the order they are reported. */
export const SEEN = 'seen in masking';
export const UNSEEN = 'unseen';

/** Whether a term overlaps a masked span's text (either contains the other). */
function seenIn(term: string, spanTexts: ReadonlySet<string>): boolean {
  if (spanTexts.has(term)) return true;
  for (const span of spanTexts) if (span.includes(term) || term.includes(span)) return true;
  return false;
}

/**
 * The audit terms the masking covered and the two pair subsets: pairs with a seen term, and the
 * rest. `spanTexts` are the texts of the training rows' masked spans (empty spans ignored).
 */
export function maskingSubsets(
  pairs: readonly IdentityPair[],
  spanTexts: Iterable<string>,
): { seenTerms: string[]; subsets: [PairSubset, PairSubset] } {
  const spans = new Set([...spanTexts].map((t) => t.trim()).filter((t) => t !== ''));
  const terms = [...new Set(pairs.flatMap((p) => [p.a, p.b]))];
  const seenTerms = terms.filter((t) => seenIn(t, spans));
  const seen = new Set(seenTerms);
  const seenPairs: number[] = [];
  const unseenPairs: number[] = [];
  pairs.forEach((p, i) => (seen.has(p.a) || seen.has(p.b) ? seenPairs : unseenPairs).push(i));
  return {
    seenTerms,
    subsets: [
      { name: SEEN, pairs: seenPairs },
      { name: UNSEEN, pairs: unseenPairs },
    ],
  };
}
