/**
 * The `train` stage: runs the Python trainer (`python -m trainer train`, trainer/) as a child
 * process and makes it a durable Temporal activity.
 *
 * - Inputs are downloaded from the store into the attempt's scratch folder; the trainer gets a
 *   JSON config (camelCase, as trainer/config.py reads it) and an argv array, never a shell.
 * - Every JSON line the trainer prints on stdout is a heartbeat (epoch, step, of, loss), and
 *   each `checkpoint` event uploads that checkpoint folder to the store; every later heartbeat
 *   carries the checkpoint's reference, so a retry (after a worker died, say) downloads it and
 *   resumes with `--resume` instead of starting over.
 * - Cancellation sends SIGTERM (the trainer checkpoints and exits), then SIGKILL after a grace
 *   period. The trainer also exits when its stdin closes, so a worker killed outright (SIGKILL)
 *   leaves no orphaned trainer behind.
 * - Exit codes become typed failures: 2 config/data and 3 NaN are permanent; 4 OOM and crashes
 *   are retried.
 */
import { spawn } from 'node:child_process';
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { ArtifactNotFound } from '../../common/errors';
import { ArtifactConflict } from '../../store/errors';
import {
  ModelSourceInvalid,
  TrainerConfigInvalid,
  TrainerCrashed,
  TrainerFailureBudgetSpent,
  TrainerOutOfMemory,
  TrainingDiverged,
} from './errors';
import { childEnv } from '../../common/child-env';
import { checkReadable, readPolicy } from '../../common/read-roots';
import { PROJECT_ROOT } from '../../common/paths';
import { stopProcess } from '../../infra/process';
import type { Json } from '../../pipeline/run-spec';
import { describeIssues } from '../../pipeline/errors';
import { trainWithSchema, type TrainWith, trainContract } from './contract';
import { CLASSIFIER_KIND, classifierBundleSchema, type ClassifierBundle } from '../../pipeline/classifier';
import { artifactRefSchema, type ArtifactRef, type ArtifactStore, type ObjectInfo } from '../../store/types';
import { builtinModelDigest, ensureBuiltinModel } from '../../models/builtin';
import { filesUnder, folderDigest } from '../../models/folder';
import { downloadS3Prefix, s3Listing } from './model-s3';
import { classifyModel } from '../../pipeline/model-ref';
import type { FairlineConfig } from '../../temporal.config';
import type { StageContext } from '../../activities/stages/context';
import { defineStage, type OutputsOf } from '../../activities/stages/define';
import { isEmbeddingConfig, storeEmbedder } from './embedding';

/** How long the trainer gets after SIGTERM to write its checkpoint and exit. */
export const TRAINER_GRACE_MS = 15_000;

/**
 * How many times the trainer itself may fail (crash, out of memory) in one execution of a stage
 * before the stage gives up. Counted in the store, not by Temporal's attempts: those also end when
 * a worker is lost or the store is down, which says nothing about the training.
 */
export const TRAINER_FAILURE_BUDGET = 3;

/** Where the trainer's own failures of one stage execution are recorded, one object per failed attempt. */
const failuresPrefix = (executionKey: string): string => `trainer-failures/${executionKey}/`;

/** A checkpoint folder in the store: one artifact per file plus this bundle listing them. */
const bundleSchema = z
  .object({
    step: z.number().int().nonnegative(),
    files: z.record(z.string(), artifactRefSchema),
    /** The stage's cache key when written: another execution resumes from it only with an equal key. */
    stageKey: z.string().optional(),
    /** In a trained model's `huggingface` bundle: the pretrained model it started from. */
    base: artifactRefSchema.optional(),
  })
  .strict();
type Bundle = z.infer<typeof bundleSchema>;

/** What each heartbeat carries; `checkpoint` is the resume token of a retry. */
const heartbeatSchema = z.object({ checkpoint: artifactRefSchema.optional() }).passthrough();

const stepEvent = z
  .object({
    event: z.literal('step'),
    epoch: z.number().optional(),
    step: z.number(),
    of: z.number().optional(),
    loss: z.number().nullable().optional(),
  })
  .passthrough();
