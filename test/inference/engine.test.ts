import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { z } from 'zod';
import {
  ClassifierInvalid,
  ExecutionProviderUnavailable,
  ModelOutputMismatch,
  TokenizerModelMismatch,
} from '../../inference/errors';
import { PROJECT_ROOT } from '../../common/paths';
import { loadClassifier } from '../../activities/stages/classifier';
import { Classifier, type Prediction } from '../../inference/engine';
import { CLASSIFIER_KIND, classifierBundleSchema, type ClassifierBundle } from '../../pipeline/classifier';
import type { CanonicalRow } from '../../pipeline/dataset';
import type { ArtifactRef } from '../../store/types';
import { loadConfig } from '../../temporal.config';
import { demoRows, directContext, trainedClassifier, type DirectContext, type TrainedClassifier } from '../classifier';
import { tempDir } from '../helpers';

const TOLERANCE = 1e-5;
const MAX_LENGTH = 32; // test/classifier.ts's default recipe
const SCRATCH = { hidden: 32, layers: 2, heads: 2, intermediate: 64 };

/** Texts beyond the validation rows: longer than maxLength (truncation), empty, characters the vocabulary lacks. */
const EXTRA_TEXTS = [
  demoRows('train')
    .slice(0, 12)
    .map((r) => r.text)
    .join(' '),
  '',
  '여성은 감정적이다 🙂 naïve café',
  'x',
];

const referenceSchema = z.object({ logits: z.array(z.array(z.number())), probabilities: z.array(z.array(z.number())) });
type Reference = z.infer<typeof referenceSchema>;

