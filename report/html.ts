/**
 * report.html: one self-contained page per run, rendered from report.json (`Report`).
 *
 * - Self-contained: inline CSS, inline SVG charts, no script, and a Content-Security-Policy that
 *   forbids every fetch, so the file opens the same from a laptop, a CI artifact or an archive
 *   years later, and never phones anywhere.
 * - Pure and deterministic: the same report gives the same bytes (no clock, no randomness), so
 *   the page can be cached and diffed like any other artifact.
 * - Every number is printed one way (`formatNumber`: 4 decimals; counts as integers) and every
 *   key number sits in an element with `data-key` (a stable path such as
 *   `model/baseline/macro_f1`) and `data-value` (the exact JSON number), so a test or a script
 *   can check the page against report.json without scraping layout.
 * - Nulls (a ROC-AUC that is undefined for the data, a run outside git) show as "—" with the reason.
 * - Every string from the report goes through `escapeHtml`: labels, group terms and example texts
 *   are user data (Korean text, quotes, angle brackets).
 */
import { barChart, escapeHtml as esc, heatmap, lineChart, type Bar } from './svg';
import { klueReSection } from './klue-re';
import type { Estimate, LabelCurves, Metrics, Report } from './schema';
import { embeddingSection } from './embedding';
import { twoClassSection } from './ethos';

type NamedAudit = Report['audits'][number];
type EvaluatedModel = NonNullable<Report['evaluation']>['models'][number];
type MetricDelta = NonNullable<Report['evaluation']>['deltas'][number];

/** The policy in the page itself: nothing may be fetched; only inline styles and data: images. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const DECIMALS = 4;
const NULL_MARK = '—';

/** One format for every non-count number on the page: fixed 4 decimals, and never "-0.0000". */
export function formatNumber(value: number): string {
  const text = value.toFixed(DECIMALS);
  return /^-0\.0+$/.test(text) ? text.slice(1) : text;
}

/** An estimate as the page prints it: `value [ci_low, ci_high]`. */
export function formatEstimate(estimate: Estimate): string {
  return `${formatNumber(estimate.value)} [${formatNumber(estimate.ci_low)}, ${formatNumber(estimate.ci_high)}]`;
}

/** Why a value can be null, in words a reader can act on. */
const NULL_REASONS = {
  rocAuc: 'undefined: the label has no positive or no negative examples in the test set',
  averagePrecision: 'undefined: the label has no positive examples in the test set',
  threshold: 'none: multiclass predictions take the argmax',
  gitCommit: 'not recorded: the run did not start from a git checkout',
  datasetDigest: 'not recorded: the pipeline has no evaluated dataset',
  headline: 'not reported: the run has no evaluation or no audit',
  gateLimit: 'no limit set',
} as const;

// ---------------------------------------------------------------------------------------------
// Cells

function attrs(key: string, value: number | string | boolean | null, extra = ''): string {
  return `data-key="${esc(key)}" data-value="${esc(String(value))}"${extra}`;
}

function nullText(reason: string): string {
  return `<span class="null">${NULL_MARK}</span> <span class="reason">(${esc(reason)})</span>`;
}

/** A number in a table cell, keyed; null shows "—" with its reason. */
function num(key: string, value: number | null, nullReason: string, tag = 'td'): string {
  if (value === null) return `<${tag} class="num" ${attrs(key, null)}>${nullText(nullReason)}</${tag}>`;
  return `<${tag} class="num" ${attrs(key, value)}>${formatNumber(value)}</${tag}>`;
}

function count(key: string, value: number, tag = 'td'): string {
  return `<${tag} class="num" ${attrs(key, value)}>${value}</${tag}>`;
}

function estimate(key: string, e: Estimate): string {
  const ci = ` data-ci-low="${e.ci_low}" data-ci-high="${e.ci_high}"`;
  return `<td class="num" ${attrs(key, e.value, ci)}>${formatEstimate(e)}</td>`;
}