const checkpointEvent = z.object({ event: z.literal('checkpoint'), path: z.string(), step: z.number() }).passthrough();
/** `metrics.step` is the step training ended on: the HF bundle records it. */
const doneEvent = z
  .object({
    event: z.literal('done'),
    metrics: z.object({ step: z.number().int().nonnegative() }).passthrough().optional(),
  })
  .passthrough();
const errorEvent = z
  .object({ event: z.literal('error'), kind: z.string().optional(), message: z.string() })
  .passthrough();

/**
 * Uploads a checkpoint folder: every file content-addressed, then a bundle listing them under
 * `checkpoints/<execution key>/step-<N>.json`. The bundle is written last, so a listed bundle
 * always names files that exist.
 */
async function uploadCheckpoint(
  store: ArtifactStore,
  dir: string,
  executionKey: string,
  step: number,
  stageKey: string | undefined,
): Promise<ArtifactRef> {
  const bundle: Bundle = {
    step,
    files: await putFiles(store, dir, 'checkpoint-file', []),
    ...(stageKey ? { stageKey } : {}),
  };
  return store.putAt(
    checkpointKey(executionKey, step),
    { bytes: JSON.stringify(bundle, null, 1) },
    { kind: 'checkpoint' },
  );
}

/** Checkpoint bundles sort by key in step order (zero-padded). */
function checkpointKey(executionKey: string, step: number): string {
  return `checkpoints/${executionKey}/step-${String(step).padStart(10, '0')}.json`;
}

/**
 * The newest checkpoint a retry can resume from. Heartbeat details are throttled (to 0.8 × the
 * heartbeat timeout), so the last one the server holds can be many checkpoints old; the bundles
 * in the store are exact. The heartbeat's reference still counts, for a store listing that lags.
 */
async function latestCheckpoint(
  store: ArtifactStore,
  executionKey: string,
  fromHeartbeat: ArtifactRef | undefined,
): Promise<ArtifactRef | undefined> {
  const listed = await store.list(`checkpoints/${executionKey}/`);
  const newest = listed.at(-1);
  if (newest?.sha256) return { uri: newest.uri, sha256: newest.sha256, bytes: newest.bytes, kind: 'checkpoint' };
  return fromHeartbeat;
}

/**
 * The newest checkpoint that an earlier execution of the same run id left for this stage, written
 * under the same stage key (same type, inputs by digest, options and code): a rerun of a failed
 * run goes on from there instead of from step 0. Executions are compared by their newest bundle's step.
 */
async function earlierCheckpoint(
  store: ArtifactStore,
  executionKey: string,
  stageKey: string,
): Promise<{ ref: ArtifactRef; execution: string; step: number } | undefined> {
  // executionKey: <pipeline>/<run>/<execution>/<stage>
  const [pipeline, run, current, ...stageParts] = executionKey.split('/');
  const stage = stageParts.join('/');
  const newestPerExecution = new Map<string, ObjectInfo>();
  for (const object of await store.list(`checkpoints/${pipeline}/${run}/`)) {
    const rest = object.key.slice(`checkpoints/${pipeline}/${run}/`.length);
    const slash = rest.indexOf('/');
    const execution = rest.slice(0, slash);
    if (execution === current || rest.slice(slash + 1, rest.lastIndexOf('/')) !== stage || !object.sha256) continue;
    newestPerExecution.set(execution, object); // listed in key order: the last one is the newest step
  }
  let best: { ref: ArtifactRef; execution: string; step: number } | undefined;
  for (const [execution, object] of newestPerExecution) {
    const ref: ArtifactRef = { uri: object.uri, sha256: object.sha256!, bytes: object.bytes, kind: 'checkpoint' };
    const bundle = bundleSchema.safeParse(JSON.parse((await store.read(ref)).toString('utf8')));
    if (!bundle.success || bundle.data.stageKey !== stageKey) continue;
    if (!best || bundle.data.step > best.step) best = { ref, execution, step: bundle.data.step };
  }
  return best;
}

/** Downloads a bundle's files into `dir`, verified. */
async function downloadFolder(store: ArtifactStore, ref: ArtifactRef, dir: string): Promise<Bundle> {
  const bundle = bundleSchema.parse(JSON.parse((await store.read(ref)).toString('utf8')));
  for (const [name, file] of Object.entries(bundle.files)) await store.download(file, join(dir, ...name.split('/')));
  return bundle;
}

