import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../common/paths';
import { KLUE_RE_RELATIONS } from '../../eval/klue-re';
import { computeMetrics } from '../../eval/metrics';
import { formatNumber, renderReportHtml } from '../../report/html';
import { klueReSection, relationOutcomes } from '../../report/klue-re';
import { reportSchema, type Report } from '../../report/schema';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'report', 'report.json');

/** The report fixture with its evaluation replaced by one KLUE-RE model scored on four rows. */
async function klueReport(): Promise<Report> {
  const base = reportSchema.parse(JSON.parse(await readFile(FIXTURE, 'utf8')));
  const at = (j: number): number[] => KLUE_RE_RELATIONS.map((_, k) => (k === j ? 0.7 : 0.3 / 29));
  // Gold: no_relation, org:founded, per:title, per:title; predicted: org:founded (false alarm),
  // org:founded (right), no_relation (missed), per:origin (confused).
  const metrics = computeMetrics({
    task: 'multiclass',
    yTrue: [0, 2, 29, 29],
    yScore: [at(2), at(2), at(0), at(17)],
    labels: [...KLUE_RE_RELATIONS],
    exclude: 'no_relation',
  });
  const model = { ...base.evaluation!.models[0]!, name: 're<model>', metrics, curves: [] };
  return reportSchema.parse({ ...base, evaluation: { ...base.evaluation!, models: [model], deltas: [] } });
}

describe('the KLUE-RE report section', () => {
  test('counts relation rows right, missed and confused, and no_relation rows predicted as a relation', () => {
    // [true][predicted], class 0 the excluded one.
    const matrix = [
      [5, 1, 2],
      [3, 4, 1],
      [0, 2, 6],
    ];
    assert.deepEqual(relationOutcomes(matrix, 0), { correct: 10, missed: 3, confused: 3, falseAlarm: 3 });
  });

  test('shows KLUE’s two numbers, the absent classes and the outcomes, keyed and escaped', async () => {
    const report = await klueReport();
    const m = report.evaluation!.models[0]!.metrics;
    const html = renderReportHtml(report);
    const section = klueReSection(report, formatNumber);
    assert.ok(html.includes(section), 'the page holds the section');
    assert.match(section, /^<section id="klue-re"><h2>Relation extraction \(KLUE-RE\)<\/h2>/);
    assert.ok(section.includes('<code>re&lt;model&gt;</code>'));
    const keyed = (key: string, value: number | string, text: string): void =>
      assert.ok(
        section.includes(`data-key="klue-re/re&lt;model&gt;/${key}" data-value="${value}">${text}</td>`),
        `${key} = ${value} shown as ${text}`,
      );
    keyed('klue_re_micro_f1', m.klue_re_micro_f1!, formatNumber(m.klue_re_micro_f1!));
    keyed('klue_re_auprc', m.klue_re_auprc!, formatNumber(m.klue_re_auprc!));
    keyed('n', 4, '4');
    // Present: no_relation, org:founded, per:title.
    keyed('absent_classes', 27, '27 of 30');
    keyed('correct', 1, '1');
    keyed('missed', 1, '1');
    keyed('confused', 1, '1');
    keyed('false_alarm', 1, '1');
    // Micro F1 without no_relation, by hand: tp 1 (org:founded), fp 2 (the false alarm, per:origin),
    // fn 2 (both per:title rows).
    assert.ok(Math.abs(m.klue_re_micro_f1! - (100 * 2) / (2 + 2 + 2)) < 1e-9);
  });

  test('is absent, and the page unchanged, for a run without a KLUE-RE model', async () => {
    const report = reportSchema.parse(JSON.parse(await readFile(FIXTURE, 'utf8')));
    assert.equal(klueReSection(report, formatNumber), '');
    assert.doesNotMatch(renderReportHtml(report), /id="klue-re"/);
  });
});
