/**
 * Small inline-SVG chart helpers for report.html: a horizontal bar chart with confidence-interval
 * whiskers and a threshold line, a heatmap, a line chart on the unit square (ROC, PR), and a sweep
 * chart (a metric with whiskers over the settings of a hyper-parameter).
 *
 * Each returns a complete `<svg>` string. They are pure and deterministic (coordinates are
 * rounded, so the same report always renders byte-identical SVG), and every piece of text goes
 * through `escapeHtml`, because labels, group names and terms come from user data.
 */

/** Escapes text for HTML and SVG, in element content and in quoted attribute values alike. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}
const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Okabe–Ito: a palette that stays distinguishable under the common colour-vision deficiencies,
 * which matters in a report about fairness. Series cycle through it in order.
 */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'] as const;
const THRESHOLD_COLOUR = '#D55E00';
const AXIS_COLOUR = '#555';
const GRID_COLOUR = '#ddd';
const FONT = 'font-family="system-ui, sans-serif" font-size="11"';

function seriesColour(index: number): string {
  return PALETTE[index % PALETTE.length] ?? '#000';
}

/** Rounds a coordinate to 0.1 px: enough for a screen, and keeps the markup short and stable. */
function px(value: number): string {
  const rounded = Math.round(value * 10) / 10;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

/** A tick label: the shortest decimal that names the tick (0.025, not 0.03), without float noise. */
function tick(value: number): string {
  return String(Number(value.toPrecision(6)));
}

function svgOpen(width: number, height: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">` +
    `<title>${escapeHtml(title)}</title>`
  );
}

export interface Bar {
  label: string;
  value: number;
  /** Confidence interval; drawn as a whisker when both ends are given. */
  low?: number;
  high?: number;
  /** Drawn lighter: e.g. a per-label bar under its group's summary bar. */
  secondary?: boolean;
}

export interface BarChartOptions {
  title: string;
  bars: Bar[];
  /** A vertical dashed line (a gate's limit), labelled with its value. */
  threshold?: number | null;
  thresholdLabel?: string;
  width?: number;
}

const BAR_ROW = 20;
const BAR_LABEL_WIDTH = 170;

/** Horizontal bars from zero, one row each, with CI whiskers and an optional threshold line. */
export function barChart({
  title,
  bars,
  threshold = null,
  thresholdLabel = 'limit',
  width = 560,
}: BarChartOptions): string {
  const top = 8;
  const bottom = 24;
  const right = 16;
  const height = top + bars.length * BAR_ROW + bottom;
  const values = bars.flatMap((b) => [b.value, b.low ?? b.value, b.high ?? b.value]);
  if (threshold !== null) values.push(threshold);
  const lo = Math.min(0, ...values);
  // A floor on the span keeps an all-zero chart from dividing by zero.
  const hi = Math.max(lo + 1e-9, ...values) * 1.08;
  const plotLeft = BAR_LABEL_WIDTH;
  const plotWidth = width - plotLeft - right;
  const x = (v: number): number => plotLeft + ((v - lo) / (hi - lo)) * plotWidth;
  const parts: string[] = [svgOpen(width, height, title)];
  parts.push(`<g ${FONT}>`);
  for (const t of niceTicks(lo, hi)) {
    parts.push(`<line x1="${px(x(t))}" x2="${px(x(t))}" y1="${top}" y2="${height - bottom}" stroke="${GRID_COLOUR}"/>`);
    parts.push(
      `<text x="${px(x(t))}" y="${height - bottom + 14}" text-anchor="middle" fill="${AXIS_COLOUR}">${tick(t)}</text>`,
    );
  }
  bars.forEach((bar, i) => {
    const y = top + i * BAR_ROW;
    const x0 = x(Math.min(0, bar.value));
    const x1 = x(Math.max(0, bar.value));
    const fill = bar.secondary ? '#9ecae1' : PALETTE[0];
    parts.push(
      `<text x="${plotLeft - 6}" y="${px(y + BAR_ROW / 2 + 4)}" text-anchor="end" fill="#222">${escapeHtml(bar.label)}</text>`,
    );
    parts.push(
      `<rect x="${px(x0)}" y="${px(y + 3)}" width="${px(Math.max(0.5, x1 - x0))}" height="${BAR_ROW - 6}" fill="${fill}"/>`,
    );
    if (bar.low !== undefined && bar.high !== undefined) {
      const cy = px(y + BAR_ROW / 2);
      parts.push(
        `<path d="M${px(x(bar.low))} ${cy}H${px(x(bar.high))}M${px(x(bar.low))} ${px(y + 5)}V${px(y + BAR_ROW - 5)}M${px(x(bar.high))} ${px(y + 5)}V${px(y + BAR_ROW - 5)}" stroke="#222" stroke-width="1.2" fill="none"/>`,
      );
    }
  });
  if (threshold !== null) {
    const tx = px(x(threshold));
    parts.push(
      `<line x1="${tx}" x2="${tx}" y1="${top - 4}" y2="${height - bottom}" stroke="${THRESHOLD_COLOUR}" stroke-width="1.5" stroke-dasharray="5 3"/>`,
    );
    parts.push(
      `<text x="${tx}" y="${height - 2}" text-anchor="middle" fill="${THRESHOLD_COLOUR}">${escapeHtml(thresholdLabel)}</text>`,
    );
  }
  parts.push(`<line x1="${px(x(0))}" x2="${px(x(0))}" y1="${top}" y2="${height - bottom}" stroke="${AXIS_COLOUR}"/>`);
  parts.push('</g></svg>');
  return parts.join('');
}

