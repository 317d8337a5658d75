import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { formatEstimate, formatNumber, REPORT_CSP, renderReportHtml } from '../../report/html';
import { reportSchema, type Report } from '../../report/schema';
import { PROJECT_ROOT } from '../../common/paths';
import { openBrowser, type BrowserSession } from '../browser';
import { tempDir } from '../helpers';

const FIXTURE = join(PROJECT_ROOT, 'test', 'fixtures', 'report', 'report.json');

async function fixture(): Promise<Report> {
  return reportSchema.parse(JSON.parse(await readFile(FIXTURE, 'utf8')));
}

/** Every keyed element of the open page: data-key → its exact value and the text it shows. */
const keyedSchema = z.array(z.tuple([z.string(), z.string(), z.string()]));
type Keyed = Map<string, { value: string; text: string }>;

async function keyedValues(session: BrowserSession): Promise<Keyed> {
  // A string expression: the page is evaluated by Chromium, and the tests compile without DOM types.
  const raw: unknown = await session.page.evaluate(
    "[...document.querySelectorAll('[data-key]')].map((e) => [e.getAttribute('data-key'), e.getAttribute('data-value'), e.textContent])",
  );
  const rows = keyedSchema.parse(raw);
  const keyed: Keyed = new Map();
  for (const [key, value, text] of rows) {
    assert.ok(!keyed.has(key), `data-key ${key} appears once`);
    keyed.set(key, { value, text });
  }
  return keyed;
}

function assertNumber(keyed: Keyed, key: string, expected: number): void {
  const found = keyed.get(key);
  assert.ok(found, `the page has ${key}`);
  assert.equal(found.text, formatNumber(expected), `${key} shows ${formatNumber(expected)}`);
  assert.equal(Number(found.value), expected, `${key} carries the exact value`);
}

describe('report.html in headless Chromium', { timeout: 180_000 }, () => {
  let report: Report;
  let session: BrowserSession;
  let url: string;
  let keyed: Keyed;
  let bodyText: string;

  before(async () => {
    report = await fixture();
    const dir = await tempDir('fairline-report-');
    const path = join(dir, 'report.html');
    await writeFile(path, renderReportHtml(report));
    url = pathToFileURL(path).href;
    session = await openBrowser();
    await session.page.goto(url, { waitUntil: 'load' });
    keyed = await keyedValues(session);
    bodyText = await session.page.innerText('body');
    await session.screenshot('report-html');
  });
  after(async () => {
    await session?.close();
  });

  test('the page loads nothing but itself: no network request at all', () => {
    assert.deepEqual(
      session.requests.map((r) => r.url),
      [url],
    );
  });

  test('the page forbids every fetch with its Content-Security-Policy', async () => {
    const csp = await session.page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
    assert.equal(csp, REPORT_CSP);
    assert.match(REPORT_CSP, /default-src 'none'/);
  });

  test('each model’s macro, micro and per-label F1 appear as report.json says', () => {
    const models = report.evaluation?.models ?? [];
    assert.deepEqual(
      models.map((m) => m.name),
      ['baseline', 'debiased'],
    );
    for (const model of models) {
      assertNumber(keyed, `model/${model.name}/macro_f1`, model.metrics.macro_f1);
      assertNumber(keyed, `model/${model.name}/micro_f1`, model.metrics.micro_f1);
      assert.equal(model.metrics.per_label.length, 3);
      for (const label of model.metrics.per_label) {
        assertNumber(keyed, `model/${model.name}/label/${label.label}/f1`, label.f1);
        assertNumber(keyed, `model/${model.name}/label/${label.label}/precision`, label.precision);
        assertNumber(keyed, `model/${model.name}/label/${label.label}/recall`, label.recall);
      }
      assert.ok(bodyText.includes(formatNumber(model.metrics.macro_f1)), 'the macro F1 is in the visible text');
    }
    for (const d of report.evaluation?.deltas ?? []) {
      assert.equal(Number(keyed.get(`delta/${d.to}/macro_f1`)?.value), d.macro_f1);
    }
  });

  test('each group’s absolute reactivity and its CI appear as report.json says, per model and label', () => {
    assert.deepEqual(
      report.audits.map((a) => a.name),
      ['baseline', 'debiased'],
    );
    for (const audit of report.audits) {
      assert.deepEqual(
        audit.groups.map((g) => g.group),
        ['gender', 'age'],
      );
      for (const group of audit.groups) {
        const key = `audit/${audit.name}/group/${group.group}/absolute`;
        const found = keyed.get(key);
        assert.ok(found, `the page has ${key}`);
        assert.equal(found.text, formatEstimate(group.absolute));
        assert.equal(
          found.text,
          `${formatNumber(group.absolute.value)} [${formatNumber(group.absolute.ci_low)}, ${formatNumber(group.absolute.ci_high)}]`,
        );
        assert.equal(Number(found.value), group.absolute.value);
        assert.ok(bodyText.includes(found.text), `${key} is in the visible text`);
        for (const label of group.per_label) {
          assert.equal(
            keyed.get(`audit/${audit.name}/group/${group.group}/label/${label.label}/absolute`)?.text,
            formatEstimate(label.absolute),
          );
        }
      }
      assertNumber(keyed, `audit/${audit.name}/max_abs_reactivity`, audit.max_abs_reactivity);
    }
  });

  test('the gate banner says passed for the reported model, and the baseline’s audit says failed with its reason', () => {
    assert.equal(report.headline.gate_passed, true);
    assert.equal(keyed.get('gate')?.value, 'passed');
    assert.match(keyed.get('gate')?.text ?? '', /^gate: passed/);
    const baseline = report.audits.find((a) => a.name === 'baseline');
    assert.equal(baseline?.gate.passed, false);
    assert.equal(keyed.get('audit/baseline/gate')?.text, 'gate: failed');
    assert.equal(keyed.get('audit/debiased/gate')?.text, 'gate: passed');
    for (const reason of baseline?.gate.reasons ?? [])
      assert.ok(bodyText.includes(reason), `the reason "${reason}" is shown`);
    assertNumber(keyed, 'headline/macro_f1', report.headline.macro_f1 ?? Number.NaN);
    assertNumber(keyed, 'headline/reactivity', report.headline.reactivity ?? Number.NaN);
  });

  test('provenance and hard-negative examples (Korean text) appear as report.json says', () => {
    const p = report.provenance;
    assert.equal(keyed.get('provenance/run_id')?.text, p.run_id);
    assert.equal(keyed.get('provenance/git_commit')?.text, p.git_commit);
    assert.equal(keyed.get('provenance/dataset_digest')?.text, p.dataset_digest);
    for (const [name, digest] of Object.entries(p.model_digests))
      assert.equal(keyed.get(`provenance/model_digest/${name}`)?.text, digest);
    for (const [stage, seed] of Object.entries(p.seeds))
      assert.equal(keyed.get(`provenance/seed/${stage}`)?.text, String(seed));
    for (const model of report.evaluation?.models ?? [])
      assert.equal(keyed.get(`model/${model.name}/seed`)?.text, String(model.seed));
    const mining = report.hard_negatives;
    assert.ok(mining);
    assert.equal(keyed.get('mining/mined')?.text, String(mining.mined));
    for (const example of mining.examples) {
      assert.ok(bodyText.includes(example.text), `example ${example.id} shows its text verbatim`);
      assertNumber(keyed, `mining/example/${example.id}/score`, example.score);
    }
  });
});