/** The trainer config for this attempt: the pipeline's options plus local paths. */
function trainerConfig(
  spec: TrainWith,
  paths: { train: string; validation?: string; hardNegatives?: string; output: string; model: string },
): Record<string, Json> {
  const { dataset: _d, validation: _v, hardNegatives, model: _m, ...options } = spec;
  const config: Record<string, Json> = {
    ...JSON.parse(JSON.stringify(options)),
    model: paths.model,
    trainFile: paths.train,
    outputDir: paths.output,
  };
  if (paths.validation) config.validationFile = paths.validation;
  if (paths.hardNegatives)
    config.hardNegatives = {
      path: paths.hardNegatives,
      ...(hardNegatives?.weight !== undefined ? { weight: hardNegatives.weight } : {}),
    };
  return config;
}

export const train = defineStage(
  trainContract,
  async (spec, context) => {
    // Downloads and the trainer's own start-up (importing torch) can outlast a short heartbeat
    // timeout; the stage is alive while this process is, so it says so every second until the
    // trainer's step events take over.
    const keepalive = setInterval(() => context.heartbeat({ phase: 'setup' }), 1_000);
    try {
      return await prepareAndRun(spec, context, () => clearInterval(keepalive));
    } finally {
      clearInterval(keepalive);
    }
  },
  // The trainer's Python code is this stage's code too: editing it retrains. Built-in encoders
  // come from `python -m trainer.pretrained` with the wheels trainer/pretrained.json pins.
  { python: ['trainer', 'trainer.pretrained'], data: ['trainer/pretrained.json'], contentKey: trainContentKey },
);

async function prepareAndRun(spec: TrainWith, context: StageContext, started: () => void): Promise<TrainOutputs> {
  const { store, scratchDir } = context;

  const inputs = join(scratchDir, 'inputs');
  const output = join(scratchDir, 'output');
  await mkdir(output, { recursive: true });
  const paths = {
    train: join(inputs, 'train.jsonl'),
    output,
    ...(spec.validation ? { validation: join(inputs, 'validation.jsonl') } : {}),
    ...(spec.hardNegatives ? { hardNegatives: join(inputs, 'hard-negatives.jsonl') } : {}),
  };
  const model = await resolveModel(spec, context);
  await store.download(spec.dataset, paths.train);
  if (spec.validation && paths.validation) await store.download(spec.validation, paths.validation);
  if (spec.hardNegatives && paths.hardNegatives) await store.download(spec.hardNegatives.dataset, paths.hardNegatives);
  const configPath = join(scratchDir, 'train-config.json');
  await writeFile(configPath, JSON.stringify(trainerConfig(spec, { ...paths, model: model.trainer }), null, 2));

  // A retry resumes from the newest checkpoint an earlier attempt of this stage uploaded.
  const argv = ['-m', 'trainer', 'train', '--config', configPath];
  const previous = heartbeatSchema.safeParse(context.previousHeartbeat);
  const executionKey = context.executionKey ?? `adhoc/${context.stageId}`;
  let lastCheckpoint = await latestCheckpoint(
    store,
    executionKey,
    previous.success ? previous.data.checkpoint : undefined,
  );
  let execution = executionKey.split('/')[2] ?? '';
  if (!lastCheckpoint && context.resumeEarlier !== false && context.stageKey) {
    // Nothing of this execution yet: a rerun of a failed run goes on from where that one got.
    const earlier = await earlierCheckpoint(store, executionKey, context.stageKey);
    if (earlier) {
      lastCheckpoint = earlier.ref;
      execution = earlier.execution;
    }
  }
  if (lastCheckpoint) {
    const resumeDir = join(scratchDir, 'resume');
    const bundle = await downloadFolder(store, lastCheckpoint, resumeDir);
    argv.push('--resume', resumeDir);
    context.log.info('resuming from checkpoint', { step: bundle.step, checkpoint: lastCheckpoint.uri, execution });
    context.noteResume?.({ execution, step: bundle.step, checkpoint: lastCheckpoint.uri });
  }

  return runTrainer(
    context,
    argv,
    output,
    executionKey,
    started,
    () => lastCheckpoint,
    (ref) => (lastCheckpoint = ref),
    model.base,
  );
}