/** The trainer's PyTorch model on `texts` (test/inference/torch_predict.py). */
async function torchPredict(
  trained: TrainedClassifier,
  texts: readonly string[],
  task: 'multilabel' | 'multiclass',
): Promise<Reference> {
  const file = join(await tempDir('fairline-torch-predict-'), 'texts.json');
  await writeFile(file, JSON.stringify(texts));
  const script = join(PROJECT_ROOT, 'test', 'inference', 'torch_predict.py');
  const result = spawnSync(
    loadConfig({}, {}).trainer.python,
    [script, trained.dir, file, '--max-length', String(MAX_LENGTH), '--task', task],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  assert.equal(result.status, 0, result.stderr);
  return referenceSchema.parse(JSON.parse(result.stdout));
}

function worstDifference(
  predictions: readonly Prediction[],
  reference: Reference,
): { logit: number; probability: number } {
  assert.equal(predictions.length, reference.logits.length);
  let logit = 0;
  let probability = 0;
  predictions.forEach((p, i) => {
    p.logits.forEach((x, j) => (logit = Math.max(logit, Math.abs(x - reference.logits[i]![j]!))));
    p.probabilities.forEach(
      (x, j) => (probability = Math.max(probability, Math.abs(x - reference.probabilities[i]![j]!))),
    );
  });
  return { logit, probability };
}

/** A bundle in the context's store naming the given files and values. */
async function storeBundle(direct: DirectContext, bundle: ClassifierBundle): Promise<ArtifactRef> {
  return direct.store.put({ bytes: JSON.stringify(bundle) }, { kind: CLASSIFIER_KIND, name: 'classifier.json' });
}

async function readBundle(direct: DirectContext, ref: ArtifactRef): Promise<ClassifierBundle> {
  return classifierBundleSchema.parse(JSON.parse((await direct.store.read(ref)).toString('utf8')));
}

async function rejectsWith<E extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${type.name}, but it resolved`);
}

describe('the inference engine', () => {
  let multilabel: TrainedClassifier;
  let direct: DirectContext;
  let bundleRef: ArtifactRef;
  let texts: string[];

  before(async () => {
    multilabel = await trainedClassifier();
    direct = await directContext('evaluate');
    bundleRef = await direct.classifier(multilabel);
    // The validation rows (the trainer's own parity set), the training texts so that batches of 64 cut the input, and
    // the extras.
    texts = [...multilabel.validation.map((r) => r.text), ...demoRows('train').map((r) => r.text), ...EXTRA_TEXTS];
  });

  describe('on a multilabel model', () => {
    let reference: Reference;
    before(async () => {
      reference = await torchPredict(multilabel, texts, 'multilabel');
    });

    for (const batchSize of [1, 7, 64]) {
      test(`matches the trainer's PyTorch logits and probabilities within 1e-5 with batches of ${batchSize}, in input order`, async (t) => {
        const classifier = await loadClassifier(
          bundleRef,
          direct.context,
          { batchSize, threads: 1 },
          'models.baseline',
        );
        try {
          const predictions = await classifier.predict(texts);
          const worst = worstDifference(predictions, reference);
          t.diagnostic(
            `${texts.length} texts: max |Δlogit| ${worst.logit.toExponential(2)}, max |Δprob| ${worst.probability.toExponential(2)}`,
          );
          assert.ok(worst.logit <= TOLERANCE, `max |Δlogit| ${worst.logit}`);
          assert.ok(worst.probability <= TOLERANCE, `max |Δprob| ${worst.probability}`);
        } finally {
          await classifier.release();
        }
      });
    }

    test('takes its labels, task, threshold and model digest from the bundle, and decides p > threshold per label', async () => {
      const bundle = await readBundle(direct, bundleRef);
      const classifier = await loadClassifier(bundleRef, direct.context, {}, 'models.baseline');
      try {
        assert.deepEqual(classifier.labels, bundle.labelNames);
        assert.equal(classifier.task, 'multilabel');
        assert.equal(classifier.threshold, bundle.threshold);
        assert.equal(classifier.modelDigest, bundle.model.sha256);
        const t = classifier.threshold;
        assert.deepEqual(classifier.decide([t + 0.01, t, t - 0.01]), [1, 0, 0]);
        const predictions = await classifier.predict(texts.slice(0, 5));
        for (const p of predictions)
          assert.deepEqual(
            classifier.decide(p.probabilities),
            p.probabilities.map((x) => (x > t ? 1 : 0)),
          );
      } finally {
        await classifier.release();
      }
    });

    test('truncates to maxLength tokens as the trainer does, whatever tokenizer.json says', async () => {
      // tokenizer.json truncates at 32; the engine sets its own maxLength either way.
      const files = {
        modelPath: multilabel.modelPath,
        tokenizerPath: multilabel.tokenizerPath,
        task: 'multilabel' as const,
        labelNames: ['TA', 'UD', 'UI'],
        threshold: 0.5,
      };
      const short = await Classifier.fromFiles({ ...files, maxLength: 8 }, {}, 'model.onnx');
      const long = await Classifier.fromFiles({ ...files, maxLength: 512 }, {}, 'model.onnx');
      try {
        const [cut, tiny] = await short.tokenize([EXTRA_TEXTS[0]!, 'x']);
        const [full] = await long.tokenize([EXTRA_TEXTS[0]!]);
        assert.equal(cut!.length, 8);
        assert.ok(full!.length > 32);
        assert.ok(tiny!.length < 8);
        // Cut on the right, the closing special token kept.
        assert.deepEqual(cut!.slice(0, 7), full!.slice(0, 7));
        assert.equal(cut!.at(-1), full!.at(-1));
      } finally {
        await short.release();
        await long.release();
      }
    });

    test('reads the vocabulary from an onnxruntime-optimized graph (fused embedding, int32 ids) and still matches PyTorch', async () => {
      const optimized = join(await tempDir('fairline-optimized-onnx-'), 'model-optimized.onnx');
      const script = join(PROJECT_ROOT, 'test', 'inference', 'optimize_onnx.py');
      const result = spawnSync(
        loadConfig({}, {}).trainer.python,
        [script, multilabel.modelPath, optimized, '--heads', String(SCRATCH.heads), '--hidden', String(SCRATCH.hidden)],
        { encoding: 'utf8' },
      );
      assert.equal(result.status, 0, result.stderr);
      const files = {
        modelPath: optimized,
        task: 'multilabel' as const,
        labelNames: ['TA', 'UD', 'UI'],
        maxLength: MAX_LENGTH,
        threshold: 0.5,
      };
      const classifier = await Classifier.fromFiles(
        { ...files, tokenizerPath: multilabel.tokenizerPath },
        { batchSize: 7 },
        'optimized',
      );
      try {
        const worst = worstDifference(await classifier.predict(texts), reference);
        assert.ok(worst.logit <= TOLERANCE && worst.probability <= TOLERANCE, JSON.stringify(worst));
      } finally {
        await classifier.release();
      }
      const small = await trainedClassifier({
        train: demoRows('train'),
        validation: demoRows('test'),
        options: { scratch: { ...SCRATCH, vocabSize: 150 } },
      });
      const error = await rejectsWith(
        Classifier.fromFiles({ ...files, tokenizerPath: small.tokenizerPath }, {}, 'optimized'),
        TokenizerModelMismatch,
      );
      assert.match(
        error.message,
        /^optimized: tokenizer\.json has a vocabulary of 150 tokens but model-optimized\.onnx's word-embedding table has 219 rows/,
      );
    });
  });

  describe('on a multiclass model', () => {
    let multiclass: TrainedClassifier;
    let reference: Reference;
    let ref: ArtifactRef;
    const asClass = (rows: CanonicalRow[]): CanonicalRow[] =>
      rows.map((r) => ({ ...r, labels: Array.isArray(r.labels) ? r.labels.indexOf(1) : r.labels }));
    let classTexts: string[];

    before(async () => {
      multiclass = await trainedClassifier({
        train: asClass(demoRows('train')),
        validation: asClass(demoRows('test')),
      });
      classTexts = [
        ...multiclass.validation.map((r) => r.text),
        ...demoRows('train').map((r) => r.text),
        ...EXTRA_TEXTS,
      ];
      reference = await torchPredict(multiclass, classTexts, 'multiclass');
      ref = await direct.classifier(multiclass);
    });

    test("matches the trainer's PyTorch softmax within 1e-5 with batches of 1, 7 and 64, and decides one-hot argmax", async (t) => {
      for (const batchSize of [1, 7, 64]) {
        const classifier = await loadClassifier(ref, direct.context, { batchSize }, 'models.debiased');
        try {
          assert.equal(classifier.task, 'multiclass');
          const predictions = await classifier.predict(classTexts);
          const worst = worstDifference(predictions, reference);
          t.diagnostic(
            `batch ${batchSize}: max |Δlogit| ${worst.logit.toExponential(2)}, max |Δprob| ${worst.probability.toExponential(2)}`,
          );
          assert.ok(
            worst.logit <= TOLERANCE && worst.probability <= TOLERANCE,
            `batch ${batchSize}: ${JSON.stringify(worst)}`,
          );
          predictions.forEach((p, i) => {
            assert.ok(Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-12);
            const torchArgmax = reference.logits[i]!.indexOf(Math.max(...reference.logits[i]!));
            assert.deepEqual(
              classifier.decide(p.probabilities),
              p.probabilities.map((_, j) => (j === torchArgmax ? 1 : 0)),
            );
          });
        } finally {
          await classifier.release();
        }
      }
    });
  });

  describe('refuses bad inputs with non-retryable errors that name the input', () => {
    let smallVocab: TrainedClassifier;
    before(async () => {
      // 150 WordPiece tokens against the default recipe's 219 (the demo text has no more to learn).
      smallVocab = await trainedClassifier({
        train: demoRows('train'),
        validation: demoRows('test'),
        options: { scratch: { ...SCRATCH, vocabSize: 150 } },
      });
    });

    test('a tokenizer with more tokens than the model has embedding rows is a TokenizerModelMismatch', async () => {
      const bundle = await readBundle(direct, bundleRef);
      const small = await readBundle(direct, await direct.classifier(smallVocab));
      const mixed = await storeBundle(direct, { ...small, tokenizer: bundle.tokenizer });
      const error = await rejectsWith(
        loadClassifier(mixed, direct.context, {}, 'models.baseline'),
        TokenizerModelMismatch,
      );
      assert.equal(error.retryable, false);
      assert.match(
        error.message,
        /^stage "evaluate": models\.baseline: tokenizer\.json has a vocabulary of 219 tokens but model\.onnx's word-embedding table has 150 rows/,
      );
    });

    test('a tokenizer far smaller than the model is a TokenizerModelMismatch too', async () => {
      const bundle = await readBundle(direct, bundleRef);
      const small = await readBundle(direct, await direct.classifier(smallVocab));
      const mixed = await storeBundle(direct, { ...bundle, tokenizer: small.tokenizer });
      const error = await rejectsWith(
        loadClassifier(mixed, direct.context, {}, 'models.debiased'),
        TokenizerModelMismatch,
      );
      assert.equal(error.retryable, false);
      assert.match(
        error.message,
        /models\.debiased: tokenizer\.json has a vocabulary of 150 tokens but model\.onnx's word-embedding table has 219 rows \(more spare rows than padding explains/,
      );
    });

    test('a bundle naming 4 labels for a 3-label model is a ModelOutputMismatch', async () => {
      const bundle = await readBundle(direct, bundleRef);
      const four = await storeBundle(direct, { ...bundle, labelNames: [...bundle.labelNames, 'EXTRA'] });
      const error = await rejectsWith(loadClassifier(four, direct.context, {}, 'models.baseline'), ModelOutputMismatch);
      assert.equal(error.retryable, false);
      assert.match(
        error.message,
        /models\.baseline: model\.onnx's logits have shape \[1, 3\] for 1 text, expected \[1, 4\]/,
      );
      assert.match(error.message, /EXTRA/);
    });

    test('an artifact that is not a classifier bundle is ClassifierInvalid: a dataset, and JSON of another shape', async () => {
      const dataset = await direct.dataset(demoRows('test').slice(0, 3));
      const error = await rejectsWith(
        loadClassifier(dataset, direct.context, {}, 'models.baseline'),
        ClassifierInvalid,
      );
      assert.equal(error.retryable, false);
      assert.match(
        error.message,
        /^stage "evaluate": models\.baseline: .* is not a classifier bundle .*kind is `dataset`.*not JSON/,
      );

      const other = await direct.store.put(
        { bytes: JSON.stringify({ model: 'model.onnx', labels: ['a'] }) },
        { kind: CLASSIFIER_KIND, name: 'classifier.json' },
      );
      const shaped = await rejectsWith(loadClassifier(other, direct.context, {}, 'model'), ClassifierInvalid);
      assert.equal(shaped.retryable, false);
      assert.match(shaped.message, /^stage "evaluate": model: .* is not a classifier bundle .*model: /);
    });

    const cudaLibrary = join(
      PROJECT_ROOT,
      'node_modules',
      'onnxruntime-node',
      'bin',
      'napi-v6',
      process.platform,
      process.arch,
      'libonnxruntime_providers_cuda.so',
    );
    test(
      "cuda on a worker without onnxruntime's CUDA provider is ExecutionProviderUnavailable",
      { skip: existsSync(cudaLibrary) && 'this machine has the CUDA provider libraries' },
      async () => {
        const error = await rejectsWith(
          loadClassifier(bundleRef, direct.context, { executionProvider: 'cuda' }, 'models.baseline'),
          ExecutionProviderUnavailable,
        );
        assert.equal(error.retryable, false);
        assert.equal(error.provider, 'cuda');
        assert.match(
          error.message,
          /^stage "evaluate": models\.baseline: the cuda execution provider is not available here: .*use executionProvider: cpu/,
        );
      },
    );
  });

  describe('progress and cancellation', () => {
    test('reports progress after every batch with counts that rise to the total', async () => {
      const classifier = await loadClassifier(bundleRef, direct.context, { batchSize: 7 }, 'models.baseline');
      try {
        const calls: [number, number][] = [];
        await classifier.predict(texts, { onProgress: (done, total) => calls.push([done, total]) });
        assert.equal(calls.length, Math.ceil(texts.length / 7));
        calls.forEach(([done, total], i) => {
          assert.equal(total, texts.length);
          assert.ok(done > (calls[i - 1]?.[0] ?? 0));
        });
        assert.equal(calls.at(-1)![0], texts.length);
      } finally {
        await classifier.release();
      }
    });

    test('stops with an AbortError when its signal aborts between batches, and at once when already aborted', async () => {
      const classifier = await loadClassifier(bundleRef, direct.context, { batchSize: 7 }, 'models.baseline');
      try {
        const abort = new AbortController();
        let calls = 0;
        const run = classifier.predict(texts, {
          signal: abort.signal,
          onProgress: () => {
            calls++;
            abort.abort();
          },
        });
        await assert.rejects(run, { name: 'AbortError' });
        assert.equal(calls, 1);
        await assert.rejects(classifier.predict(texts, { signal: AbortSignal.abort() }), { name: 'AbortError' });
      } finally {
        await classifier.release();
      }
    });

    test('returns nothing for no texts', async () => {
      const classifier = await loadClassifier(bundleRef, direct.context, {}, 'models.baseline');
      try {
        assert.deepEqual(await classifier.predict([]), []);
      } finally {
        await classifier.release();
      }
    });
  });
});