describe('report.html rendering', () => {
  test('numbers print with 4 decimals, and a negative zero prints as 0.0000', () => {
    assert.equal(formatNumber(0.725991132785504), '0.7260');
    assert.equal(formatNumber(-0.01234), '-0.0123');
    assert.equal(formatNumber(-0.00001), '0.0000');
    assert.equal(formatEstimate({ value: 0.0712, ci_low: 0.06, ci_high: 0.08123 }), '0.0712 [0.0600, 0.0812]');
  });

  test('the same report renders to the same bytes', async () => {
    const report = await fixture();
    assert.equal(renderReportHtml(report), renderReportHtml(await fixture()));
  });

  test(
    'HTML special characters in labels, group terms and texts are escaped, in the markup and in the browser',
    { timeout: 120_000 },
    async () => {
      const report = await fixture();
      const hostile = `<script>alert("x")</script> 'q' & 한국어`;
      const label = `<b>"TA"</b>`;
      const model = report.evaluation?.models[0];
      const example = report.hard_negatives?.examples[0];
      const pair = report.audits[0]?.pairs[0];
      assert.ok(model && example && pair);
      const first = model.metrics.per_label[0];
      assert.ok(first);
      first.label = label;
      model.metrics.labels[0] = label;
      example.text = hostile;
      pair.a = `남자 "a" <i>`;
      const html = renderReportHtml(report);
      assert.ok(!html.includes('<script'), 'no script element is produced');
      assert.ok(!html.includes('<b>"TA"'), 'the label is not markup');
      assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#39;q&#39; &amp; 한국어'));
      assert.ok(html.includes('&lt;b&gt;&quot;TA&quot;&lt;/b&gt;'));

      const dir = await tempDir('fairline-report-');
      const path = join(dir, 'report.html');
      await writeFile(path, html);
      const session = await openBrowser();
      try {
        await session.page.goto(pathToFileURL(path).href);
        const text = await session.page.innerText('body');
        assert.ok(text.includes(hostile), 'the hostile text shows verbatim');
        assert.ok(text.includes(`남자 "a" <i>`));
        assert.equal(await session.page.locator('script').count(), 0);
        assert.equal(await session.page.locator('b').count(), 0);
        assert.equal(session.requests.length, 1);
      } finally {
        await session.close();
      }
    },
  );

  test('nulls show as — with a reason', async () => {
    const report = await fixture();
    report.provenance.git_commit = null;
    const label = report.evaluation?.models[0]?.metrics.per_label[0];
    assert.ok(label);
    label.roc_auc = null;
    const html = renderReportHtml(report);
    assert.match(
      html,
      /data-key="provenance\/git_commit" data-value="null"><span class="null">—<\/span> <span class="reason">\(not recorded: the run did not start from a git checkout\)/,
    );
    assert.match(
      html,
      /data-key="model\/baseline\/label\/TA\/roc_auc" data-value="null"><span class="null">—<\/span> <span class="reason">\(undefined: /,
    );
  });

  test('a report with no evaluation, no audits and no hard negatives still renders, saying what is missing', async () => {
    const report: Report = {
      ...(await fixture()),
      evaluation: null,
      audits: [],
      hard_negatives: null,
      headline: { model: null, macro_f1: null, micro_f1: null, reactivity: null, gate_passed: null },
    };
    const html = renderReportHtml(report);
    assert.match(html, /gate: not run/);
    assert.match(html, /no evaluation in this run/);
    assert.match(html, /no fairness audit in this run/);
    assert.match(html, /no hard-negative mining in this run/);
    assert.match(html, /data-key="headline\/macro_f1" data-value="null"/);
  });
});