/**
 * What the trainer gets as `model` (a folder, `scratch` or a hub id) and the stored artifact of the weights, if any.
 */
interface ResolvedModel {
  trainer: string;
  base?: ArtifactRef;
}

/**
 * Turns the stage's `model` into something the trainer loads, and pins the weights: a built-in
 * name is built (or found) in the local cache, an S3 prefix or a model artifact is downloaded,
 * and every folder is stored as an `hf-model` bundle (content-addressed, so storing the same
 * weights again writes nothing), which the trained model's `huggingface` bundle names as `base`.
 */
async function resolveModel(spec: TrainWith, context: StageContext): Promise<ResolvedModel> {
  const ref = classifyModel(spec.model);
  switch (ref.kind) {
    case 'scratch':
      return { trainer: 'scratch' };
    case 'hub':
      return { trainer: ref.id };
    case 'builtin': {
      const dir = await ensureBuiltinModel(ref.name, {
        python: context.config.trainer.python,
        signal: context.signal,
        log: (m) => context.log.info(m),
      });
      return { trainer: dir, base: await storeModelFolder(context.store, dir) };
    }
    case 'folder': {
      // Only under the readable roots; the real path (symlinks resolved) is what gets read.
      const path = await checkReadable(ref.path, readPolicy(context.config, context.pipelineDir)).catch(
        (error: unknown) => {
          throw error instanceof ArtifactNotFound
            ? new ModelSourceInvalid(context.stageId, ref.path, 'not found')
            : error;
        },
      );
      const info = await stat(path).catch(() => undefined);
      if (!info?.isDirectory()) throw new ModelSourceInvalid(context.stageId, ref.path, 'not a folder');
      return { trainer: path, base: await storeModelFolder(context.store, path) };
    }
    case 's3': {
      const dir = join(context.scratchDir, 'model');
      await downloadS3Prefix(ref.uri, dir, context);
      return { trainer: dir, base: await storeModelFolder(context.store, dir) };
    }
    case 'artifact': {
      const dir = join(context.scratchDir, 'model');
      const parsed =
        ref.ref.kind === 'hf-model'
          ? await downloadFolder(context.store, ref.ref, dir).catch(() => undefined)
          : undefined;
      if (!parsed)
        throw new ModelSourceInvalid(
          context.stageId,
          ref.ref.uri,
          `not a model artifact (kind ${ref.ref.kind}, expected hf-model)`,
        );
      return { trainer: dir, base: ref.ref };
    }
  }
}

/** A model folder as an `hf-model` bundle: every file content-addressed, then the list. */
export async function storeModelFolder(store: ArtifactStore, dir: string): Promise<ArtifactRef> {
  const files = await putFiles(store, dir, 'hf-model-file', []);
  return store.put({ bytes: JSON.stringify({ step: 0, files }, null, 1) }, { kind: 'hf-model', name: 'hf-model.json' });
}

/**
 * What the train stage's cache key must see of its `model` beyond the spec: the converter and
 * pins of a built-in (its weights follow from them), the digest of a local folder's files, or
 * the listing (keys, sizes, ETags) of an S3 prefix. A model artifact is already a digest in the
 * spec; scratch has no weights; a hub id makes the stage uncacheable (pipeline/model-ref.ts).
 */
export async function trainContentKey(input: Record<string, Json>, config: FairlineConfig): Promise<Json | undefined> {
  const parsed = trainWithSchema.shape.model.safeParse(input.model);
  const ref = classifyModel(parsed.success ? parsed.data : undefined);
  switch (ref.kind) {
    case 'builtin':
      return { model: { builtin: ref.name, converter: builtinModelDigest() } };
    case 'folder':
      try {
        return { model: { folder: await folderDigest(ref.path) } };
      } catch {
        // Missing or unreadable: no entry can match; the stage itself reports the problem.
        return { model: { folder: ref.path, unreadable: true } };
      }
    case 's3':
      return {
        model: { s3: (await s3Listing(ref.uri, config)).map((o) => ({ key: o.key, bytes: o.bytes, etag: o.etag })) },
      };
    default:
      return undefined;
  }
}