/** About five round tick values covering [lo, hi]. */
function niceTicks(lo: number, hi: number): number[] {
  const span = hi - lo;
  const raw = span / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-12; t += step) ticks.push(Math.round(t / step) * step);
  return ticks;
}

export interface HeatmapOptions {
  title: string;
  /** Row names (true class) and column names (predicted class). */
  rows: string[];
  cols: string[];
  cells: number[][];
  rowAxis?: string;
  colAxis?: string;
  cellSize?: number;
}

/** A grid of counts shaded from white to blue by their share of the largest cell. */
export function heatmap({
  title,
  rows,
  cols,
  cells,
  rowAxis = 'true',
  colAxis = 'predicted',
  cellSize = 44,
}: HeatmapOptions): string {
  const left = 24 + Math.min(110, 7 * Math.max(1, ...rows.map((r) => r.length)));
  const top = 36;
  const width = left + cols.length * cellSize + 8;
  const height = top + rows.length * cellSize + 8;
  const max = Math.max(1, ...cells.flat());
  const parts: string[] = [svgOpen(width, height, title), `<g ${FONT}>`];
  parts.push(
    `<text x="${px(left + (cols.length * cellSize) / 2)}" y="11" text-anchor="middle" fill="${AXIS_COLOUR}">${escapeHtml(colAxis)}</text>`,
  );
  parts.push(
    `<text x="9" y="${px(top + (rows.length * cellSize) / 2)}" text-anchor="middle" fill="${AXIS_COLOUR}" transform="rotate(-90 9 ${px(top + (rows.length * cellSize) / 2)})">${escapeHtml(rowAxis)}</text>`,
  );
  cols.forEach((c, j) => {
    parts.push(
      `<text x="${px(left + j * cellSize + cellSize / 2)}" y="${top - 6}" text-anchor="middle" fill="#222">${escapeHtml(c)}</text>`,
    );
  });
  rows.forEach((r, i) => {
    parts.push(
      `<text x="${left - 6}" y="${px(top + i * cellSize + cellSize / 2 + 4)}" text-anchor="end" fill="#222">${escapeHtml(r)}</text>`,
    );
    cols.forEach((_c, j) => {
      const value = cells[i]?.[j] ?? 0;
      const share = value / max;
      // White (share 0) to #08519c (share 1); text flips to white once the cell is dark.
      const shade = (from: number, to: number): number => Math.round(from + (to - from) * share);
      const fill = `rgb(${shade(255, 8)},${shade(255, 81)},${shade(255, 156)})`;
      const x = left + j * cellSize;
      const y = top + i * cellSize;
      parts.push(`<rect x="${x}" y="${y}" width="${cellSize}" height="${cellSize}" fill="${fill}" stroke="#fff"/>`);
      parts.push(
        `<text x="${px(x + cellSize / 2)}" y="${px(y + cellSize / 2 + 4)}" text-anchor="middle" fill="${share > 0.55 ? '#fff' : '#111'}">${value}</text>`,
      );
    });
  });
  parts.push('</g></svg>');
  return parts.join('');
}