/** A signed difference: its sign printed always, and coloured (positive is better for every delta). */
function delta(key: string, value: number): string {
  const text = formatNumber(value);
  const signed = value > 0 && text !== formatNumber(0) ? `+${text}` : text;
  const tone = signed.startsWith('+') ? 'up' : signed.startsWith('-') ? 'down' : '';
  return `<td class="num ${tone}" ${attrs(key, value)}>${signed}</td>`;
}

function code(text: string): string {
  return `<code>${esc(text)}</code>`;
}

function short(digest: string): string {
  return `<code title="${esc(digest)}">${esc(digest.slice(0, 12))}</code>`;
}

function table(head: string[], rows: string[], caption?: string): string {
  return (
    `<table>${caption ? `<caption>${caption}</caption>` : ''}` +
    `<thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`;
}

function empty(text: string): string {
  return `<p class="empty">${NULL_MARK} ${esc(text)}</p>`;
}

// ---------------------------------------------------------------------------------------------
// Header: title, gate banner, headline

/** The audit whose gate decided the run: the headline model's, else the last one. */
function gatedAudit(report: Report): NamedAudit | undefined {
  return report.audits.find((a) => a.name === report.headline.model) ?? report.audits[report.audits.length - 1];
}

function gateBanner(report: Report): string {
  const passed = report.headline.gate_passed;
  const audit = gatedAudit(report);
  if (passed === null || audit === undefined) {
    return `<div class="banner none" ${attrs('gate', 'not run')}><strong>gate: not run</strong> — this run has no fairness audit.</div>`;
  }
  const gate = audit.gate;
  const limits = [
    gate.max_abs_reactivity !== null ? `max |reactivity| ${formatNumber(gate.max_abs_reactivity)}` : null,
    gate.max_flip_rate !== null ? `max flip rate ${formatNumber(gate.max_flip_rate)}` : null,
  ].filter((l) => l !== null);
  const judged = `model ${code(audit.name)}: |reactivity| ${formatNumber(audit.max_abs_reactivity)}, flip rate ${formatNumber(audit.flip_rate)}; limits: ${limits.length > 0 ? esc(limits.join(', ')) : NULL_REASONS.gateLimit}`;
  const status = passed ? 'passed' : 'failed';
  const warnOnly = !passed && gate.mode === 'warn' ? ' (warn mode: the run went on)' : '';
  const reasons = gate.reasons.length > 0 ? `<ul>${gate.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '';
  return `<div class="banner ${status}" ${attrs('gate', status)}><strong>gate: ${status}</strong>${warnOnly} — ${judged}${reasons}</div>`;
}

function headline(report: Report): string {
  const h = report.headline;
  const rows = [
    `<tr><th>model</th><td ${attrs('headline/model', h.model)}>${h.model === null ? nullText(NULL_REASONS.headline) : code(h.model)}</td></tr>`,
    `<tr><th>macro F1</th>${num('headline/macro_f1', h.macro_f1, NULL_REASONS.headline)}</tr>`,
    `<tr><th>micro F1</th>${num('headline/micro_f1', h.micro_f1, NULL_REASONS.headline)}</tr>`,
    `<tr><th>max |reactivity|</th>${num('headline/reactivity', h.reactivity, NULL_REASONS.headline)}</tr>`,
  ];
  return `<table class="headline"><tbody>${rows.join('')}</tbody></table>`;
}

// ---------------------------------------------------------------------------------------------
// Provenance

function provenance(report: Report): string {
  const p = report.provenance;
  const row = (name: string, key: string, value: string | null, reason: string): string =>
    `<tr><th>${name}</th><td ${attrs(`provenance/${key}`, value)}>${value === null ? nullText(reason) : code(value)}</td></tr>`;
  const digests = Object.entries(p.model_digests);
  const seeds = Object.entries(p.seeds);
  const params =
    Object.keys(p.params).length > 0 ? `<pre>${esc(JSON.stringify(p.params, null, 2))}</pre>` : nullText('no params');
  const rows = [
    row('pipeline', 'pipeline', p.pipeline, ''),
    row('run id', 'run_id', p.run_id, ''),
    row('workflow id', 'workflow_id', p.workflow_id, ''),
    row('git commit', 'git_commit', p.git_commit, NULL_REASONS.gitCommit),
    row('spec digest', 'spec_digest', p.spec_digest, ''),
    row('trigger', 'trigger', p.trigger, ''),
    row('created at', 'created_at', p.created_at, ''),
    row('dataset digest', 'dataset_digest', p.dataset_digest, NULL_REASONS.datasetDigest),
    `<tr><th>model digests</th><td>${
      digests.length === 0
        ? nullText('no models')
        : `<ul class="plain">${digests.map(([name, d]) => `<li>${code(name)}: <code ${attrs(`provenance/model_digest/${name}`, d)}>${esc(d)}</code></li>`).join('')}</ul>`
    }</td></tr>`,
    `<tr><th>seeds</th><td>${
      seeds.length === 0
        ? nullText('no seeded stages')
        : `<ul class="plain">${seeds.map(([stage, seed]) => `<li>${code(stage)}: <span ${attrs(`provenance/seed/${stage}`, seed)}>${seed}</span></li>`).join('')}</ul>`
    }</td></tr>`,
    `<tr><th>params</th><td>${params}</td></tr>`,
  ];
  return section('provenance', 'Run provenance', `<table class="kv"><tbody>${rows.join('')}</tbody></table>`);
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const SUMMARY_METRICS = [
  ['macro_f1', 'macro F1'],
  ['micro_f1', 'micro F1'],
  ['weighted_f1', 'weighted F1'],
  ['subset_accuracy', 'subset accuracy'],
  ['hamming_loss', 'Hamming loss (lower is better)'],
  ['roc_auc_macro', 'ROC-AUC (macro)'],
  ['average_precision_macro', 'average precision (macro)'],
] as const;

const DELTA_METRICS = ['macro_f1', 'micro_f1', 'weighted_f1'] as const;

function metricsComparison(models: EvaluatedModel[], deltas: MetricDelta[]): string {
  const head = [
    'metric',
    ...models.map((m) => code(m.name)),
    ...deltas.map((d) => `Δ ${code(d.to)} − ${code(d.from)}`),
  ];
  const rows = SUMMARY_METRICS.map(([field, name]) => {
    const cells = models.map((m) => {
      const value = m.metrics[field];
      const reason = field === 'average_precision_macro' ? NULL_REASONS.averagePrecision : NULL_REASONS.rocAuc;
      return num(`model/${m.name}/${field}`, value, reason);
    });
    const deltaCells = deltas.map((d) => {
      const deltaField = DELTA_METRICS.find((f) => f === field);
      return deltaField ? delta(`delta/${d.to}/${deltaField}`, d[deltaField]) : '<td></td>';
    });
    return `<tr><th>${esc(name)}</th>${cells.join('')}${deltaCells.join('')}</tr>`;
  });
  for (const field of ['macro_f1', 'micro_f1'] as const) {
    if (models.every((m) => m.intervals === undefined)) break;
    const cells = models.map((m) =>
      m.intervals ? estimate(`model/${m.name}/${field}/ci`, m.intervals[field]) : '<td></td>',
    );
    const deltaCells = deltas.map((d) =>
      d.intervals ? estimate(`delta/${d.to}/${field}/ci`, d.intervals[field]) : '<td></td>',
    );
    rows.push(
      `<tr><th>${field === 'macro_f1' ? 'macro F1' : 'micro F1'} [95% CI]</th>${cells.join('')}${deltaCells.join('')}</tr>`,
    );
  }
  rows.push(
    `<tr><th>examples</th>${models.map((m) => count(`model/${m.name}/n`, m.metrics.n)).join('')}${deltas.map(() => '<td></td>').join('')}</tr>`,
  );
  rows.push(
    `<tr><th>threshold</th>${models.map((m) => num(`model/${m.name}/threshold`, m.metrics.threshold, NULL_REASONS.threshold)).join('')}${deltas.map(() => '<td></td>').join('')}</tr>`,
  );
  const notes = models
    .flatMap((m) =>
      [
        m.metrics.note,
        m.metrics.excluded_label !== undefined ? `micro F1 leaves out ${m.metrics.excluded_label}` : undefined,
      ].map((n) => (n ? `${m.name}: ${n}` : undefined)),
    )
    .filter((n) => n !== undefined);
  return (
    table(head, rows) +
    (notes.length > 0 ? `<ul class="notes">${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '')
  );
}

