import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { builtinStages } from '../../stages/implementations';
import type { StageImplementation } from '../../activities/stages/context';
import { PROJECT_ROOT } from '../../common/paths';
import { STAGE_TYPES, type StageType } from '../../stages';
import {
  compareRuns,
  comparedManifestSchema,
  delta,
  type ComparedRun,
  type Delta,
  type RunComparison,
  type Verdict,
} from '../../report/compare';
import { reportSchema, type Report } from '../../report/schema';
import { startEngine, type Engine } from '../engine';
import { cleanEnv, fairline, suiteTemporal } from '../helpers';

const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures', 'compare');
const reportOf = (name: string): Report =>
  reportSchema.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.report.json`), 'utf8')));
const runOf = (name: string): ComparedRun => ({
  manifest: comparedManifestSchema.parse(JSON.parse(readFileSync(join(FIXTURES, `${name}.manifest.json`), 'utf8'))),
  report: reportOf(name),
});

/** The fields of a delta a test states by hand. */
const pick = (d: Delta): Pick<Delta, 'a' | 'b' | 'delta' | 'verdict'> => ({
  a: d.a,
  b: d.b,
  delta: d.delta,
  verdict: d.verdict,
});

describe('compareRuns on a baseline run and a debiased run (test/fixtures/compare)', () => {
  const c = compareRuns(runOf('baseline'), runOf('debiased'));
  const headlinePair = { a: 'baseline', b: 'debiased' };
  const metric = (m: string, label: string | null, models = headlinePair) =>
    c.metrics.find((r) => r.metric === m && r.label === label && r.models.a === models.a && r.models.b === models.b)!;
  const reactivity = (group: string | null, label: string | null, measure: string) =>
    c.reactivity.find(
      (r) => r.models.b === 'debiased' && r.group === group && r.label === label && r.measure === measure,
    )!;
  const flip = (group: string | null) => c.flipRates.find((r) => r.models.b === 'debiased' && r.group === group)!;

  test('every delta is B − A exactly, and missing on either side is no delta', () => {
    const rows: Delta[] = [...c.headline.rows, ...c.metrics, ...c.reactivity, ...c.flipRates];
    assert.ok(rows.length > 50);
    for (const r of rows) {
      if (r.a === null || r.b === null) assert.equal(r.delta, null);
      else assert.equal(r.delta, r.b - r.a);
    }
  });

  test('the same-named model is compared with itself, and the two reported models with each other', () => {
    assert.deepEqual(
      [...new Set(c.metrics.map((r) => `${r.models.a}>${r.models.b}`))],
      ['baseline>baseline', 'baseline>debiased'],
    );
    assert.ok(c.metrics.filter((r) => r.models.b === 'baseline').every((r) => r.verdict === 'same' && r.delta === 0));
    assert.deepEqual(c.headline.models, { a: 'baseline', b: 'debiased' });
  });

  test('headline numbers: F1 higher is better, reactivity lower is better', () => {
    assert.deepEqual(
      c.headline.rows.map((r) => [r.metric, r.a, r.b, r.delta, r.verdict]),
      [
        ['macro_f1', 0.625, 0.75, 0.125, 'better'],
        ['micro_f1', 0.6875, 0.625, -0.0625, 'worse'],
        ['reactivity', 0.125, 0.0625, -0.0625, 'better'],
      ],
    );
  });

  test('averaged and per-label precision, recall and F1 deltas carry the right verdicts', () => {
    assert.deepEqual(pick(metric('macro_f1', null)), { a: 0.625, b: 0.75, delta: 0.125, verdict: 'better' });
    assert.deepEqual(pick(metric('micro_f1', null)), { a: 0.6875, b: 0.625, delta: -0.0625, verdict: 'worse' });
    assert.deepEqual(pick(metric('weighted_f1', null)), { a: 0.65625, b: 0.65625, delta: 0, verdict: 'same' });
    assert.deepEqual(pick(metric('precision', '여성/가족')), { a: 0.75, b: 0.8125, delta: 0.0625, verdict: 'better' });
    assert.deepEqual(pick(metric('recall', '여성/가족')), { a: 0.5, b: 0.5, delta: 0, verdict: 'same' });
    assert.deepEqual(pick(metric('f1', '여성/가족')), { a: 0.625, b: 0.6875, delta: 0.0625, verdict: 'better' });
    assert.deepEqual(pick(metric('precision', '남성')), { a: 0.5, b: 0.375, delta: -0.125, verdict: 'worse' });
    assert.deepEqual(pick(metric('recall', '남성')), { a: 0.75, b: 0.875, delta: 0.125, verdict: 'better' });
    assert.deepEqual(pick(metric('f1', '남성')), { a: 0.5625, b: 0.5, delta: -0.0625, verdict: 'worse' });
  });

  test('a label only one run has is marked only-a or only-b, with its number and no delta', () => {
    for (const m of ['precision', 'recall', 'f1']) {
      assert.equal(metric(m, 'clean').verdict, 'only-a');
      assert.equal(metric(m, 'clean').b, null);
      assert.equal(metric(m, '성소수자').verdict, 'only-b');
      assert.equal(metric(m, '성소수자').a, null);
    }
    assert.deepEqual(pick(metric('f1', 'clean')), { a: 0.875, b: null, delta: null, verdict: 'only-a' });
    assert.deepEqual(pick(metric('f1', '성소수자')), { a: null, b: 0.3125, delta: null, verdict: 'only-b' });
  });

  test('absolute reactivity is better lower, signed reactivity better closer to 0 whatever its sign', () => {
    assert.deepEqual(pick(reactivity(null, null, 'max_absolute')), {
      a: 0.125,
      b: 0.0625,
      delta: -0.0625,
      verdict: 'better',
    });
    assert.deepEqual(pick(reactivity(null, null, 'absolute')), {
      a: 0.09375,
      b: 0.046875,
      delta: -0.046875,
      verdict: 'better',
    });
    assert.deepEqual(pick(reactivity(null, null, 'signed')), {
      a: 0.0625,
      b: -0.03125,
      delta: -0.09375,
      verdict: 'better',
    });
    assert.deepEqual(pick(reactivity('성별', null, 'absolute')), {
      a: 0.125,
      b: 0.0625,
      delta: -0.0625,
      verdict: 'better',
    });
    // The lean flipped sides at the same distance from 0: no better, no worse.
    assert.deepEqual(pick(reactivity('성별', null, 'signed')), { a: -0.125, b: 0.125, delta: 0.25, verdict: 'same' });
    assert.deepEqual(pick(reactivity('성별', '여성/가족', 'signed')), {
      a: -0.25,
      b: 0.125,
      delta: 0.375,
      verdict: 'better',
    });
    assert.deepEqual(pick(reactivity('성별', '여성/가족', 'absolute')), {
      a: 0.25,
      b: 0.125,
      delta: -0.125,
      verdict: 'better',
    });
    assert.deepEqual(pick(reactivity('성별', '남성', 'signed')), {
      a: 0,
      b: -0.0625,
      delta: -0.0625,
      verdict: 'worse',
    });
    assert.deepEqual(pick(reactivity('성별', '남성', 'absolute')), { a: 0.0625, b: 0.0625, delta: 0, verdict: 'same' });
  });

  test('a group only one run audited is marked, and flip rates are better lower', () => {
    assert.deepEqual(pick(reactivity('지역', null, 'absolute')), {
      a: 0.0625,
      b: null,
      delta: null,
      verdict: 'only-a',
    });
    assert.deepEqual(pick(reactivity('종교', null, 'signed')), { a: null, b: 0, delta: null, verdict: 'only-b' });
    assert.deepEqual(pick(flip(null)), { a: 0.25, b: 0.125, delta: -0.125, verdict: 'better' });
    assert.deepEqual(pick(flip('성별')), { a: 0.375, b: 0.5, delta: 0.125, verdict: 'worse' });
    assert.equal(flip('지역').verdict, 'only-a');
    assert.equal(flip('종교').verdict, 'only-b');
  });

  test('a gate that passes where it failed is better; the same result is the same', () => {
    assert.deepEqual(
      c.gates.map((g) => [g.models.a, g.models.b, g.a?.passed, g.b?.passed, g.verdict]),
      [
        ['baseline', 'baseline', false, false, 'same'],
        ['baseline', 'debiased', false, true, 'better'],
      ],
    );
    assert.deepEqual(c.gates[1]!.a!.reasons, ['성별: absolute reactivity 0.125 > 0.1']);
  });

  test('the spec diff lists added, removed and changed params and stage inputs, and ignores an input renamed with the same bytes', () => {
    assert.deepEqual(c.spec, { a: 'a'.repeat(64), b: 'e'.repeat(64), same: false });
    assert.deepEqual(c.changes, [
      { path: 'params.epochs', kind: 'removed', a: 3 },
      { path: 'params.lambda', kind: 'added', b: 10 },
      { path: 'params.mode', kind: 'changed', a: 'baseline', b: 'debiased' },
      { path: 'params.optimizer.warmup', kind: 'changed', a: 0.1, b: 0.05 },
      { path: 'stages.mask', kind: 'added', b: 'ner-mask' },
      { path: 'stages.mine', kind: 'removed', a: 'mine-hard-negatives' },
      { path: 'stages.train.with.lambda', kind: 'added', b: 10 },
      { path: 'stages.train.with.mode', kind: 'changed', a: 'baseline', b: 'debiased' },
    ]);
  });

  test('digests say the dataset and the baseline model are the same and the debiased model is new', () => {
    assert.deepEqual(c.dataset, { a: 'd'.repeat(64), b: 'd'.repeat(64), same: true });
    assert.deepEqual(c.models, [
      { name: 'baseline', a: 'b'.repeat(64), b: 'b'.repeat(64), same: true },
      { name: 'debiased', a: null, b: 'c'.repeat(64), same: false },
    ]);
  });

  test('comparing the other way round negates every delta and turns every verdict around', () => {
    const back: RunComparison = compareRuns(runOf('debiased'), runOf('baseline'));
    const opposite: Record<Verdict, Verdict> = {
      better: 'worse',
      worse: 'better',
      same: 'same',
      'only-a': 'only-b',
      'only-b': 'only-a',
    };
    // The pair baseline → debiased becomes debiased → baseline.
    const forward = c.metrics.filter((r) => r.models.b === 'debiased');
    const backward = back.metrics.filter((r) => r.models.a === 'debiased');
    assert.equal(backward.length, forward.length);
    forward.forEach((r) => {
      const s = backward.find((x) => x.metric === r.metric && x.label === r.label)!;
      assert.equal(s.verdict, opposite[r.verdict], `${r.metric} ${r.label}`);
      // 0 − x, not −x: a zero delta stays +0 (strict equality tells −0 from 0).
      assert.equal(s.delta === null ? null : 0 - s.delta, r.delta);
    });
    assert.equal(back.gates.find((g) => g.models.a === 'debiased')!.verdict, 'worse');
  });

  test('delta() judges each direction both ways', () => {
    assert.equal(delta(0.5, 0.75, 'higher').verdict, 'better');
    assert.equal(delta(0.75, 0.5, 'higher').verdict, 'worse');
    assert.equal(delta(0.5, 0.25, 'lower').verdict, 'better');
    assert.equal(delta(0.25, 0.5, 'lower').verdict, 'worse');
    assert.equal(delta(-0.5, 0.25, 'closer-to-zero').verdict, 'better');
    assert.equal(delta(0.25, -0.5, 'closer-to-zero').verdict, 'worse');
    assert.deepEqual(delta(null, 0.5, 'higher'), { a: null, b: 0.5, delta: null, better: 'higher', verdict: 'only-b' });
  });
});

/**
 * A plugin stage that puts a given report.json into the store and publishes it in the memo, as
 * the `report` stage does: runs whose reports are exactly the fixtures.
 */
const putReportWith = z.object({ file: z.string(), mode: z.string() }).strict();
const putReportType: StageType = {
  name: 'put-report',
  version: '1',
  description: 'Store a given report.json (test plugin)',
  with: putReportWith,
  outputs: { report: 'artifact' },
  publish: { memo: { report: 'report' } },
  defaults: STAGE_TYPES.download!.defaults,
};
const putReport: StageImplementation = async (input, context) => {
  const { file } = putReportWith.parse(input);
  return { report: await context.store.put({ path: file }, { kind: 'report', name: 'report.json' }) };
};

const comparedSchema = z.object({
  a: z.object({ workflowId: z.string(), report: z.string() }).passthrough(),
  b: z.object({ workflowId: z.string(), report: z.string() }).passthrough(),
  comparison: z
    .object({
      changes: z.array(
        z.object({ path: z.string(), kind: z.string(), a: z.unknown().optional(), b: z.unknown().optional() }),
      ),
      // passthrough: the rows are compared whole with compareRuns' below.
      metrics: z.array(
        z
          .object({
            models: z.object({ a: z.string(), b: z.string() }),
            metric: z.string(),
            label: z.string().nullable(),
            delta: z.number().nullable(),
          })
          .passthrough(),
      ),
      reactivity: z.array(
        z
          .object({
            models: z.object({ a: z.string(), b: z.string() }),
            group: z.string().nullable(),
            label: z.string().nullable(),
            measure: z.string(),
            delta: z.number().nullable(),
          })
          .passthrough(),
      ),
      gates: z.array(z.object({ models: z.object({ a: z.string(), b: z.string() }), verdict: z.string() })),
    })
    .passthrough(),
});

describe('fairline compare on two real runs', () => {
  let engine: Engine;
  let env: NodeJS.ProcessEnv;
  const sfx = Math.random().toString(36).slice(2, 8);
  const pipeline = `cmp-${sfx}`;
  const other = `cmp-other-${sfx}`;
  const baselineRun = `baseline-${sfx}`;
  const debiasedRun = `debiased-${sfx}`;
  const plainRun = `plain-${sfx}`;

  before(async () => {
    engine = await startEngine({
      stages: { ...builtinStages(), 'put-report': { implementation: putReport, fingerprint: 'f'.repeat(64) } },
      stageTypes: { ...STAGE_TYPES, 'put-report': putReportType },
    });
    const yaml = `
