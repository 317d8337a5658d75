import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { PROJECT_ROOT } from '../../common/paths';
import { loadClassifier } from '../../activities/stages/classifier';
import { ensureBuiltinModel } from '../../models/builtin';
import { BUILTIN_MODEL_NAMES } from '../../models/names';
import { loadConfig } from '../../temporal.config';
import { demoRows, directContext, trainedClassifier } from '../classifier';
import { tempDir } from '../helpers';

/**
 * The trainer's own ONNX parity tolerance: a 12-layer float32 model accumulates more rounding than the tiny test model.
 */
const TOLERANCE = 1e-4;
const MAX_LENGTH = 32;

const referenceSchema = z.object({ logits: z.array(z.array(z.number())), probabilities: z.array(z.array(z.number())) });

describe('the inference engine on fine-tuned built-in encoders', () => {
  for (const name of BUILTIN_MODEL_NAMES) {
    test(`${name}: the TS engine (npm tokenizers + onnxruntime-node) matches the trainer's PyTorch model on Korean and English text`, async (t) => {
      const folder = await ensureBuiltinModel(name);
      const trained = await trainedClassifier({
        train: demoRows('train'),
        validation: demoRows('test'),
        options: { model: folder, maxLength: MAX_LENGTH, epochs: 1, maxSteps: 2, batchSize: 8, lr: 3e-5 },
      });
      const texts = [
        ...demoRows('test').map((r) => r.text),
        'Students should respect their teachers.',
        '',
        demoRows('train')
          .slice(0, 10)
          .map((r) => r.text)
          .join(' '),
      ];
      const file = join(await tempDir('fairline-pretrained-'), 'texts.json');
      await writeFile(file, JSON.stringify(texts));
      const script = join(PROJECT_ROOT, 'test', 'inference', 'torch_predict.py');
      const result = spawnSync(
        loadConfig({}, {}).trainer.python,
        [script, trained.dir, file, '--max-length', String(MAX_LENGTH), '--task', 'multilabel'],
        { encoding: 'utf8', maxBuffer: 64 << 20 },
      );
      assert.equal(result.status, 0, result.stderr);
      const reference = referenceSchema.parse(JSON.parse(result.stdout));

      const direct = await directContext('evaluate');
      const classifier = await loadClassifier(
        await direct.classifier(trained),
        direct.context,
        { batchSize: 16, threads: 2 },
        `models.${name}`,
      );
      try {
        const predictions = await classifier.predict(texts);
        let worst = 0;
        predictions.forEach((p, i) =>
          p.probabilities.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - reference.probabilities[i]![j]!)))),
        );
        t.diagnostic(`${texts.length} texts: max |Δprobability| ${worst.toExponential(2)}`);
        assert.ok(worst <= TOLERANCE, `max |Δprobability| ${worst}`);
      } finally {
        await classifier.release();
      }
    });
  }
});
