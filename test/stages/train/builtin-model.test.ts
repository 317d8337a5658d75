import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../../common/paths';
import { ensureBuiltinModel, MODEL_MANIFEST } from '../../../models/builtin';
import { artifactRefSchema } from '../../../store/types';
import { startEngine, type Engine } from '../../engine';
import { tempDir } from '../../helpers';

/** The demo data fine-tuning all-MiniLM-L6-v2 for one step (the smaller built-in: 23M parameters). */
function pipeline(model: string): string {
  const data = join(PROJECT_ROOT, 'data', 'demo');
  return `
name: train-builtin
stages:
  - id: data
    uses: dataset
    with:
      format: json
      sources: { train: { url: "file://${data}/train.json" }, test: { url: "file://${data}/test.json" } }
      mapping: { text: sentence, labels: { column: labels }, labelNames: [TA, UD, UI] }
  - id: train
    uses: train
    needs: [data]
    with: { dataset: "\${{ stages.data.outputs.train }}", validation: "\${{ stages.data.outputs.test }}", model: ${model}, mode: baseline, epochs: 1, maxSteps: 1, batchSize: 8, lr: 0.00003, maxLength: 32 }
`;
}

const bundleSchema = z
  .object({ step: z.number(), files: z.record(z.string(), artifactRefSchema), base: artifactRefSchema.optional() })
  .strict();

describe('a train stage naming a built-in pretrained model', () => {
  let engine: Engine;
  before(async () => {
    engine = await startEngine();
  });
  after(async () => engine?.close());

  test('fine-tunes it, stores the weights as a digest-pinned artifact, and a second run is served from the cache', async () => {
    const folder = await ensureBuiltinModel('all-minilm-l6-v2');
    const first = await engine.run(pipeline('all-minilm-l6-v2'));
    assert.equal(first.status, 'succeeded', first.error?.cause?.message);
    const outputs = first.progress.stages.find((s) => s.id === 'train')!.outputs!;
    const trained = bundleSchema.parse(
      JSON.parse((await engine.store.read(artifactRefSchema.parse(outputs.huggingface))).toString()),
    );
    assert.ok(trained.base, 'the trained model names the weights it started from');
    assert.equal(trained.base.kind, 'hf-model');
    const base = bundleSchema.parse(JSON.parse((await engine.store.read(trained.base)).toString()));
    const manifest = z
      .object({ files: z.record(z.string(), z.object({ sha256: z.string() })) })
      .parse(JSON.parse((await engine.store.read(base.files[MODEL_MANIFEST]!)).toString()));
    // The stored weights are the built folder's, byte for byte (the store verifies digests on read).
    assert.equal(base.files['model.safetensors']!.sha256, manifest.files['model.safetensors']!.sha256);
    assert.ok(folder.includes('all-minilm-l6-v2'));

    const second = await engine.run(pipeline('all-minilm-l6-v2'));
    assert.equal(second.status, 'succeeded');
    assert.equal(second.progress.stages.find((s) => s.id === 'train')!.cached, true);
  });

  test('a folder that is not there fails the stage once, non-retryable, naming it', async () => {
    // Inside a readable root (the suite's temp folder), so the answer is about the folder itself.
    const missing = join(await tempDir(), 'no-such-encoder');
    const outcome = await engine.run(pipeline(missing));
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error!.cause!.message, new RegExp(`model "${missing}": not found`));
  });

  test('a folder outside the readable roots is refused, naming the rule', async () => {
    const outcome = await engine.run(pipeline('/nonexistent/encoder'));
    assert.equal(outcome.status, 'failed');
    assert.match(
      outcome.error!.cause!.message,
      /refused to read \/nonexistent\/encoder: only files under the configured readable roots may be read/,
    );
  });
});