name: ${pipeline}
params: { fixture: baseline, mode: baseline }
stages:
  - id: report
    uses: put-report
    with: { file: "${FIXTURES}/\${{ params.fixture }}.report.json", mode: "\${{ params.mode }}" }
`;
    const noReport = `
name: ${other}
stages:
  - { id: data, uses: download, with: { url: "${pathToFileURL(join(FIXTURES, 'baseline.manifest.json')).href}" } }
`;
    const outcomes = await Promise.all([
      engine.run(yaml, { runId: baselineRun }),
      engine.run(yaml, { runId: debiasedRun, set: ['params.fixture=debiased', 'params.mode=debiased'] }),
      // The same run id in another pipeline: a bare `debiased-…` is ambiguous.
      engine.run(noReport, { runId: debiasedRun }),
      engine.run(noReport, { runId: plainRun }),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['succeeded', 'succeeded', 'succeeded', 'succeeded'],
    );
    env = cleanEnv({
      FAIRLINE_TEMPORAL_ADDRESS: suiteTemporal().address,
      FAIRLINE_STORE: pathToFileURL(engine.storeDir).href,
    });
  });
  after(async () => {
    await engine?.close();
  });

  test('--json prints the deltas that the two report.json files imply', async () => {
    const { code, stdout, stderr } = await fairline(
      ['compare', baselineRun, debiasedRun, '--pipeline', pipeline, '--json'],
      env,
    );
    assert.equal(code, 0, stderr);
    const out = comparedSchema.parse(JSON.parse(stdout));
    assert.equal(out.a.workflowId, `pipeline/${pipeline}/${baselineRun}`);
    assert.match(out.b.report, /^file:\/\/.*\/report\.json$/);

    // Straight from the files: the headline models' F1 per label present in both, and their gates.
    const a = reportOf('baseline');
    const b = reportOf('debiased');
    const ma = a.evaluation!.models.find((m) => m.name === 'baseline')!.metrics;
    const mb = b.evaluation!.models.find((m) => m.name === 'debiased')!.metrics;
    const shared = ma.per_label.filter((l) => mb.per_label.some((k) => k.label === l.label));
    assert.equal(shared.length, 2);
    for (const la of shared) {
      const lb = mb.per_label.find((k) => k.label === la.label)!;
      for (const m of ['precision', 'recall', 'f1'] as const) {
        const row = out.comparison.metrics.find(
          (r) => r.models.b === 'debiased' && r.metric === m && r.label === la.label,
        );
        assert.equal(row?.delta, lb[m] - la[m], `${m} ${la.label}`);
      }
    }
    assert.equal(
      out.comparison.metrics.find((r) => r.models.b === 'debiased' && r.metric === 'macro_f1')?.delta,
      mb.macro_f1 - ma.macro_f1,
    );
    const ga = a.audits.find((x) => x.name === 'baseline')!;
    const gb = b.audits.find((x) => x.name === 'debiased')!;
    for (const group of ga.groups.filter((g) => gb.groups.some((h) => h.group === g.group))) {
      const row = out.comparison.reactivity.find(
        (r) => r.models.b === 'debiased' && r.group === group.group && r.label === null && r.measure === 'absolute',
      );
      assert.equal(row?.delta, gb.groups.find((h) => h.group === group.group)!.absolute.value - group.absolute.value);
    }
    assert.equal(out.comparison.gates.find((g) => g.models.b === 'debiased')?.verdict, 'better');
    // And exactly what compareRuns makes of the files themselves.
    const expected = compareRuns(
      { manifest: runOf('baseline').manifest, report: a },
      { manifest: runOf('debiased').manifest, report: b },
    );
    assert.deepEqual(out.comparison.metrics, JSON.parse(JSON.stringify(expected.metrics)));
    assert.deepEqual(out.comparison.reactivity, JSON.parse(JSON.stringify(expected.reactivity)));
    // The runs' own manifests: the params and the stage input set apart.
    assert.deepEqual(
      out.comparison.changes.map((ch) => [ch.path, ch.kind, ch.a, ch.b]),
      [
        ['params.fixture', 'changed', 'baseline', 'debiased'],
        ['params.mode', 'changed', 'baseline', 'debiased'],
        [
          'stages.report.with.file',
          'changed',
          join(FIXTURES, 'baseline.report.json'),
          join(FIXTURES, 'debiased.report.json'),
        ],
        ['stages.report.with.mode', 'changed', 'baseline', 'debiased'],
      ],
    );
  });

  test('the table marks each delta better or worse, without colour when not on a terminal', async () => {
    // A bare run id that only one pipeline uses, and a pipeline/run.
    const { code, stdout, stderr } = await fairline(['compare', baselineRun, `${pipeline}/${debiasedRun}`], env);
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stdout, /\x1b\[/);
    assert.match(stdout, /^A {2}pipeline\/cmp-\w+\/baseline-\w+$/m);
    assert.match(stdout, /^ {2}dataset +d{12}… +d{12}… +same$/m);
    assert.match(stdout, /^ {2}params\.mode +changed +baseline +debiased$/m);
    assert.match(stdout, /^metrics: baseline → debiased \(higher is better\)$/m);
    assert.match(stdout, /^ {2}macro_f1 +\(all\) +0\.6250 +0\.7500 +\+0\.1250 +▲ better$/m);
    assert.match(stdout, /^ {2}precision +남성 +0\.5000 +0\.3750 +-0\.1250 +▼ worse$/m);
    assert.match(stdout, /^ {2}f1 +clean +0\.8750 +— +— +only in A$/m);
    assert.match(stdout, /^ {2}성별 +\(all\) +signed +-0\.1250 +0\.1250 +\+0\.2500 += same$/m);
    assert.match(stdout, /^ {2}성별 +여성\/가족 +signed +-0\.2500 +0\.1250 +\+0\.3750 +▲ better$/m);
    assert.match(stdout, /^ {2}baseline → debiased +failed +passed +▲ better$/m);
  });

  test('a bare run id used by two pipelines is refused, naming both', async () => {
    const { code, stderr } = await fairline(['compare', baselineRun, debiasedRun], env);
    assert.equal(code, 1);
    const candidates = [`pipeline/${pipeline}/${debiasedRun}`, `pipeline/${other}/${debiasedRun}`].sort();
    assert.match(
      stderr,
      new RegExp(
        `RunAmbiguous: run id "${debiasedRun}" names 2 runs: ${candidates.join(', ')}; name one with --pipeline NAME or as NAME/${debiasedRun}`,
      ),
    );
  });

  test('a run without a report, and a run that does not exist, are clear errors naming them', async () => {
    const missing = await fairline(['compare', baselineRun, plainRun], env);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      new RegExp(
        `RunReportMissing: run pipeline/${other}/${plainRun} has no report: it ended \\(completed\\) without a report stage`,
      ),
    );
    const unknown = await fairline(['compare', `nothing-${sfx}`, baselineRun], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, new RegExp(`RunNotFound: no pipeline run "nothing-${sfx}"`));
  });
});
