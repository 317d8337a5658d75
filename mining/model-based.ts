/**
 * The model-based recipe: a trained classifier scores the pool, and per label the negatives it
 * finds hard are mined, `perLabel` for each reason:
 *
 * - `confident-wrong`: negatives for the label that the model decides positive, with a probability
 *   of at least `confidentWrongMin` (multilabel: p_y > threshold and p_y ≥ min; multiclass: the
 *   argmax is y, not the true class, and p_y ≥ min). Most confident first.
 * - `low-margin`: negatives closest to the decision boundary, on either side (multilabel:
 *   |p_y − threshold| smallest; multiclass: |p_true − p_y| where y is the strongest class other
 *   than the true one, i.e. the top-2 margin whenever the true class is in the top two; the row is
 *   mined for y). Smallest margin first.
 *
 * Only negatives are mined, in both recipes: the rows keep their true labels, and the extra weight
 * teaches the model where it says "yes" to what is not (the false positives hard-negative mining is
 * for). Positives it misses are a recall problem the evaluate stage reports; upweighting them is a
 * different recipe. Ties: the smaller id first, so results do not depend on the pool's order.
 * The provenance `score` is the model's probability for the label; source and neighbour are the row.
 */
import { byString } from './merge';
import type { Find } from './types';

export interface ScoredPool {
  readonly ids: readonly string[];
  readonly width: number;
  /** Row-major N × width: 1 where the row is positive for the label (multiclass: one-hot). */
  readonly positive: Uint8Array;
  /** Per row, the model's probability per label (sigmoid for multilabel, softmax for multiclass). */
  readonly probabilities: readonly (readonly number[])[];
}

export interface ModelBasedRecipe {
  readonly task: 'multilabel' | 'multiclass';
  /** Multilabel decision threshold: positive when p > threshold (the trainer's rule). */
  readonly threshold: number;
  readonly perLabel: number;
  readonly confidentWrongMin: number;
  /** Label indices to mine for, and every label's name. */
  readonly labels: readonly number[];
  readonly labelNames: readonly string[];
}

interface Candidate {
  row: number;
  /** Sorted ascending: the hardest first. */
  key: number;
  score: number;
}

/** The class a multiclass row decides: the argmax (the first on ties). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** The model-based finds, per mined label: its confident-wrong rows, then its low-margin rows. */
export function mineModelBased(pool: ScoredPool, recipe: ModelBasedRecipe): Find[] {
  const { ids, width, positive, probabilities } = pool;
  const confident = new Map<number, Candidate[]>(recipe.labels.map((y) => [y, []]));
  const margin = new Map<number, Candidate[]>(recipe.labels.map((y) => [y, []]));
  for (let i = 0; i < ids.length; i++) {
    const p = probabilities[i]!;
    if (recipe.task === 'multilabel') {
      for (const y of recipe.labels) {
        if (positive[i * width + y] === 1) continue;
        const py = p[y]!;
        if (py > recipe.threshold && py >= recipe.confidentWrongMin)
          confident.get(y)!.push({ row: i, key: -py, score: py });
        margin.get(y)!.push({ row: i, key: Math.abs(py - recipe.threshold), score: py });
      }
    } else {
      let truth = 0;
      while (truth < width && positive[i * width + truth] !== 1) truth++;
      const decided = argmax(p);
      if (decided !== truth && p[decided]! >= recipe.confidentWrongMin)
        confident.get(decided)?.push({ row: i, key: -p[decided]!, score: p[decided]! });
      // The strongest rival of the true class: the class the row is a near miss for.
      let rival = -1;
      for (let y = 0; y < p.length; y++) if (y !== truth && (rival < 0 || p[y]! > p[rival]!)) rival = y;
      if (rival >= 0) margin.get(rival)?.push({ row: i, key: Math.abs(p[truth]! - p[rival]!), score: p[rival]! });
    }
  }
  const finds: Find[] = [];
  const take = (reason: 'confident-wrong' | 'low-margin', y: number, candidates: Candidate[]): void => {
    candidates.sort((a, b) => a.key - b.key || byString(ids[a.row]!, ids[b.row]!));
    for (const c of candidates.slice(0, recipe.perLabel)) {
      finds.push({
        row: c.row,
        provenance: {
          reason,
          label: recipe.labelNames[y]!,
          source_id: ids[c.row]!,
          neighbour_id: ids[c.row]!,
          score: c.score,
        },
      });
    }
  };
  for (const y of recipe.labels) {
    take('confident-wrong', y, confident.get(y)!);
    take('low-margin', y, margin.get(y)!);
  }
  return finds;
}