function perLabelTable(model: EvaluatedModel): string {
  const rows = model.metrics.per_label.map((l) => {
    const k = `model/${model.name}/label/${l.label}`;
    return (
      `<tr><th>${esc(l.label)}</th>${num(`${k}/precision`, l.precision, '')}${num(`${k}/recall`, l.recall, '')}${num(`${k}/f1`, l.f1, '')}` +
      `${count(`${k}/support`, l.support)}${num(`${k}/roc_auc`, l.roc_auc, NULL_REASONS.rocAuc)}${num(`${k}/average_precision`, l.average_precision, NULL_REASONS.averagePrecision)}</tr>`
    );
  });
  return table(['label', 'precision', 'recall', 'F1', 'support', 'ROC-AUC', 'AP'], rows, 'Per label');
}

function isPerLabelMatrices(matrix: Metrics['confusion_matrix']): matrix is number[][][] {
  return Array.isArray(matrix[0]?.[0]);
}

function confusion(model: EvaluatedModel): string {
  const m = model.metrics;
  const cm = m.confusion_matrix;
  if (cm.length === 0) return empty('no confusion matrix (no examples)');
  if (isPerLabelMatrices(cm)) {
    // scikit-learn's multilabel_confusion_matrix: per label [[tn, fp], [fn, tp]].
    const maps = cm.map((cells, i) => {
      const label = m.labels[i] ?? `label ${i}`;
      return `<figure>${heatmap({ title: `${model.name}: confusion matrix of ${label}`, rows: [`not ${label}`, label], cols: [`not ${label}`, label], cells, cellSize: 40 })}</figure>`;
    });
    return `<div class="figures">${maps.join('')}</div>`;
  }
  return `<div class="figures"><figure>${heatmap({ title: `${model.name}: confusion matrix`, rows: m.labels, cols: m.labels, cells: cm })}</figure></div>`;
}

