import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../../common/paths';
import { artifactRefSchema, type ArtifactRef } from '../../../store/types';
import { startEngine, type Engine } from '../../engine';

/** The demo data through dataset → ner-mask → train (baseline and debiased), small and fast. */
function pipeline(extra = ''): string {
  const data = join(PROJECT_ROOT, 'data', 'demo');
  return `
name: train-demo
stages:
  - id: data
    uses: dataset
    with:
      format: json
      sources: { train: { url: "file://${data}/train.json" }, test: { url: "file://${data}/test.json" } }
      mapping: { text: sentence, labels: { column: labels }, labelNames: [TA, UD, UI] }
  - id: mask
    uses: ner-mask
    needs: [data]
    with:
      dataset: \${{ stages.data.outputs.train }}
      sources: { lexicon: { type: gender, terms: [남학생, 여학생, 남자, 여자, 아들, 딸, 아버지, 어머니, 형, 누나] } }
  - id: baseline
    uses: train
    needs: [mask, data]
    with: { dataset: "\${{ stages.mask.outputs.dataset }}", validation: "\${{ stages.data.outputs.test }}", mode: baseline, epochs: 1, batchSize: 16, lr: 0.001, maxLength: 32${extra} }
  - id: debiased
    uses: train
    needs: [mask, data]
    with: { dataset: "\${{ stages.mask.outputs.dataset }}", validation: "\${{ stages.data.outputs.test }}", mode: debiased, epochs: 1, batchSize: 16, lr: 0.001, maxLength: 32${extra} }
`;
}

const bundleSchema = z.object({ files: z.record(z.string(), artifactRefSchema) }).passthrough();

describe('the train stage', () => {
  let engine: Engine;
  before(async () => {
    engine = await startEngine();
  });
  after(async () => engine?.close());

  test('trains a baseline and a debiased model with the real trainer and stores ONNX, tokenizer, HF folder and metrics', async () => {
    const outcome = await engine.run(pipeline());
    assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
    for (const id of ['baseline', 'debiased']) {
      const outputs = outcome.progress.stages.find((s) => s.id === id)!.outputs!;
      const refs = Object.fromEntries(
        Object.entries(outputs)
          .filter(([k]) => k !== 'adapter') // null without an adapter (test/stages/train/adapter.test.ts)
          .map(([k, v]) => [k, artifactRefSchema.parse(v)]),
      ) as Record<string, ArtifactRef>;
      assert.equal(refs.model!.kind, 'onnx-model');
      assert.ok(refs.model!.bytes > 10_000);
      assert.equal(refs.tokenizer!.kind, 'tokenizer');
      const bundle = bundleSchema.parse(JSON.parse((await engine.store.read(refs.huggingface!)).toString()));
      for (const file of ['config.json', 'model.safetensors', 'tokenizer.json'])
        assert.ok(bundle.files[file], `${id}: HF folder has ${file}`);
      const metrics = (await engine.store.read(refs.metrics!))
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const steps = metrics.filter((m) => m.event === 'step');
      assert.ok(steps.length > 0);
      // The trainer's steps are planned up front (`of`): the bundle names the step training ended on.
      assert.equal(
        z
          .object({ step: z.number() })
          .passthrough()
          .parse(JSON.parse((await engine.store.read(refs.huggingface!)).toString())).step,
        steps.at(-1).of,
        `${id}: hf-model.json's step is the last one`,
      );
      if (id === 'debiased') {
        for (const term of ['loss_all', 'loss_mask', 'loss_debias'])
          assert.ok(
            steps.every((s) => typeof s[term] === 'number'),
            `every step logs ${term}`,
          );
      }
      assert.ok(
        metrics.some((m) => m.event === 'epoch' && typeof m.metrics?.macro_f1 === 'number'),
        `${id}: validation macro F1 per epoch`,
      );
    }
  });

  test('a bad trainer option fails the stage once, non-retryable, with the trainer’s own message', async () => {
    const outcome = await engine.run(pipeline(', numLabels: 7').replace(/mode: debiased/, 'mode: baseline'));
    assert.equal(outcome.status, 'failed');
    assert.match(
      outcome.error!.cause!.message,
      /stage "(baseline|debiased)" failed: .*the trainer refused its input: .*labels has width 3, expected 7/,
    );
    const failed = outcome.progress.stages.filter((s) => s.status === 'failed');
    assert.ok(failed.length >= 1);
    // Attempts as Temporal counted them: a non-retryable failure on the first attempt is 1, not 0.
    for (const stage of failed) assert.equal(stage.attempts, 1, `${stage.id} ended on attempt 1`);
  });
});
