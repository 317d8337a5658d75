/**
 * The two-class section (report/ethos.ts): shown for two-class evaluations only, with each model's
 * F1 and ROC-AUC of class 1 and how it was trained; and the learning-curve charts.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../common/paths';
import { learningCurveSvgs, methodOf, twoClassSection } from '../../report/ethos';
import { renderReportHtml } from '../../report/html';
import { reportSchema, type Report } from '../../report/schema';

async function fixture(): Promise<Report> {
  const text = await readFile(join(PROJECT_ROOT, 'test', 'fixtures', 'report', 'report.json'), 'utf8');
  return reportSchema.parse(JSON.parse(text));
}

/** The fixture's evaluation cut to two classes, the second model trained with a LoRA adapter of rank 8. */
async function twoClass(): Promise<Report> {
  const report = await fixture();
  const evaluation = report.evaluation!;
  evaluation.models = evaluation.models.slice(0, 2).map((m, i) => ({
    ...m,
    metrics: { ...m.metrics, task: 'multiclass', per_label: m.metrics.per_label.slice(0, 2) },
    training: { config: i === 1 ? { 'adapter.type': 'lora', 'adapter.r': 8 } : {}, loss_formula: null },
  }));
  return report;
}

describe('the two-class report section', () => {
  test('is absent for a multi-label evaluation and for none', async () => {
    const report = await fixture();
    assert.equal(twoClassSection(report.evaluation), '');
    assert.equal(twoClassSection(null), '');
    assert.doesNotMatch(renderReportHtml(report), /id="two-class"/);
  });

  test('shows each model’s F1 and ROC-AUC of class 1 and how it was trained', async () => {
    const report = await twoClass();
    const html = renderReportHtml(report);
    assert.match(html, /id="two-class"/);
    for (const m of report.evaluation!.models) {
      const positive = m.metrics.per_label[1]!;
      assert.ok(html.includes(`<td class="num">${positive.f1.toFixed(4)}</td>`), `${m.name}: F1 of class 1`);
      if (typeof positive.roc_auc === 'number')
        assert.ok(html.includes(`<td class="num">${positive.roc_auc.toFixed(4)}</td>`), `${m.name}: ROC-AUC`);
    }
    assert.match(html, /LORA adapter \(r 8\)/);
    assert.match(html, /full fine-tuning/);
  });

  for (const [config, method] of [
    [undefined, 'unknown'],
    [{}, 'full fine-tuning'],
    [{ 'adapter.type': 'lora', 'adapter.r': 16 }, 'LORA adapter (r 16)'],
  ] as const)
    test(`names the training of ${JSON.stringify(config)} "${method}"`, () => {
      assert.equal(methodOf(config), method);
    });
});

describe('the learning curve', () => {
  test('draws one series per method plus the reference, with whiskers where there is an interval', () => {
    const point = (method: string, n: number, v: number) => ({
      method,
      n,
      f1: { mean: v, low: v - 0.05, high: v + 0.05 },
      rocAuc: { mean: v, low: v - 0.05, high: v + 0.05 },
      seeds: 3,
    });
    const svgs = learningCurveSvgs([point('lora', 50, 0.5), point('lora', 200, 0.7), point('full', 200, 0.72)], {
      name: 'reference',
      points: [{ n: 200, f1: 0.8, rocAuc: 0.78 }],
    });
    for (const svg of [svgs.f1, svgs.rocAuc]) {
      assert.match(svg, /^<svg/);
      for (const name of ['lora', 'full', 'reference']) assert.ok(svg.includes(`>${name}<`), name);
      assert.equal((svg.match(/<circle/g) ?? []).length, 4, 'three measured points and one reference point');
      assert.equal((svg.match(/<line x1="[\d.]+" x2="[\d.]+" y1/g) ?? []).length >= 3, true);
    }
  });
});