function curves(model: EvaluatedModel): string {
  if (model.curves.length === 0) return empty('no curves recorded');
  const missing =
    (kind: 'ROC' | 'PR', reason: string) =>
    (c: LabelCurves): string =>
      `<li>${esc(c.label)}: no ${kind} curve ${nullText(reason)}</li>`;
  const roc = model.curves.filter((c) => c.roc !== null);
  const pr = model.curves.filter((c) => c.pr !== null);
  const rocChart =
    roc.length > 0
      ? lineChart({
          title: `${model.name}: ROC curves`,
          series: roc.map((c) => ({ name: c.label, xs: c.roc?.fpr ?? [], ys: c.roc?.tpr ?? [] })),
          xLabel: 'false positive rate',
          yLabel: 'true positive rate',
          diagonal: true,
        })
      : '';
  const prChart =
    pr.length > 0
      ? lineChart({
          title: `${model.name}: precision-recall curves`,
          series: pr.map((c) => ({ name: c.label, xs: c.pr?.recall ?? [], ys: c.pr?.precision ?? [] })),
          xLabel: 'recall',
          yLabel: 'precision',
        })
      : '';
  const gaps = [
    ...model.curves.filter((c) => c.roc === null).map(missing('ROC', NULL_REASONS.rocAuc)),
    ...model.curves.filter((c) => c.pr === null).map(missing('PR', NULL_REASONS.averagePrecision)),
  ];
  return (
    `<div class="figures">${rocChart ? `<figure>${rocChart}<figcaption>ROC</figcaption></figure>` : ''}${prChart ? `<figure>${prChart}<figcaption>precision-recall</figcaption></figure>` : ''}</div>` +
    (gaps.length > 0 ? `<ul class="notes">${gaps.join('')}</ul>` : '')
  );
}

function modelCard(model: EvaluatedModel): string {
  return (
    `<article class="card"><h3>${esc(model.name)} <small>model ${short(model.model_digest)} · ${esc(model.metrics.task)} · ${esc(model.mode)}` +
    `${model.seed !== undefined ? ` · seed <span ${attrs(`model/${model.name}/seed`, model.seed)}>${model.seed}</span>` : ''}</small></h3>` +
    perLabelTable(model) +
    `<h4>Confusion matrices</h4>${confusion(model)}` +
    `<h4>ROC and precision-recall curves</h4>${curves(model)}` +
    '</article>'
  );
}

