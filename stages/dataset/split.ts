/**
 * Seeded, stratified assignment of rows to train / validation / test.
 *
 * Every row gets a random key from a 32-bit hash of (seed, row index): the same seed gives the
 * same keys on every machine and Node version, and a row's key does not depend on the other rows.
 * Rows are ordered by stratum (when stratifying), then by key; walking that order, each row goes to
 * the split furthest below its share so far (ratio × rows seen − rows given; ties go to train,
 * then validation, then test). So the overall counts are within one row of the ratios, and every
 * stratum — a run in that order — is spread over the splits in proportion, within a row or two.
 *
 * Strata: a single-label row's class; a multi-label row's whole label combination (label
 * powerset). Iterative stratification (Sechidis et al., 2011) would balance each label separately
 * when combinations are many and rare; the combinations of the datasets here are few, and a
 * combination stratum keeps their co-occurrence intact, so this is the simpler, exact choice.
 */

/** murmur3's 32-bit finaliser: a bijective mix, so distinct inputs give distinct keys. */
function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The random key of row `index` under `seed`. */
export function rowKey(seed: number, index: number): number {
  return mix32(mix32(index) ^ mix32(seed ^ 0x9e3779b9));
}

/**
 * The split (0 train, 1 validation, 2 test) of each row. `strata[i]` is row i's stratum id;
 * `ratios` are the three shares, adding up to 1.
 */
export function assignSplits(
  strata: ArrayLike<number>,
  ratios: readonly [number, number, number],
  seed: number,
  stratify: boolean,
): Uint8Array {
  const n = strata.length;
  const keys = new Uint32Array(n);
  for (let i = 0; i < n; i++) keys[i] = rowKey(seed, i);
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (stratify ? strata[a]! - strata[b]! : 0) || keys[a]! - keys[b]! || a - b);
  const split = new Uint8Array(n);
  const given = [0, 0, 0];
  order.forEach((row, seen) => {
    let best = -1;
    let bestDeficit = -Infinity;
    for (let s = 0; s < 3; s++) {
      if (ratios[s]! <= 0) continue;
      const deficit = ratios[s]! * (seen + 1) - given[s]!;
      if (deficit > bestDeficit + 1e-9) {
        best = s;
        bestDeficit = deficit;
      }
    }
    split[row] = best;
    given[best] = given[best]! + 1;
  });
  return split;
}

/**
 * fairline's seeded shuffle of `n` rows: the row indices ordered by their keys (`rowKey`), a
 * permutation because the keys are distinct. Not numpy's `permutation(seed)`: the same seed gives
 * another order than a numpy-based protocol, so "seed 32" names this shuffle, not theirs.
 */
export function shuffledOrder(n: number, seed: number): number[] {
  const keys = Array.from({ length: n }, (_, i) => rowKey(seed, i));
  return Array.from({ length: n }, (_, i) => i).sort((a, b) => keys[a]! - keys[b]! || a - b);
}

/**
 * The split (0 train, 2 test) of each row for "shuffle with `seed`, train on the first `first`,
 * test on the rest" (the agile-classifier protocol): no stratification, exact counts.
 */
export function firstOfShuffle(n: number, seed: number, first: number): Uint8Array {
  const split = new Uint8Array(n).fill(2);
  shuffledOrder(n, seed)
    .slice(0, first)
    .forEach((row) => (split[row] = 0));
  return split;
}
