/**
 * Configuration differences between compared models (report/training.ts), the report's section
 * that marks them, and the closing lines in words (report/summary.ts).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../common/paths';
import { renderReportHtml } from '../../report/html';
import { reportSchema, type Report } from '../../report/schema';
import { closingLines } from '../../report/summary';
import { configDifferences, trainingOf } from '../../report/training';

const BASE = {
  trainFile: '/tmp/a/train.jsonl',
  outputDir: '/tmp/a/out',
  mode: 'baseline',
  epochs: 12,
  lr: 0.003,
  attentionDropout: null,
  scratch: { hidden: 64, dropout: 0.1 },
  effectiveLoss: {
    mode: 'baseline',
    formula: 'L_total = L_all = BCE(P(y|x), y)',
    preset: null,
    values: {},
    overrides: [],
  },
};

describe('training configuration differences', () => {
  test('local paths are left out, nested keys are dotted, and hard negatives become a yes/no', () => {
    const t = trainingOf({ ...BASE, hardNegatives: { path: '/tmp/x.jsonl', weight: 0.5 } });
    assert.equal('trainFile' in t.config, false);
    assert.equal('hardNegatives.path' in t.config, false);
    assert.equal(t.config['hardNegatives.weight'], 0.5);
    assert.equal(t.config['hardNegatives.given'], true);
    assert.equal(t.config['scratch.dropout'], 0.1);
    assert.equal(t.loss_formula, 'L_total = L_all = BCE(P(y|x), y)');
  });

  const cases: { name: string; other: Record<string, unknown>; keys: string[] }[] = [
    {
      name: 'models trained alike differ only in mode and the loss they minimise (the loss values restate the formula)',
      other: {
        mode: 'debiased',
        effectiveLoss: {
          mode: 'debiased',
          formula: 'L_total = L_all + L_mask + λ·L_debias',
          preset: 'manual',
          values: { alpha: 0.7 },
          overrides: [],
        },
      },
      keys: ['effectiveLoss.formula', 'mode'],
    },
    {
      name: 'another dropout or schedule is marked',
      other: { attentionDropout: 0, epochs: 10 },
      keys: ['attentionDropout', 'epochs'],
    },
    {
      name: 'hard negatives given to one model only are marked',
      other: { hardNegatives: { path: '/tmp/b/hn.jsonl', weight: 0.5 } },
      keys: ['hardNegatives.given', 'hardNegatives.weight'],
    },
    {
      name: 'other local paths alone are no difference',
      other: { trainFile: '/tmp/b/train.jsonl', outputDir: '/tmp/b/out' },
      keys: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const differences = configDifferences([
        { name: 'baseline', training: trainingOf(BASE) },
        { name: 'other', training: trainingOf({ ...BASE, ...c.other }) },
      ]);
      assert.deepEqual(
        differences.map((d) => d.key),
        c.keys,
      );
      for (const d of differences) assert.deepEqual(Object.keys(d.values), ['baseline', 'other']);
    });
  }

  test('a model without a recorded training is not compared', () => {
    assert.deepEqual(configDifferences([{ name: 'a', training: trainingOf(BASE) }, { name: 'b' }]), []);
  });
});

async function reportWithDifferences(other: Record<string, unknown> = { attentionDropout: 0 }): Promise<Report> {
  const report = reportSchema.parse(
    JSON.parse(await readFile(join(PROJECT_ROOT, 'test', 'fixtures', 'report', 'report.json'), 'utf8')),
  );
  const [first, second] = report.evaluation!.models;
  first!.training = trainingOf(BASE);
  second!.training = trainingOf({ ...BASE, mode: 'debiased', ...other });
  report.evaluation!.config_differences = configDifferences(report.evaluation!.models);
  return reportSchema.parse(report);
}

describe('the report and the closing lines', () => {
  test("report.html marks each differing setting with every model's value and says the comparison is confounded", async () => {
    const report = await reportWithDifferences();
    const html = renderReportHtml(report);
    assert.match(html, /Training configuration differences/);
    assert.match(html, /data-key="config-difference" data-value="attentionDropout"/);
    assert.match(html, /training differed in 2 settings: a difference in their numbers may come from any of them/);
  });

  test("the closing lines give both models' F1 and reactivity with intervals, the gate, and name a difference besides the method", async () => {
    const report = await reportWithDifferences();
    const lines = closingLines(report).join('\n');
    const [reference, model] = report.evaluation!.models;
    assert.match(
      lines,
      new RegExp(
        `${model!.name} vs ${reference!.name}: macro F1 ${reference!.metrics.macro_f1.toFixed(3)} → ${model!.metrics.macro_f1.toFixed(3)}`,
      ),
    );
    assert.match(lines, /\|reactivity\| \(.*, mean over labels, 95% CI\): \d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\] → /);
    assert.match(
      lines,
      /trained differently besides the method \(mode "baseline" → "debiased"\): attentionDropout null → 0\./,
    );
    assert.match(lines, /^Gate on /m);
  });

  test('models that differ only in the method are said to be trained alike', async () => {
    const lines = closingLines(await reportWithDifferences({})).join('\n');
    assert.match(
      lines,
      /trained alike except for the method \(mode "baseline" → "debiased"\): same data, schedule and dropout\./,
    );
    assert.doesNotMatch(lines, /besides the method/);
  });
});