function deltaTable(deltas: MetricDelta[]): string {
  if (deltas.length === 0) return '';
  const labels = [...new Set(deltas.flatMap((d) => d.per_label.map((l) => l.label)))];
  const head = [
    'label',
    ...deltas.flatMap((d) => [`Δ F1 ${code(d.to)}`, `Δ precision ${code(d.to)}`, `Δ recall ${code(d.to)}`]),
  ];
  const rows = labels.map((label) => {
    const cells = deltas.flatMap((d) => {
      const l = d.per_label.find((x) => x.label === label);
      const k = `delta/${d.to}/label/${label}`;
      return l
        ? [delta(`${k}/f1`, l.f1), delta(`${k}/precision`, l.precision), delta(`${k}/recall`, l.recall)]
        : ['<td></td>', '<td></td>', '<td></td>'];
    });
    return `<tr><th>${esc(label)}</th>${cells.join('')}</tr>`;
  });
  const from = [...new Set(deltas.map((d) => d.from))];
  return `<h3>Per-label change against ${from.map(code).join(', ')}</h3>` + table(head, rows);
}

/** Where the compared models' training differed, key by key; the loss each minimised. */
function trainingDifferences(e: NonNullable<Report['evaluation']>): string {
  const trained = e.models.filter((m) => m.training !== undefined);
  if (trained.length < 2) return '';
  const differences = e.config_differences ?? [];
  const show = (v: unknown): string =>
    v === null || v === undefined ? nullText('not set') : code(typeof v === 'string' ? v : JSON.stringify(v));
  const rows = differences.map(
    (d) =>
      `<tr ${attrs('config-difference', d.key)}><th>${esc(d.key)}</th>${trained.map((m) => `<td>${show(d.values[m.name])}</td>`).join('')}</tr>`,
  );
  const note =
    differences.length === 0
      ? '<p>The compared models were trained with the same configuration.</p>'
      : `<p class="warn">The compared models' training differed in ${differences.length} setting${differences.length === 1 ? '' : 's'}: a difference in their numbers may come from any of them, not only from the method.</p>`;
  const formulas = trained
    .map(
      (m) =>
        `<li>${code(m.name)}: ${m.training!.loss_formula === null ? nullText('not recorded') : esc(m.training!.loss_formula)}</li>`,
    )
    .join('');
  return `<h3>Training configuration differences</h3>${note}${differences.length > 0 ? table(['setting', ...trained.map((m) => esc(m.name))], rows) : ''}<p>Losses minimised:</p><ul class="formulas">${formulas}</ul>`;
}

function evaluation(report: Report): string {
  const e = report.evaluation;
  if (e === null)
    return section('metrics', 'Metrics', empty('no evaluation in this run: the pipeline has no evaluate stage'));
  return section(
    'metrics',
    'Metrics',
    `<p>Test set ${short(e.dataset_digest)}; each model on the same examples. Δ columns: the later model minus the reference (positive is better).</p>` +
      metricsComparison(e.models, e.deltas) +
      trainingDifferences(e) +
      deltaTable(e.deltas) +
      `<h3>Side by side</h3><div class="side">${e.models.map(modelCard).join('')}</div>`,
  );
}

// ---------------------------------------------------------------------------------------------
// Fairness audits

function reactivityBars(audit: NamedAudit): string {
  const bars: Bar[] = audit.groups.flatMap((g) => [
    { label: g.group, value: g.absolute.value, low: g.absolute.ci_low, high: g.absolute.ci_high },
    ...g.per_label.map((l) => ({
      label: `${g.group} · ${l.label}`,
      value: l.absolute.value,
      low: l.absolute.ci_low,
      high: l.absolute.ci_high,
      secondary: true,
    })),
  ]);
  if (bars.length === 0) return empty('no groups audited');
  const limit = audit.gate.max_abs_reactivity;
  return `<figure>${barChart({
    title: `${audit.name}: absolute reactivity per group and label, with ${Math.round(audit.bootstrap.confidence * 100)}% CIs`,
    bars,
    threshold: limit,
    thresholdLabel: limit === null ? '' : `gate ${formatNumber(limit)}`,
  })}<figcaption>Absolute reactivity (mean |Δp|) per group, then per label; whiskers: bootstrap CI; dashed line: the gate's limit.</figcaption></figure>`;
}

