/**
 * report.html's KLUE-RE section: for every evaluated model scored as KLUE-RE (multiclass with an
 * excluded label, so its metrics hold klue_re_micro_f1 and klue_re_auprc: eval/klue-re.ts), KLUE's
 * two official numbers on its ×100 scale, how many relations the evaluation set lacks (each of
 * which counts 0.5 in the AUPRC), and where the errors go (from the confusion matrix). Empty for a
 * run without such a model, so other reports are unchanged. Pure, like html.ts: numbers go through
 * the page's own `format`, strings through escapeHtml, key numbers carry data-key/data-value.
 */
import type { Report } from './schema';
import { escapeHtml as esc } from './svg';

type EvaluatedModel = NonNullable<Report['evaluation']>['models'][number];

/** The four ways a row can land, counted from a [true][predicted] confusion matrix. */
export interface RelationOutcomes {
  /** A relation row predicted as its own relation. */
  correct: number;
  /** A relation row predicted as the excluded label (a miss). */
  missed: number;
  /** A relation row predicted as another relation. */
  confused: number;
  /** An excluded-label row predicted as some relation (a false alarm). */
  falseAlarm: number;
}

/** Row outcomes of a multiclass confusion matrix, with `excluded` (no_relation) as the negative class. */
export function relationOutcomes(matrix: readonly (readonly number[])[], excluded: number): RelationOutcomes {
  const out = { correct: 0, missed: 0, confused: 0, falseAlarm: 0 };
  matrix.forEach((row, t) =>
    row.forEach((n, p) => {
      if (t === excluded) {
        if (p !== excluded) out.falseAlarm += n;
      } else if (p === t) out.correct += n;
      else if (p === excluded) out.missed += n;
      else out.confused += n;
    }),
  );
  return out;
}

const cell = (key: string, value: number, text: string): string =>
  `<td class="num" data-key="${esc(key)}" data-value="${esc(String(value))}">${esc(text)}</td>`;

function scored(model: EvaluatedModel): model is EvaluatedModel & {
  metrics: { klue_re_micro_f1: number; klue_re_auprc: number; excluded_label: string; confusion_matrix: number[][] };
} {
  const m = model.metrics;
  return (
    m.klue_re_micro_f1 !== undefined &&
    m.klue_re_auprc !== undefined &&
    m.excluded_label !== undefined &&
    m.task === 'multiclass' &&
    !Array.isArray(m.confusion_matrix[0]?.[0])
  );
}

/** The section, or '' when no evaluated model was scored as KLUE-RE. `format` is the page's number format. */
export function klueReSection(report: Report, format: (value: number) => string): string {
  const models = (report.evaluation?.models ?? []).filter(scored);
  if (models.length === 0) return '';
  const rows = models.map((m) => {
    const k = `klue-re/${m.name}`;
    const x = m.metrics.labels.indexOf(m.metrics.excluded_label);
    const o = relationOutcomes(m.metrics.confusion_matrix, x);
    const absent = m.metrics.per_label.filter((l) => l.support === 0).length;
    return (
      `<tr><th><code>${esc(m.name)}</code></th>` +
      cell(`${k}/klue_re_micro_f1`, m.metrics.klue_re_micro_f1, format(m.metrics.klue_re_micro_f1)) +
      cell(`${k}/klue_re_auprc`, m.metrics.klue_re_auprc, format(m.metrics.klue_re_auprc)) +
      cell(`${k}/n`, m.metrics.n, String(m.metrics.n)) +
      cell(`${k}/absent_classes`, absent, `${absent} of ${m.metrics.labels.length}`) +
      cell(`${k}/correct`, o.correct, String(o.correct)) +
      cell(`${k}/missed`, o.missed, String(o.missed)) +
      cell(`${k}/confused`, o.confused, String(o.confused)) +
      cell(`${k}/false_alarm`, o.falseAlarm, String(o.falseAlarm)) +
      '</tr>'
    );
  });
  const head = [
    'model',
    'micro F1 ×100 (KLUE)',
    'AUPRC ×100 (KLUE)',
    'examples',
    'classes without examples',
    'relations right',
    'relations missed',
    'relations confused',
    'false alarms',
  ];
  const excluded = esc(models[0]!.metrics.excluded_label);
  const notes = [
    `micro F1 pools every class but <code>${excluded}</code>: a relation predicted as <code>${excluded}</code> is a miss, <code>${excluded}</code> predicted as a relation a false alarm.`,
    'AUPRC is the mean over all classes of the trapezoidal area under each class’s precision-recall curve (sklearn.metrics.auc), not average precision; a class without examples in this set counts 0.5, so compare it only between runs on the same rows.',
    '“relations right / missed / confused” count rows whose gold label is a relation: predicted as it, as the excluded label, as another relation; “false alarms” count excluded-label rows predicted as a relation.',
  ];
  return (
    `<section id="klue-re"><h2>Relation extraction (KLUE-RE)</h2>` +
    `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>` +
    `<ul class="notes">${notes.map((n) => `<li>${n}</li>`).join('')}</ul></section>`
  );
}