export interface Series {
  name: string;
  xs: number[];
  ys: number[];
}

export interface LineChartOptions {
  title: string;
  series: Series[];
  xLabel: string;
  yLabel: string;
  /** Draws the y = x chance line (ROC). */
  diagonal?: boolean;
  size?: number;
}

/** Step-free polylines on [0, 1] × [0, 1] with a legend; points that land on the same 0.1 px are merged. */
export function lineChart({ title, series, xLabel, yLabel, diagonal = false, size = 240 }: LineChartOptions): string {
  const left = 38;
  const top = 10;
  const bottom = 34;
  const legendWidth = 110;
  const width = left + size + 12 + legendWidth;
  const height = top + size + bottom;
  const x = (v: number): number => left + v * size;
  const y = (v: number): number => top + (1 - v) * size;
  const parts: string[] = [svgOpen(width, height, title), `<g ${FONT}>`];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${px(x(t))}" x2="${px(x(t))}" y1="${top}" y2="${top + size}" stroke="${GRID_COLOUR}"/>`);
    parts.push(`<line x1="${left}" x2="${left + size}" y1="${px(y(t))}" y2="${px(y(t))}" stroke="${GRID_COLOUR}"/>`);
    parts.push(
      `<text x="${px(x(t))}" y="${top + size + 13}" text-anchor="middle" fill="${AXIS_COLOUR}">${tick(t)}</text>`,
    );
    parts.push(`<text x="${left - 4}" y="${px(y(t) + 4)}" text-anchor="end" fill="${AXIS_COLOUR}">${tick(t)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="${AXIS_COLOUR}"/>`);
  parts.push(...axisTitles({ left, top, width: size, height: size }, height, xLabel, yLabel));
  if (diagonal)
    parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#999" stroke-dasharray="4 3"/>`);
  series.forEach((s, i) => {
    const points: string[] = [];
    for (let k = 0; k < Math.min(s.xs.length, s.ys.length); k++) {
      const point = `${px(x(clamp01(s.xs[k] ?? 0)))},${px(y(clamp01(s.ys[k] ?? 0)))}`;
      if (points[points.length - 1] !== point) points.push(point);
    }
    const colour = seriesColour(i);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.8"/>`);
    parts.push(...legendEntry(left + size, top, i, s.name));
  });
  parts.push('</g></svg>');
  return parts.join('');
}

/** The x-axis title under a plot and the y-axis title turned along its left edge. */
function axisTitles(
  plot: { left: number; top: number; width: number; height: number },
  svgHeight: number,
  xLabel: string,
  yLabel: string,
): string[] {
  const midY = px(plot.top + plot.height / 2);
  return [
    `<text x="${px(plot.left + plot.width / 2)}" y="${svgHeight - 4}" text-anchor="middle" fill="${AXIS_COLOUR}">${escapeHtml(xLabel)}</text>`,
    `<text x="10" y="${midY}" text-anchor="middle" fill="${AXIS_COLOUR}" transform="rotate(-90 10 ${midY})">${escapeHtml(yLabel)}</text>`,
  ];
}