/** Spawns the trainer, relays its progress, and maps its end to outputs or a typed failure. */
async function runTrainer(
  context: StageContext,
  argv: string[],
  output: string,
  executionKey: string,
  started: () => void,
  getCheckpoint: () => ArtifactRef | undefined,
  setCheckpoint: (ref: ArtifactRef) => void,
  base: ArtifactRef | undefined,
): Promise<TrainOutputs> {
  const { store, stageId } = context;
  const child = spawn(context.config.trainer.python, argv, {
    cwd: PROJECT_ROOT,
    // Only what the trainer needs (common/child-env.ts): no store credentials.
    env: childEnv('trainer', {
      PYTHONUNBUFFERED: '1',
      FAIRLINE_TRAINER_WATCH_STDIN: '1',
      FAIRLINE_TRAINER_ACK_CHECKPOINTS: '1',
    }),
    // stdin carries `ack STEP` lines once a checkpoint is uploaded (the trainer waits for them, so
    // it never runs more than one interval past a durable checkpoint); its end-of-file tells the
    // trainer that this process died.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderrTail: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 40) stderrTail.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  const spawnError = new Promise<Error>((done) => child.on('error', done));

  const onAbort = (): void => void stopProcess(child, TRAINER_GRACE_MS);
  if (context.signal.aborted) onAbort();
  else context.signal.addEventListener('abort', onAbort, { once: true });

  let lastError: string | undefined;
  let uploadError: unknown;
  // A trainer that exits closes its end of stdin; a late ack must not crash this process.
  child.stdin.on('error', () => undefined);
  let lastProgress: Record<string, Json> = {};
  let finalStep: number | undefined;
  let uploads = Promise.resolve();
  const beat = (): void => {
    const checkpoint = getCheckpoint();
    context.heartbeat({ ...lastProgress, ...(checkpoint ? { checkpoint } : {}) });
  };
  // While the trainer lives, it heartbeats through us: events when it has them, else this.
  const alive = setInterval(beat, 1_000);
  void exited.then(() => clearInterval(alive));
  started();

  const lines = createInterface({ input: child.stdout });
  const reading = (async () => {
    for await (const line of lines) {
      let event: unknown;
      try {
        event = JSON.parse(line);
      } catch {
        context.log.warn('trainer printed a non-JSON line on stdout', { line: line.slice(0, 200) });
        continue;
      }
      const step = stepEvent.safeParse(event);
      if (step.success) {
        lastProgress = {
          step: step.data.step,
          ...(step.data.of !== undefined ? { of: step.data.of } : {}),
          ...(step.data.epoch !== undefined ? { epoch: step.data.epoch } : {}),
          ...(typeof step.data.loss === 'number' ? { loss: step.data.loss } : {}),
        };
        beat();
        continue;
      }
      const checkpoint = checkpointEvent.safeParse(event);
      if (checkpoint.success) {
        // Uploads run one after another, in the order the trainer wrote the checkpoints.
        uploads = uploads.then(async () => {
          try {
            setCheckpoint(
              await uploadCheckpoint(store, checkpoint.data.path, executionKey, checkpoint.data.step, context.stageKey),
            );
            beat();
          } catch (error) {
            // The trainer prunes old folders (keepCheckpoints); one pruned before its upload is
            // skipped, and the next checkpoint takes its place.
            if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) {
              // The store failed (retryable): stop the trainer; the attempt fails with this error.
              uploadError ??= error;
              child.kill('SIGTERM');
              return;
            }
            context.log.warn('a checkpoint folder was pruned before its upload', { step: checkpoint.data.step });
          }
          if (child.stdin.writable) child.stdin.write(`ack ${checkpoint.data.step}\n`);
        });
        continue;
      }
      const error = errorEvent.safeParse(event);
      if (error.success) lastError = `${error.data.kind ?? 'error'}: ${error.data.message}`;
      const done = doneEvent.safeParse(event);
      if (done.success) {
        finalStep = done.data.metrics?.step;
        beat();
      }
    }
  })();

  const result = await Promise.race([exited, spawnError.then((error) => ({ error }))]);
  if ('error' in result)
    throw new TrainerCrashed(stageId, `cannot start ${context.config.trainer.python}: ${result.error.message}`);
  await reading;
  await uploads;
  child.stdin.end();
  context.signal.removeEventListener('abort', onAbort);
  if (context.signal.aborted) throw context.signal.reason ?? new Error('cancelled');
  if (uploadError !== undefined) throw uploadError;

  const detail = lastError ?? (stderrTail.slice(-5).join(' | ') || `exit ${result.code ?? result.signal}`);
  if (result.code === 2) throw new TrainerConfigInvalid(stageId, detail);
  if (result.code === 3) throw new TrainingDiverged(stageId, detail);
  if (result.code !== 0) {
    const failure = result.code === 4 ? new TrainerOutOfMemory(stageId, detail) : new TrainerCrashed(stageId, detail);
    throw await countTrainerFailure(context, executionKey, failure);
  }

  // Storing a pretrained-size model (ONNX + safetensors, ~1 GB for multilingual-e5-small) can take
  // longer than the heartbeat timeout on a loaded machine: keep beating while it runs.
  const uploading = setInterval(() => context.heartbeat({ ...lastProgress, phase: 'storing outputs' }), 1_000);
  const outputs = await uploadOutputs(
    store,
    output,
    finalStep ?? (typeof lastProgress.step === 'number' ? lastProgress.step : 0),
    base,
  ).finally(() => clearInterval(uploading));
  // The final model is stored: this execution's checkpoints are no longer a way back.
  try {
    await pruneCheckpoints(store, executionKey, context.config.store.keepCheckpoints ?? 0);
  } catch (error) {
    context.log.warn('could not remove the checkpoints of a finished training; `fairline gc` will', {
      error: error instanceof Error ? error.message : String(error),
    });
  }
  return outputs;
}

/**
 * Removes the checkpoint bundles of an execution's stage but the newest `keep` (`all`: none).
 * Only the bundles: the files they name are content-addressed and may be shared (the final model's
 * weights, another run's identical checkpoint), so `fairline gc` removes those once nothing names them.
 * Returns the keys removed.
 */
export async function pruneCheckpoints(
  store: ArtifactStore,
  executionKey: string,
  keep: number | 'all',
): Promise<string[]> {
  if (keep === 'all') return [];
  const bundles = await store.list(`checkpoints/${executionKey}/`);
  // Listed in key order, which is step order (zero-padded): the newest are last.
  const doomed = bundles.slice(0, Math.max(0, bundles.length - keep)).map((info) => info.key);
  for (const key of doomed) await store.delete(key);
  return doomed;
}

/**
 * Records a failure of the trainer itself and returns the error to throw: the retryable one while
 * the budget lasts, TrainerFailureBudgetSpent (permanent) once this failure spends it. A store that
 * cannot take the record leaves the failure uncounted: a retry is the safe side.
 */
async function countTrainerFailure(
  context: StageContext,
  executionKey: string,
  failure: TrainerCrashed | TrainerOutOfMemory,
): Promise<Error> {
  const { store } = context;
  try {
    const key = `${failuresPrefix(executionKey)}attempt-${String(context.attempt ?? 1).padStart(4, '0')}.json`;
    await store
      .putAt(
        key,
        { bytes: JSON.stringify({ attempt: context.attempt ?? 1, type: failure.type, message: failure.message }) },
        { kind: 'trainer-failure' },
      )
      .catch((error: unknown) => {
        // The same attempt recorded twice (a retried write): one failure all the same.
        if (!(error instanceof ArtifactConflict)) throw error;
      });
    const failures = (await store.list(failuresPrefix(executionKey))).length;
    if (failures >= TRAINER_FAILURE_BUDGET)
      return new TrainerFailureBudgetSpent(context.stageId, failures, failure.message);
  } catch (error) {
    context.log.warn('could not record the trainer failure; it is not counted', {
      error: error instanceof Error ? error.message : String(error),
    });
  }
  return failure;
}

/** The trained model, as artifacts: ONNX + tokenizer for TS inference, the HF folder, metrics. */
/** The train stage's outputs, as its contract declares them. */
type TrainOutputs = OutputsOf<typeof trainContract>;

async function uploadOutputs(
  store: ArtifactStore,
  output: string,
  step: number,
  base: ArtifactRef | undefined,
): Promise<TrainOutputs> {
  const put = async (name: string, kind: string): Promise<ArtifactRef> => {
    const path = join(output, name);
    await stat(path);
    return store.put({ path }, { kind, name });
  };
  const model = await put('model.onnx', 'onnx-model');
  const tokenizer = await put('tokenizer.json', 'tokenizer');
  const metrics = await put('metrics.jsonl', 'metrics');
  const config = await put('train_config.json', 'train-config');
  // The Hugging Face folder (config.json, model.safetensors, tokenizer files) as one bundle, so
  // `AutoModelForSequenceClassification.from_pretrained` works on a downloaded copy.
  const files = await putFiles(store, output, 'hf-model-file', [
    'checkpoints/',
    'model.onnx',
    'metrics.jsonl',
    `${ADAPTER_DIR}/`,
  ]);
  const huggingface = await store.put(
    { bytes: JSON.stringify({ step, files, ...(base ? { base } : {}) }, null, 1) },
    { kind: 'hf-model', name: 'hf-model.json' },
  );
  const resolved: unknown = JSON.parse(await readFile(join(output, 'train_config.json'), 'utf8'));
  // Embedding mode: the model for inference is an embedder bundle (pipeline/embedder.ts).
  const classifier = isEmbeddingConfig(resolved)
    ? await storeEmbedder(store, { model, tokenizer, config }, resolved)
    : await storeClassifier(store, { model, tokenizer, config }, resolved);
  return { model, tokenizer, metrics, config, huggingface, classifier, adapter: await storeAdapter(store, output) };
}

/** Where the trainer writes a LoRA adapter under its output folder (trainer/adapters.py ADAPTER_DIR). */
const ADAPTER_DIR = 'adapter';

/**
 * The adapter folder as an `hf-adapter` bundle (its files content-addressed, then the list), so
 * `PeftModel.from_pretrained(base, dir)` works on a downloaded copy; null when the run had none.
 */
async function storeAdapter(store: ArtifactStore, output: string): Promise<ArtifactRef | null> {
  const dir = join(output, ADAPTER_DIR);
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) return null;
  const files = await putFiles(store, dir, 'hf-adapter-file', []);
  return store.put({ bytes: JSON.stringify({ files }, null, 1) }, { kind: 'hf-adapter', name: 'hf-adapter.json' });
}

