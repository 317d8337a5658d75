/**
 * The sweep chart (report/svg.ts): where its points land, what it leaves out, and that user text
 * is escaped. Expected coordinates are computed here from the layout the chart documents.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sweepChart } from '../../report/svg';

/** The `cx,cy` of every circle, in drawing order. */
const circles = (svg: string): [number, number][] =>
  [...svg.matchAll(/<circle cx="([-\d.]+)" cy="([-\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);

describe('sweep chart', () => {
  test('places each point over its category on a y range fitted to the values and whiskers, padded by 5 %', () => {
    const svg = sweepChart({
      title: 'macro F1 against λ',
      categories: ['0', '1', '10'],
      series: [{ name: 'debiased', points: [{ value: 0.2 }, { value: 0.4, low: 0.1, high: 0.5 }, { value: 0.3 }] }],
      xLabel: 'λ',
      yLabel: 'macro F1',
    });
    // Default layout: width 420, height 240; plot from x 54, width 420 − 54 − 120 − 12 = 234; top 10, height 240 − 10 −
    // 34 = 196.
    const [y0, y1] = [0.1 - 0.4 * 0.05, 0.5 + 0.4 * 0.05];
    const y = (v: number): number => Math.round((10 + (1 - (v - y0) / (y1 - y0)) * 196) * 10) / 10;
    assert.deepEqual(circles(svg), [
      [54, y(0.2)],
      [54 + 117, y(0.4)],
      [54 + 234, y(0.3)],
    ]);
    assert.match(
      svg,
      new RegExp(`<line x1="171" x2="171" y1="${y(0.1)}" y2="${y(0.5)}"`),
      'the whisker spans low to high',
    );
  });

  test('draws no point where a series has no value, and none of its whisker', () => {
    const svg = sweepChart({
      title: 't',
      categories: ['a', 'b'],
      series: [{ name: 's', points: [null, { value: 1 }] }],
      xLabel: 'x',
      yLabel: 'y',
    });
    assert.equal(circles(svg).length, 1);
    assert.doesNotMatch(svg, /<polyline/, 'a single point is not a line');
  });

  test('escapes the title, categories and series names, which come from user input', () => {
    const svg = sweepChart({
      title: '<t>',
      categories: ['a&b'],
      series: [{ name: '"s"', points: [{ value: 1 }] }],
      xLabel: 'x',
      yLabel: 'y',
    });
    assert.match(svg, /&lt;t&gt;/);
    assert.match(svg, /a&amp;b/);
    assert.match(svg, /&quot;s&quot;/);
    assert.doesNotMatch(svg, /<t>|a&b|"s"</);
  });
});
