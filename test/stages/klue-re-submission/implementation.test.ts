/**
 * The klue-re-submission stage called directly on an evaluation.json built here from real
 * metrics (computeMetrics): the CSV's exact bytes, its outputs, and the non-retryable refusals of
 * a model that was not evaluated as KLUE-RE. The whole pipeline runs in pipeline.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StageInputInvalid } from '../../../common/errors';
import { KLUE_RE_RELATIONS } from '../../../eval/klue-re';
import { computeMetrics } from '../../../eval/metrics';
import { evaluationSchema, type Evaluation } from '../../../report/schema';
import { klueReSubmission, submissionCsv } from '../../../stages/klue-re-submission/implementation';
import { artifactRefSchema } from '../../../store/types';
import { directContext, type DirectContext } from '../../classifier';

const K = KLUE_RE_RELATIONS.length;

/** A probability vector with `top` at class `at` and the rest spread evenly. */
const probs = (at: number, top = 0.71): number[] =>
  Array.from({ length: K }, (_, j) => (j === at ? top : (1 - top) / (K - 1)));

const rows = [
  { id: 'klue-re-v1_dev_00000', y_true: 0, y_score: probs(0) },
  { id: 'a,b "quoted"', y_true: 5, y_score: probs(5) },
  { id: 'g-3', y_true: 12, y_score: probs(0) },
];

async function evaluationOf(
  direct: DirectContext,
  options: { exclude?: string; labels?: string[] } = { exclude: 'no_relation' },
): Promise<ReturnType<typeof artifactRefSchema.parse>> {
  const metrics = computeMetrics({
    task: 'multiclass',
    yTrue: rows.map((r) => r.y_true),
    yScore: rows.map((r) => r.y_score),
    labels: options.labels ?? [...KLUE_RE_RELATIONS],
    ...(options.exclude ? { exclude: options.exclude } : {}),
  });
  const predictions = await direct.dataset(rows, 'predictions-encoder.jsonl');
  const evaluation: Evaluation = evaluationSchema.parse({
    dataset_digest: 'd'.repeat(64),
    models: [{ name: 'encoder', model_digest: 'm'.repeat(64), mode: 'baseline', metrics, curves: [], predictions }],
    deltas: [],
  });
  return direct.store.put({ bytes: JSON.stringify(evaluation) }, { kind: 'evaluation', name: 'evaluation.json' });
}

describe('the klue-re-submission stage', () => {
  test("writes id, pred_label and the 30 probabilities in relation_list.json's order, and outputs KLUE's two metrics", async () => {
    const direct = await directContext('submission');
    const evaluation = await evaluationOf(direct);
    const out = await klueReSubmission({ evaluation }, direct.context);
    const csv = (await direct.store.read(artifactRefSchema.parse(out.submission))).toString('utf8');
    const list = (p: number[]): string => `"[${p.join(', ')}]"`;
    assert.equal(
      csv,
      'id,pred_label,probs\n' +
        `klue-re-v1_dev_00000,no_relation,${list(probs(0))}\n` +
        `"a,b ""quoted""",org:member_of,${list(probs(5))}\n` +
        `g-3,no_relation,${list(probs(0))}\n`,
    );
    // Expected by hand: one relation row right (g-2), one missed (g-3), no false alarm:
    // micro F1 = 2·1 / (2·1 + 0 + 1) = 2/3.
    assert.ok(Math.abs(Number(out.microF1) - 200 / 3) < 1e-9, String(out.microF1));
    const stored = evaluationSchema.parse(JSON.parse((await direct.store.read(evaluation)).toString('utf8')));
    assert.equal(out.auprc, stored.models[0]!.metrics.klue_re_auprc);
    assert.equal(out.microF1Bp, 6667);
  });

  test('breaks a tie toward the lower class, as the metrics do', () => {
    const tied = Array.from({ length: K }, () => 1 / K);
    assert.match(submissionCsv([{ id: 'x', probs: tied }], KLUE_RE_RELATIONS), /^id,pred_label,probs\nx,no_relation,/);
  });

  const refusals: { sentence: string; options: { exclude?: string; labels?: string[] }; message: RegExp }[] = [
    {
      sentence: 'a model evaluated without exclude: no_relation',
      options: {},
      message: /was evaluated without exclude: no_relation.*set exclude: no_relation on the evaluate stage/,
    },
    {
      sentence: 'a model whose labels are not KLUE-RE’s relations in their order',
      options: {
        exclude: 'no_relation',
        labels: [KLUE_RE_RELATIONS[1], KLUE_RE_RELATIONS[0], ...KLUE_RE_RELATIONS.slice(2)],
      },
      message: /label 0 is "org:dissolved" where KLUE-RE has "no_relation"/,
    },
  ];
  for (const r of refusals) {
    test(`refuses ${r.sentence}, non-retryably`, async () => {
      const direct = await directContext('submission');
      const evaluation = await evaluationOf(direct, r.options);
      await assert.rejects(klueReSubmission({ evaluation }, direct.context), (error: unknown) => {
        assert.ok(error instanceof StageInputInvalid);
        assert.equal(error.retryable, false);
        assert.match(error.message, r.message);
        return true;
      });
    });
  }

  test('refuses an evaluation input that is not an evaluation.json, naming the key', async () => {
    const direct = await directContext('submission');
    const evaluation = await direct.store.put({ bytes: '{"models": 3}' }, { kind: 'evaluation', name: 'x.json' });
    await assert.rejects(klueReSubmission({ evaluation }, direct.context), (error: unknown) => {
      assert.ok(error instanceof StageInputInvalid);
      assert.match(error.message, /evaluation/);
      return true;
    });
  });

  test('refuses a model name the evaluation does not have, listing those it has', async () => {
    const direct = await directContext('submission');
    const evaluation = await evaluationOf(direct);
    await assert.rejects(
      klueReSubmission({ evaluation, model: 'other' }, direct.context),
      /"other" is not one of the evaluated models \(encoder\)/,
    );
  });
});