function auditGate(audit: NamedAudit): string {
  const g = audit.gate;
  const status = g.passed ? 'passed' : 'failed';
  const limit = (name: string, key: string, value: number | null): string =>
    `<tr><th>${name}</th>${num(`audit/${audit.name}/gate/${key}`, value, NULL_REASONS.gateLimit)}</tr>`;
  return (
    `<p class="gate ${status}"><strong ${attrs(`audit/${audit.name}/gate`, status)}>gate: ${status}</strong> (mode ${esc(g.mode)})</p>` +
    (g.reasons.length > 0 ? `<ul class="reasons">${g.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '') +
    `<table class="kv"><tbody>${limit('limit: max |reactivity|', 'max_abs_reactivity', g.max_abs_reactivity)}${limit('limit: max flip rate', 'max_flip_rate', g.max_flip_rate)}` +
    (g.aggregate !== undefined
      ? `<tr><th>judged</th><td>${g.aggregate === 'max' ? 'the most reactive label' : 'the mean over labels'}, ${g.estimate === 'upper' ? 'upper end of the CI' : 'point estimate'}</td></tr>`
      : '') +
    (g.max_f1_drop !== undefined && g.max_f1_drop !== null
      ? limit('limit: max F1 drop', 'max_f1_drop', g.max_f1_drop)
      : '') +
    (g.f1_drop
      ? `<tr><th>${esc(g.f1_drop.metric)} drop against ${code(g.f1_drop.reference)}</th>${num(`audit/${audit.name}/gate/f1_drop`, g.f1_drop.value, '')}</tr>`
      : '') +
    `<tr><th>max |reactivity| over groups</th>${num(`audit/${audit.name}/max_abs_reactivity`, audit.max_abs_reactivity, '')}</tr>` +
    `<tr><th>flip rate</th>${num(`audit/${audit.name}/flip_rate`, audit.flip_rate, '')}</tr></tbody></table>`
  );
}

function sliceRow(
  key: string,
  name: string,
  slice: { signed: Estimate; absolute: Estimate; flip_rate: number; cases: number },
): string {
  return `<tr><th>${name}</th>${estimate(`${key}/absolute`, slice.absolute)}${estimate(`${key}/signed`, slice.signed)}${num(`${key}/flip_rate`, slice.flip_rate, '')}${count(`${key}/cases`, slice.cases)}</tr>`;
}

function auditCard(audit: NamedAudit): string {
  const k = `audit/${audit.name}`;
  const groups = table(
    ['slice', '|reactivity| [CI]', 'signed [CI]', 'flip rate', 'cases'],
    [
      sliceRow(`${k}/overall`, 'overall', audit.overall),
      ...audit.groups.map((g) => sliceRow(`${k}/group/${g.group}`, esc(g.group), g)),
    ],
    'Groups',
  );
  const perLabel = table(
    ['group', 'label', '|reactivity| [CI]', 'signed [CI]'],
    audit.groups.flatMap((g) =>
      g.per_label.map(
        (l) =>
          `<tr><th>${esc(g.group)}</th><td>${esc(l.label)}</td>${estimate(`${k}/group/${g.group}/label/${l.label}/absolute`, l.absolute)}${estimate(`${k}/group/${g.group}/label/${l.label}/signed`, l.signed)}</tr>`,
      ),
    ),
    'Per group and label',
  );
  const pairs =
    audit.pairs.length > 0
      ? table(
          ['group', 'a → b', '|reactivity| [CI]', 'signed [CI]', 'flip rate', 'cases'],
          audit.pairs.map((p) => {
            const pk = `${k}/pair/${p.group}/${p.a}/${p.b}`;
            return `<tr><th>${esc(p.group)}</th><td class="pair">${esc(p.a)} → ${esc(p.b)}</td>${estimate(`${pk}/absolute`, p.absolute)}${estimate(`${pk}/signed`, p.signed)}${num(`${pk}/flip_rate`, p.flip_rate, '')}${count(`${pk}/cases`, p.cases)}</tr>`;
          }),
          'Term pairs',
        )
      : '';
  const manual = audit.manual_reactivity
    ? table(
        ['group', 'label', 'manual reactivity (signed) [CI]', '|reactivity| [CI]'],
        audit.manual_reactivity.groups.flatMap((g) =>
          g.per_label.map(
            (l) =>
              `<tr><th>${esc(g.group)}</th><td>${esc(l.label)}</td>${estimate(`${k}/manual/${g.group}/${l.label}/signed`, l.signed)}${estimate(`${k}/manual/${g.group}/${l.label}/absolute`, l.absolute)}</tr>`,
          ),
        ),
        esc(
          `Manual reactivity: ${audit.manual_reactivity.definition} (${audit.manual_reactivity.protocol}${audit.manual_reactivity.positions ? `, ${audit.manual_reactivity.positions}` : ''}, ${audit.manual_reactivity.sentences} sentences)`,
        ),
      )
    : '';
  const masking = audit.masking
    ? table(
        ['pairs', 'terms', '|reactivity| [CI]', 'signed [CI]', 'flip rate', 'cases'],
        audit.masking.slices.map((sl) => {
          const sk = `${k}/masking/${sl.name}`;
          const terms = sl.pairs.map((p) => `${p.a}/${p.b}`).join(', ');
          return sl.reactivity === null
            ? `<tr><th>${esc(sl.name)}</th><td>${esc(terms)}</td><td colspan="4">${nullText('no pair')}</td></tr>`
            : `<tr><th>${esc(sl.name)}</th><td>${esc(terms)}</td>${estimate(`${sk}/absolute`, sl.reactivity.absolute)}${estimate(`${sk}/signed`, sl.reactivity.signed)}${num(`${sk}/flip_rate`, sl.reactivity.flip_rate, '')}${count(`${sk}/cases`, sl.reactivity.cases)}</tr>`;
        }),
        esc(
          `Pairs seen in masking (x̂ of ${audit.masking.rows_masked} of ${audit.masking.rows} training rows masked ${audit.masking.seen_terms.length > 0 ? audit.masking.seen_terms.join(', ') : 'none of the audit terms'}) and unseen pairs: the unseen figure is the one the masking did not decide by construction`,
        ),
      )
    : '';
  const b = audit.bootstrap;
  return (
    `<article class="card"><h3>${esc(audit.name)} <small>model ${short(audit.model_digest)}</small></h3>` +
    `<p class="meta">${esc(audit.method)} · ${audit.sentences} sentences · ${esc(audit.task)} · threshold ${audit.threshold === null ? nullText(NULL_REASONS.threshold) : formatNumber(audit.threshold)} · bootstrap ${b.samples} samples, seed ${b.seed}, confidence ${formatNumber(b.confidence)}</p>` +
    auditGate(audit) +
    reactivityBars(audit) +
    groups +
    manual +
    masking +
    perLabel +
    pairs +
    '</article>'
  );
}

function audits(report: Report): string {
  if (report.audits.length === 0)
    return section(
      'fairness',
      'Fairness audit',
      empty('no fairness audit in this run: the pipeline has no audit stage'),
    );
  return section(
    'fairness',
    'Fairness audit',
    '<p>Reactivity: for a sentence and a pair of group terms (a, b), Δp = p(label | sentence with a) − p(label | sentence with b). ' +
      '<em>signed</em> is the mean Δp, <em>|reactivity|</em> the mean |Δp|; <em>flip rate</em> is the share of cases whose thresholded prediction changes.</p>' +
      `<div class="side">${report.audits.map(auditCard).join('')}</div>`,
  );
}

// ---------------------------------------------------------------------------------------------
// Hard negatives

function hardNegatives(report: Report): string {
  const h = report.hard_negatives;
  if (h === null) return section('hard-negatives', 'Hard negatives', empty('no hard-negative mining in this run'));
  const reasons = Object.entries(h.by_reason);
  const summary =
    `<p>${count('mining/mined', h.mined, 'strong')} mined from a pool of ${count('mining/pool', h.pool, 'strong')}.</p>` +
    (reasons.length > 0
      ? table(
          ['reason', 'rows'],
          reasons.map(([reason, n]) => `<tr><th>${esc(reason)}</th>${count(`mining/reason/${reason}`, n)}</tr>`),
        )
      : '');
  const examples =
    h.examples.length > 0
      ? table(
          ['id', 'hard for', 'why', 'score', 'text'],
          h.examples.map(
            (e) =>
              `<tr><th>${code(e.id)}</th><td>${esc(e.label)}</td><td>${esc(e.reasons.join(', '))}</td>${num(`mining/example/${e.id}/score`, e.score, '')}<td class="text">${esc(e.text)}</td></tr>`,
          ),
          'Examples',
        )
      : empty('no examples recorded');
  return section('hard-negatives', 'Hard negatives', summary + examples);
}

// ---------------------------------------------------------------------------------------------
// Page

const STYLE = `
:root { color-scheme: light; --fg: #1b1b1b; --muted: #666; --line: #d9d9d9; --pass: #1a7f37; --fail: #b42318; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1400px; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans KR", "NanumGothic", sans-serif; color: var(--fg); }
h1 { margin: 0 0 4px; font-size: 24px; }
h2 { margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); font-size: 19px; }
h3 { margin: 18px 0 6px; font-size: 16px; }
h3 small, .meta, .reason, figcaption, .subtitle { color: var(--muted); font-weight: normal; font-size: 12px; }
h4 { margin: 14px 0 4px; font-size: 14px; }
nav a { margin-right: 12px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; }
pre { margin: 0; font-size: 12px; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 8px 0 12px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.up { color: var(--pass); } td.down { color: var(--fail); }
td.text { max-width: 480px; }
td.pair { white-space: nowrap; }
.null { color: var(--muted); }
.banner { margin: 16px 0; padding: 12px 16px; border-radius: 6px; border: 2px solid; }
.banner strong { font-size: 18px; }
.banner.passed { border-color: var(--pass); background: #e8f5ec; }
.banner.failed { border-color: var(--fail); background: #fdecea; }
.banner.none { border-color: var(--line); background: #f6f6f6; }
.banner ul, ul.reasons { margin: 6px 0 0; }
.gate.passed strong { color: var(--pass); } .gate.failed strong { color: var(--fail); } p.warn { color: var(--fail); }
.side { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 16px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 4px 14px 10px; min-width: 0; overflow-x: auto; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 4px 0; }
ul.plain { list-style: none; margin: 0; padding: 0; }
ul.notes { color: var(--muted); font-size: 12px; }
.empty { color: var(--muted); font-style: italic; }
table.headline td, table.headline th { font-size: 15px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
`;

/** Renders the whole page. Pure: same report, same string. */
export function renderReportHtml(report: Report): string {
  const p = report.provenance;
  const title = `fairline report · ${p.pipeline} · ${p.run_id}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head><body>',
    `<header><h1>fairline report: ${esc(p.pipeline)}</h1>`,
    `<p class="subtitle">run ${code(p.run_id)} · workflow ${code(p.workflow_id)} · ${esc(p.created_at)}</p>`,
    '<nav><a href="#provenance">provenance</a><a href="#metrics">metrics</a><a href="#fairness">fairness audit</a><a href="#hard-negatives">hard negatives</a></nav>',
    gateBanner(report),
    headline(report),
    '</header><main>',
    provenance(report),
    evaluation(report),
    klueReSection(report, formatNumber),
    twoClassSection(report.evaluation),
    audits(report),
    hardNegatives(report),
    embeddingSection(report.embedding),
    '</main>',
    `<footer>Generated by fairline from report.json (version ${report.version}), which holds every number on this page. Numbers are rounded to ${DECIMALS} decimals; CIs are bootstrap intervals. This page loads nothing from the network.</footer>`,
    '</body></html>',
    '',
  ].join('\n');
}
