import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bootstrapInterval, median } from '../../bench/support';

describe('the benchmarks’ bootstrap interval', () => {
  test('is the 2.5th and 97.5th percentiles of the statistic over resamples of the rounds, drawn from mulberry32(seed)', () => {
    const rounds = [3, 9, 4, 12, 5, 7, 8];
    // The written rule, step by step: mulberry32 (Tommy Ettinger's constants), each resample
    // `rounds.length` draws of floor(u · n), the statistic on each, sorted, and numpy-style
    // linear interpolation at (samples − 1) · q.
    let state = 42 >>> 0;
    const u = (): number => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const samples = 500;
    const stats: number[] = [];
    for (let b = 0; b < samples; b++) {
      const sample = rounds.map(() => rounds[Math.floor(u() * rounds.length)]!);
      stats.push(median(sample));
    }
    stats.sort((a, b) => a - b);
    const at = (q: number): number => {
      const h = (samples - 1) * q;
      const lo = Math.floor(h);
      return stats[lo]! + (h - lo) * (stats[Math.min(lo + 1, samples - 1)]! - stats[lo]!);
    };
    assert.deepEqual(bootstrapInterval(rounds, median, { samples, seed: 42 }), [at(0.025), at(0.975)]);
  });

  test('collapses to the value itself when every round measured the same', () => {
    assert.deepEqual(bootstrapInterval([7, 7, 7, 7], median), [7, 7]);
  });

  test('brackets the statistic of the rounds that were measured', () => {
    const rounds = [1.2, 1.6, 1.4, 1.9, 1.3, 1.5, 1.45, 1.7];
    const [lo, hi] = bootstrapInterval(rounds, median);
    assert.ok(lo <= median(rounds) && median(rounds) <= hi, `${lo} ≤ ${median(rounds)} ≤ ${hi}`);
    assert.ok(lo < hi, 'rounds that differ give an interval of some width');
  });
});
