/**
 * Real trained classifiers for the inference-side tests (evaluate, mining, audit): the Python
 * trainer run once on small data, cached per config in the OS temp folder so that every test
 * file (and every test process of one suite run) that asks for the same model shares it.
 * `directContext` gives a stage a context made of real parts, to run it without Temporal.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StageContext } from '../activities/stages/context';
import { fingerprintOf, pythonSources } from '../activities/stages/fingerprint';
import { storeClassifier } from '../stages/train/implementation';
import { PROJECT_ROOT } from '../common/paths';
import type { CanonicalRow } from '../pipeline/dataset';
import type { Json } from '../pipeline/run-spec';
import { FsArtifactStore } from '../store/fs-store';
import type { ArtifactRef } from '../store/types';
import { loadConfig, type FairlineConfig } from '../temporal.config';
import { tempDir, TEST_READ_ROOTS } from './helpers';

/** The demo data as canonical rows (multilabel TA/UD/UI), split as shipped. */
export function demoRows(split: 'train' | 'test'): CanonicalRow[] {
  const raw: { sentence: string; labels: (0 | 1)[] }[] = JSON.parse(
    readFileSync(join(PROJECT_ROOT, 'data', 'demo', `${split}.json`), 'utf8'),
  );
  return raw.map((r, i) => ({ id: `${split}-${i}`, text: r.sentence, labels: r.labels }));
}

export interface TrainedClassifier {
  /** The trainer's output folder: model.onnx, tokenizer.json, train_config.json, the HF model files. */
  dir: string;
  modelPath: string;
  tokenizerPath: string;
  configPath: string;
  /** The validation rows it was trained with (its parity set). */
  validation: CanonicalRow[];
}

export interface ClassifierRecipe {
  train: readonly CanonicalRow[];
  validation: readonly CanonicalRow[];
  /** Trainer config keys (camelCase), over a tiny fast default. */
  options?: Record<string, Json>;
}

/** A tiny scratch model over the demo data unless told otherwise: trains in about 10 s on 2 CPUs. */
export async function trainedClassifier(
  recipe: ClassifierRecipe = { train: demoRows('train'), validation: demoRows('test') },
): Promise<TrainedClassifier> {
  const options: Record<string, Json> = {
    lr: 1e-3,
    epochs: 2,
    batchSize: 16,
    maxLength: 32,
    logEvery: 0,
    checkpointEvery: 0,
    scratch: { hidden: 32, layers: 2, heads: 2, intermediate: 64, vocabSize: 400 },
    // The demo's labels; a recipe over other data names its own (or sets it to null for LABEL_n).
    labelNames: ['TA', 'UD', 'UI'],
    ...recipe.options,
  };
  // Keyed like the train stage's cache: the recipe and the trainer's code.
  const trainerCode = fingerprintOf([...pythonSources('trainer'), 'trainer/requirements.txt']);
  const hash = createHash('sha256')
    .update(JSON.stringify([recipe.train, recipe.validation, options]))
    .update(trainerCode);
  const root = join(tmpdir(), 'fairline-test-classifiers');
  const dir = join(root, hash.digest('hex').slice(0, 16));
  const paths = {
    dir,
    modelPath: join(dir, 'model.onnx'),
    tokenizerPath: join(dir, 'tokenizer.json'),
    configPath: join(dir, 'train_config.json'),
    validation: [...recipe.validation],
  };
  if (existsSync(join(dir, 'model.onnx'))) return paths;

  // Train into a private folder, then rename: concurrent test processes never see half a model.
  const work = `${dir}.${process.pid}.${Date.now()}`;
  await mkdir(work, { recursive: true });
  const jsonl = (rows: readonly CanonicalRow[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  await writeFile(join(work, 'train.jsonl'), jsonl(recipe.train));
  await writeFile(join(work, 'validation.jsonl'), jsonl(recipe.validation));
  const config = {
    ...options,
    trainFile: join(work, 'train.jsonl'),
    validationFile: join(work, 'validation.jsonl'),
    outputDir: join(work, 'out'),
  };
  await writeFile(join(work, 'config.json'), JSON.stringify(config));
  const python = loadConfig({}, {}).trainer.python;
  const result = spawnSync(python, ['-m', 'trainer', 'train', '--config', join(work, 'config.json')], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0)
    throw new Error(`the trainer failed (exit ${result.status}): ${result.stderr.split('\n').slice(-15).join('\n')}`);
  try {
    await rename(join(work, 'out'), dir);
  } catch (error) {
    // Another process finished the same model first: theirs is identical.
    if (!existsSync(join(dir, 'model.onnx'))) throw error;
  }
  await rm(work, { recursive: true, force: true });
  return paths;
}

export interface DirectContext {
  context: StageContext;
  store: FsArtifactStore;
  config: FairlineConfig;
  heartbeats: Record<string, Json>[];
  abort: AbortController;
  /** Stores canonical rows (or raw lines) as a JSONL artifact. */
  dataset(rows: readonly (object | string)[], name?: string): Promise<ArtifactRef>;
  /** Stores a trained classifier the way the train stage does; returns its `classifier` ref. */
  classifier(trained: TrainedClassifier): Promise<ArtifactRef>;
}

/** A stage context made of real parts: a temp-folder store, the test config, a scratch folder. */
export async function directContext(stageId: string): Promise<DirectContext> {
  const dir = await tempDir(`fairline-${stageId}-`);
  const store = new FsArtifactStore(join(dir, 'store'));
  const scratchDir = join(dir, 'scratch');
  await mkdir(scratchDir, { recursive: true });
  const heartbeats: Record<string, Json>[] = [];
  const abort = new AbortController();
  const config = loadConfig(
    { store: { uri: pathToFileURL(join(dir, 'store')).href }, readRoots: [...TEST_READ_ROOTS] },
    {},
  );
  const context: StageContext = {
    stageId,
    store,
    config,
    log: { info() {}, warn() {} },
    heartbeat: (details) => heartbeats.push({ ...details }),
    signal: abort.signal,
    scratchDir,
  };
  return {
    context,
    store,
    config,
    heartbeats,
    abort,
    dataset: (rows, name = 'rows.jsonl') =>
      store.put(
        { bytes: rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n' },
        { kind: 'dataset', name },
      ),
    async classifier(trained) {
      const put = (path: string, kind: string, name: string): Promise<ArtifactRef> =>
        store.put({ path }, { kind, name });
      const refs = {
        model: await put(trained.modelPath, 'onnx-model', 'model.onnx'),
        tokenizer: await put(trained.tokenizerPath, 'tokenizer', 'tokenizer.json'),
        config: await put(trained.configPath, 'train-config', 'train_config.json'),
      };
      return storeClassifier(store, refs, JSON.parse(await readFile(trained.configPath, 'utf8')));
    },
  };
}