/** Series `index`'s legend line and name, stacked to the right of a plot whose right edge is `right`. */
function legendEntry(right: number, top: number, index: number, name: string): string[] {
  const ly = top + 8 + index * 16;
  return [
    `<line x1="${right + 12}" x2="${right + 30}" y1="${ly}" y2="${ly}" stroke="${seriesColour(index)}" stroke-width="3"/>`,
    `<text x="${right + 34}" y="${ly + 4}" fill="#222">${escapeHtml(name)}</text>`,
  ];
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

export interface SweepPoint {
  value: number;
  /** The spread drawn as a whisker (an interval, or mean ± sd); omitted: no whisker. */
  low?: number;
  high?: number;
}

export interface SweepSeries {
  name: string;
  /** One point per category, in the order of `categories`; null where the series has no value. */
  points: (SweepPoint | null)[];
}

export interface SweepChartOptions {
  title: string;
  /** The x axis: one label per swept setting (e.g. λ = 0, 0.1, 1, 10), evenly spaced. */
  categories: string[];
  series: SweepSeries[];
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

/**
 * Points with whiskers over evenly spaced categories, joined per series, on a y range fitted to
 * the data (its minimum and maximum, whiskers included, padded by 5 %): a hyper-parameter sweep,
 * where the swept values are not evenly spaced numbers and the metric lives far from [0, 1].
 */
export function sweepChart({
  title,
  categories,
  series,
  xLabel,
  yLabel,
  width = 420,
  height = 240,
}: SweepChartOptions): string {
  const left = 54;
  const top = 10;
  const bottom = 34;
  const legendWidth = 120;
  const plotWidth = width - left - legendWidth - 12;
  const plotHeight = height - top - bottom;
  const values = series.flatMap((s) =>
    s.points.flatMap((p) => (p ? [p.value, p.low ?? p.value, p.high ?? p.value] : [])),
  );
  const lo = values.length ? Math.min(...values) : 0;
  const hi = values.length ? Math.max(...values) : 1;
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.05;
  const [y0, y1] = [lo - pad, hi + pad];
  const x = (i: number): number =>
    left + (categories.length < 2 ? plotWidth / 2 : (i / (categories.length - 1)) * plotWidth);
  const y = (v: number): number => top + (1 - (v - y0) / (y1 - y0)) * plotHeight;
  const parts: string[] = [svgOpen(width, height, title), `<g ${FONT}>`];
  for (let k = 0; k <= 4; k++) {
    const v = y0 + ((y1 - y0) * k) / 4;
    parts.push(
      `<line x1="${left}" x2="${left + plotWidth}" y1="${px(y(v))}" y2="${px(y(v))}" stroke="${GRID_COLOUR}"/>`,
    );
    parts.push(
      `<text x="${left - 4}" y="${px(y(v) + 4)}" text-anchor="end" fill="${AXIS_COLOUR}">${tick(Number(v.toPrecision(3)))}</text>`,
    );
  }
  categories.forEach((c, i) => {
    parts.push(
      `<text x="${px(x(i))}" y="${top + plotHeight + 13}" text-anchor="middle" fill="${AXIS_COLOUR}">${escapeHtml(c)}</text>`,
    );
  });
  parts.push(
    `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="${AXIS_COLOUR}"/>`,
  );
  parts.push(...axisTitles({ left, top, width: plotWidth, height: plotHeight }, height, xLabel, yLabel));
  series.forEach((s, i) => {
    const colour = seriesColour(i);
    // A small sideways offset per series keeps overlapping whiskers apart.
    const dx = (i - (series.length - 1) / 2) * 4;
    const drawn = s.points.flatMap((p, k) => (p ? [{ p, cx: x(k) + dx }] : []));
    if (drawn.length > 1)
      parts.push(
        `<polyline points="${drawn.map(({ p, cx }) => `${px(cx)},${px(y(p.value))}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="1.5"/>`,
      );
    for (const { p, cx } of drawn) {
      if (p.low !== undefined && p.high !== undefined) {
        parts.push(
          `<line x1="${px(cx)}" x2="${px(cx)}" y1="${px(y(p.low))}" y2="${px(y(p.high))}" stroke="${colour}"/>`,
        );
      }
      parts.push(`<circle cx="${px(cx)}" cy="${px(y(p.value))}" r="3" fill="${colour}"/>`);
    }
    parts.push(...legendEntry(left + plotWidth, top, i, s.name));
  });
  parts.push('</g></svg>');
  return parts.join('');
}