/** The config values the classifier bundle repeats, checked as the bundle checks them; other keys are ignored. */
const resolvedConfigSchema = z
  .object(classifierBundleSchema.shape)
  .pick({ task: true, labelNames: true, maxLength: true, threshold: true, mode: true, seed: true });

/**
 * The `classifier` output (pipeline/classifier.ts): the model, tokenizer and config by reference
 * plus the config values inference needs, read from the trainer's resolved train_config.json.
 */
export async function storeClassifier(
  store: ArtifactStore,
  refs: { model: ArtifactRef; tokenizer: ArtifactRef; config: ArtifactRef },
  resolvedConfig: unknown,
): Promise<ArtifactRef> {
  const parsed = resolvedConfigSchema.safeParse(resolvedConfig);
  if (!parsed.success)
    throw new TrainerCrashed(
      'train',
      `the trainer's train_config.json lacks what inference needs: ${describeIssues(parsed.error.issues)}`,
    );
  const bundle: ClassifierBundle = classifierBundleSchema.parse({ ...refs, ...parsed.data });
  return store.put({ bytes: JSON.stringify(bundle, null, 1) }, { kind: CLASSIFIER_KIND, name: 'classifier.json' });
}

/**
 * Stores every file under `dir` content-addressed, except the names in `skip` (a trailing `/`
 * skips a folder), and returns them by their path relative to `dir`.
 */
async function putFiles(
  store: ArtifactStore,
  dir: string,
  kind: string,
  skip: readonly string[],
): Promise<Record<string, ArtifactRef>> {
  const files: Record<string, ArtifactRef> = {};
  for (const path of await filesUnder(dir)) {
    const name = relative(dir, path).split(sep).join('/');
    if (skip.some((s) => (s.endsWith('/') ? name.startsWith(s) : name === s))) continue;
    files[name] = await store.put({ path }, { kind, name: name.replace(/\//g, '__') });
  }
  return files;
}
