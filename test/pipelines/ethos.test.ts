/**
 * pipelines/ethos/ethos.yaml end to end on the real engine, short (N 50, two optimizer steps per
 * model, length 32): the real ETHOS file through its data mirror, the shuffle-then-first-N split,
 * full fine-tuning and a LoRA adapter of the built-in all-MiniLM-L6-v2 with the real trainer,
 * evaluate and report, and the published F1 of class hate.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { SA } from '../../common/constants';
import { PROJECT_ROOT } from '../../common/paths';
import { datasetCardSchema } from '../../stages/dataset/contract';
import { evaluationSchema } from '../../report/schema';
import { artifactRefSchema } from '../../store/types';
import { startEngine, type Engine, type Outcome } from '../engine';
import { sharedDataMirrors } from '../shared-data';

const R = 4;
const MINILM = { hidden: 384, layers: 6 };

const bundleSchema = z.object({ files: z.record(z.string(), artifactRefSchema) }).passthrough();

describe('the ETHOS pipeline', () => {
  let engine: Engine;
  let yaml: string;
  let outcome: Outcome;
  let attributes: Awaited<ReturnType<Awaited<ReturnType<Engine['start']>>['describe']>>['typedSearchAttributes'];
  const outputs = (stage: string): Record<string, unknown> => {
    const state = outcome.progress.stages.find((s) => s.id === stage);
    assert.ok(state?.outputs, `${stage}: ${state?.status} ${state?.error ?? ''}`);
    return state.outputs;
  };
  const read = async (value: unknown): Promise<string> =>
    (await engine.store.read(artifactRefSchema.parse(value))).toString('utf8');

  before(async () => {
    engine = await startEngine({ dataMirrors: sharedDataMirrors() });
    yaml = await readFile(join(PROJECT_ROOT, 'pipelines', 'ethos', 'ethos.yaml'), 'utf8');
    const set = ['n=50', 'seed=3', 'epochs=1', 'maxSteps=2', 'maxLength=32', `r=${R}`, `alpha=${2 * R}`];
    const handle = await engine.start(yaml, { set: set.map((s) => `params.${s}`) });
    outcome = await engine.outcome(handle);
    attributes = (await handle.describe()).typedSearchAttributes;
  });
  after(async () => engine?.close());

  test('runs every stage on the real ETHOS file', () => {
    assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
    assert.deepEqual(
      outcome.progress.stages.map((s) => [s.id, s.status]),
      ['data', 'full', 'lora', 'evaluate', 'report'].map((id) => [id, 'succeeded']),
    );
  });

  test('labels by the median of isHate and trains on the first 50 of the shuffle, testing on the other 948', async () => {
    const card = datasetCardSchema.parse(JSON.parse(await read(outputs('data').card)));
    assert.deepEqual(card.split, { shuffle: 32, trainFirst: 50 });
    assert.deepEqual(card.rows, { train: 50, validation: 0, test: 948 });
    assert.equal(card.threshold?.value, 1 / 3);
  });

  test('the LoRA model trains only its adapter and head, and stores the adapter beside the merged model', async () => {
    // r·(in + out) per adapted Linear(384, 384), two per layer (query, value); the head Linear(384, 2).
    const expected = MINILM.layers * 2 * R * (MINILM.hidden + MINILM.hidden) + (MINILM.hidden * 2 + 2);
    const cost = async (stage: string) =>
      z
        .object({ trainable_parameters: z.number(), total_parameters: z.number(), peak_memory_bytes: z.number() })
        .passthrough()
        .parse(
          (await read(outputs(stage).metrics))
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l))
            .find((e) => e.event === 'cost'),
        );
    const lora = await cost('lora');
    const full = await cost('full');
    assert.equal(lora.trainable_parameters, expected);
    assert.equal(full.trainable_parameters, full.total_parameters);
    assert.equal(lora.total_parameters, full.total_parameters + expected, 'the head is kept beside its trained copy');
    assert.ok(lora.peak_memory_bytes > 0 && full.peak_memory_bytes > 0);

    const adapter = artifactRefSchema.parse(outputs('lora').adapter);
    assert.equal(adapter.kind, 'hf-adapter');
    const files = bundleSchema.parse(JSON.parse(await read(adapter))).files;
    // PEFT's save_pretrained also writes a model card (README.md).
    assert.deepEqual(Object.keys(files).sort(), ['README.md', 'adapter_config.json', 'adapter_model.safetensors']);
    assert.equal(JSON.parse(await read(files['adapter_config.json'])).r, R);
    const merged = bundleSchema.parse(JSON.parse(await read(outputs('lora').huggingface))).files;
    assert.ok(merged['model.safetensors'] && !Object.keys(merged).some((f) => f.startsWith('adapter')));
    assert.equal(outputs('full').adapter, null);
  });

  test('scores both models on the test rows and publishes the LoRA model’s F1 of class hate', async () => {
    const evaluation = evaluationSchema.parse(JSON.parse(await read(outputs('evaluate').evaluation)));
    assert.deepEqual(
      evaluation.models.map((m) => [m.name, m.metrics.n, m.metrics.per_label.map((l) => l.label)]),
      [
        ['full', 948, ['not_hate', 'hate']],
        ['lora', 948, ['not_hate', 'hate']],
      ],
    );
    const hate = evaluation.models[1]!.metrics.per_label[1]!;
    assert.equal(outputs('evaluate').positiveF1, hate.f1);
    assert.equal(outputs('evaluate').positiveF1Bp, Math.round(hate.f1 * 10_000));
    assert.equal(attributes.get(SA.positiveF1Bp), Math.round(hate.f1 * 10_000));
    assert.equal(typeof hate.roc_auc, 'number');
  });

  test('a training size that leaves no test row fails the dataset stage at once, naming trainFirst', async () => {
    const failed = await engine.run(yaml, { set: ['params.n=998'] });
    assert.equal(failed.status, 'failed');
    const events = failed.history.events ?? [];
    const failure = events.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
    assert.equal(failure?.applicationFailureInfo?.type, 'DatasetSplitTooLarge');
    assert.equal(failure?.applicationFailureInfo?.nonRetryable, true);
    assert.match(failure?.message ?? '', /split\.trainFirst is 998, but the dataset has 998 valid rows/);
    assert.deepEqual(
      failed.progress.stages.slice(0, 4).map((s) => [s.id, s.status]),
      [
        ['data', 'failed'],
        ['full', 'skipped'],
        ['lora', 'skipped'],
        ['evaluate', 'skipped'],
      ],
    );
  });
});
