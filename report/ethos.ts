/**
 * Two-class results as a few-shot benchmark such as ETHOS reports them: F1 of class 1 (binary F1
 * of "hate", not macro F1) and ROC-AUC of class 1's score, per model, with how each was trained
 * (LoRA adapter or full fine-tuning); and the learning curve over training-set sizes that
 * bench/ethos.ts measures (one run of pipelines/ethos is one point of it). Pure: strings only.
 */
import type { Evaluation } from './schema';
import { escapeHtml, sweepChart, type SweepSeries } from './svg';

/** How a model was trained, from its train_config.json keys (flattened, report/training.ts). */
export function methodOf(config: Record<string, unknown> | undefined): string {
  if (config === undefined) return 'unknown';
  if (config['adapter.type'] === undefined || config['adapter.type'] === null) return 'full fine-tuning';
  const r = config['adapter.r'];
  return `${String(config['adapter.type']).toUpperCase()} adapter${typeof r === 'number' ? ` (r ${r})` : ''}`;
}

const fixed = (v: number | null | undefined): string => (typeof v === 'number' ? v.toFixed(4) : '—');

/**
 * The report's section for a two-class evaluation (every model with exactly two classes, not
 * multi-label): F1 and ROC-AUC of class 1 per model. Empty for any other evaluation.
 */
export function twoClassSection(evaluation: Evaluation | null): string {
  if (evaluation === null) return '';
  const models = evaluation.models;
  if (!models.every((m) => m.metrics.task !== 'multilabel' && m.metrics.per_label.length === 2)) return '';
  const positive = models[0]!.metrics.per_label[1]!.label;
  const rows = models.map((m) => {
    const p = m.metrics.per_label[1]!;
    return `<tr><th>${escapeHtml(m.name)}</th><td>${escapeHtml(methodOf(m.training?.config))}</td><td class="num">${fixed(p.f1)}</td><td class="num">${fixed(p.roc_auc)}</td><td class="num">${fixed(m.metrics.macro_f1)}</td><td class="num">${m.metrics.n}</td></tr>`;
  });
  return (
    `<section id="two-class"><h2>Two-class scores (class ${escapeHtml(positive)})</h2>` +
    `<p>F1 is the binary F1 of class ${escapeHtml(positive)} (as ETHOS's few-shot references report it), ROC-AUC that of its score; macro F1 averages both classes. One run is one point of a learning curve: <code>bench/ethos.ts</code> runs every training-set size and seed and draws the curve (docs/ethos.md).</p>` +
    `<table><thead><tr><th>model</th><th>training</th><th>F1 (${escapeHtml(positive)})</th><th>ROC-AUC</th><th>macro F1</th><th>test rows</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`
  );
}

/** One point of a learning curve: a method at a training-set size, over seeds. */
export interface CurvePoint {
  method: string;
  n: number;
  /** Mean over seeds and its interval (low, high); `seeds` how many. */
  f1: { mean: number; low: number; high: number };
  rocAuc: { mean: number; low: number; high: number };
  seeds: number;
}

/** A published reference at some sizes (e.g. the LLM-with-LoRA figures at 200 and 800). */
export interface ReferencePoint {
  n: number;
  f1: number;
  rocAuc: number;
}

/** F1 and ROC-AUC against N, one series per method plus the reference, whiskers the intervals. */
export function learningCurveSvgs(
  points: CurvePoint[],
  reference: { name: string; points: ReferencePoint[] },
): { f1: string; rocAuc: string } {
  const sizes = [...new Set(points.map((p) => p.n))].sort((a, b) => a - b);
  const methods = [...new Set(points.map((p) => p.method))];
  const chart = (metric: 'f1' | 'rocAuc', label: string): string => {
    const series: SweepSeries[] = methods.map((method) => ({
      name: method,
      points: sizes.map((n) => {
        const p = points.find((q) => q.method === method && q.n === n);
        return p ? { value: p[metric].mean, low: p[metric].low, high: p[metric].high } : null;
      }),
    }));
    series.push({
      name: reference.name,
      points: sizes.map((n) => {
        const r = reference.points.find((q) => q.n === n);
        return r ? { value: r[metric] } : null;
      }),
    });
    return sweepChart({
      title: `${label} against training rows N`,
      categories: sizes.map(String),
      series,
      xLabel: 'training rows N',
      yLabel: label,
      width: 460,
    });
  };
  return { f1: chart('f1', 'F1 (hate)'), rocAuc: chart('rocAuc', 'ROC-AUC') };
}
