import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { evaluate } from '../../../stages/evaluate/implementation';
import { StageInputInvalid } from '../../../common/errors';
import { computeMetrics } from '../../../eval/metrics';
import { evaluationSchema, type Evaluation } from '../../../report/schema';
import { artifactRefSchema, type ArtifactRef } from '../../../store/types';
import { demoRows, directContext, trainedClassifier, type DirectContext } from '../../classifier';

describe('the evaluate stage', () => {
  let direct: DirectContext;
  let test_: ArtifactRef;
  let models: { baseline: ArtifactRef; other: ArtifactRef };
  let evaluation: Evaluation;
  let outputs: Record<string, unknown>;

  before(async () => {
    direct = await directContext('evaluate');
    const [a, b] = await Promise.all([
      trainedClassifier(),
      trainedClassifier({ train: demoRows('train'), validation: demoRows('test'), options: { seed: 7, epochs: 3 } }),
    ]);
    models = { baseline: await direct.classifier(a), other: await direct.classifier(b) };
    test_ = await direct.dataset(demoRows('test'), 'test.jsonl');
    outputs = await evaluate({ dataset: test_, models, inference: { batchSize: 8 } }, direct.context);
    evaluation = evaluationSchema.parse(
      JSON.parse((await direct.store.read(artifactRefSchema.parse(outputs.evaluation))).toString()),
    );
  });

  test('scores every model on the split, in the order given, with per-label metrics and curves', () => {
    assert.deepEqual(
      evaluation.models.map((m) => m.name),
      ['baseline', 'other'],
    );
    assert.equal(evaluation.dataset_digest, test_.sha256);
    for (const model of evaluation.models) {
      assert.equal(model.metrics.n, demoRows('test').length);
      assert.deepEqual(model.metrics.labels, ['TA', 'UD', 'UI']);
      assert.equal(model.metrics.per_label.length, 3);
      assert.equal(model.curves.length, 3);
      assert.ok(model.metrics.macro_f1 >= 0 && model.metrics.macro_f1 <= 1);
    }
    assert.notEqual(evaluation.models[0]!.model_digest, evaluation.models[1]!.model_digest);
    assert.deepEqual(
      evaluation.models.map((m) => m.seed),
      [42, 7],
    );
  });

  test('the stored predictions give back exactly the stored metrics (what `fairline metrics` reads)', async () => {
    for (const model of evaluation.models) {
      const rows = (await direct.store.read(model.predictions))
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(rows.length, demoRows('test').length);
      assert.deepEqual(
        rows.map((r) => r.id),
        demoRows('test').map((r) => r.id),
      );
      const again = computeMetrics({
        task: 'multilabel',
        yTrue: rows.map((r) => r.y_true),
        yScore: rows.map((r) => r.y_score),
        labels: ['TA', 'UD', 'UI'],
        threshold: 0.5,
      });
      assert.deepEqual(again, model.metrics);
    }
  });

  test('deltas are the later model minus the reference, and the candidate’s numbers are published', () => {
    const [a, b] = evaluation.models;
    assert.equal(evaluation.deltas.length, 1);
    const delta = evaluation.deltas[0]!;
    assert.equal(delta.from, 'baseline');
    assert.equal(delta.to, 'other');
    assert.equal(delta.macro_f1, b!.metrics.macro_f1 - a!.metrics.macro_f1);
    assert.equal(delta.micro_f1, b!.metrics.micro_f1 - a!.metrics.micro_f1);
    for (const [i, label] of delta.per_label.entries())
      assert.equal(label.f1, b!.metrics.per_label[i]!.f1 - a!.metrics.per_label[i]!.f1);
    assert.equal(outputs.macroF1, b!.metrics.macro_f1);
    assert.equal(outputs.microF1, b!.metrics.micro_f1);
    assert.equal(outputs.positiveF1, null, 'multi-label: no class 1 to publish');
    assert.equal(outputs.modelDigest, b!.model_digest);
  });

  test("every model carries its F1 intervals and its training, and the models' training differences are listed", () => {
    for (const model of evaluation.models) {
      assert.equal(model.intervals!.macro_f1.value, model.metrics.macro_f1);
      assert.ok(
        model.intervals!.macro_f1.ci_low <= model.metrics.macro_f1 &&
          model.metrics.macro_f1 <= model.intervals!.macro_f1.ci_high,
      );
      assert.equal(model.training!.config.mode, 'baseline');
      assert.equal(model.training!.loss_formula, 'L_total = L_all = BCE(P(y|x), y)');
    }
    const delta = evaluation.deltas[0]!.intervals!.macro_f1;
    assert.ok(Math.abs(delta.value - evaluation.deltas[0]!.macro_f1) < 1e-12);
    // The two were trained with other seeds and epochs (and data): the evaluation says so.
    const keys = evaluation.config_differences!.map((d) => d.key);
    assert.ok(keys.includes('seed') && keys.includes('epochs'), keys.join(', '));
    assert.deepEqual(evaluation.config_differences!.find((d) => d.key === 'seed')!.values, { baseline: 42, other: 7 });
  });

  test('heartbeats report scoring progress per model', () => {
    const phases = new Set(direct.heartbeats.map((h) => h.phase));
    assert.ok(phases.has('scoring baseline') && phases.has('scoring other'), [...phases].join(', '));
    const last = direct.heartbeats.filter((h) => h.model === 'other').at(-1)!;
    assert.equal(last.done, last.total);
  });

  test('a dataset whose labels do not fit the model fails once, naming the row and the model', async () => {
    const wide = await direct.dataset(
      demoRows('test').map((r) => ({ ...r, labels: [0, 1, 0, 1] })),
      'wide.jsonl',
    );
    await assert.rejects(
      evaluate({ dataset: wide, models: { baseline: models.baseline } }, direct.context),
      (error: unknown) => {
        assert.ok(error instanceof StageInputInvalid);
        assert.equal(error.retryable, false);
        assert.match(
          error.message,
          /dataset row 1 \(id "test-0"\) has labels \[0,1,0,1\], but models\.baseline is a multilabel model over 3 labels \(TA, UD, UI\)/,
        );
        return true;
      },
    );
  });

  test('a reference that is not among the models is refused before any work', async () => {
    await assert.rejects(
      evaluate({ dataset: test_, models: { baseline: models.baseline }, reference: 'debiased' }, direct.context),
      /reference: "debiased" is not one of models: baseline/,
    );
  });
});
