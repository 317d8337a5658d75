/**
 * Sentences per second of the TypeScript inference engine (inference/engine.ts) against Python
 * onnxruntime and PyTorch eager, on the same exported model and identical texts, each timed from
 * raw text to probabilities.
 *
 *     npx tsx bench/inference.ts [--models scratch,multilingual-e5-small,all-minilm-l6-v2] [--repeats 5]
 *                                [--threads 2] [--batches 32,128] [--texts 256] [--max-length 128]
 *
 * The models: a scratch BERT (hidden 256, 4 layers, 4 heads, intermediate 1024) and the built-in
 * pretrained encoders (models/builtin.ts), each fine-tuned for a few steps by the real Python
 * trainer with maxLength 128 (test/classifier.ts caches them in the OS temp folder), so
 * model.onnx, tokenizer.json and the HF folder are exactly what the train stage ships. The
 * inputs: demo sentences joined into texts long enough that every one truncates to exactly
 * --max-length tokens, so every batch is [batch, 128] with no padding. The engines:
 * - ts: Classifier.predict on the texts (npm `tokenizers`, onnxruntime-node, sigmoid);
 * - onnxruntime: Python `tokenizers` on the same tokenizer.json, onnxruntime on model.onnx, sigmoid;
 * - torch: Python `tokenizers`, AutoModelForSequenceClassification on the HF folder, sigmoid.
 * All three get the same intra-op thread count and run one graph node at a time. Every
 * configuration runs once to warm up; then --repeats rounds alternate between the engines (the
 * Python side is one long-lived process, bench/inference_python.py), so background load falls on
 * all of them alike. Reported: median and range of sentences/s, and the ratio to the TS engine.
 * Results also go to bench/results/inference-<timestamp>.json (git-ignored).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { PROJECT_ROOT } from '../common/paths';
import { Classifier } from '../inference/engine';
import { ensureBuiltinModel } from '../models/builtin';
import { BUILTIN_MODEL_NAMES } from '../models/names';
import type { Json } from '../pipeline/run-spec';
import { loadConfig } from '../temporal.config';
import { demoRows, trainedClassifier } from '../test/classifier';
import { environment, median, positiveInt, runMain, writeReport } from './support';

/** The bench model: large enough that the engines' own overheads do not dominate. */
const BENCH_MODEL = { hidden: 256, layers: 4, heads: 4, intermediate: 1024, vocabSize: 400 };
const ENGINES = ['ts', 'onnxruntime', 'torch'] as const;
type Engine = (typeof ENGINES)[number];

const helloSchema = z.object({
  python: z.string(),
  onnxruntime: z.string(),
  torch: z.string(),
  transformers: z.string(),
  rows: z.number(),
  tokens: z.number(),
  onnxVsTorchMaxAbsProbability: z.number(),
  logits: z.array(z.array(z.number())),
});
const timingSchema = z.object({ seconds: z.number() });

/** bench/inference_python.py as a long-lived process: one request line in, one JSON line out. */
function pythonSide(
  modelDir: string,
  textsFile: string,
  threads: number,
): {
  hello: Promise<z.infer<typeof helloSchema>>;
  time(engine: Engine, batch: number): Promise<number>;
  close(): void;
} {
  const python = loadConfig({}, {}).trainer.python;
  const child = spawn(
    python,
    [join(PROJECT_ROOT, 'bench', 'inference_python.py'), modelDir, textsFile, '--threads', String(threads)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<unknown> => {
    const line = await lines.next();
    if (line.done) throw new Error('bench/inference_python.py exited early (its stderr is above)');
    return JSON.parse(line.value);
  };
  return {
    hello: next().then((v) => helloSchema.parse(v)),
    async time(engine, batch) {
      child.stdin.write(`${JSON.stringify({ engine, batch })}\n`);
      return timingSchema.parse(await next()).seconds;
    },
    close: () => child.stdin.end(),
  };
}

/** Texts of demo sentences, each long enough to fill maxLength tokens; text i starts at sentence i. */
function longTexts(count: number): string[] {
  const sentences = [...demoRows('train'), ...demoRows('test')].map((r) => r.text);
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: 64 }, (_, k) => sentences[(i + k) % sentences.length]).join(' '),
  );
}

const MODELS = ['scratch', ...BUILTIN_MODEL_NAMES] as const;
type BenchModel = (typeof MODELS)[number];

interface Row {
  model: BenchModel;
  engine: Engine;
  batch: number;
  sentencesPerSecondMedian: number;
  min: number;
  max: number;
  vsTs: number;
  runsSeconds: number[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' },
      repeats: { type: 'string' },
      threads: { type: 'string' },
      batches: { type: 'string' },
      texts: { type: 'string' },
      'max-length': { type: 'string' },
    },
  });
  const repeats = positiveInt('repeats', values.repeats, 5);
  const threads = positiveInt('threads', values.threads, 2);
  const count = positiveInt('texts', values.texts, 256);
  const maxLength = positiveInt('max-length', values['max-length'], 128);
  const batches = (values.batches ?? '32,128').split(',').map((b) => positiveInt('batches', b.trim(), 0));
  const models = (values.models ?? MODELS.join(',')).split(',').map((m) => m.trim());
  for (const m of models)
    if (!(MODELS as readonly string[]).includes(m))
      throw new Error(`--models: unknown ${m}; known: ${MODELS.join(', ')}`);
  const load = { start: loadavg(), end: [0, 0, 0] };
  const texts = longTexts(count);
  const work = await mkdtemp(join(tmpdir(), 'fairline-bench-inference-'));
  await writeFile(join(work, 'texts.json'), JSON.stringify(texts));
  const rows: Row[] = [];
  const perModel: Record<string, unknown> = {};
  let versions: z.infer<typeof helloSchema> | undefined;
  try {
    for (const model of models as BenchModel[]) {
      console.log(
        `\n== ${model}: ${count} texts of ${maxLength} tokens, batches ${batches.join(', ')}, ${threads} threads, ${repeats} rounds after 1 warm-up; training or reusing the bench model…`,
      );
      const options: Record<string, Json> =
        model === 'scratch'
          ? { scratch: BENCH_MODEL }
          : { model: await ensureBuiltinModel(model, { log: (m) => console.log(m) }) };
      const trained = await trainedClassifier({
        train: demoRows('train'),
        validation: demoRows('test'),
        options: { maxLength, ...options, epochs: 1, maxSteps: 3, batchSize: 16 },
      });
      const result = await benchOne(model, trained, {
        texts,
        textsFile: join(work, 'texts.json'),
        count,
        maxLength,
        batches,
        threads,
        repeats,
      });
      rows.push(...result.rows);
      perModel[model] = { modelDir: trained.dir, agreement: result.agreement, tokenizeMsMedian: result.tokenizeMs };
      versions = result.hello;
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  load.end = loadavg();

  const names: Record<Engine, string> = {
    ts: 'TS engine (onnxruntime-node)',
    onnxruntime: 'Python onnxruntime',
    torch: 'PyTorch eager',
  };
  const header = ['model', 'engine', 'batch', 'sentences/s (median)', 'min–max', '× TS engine'];
  const table = rows.map((r) => [
    r.model,
    names[r.engine],
    String(r.batch),
    r.sentencesPerSecondMedian.toFixed(1),
    `${r.min.toFixed(1)}–${r.max.toFixed(1)}`,
    r.vsTs.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}`);
  for (const row of table) console.log(line(row));
  if (versions)
    console.log(
      `python ${versions.python}, onnxruntime ${versions.onnxruntime}, torch ${versions.torch}; node ${process.version}; load average ${load.start.map((l) => l.toFixed(2)).join(' ')} → ${load.end.map((l) => l.toFixed(2)).join(' ')}`,
    );

  await writeReport('inference', {
    settings: { texts: count, maxLength, batches, threads, repeats, warmups: 1, models, scratch: BENCH_MODEL },
    environment: environment({
      loadavg: load,
      python: versions?.python,
      onnxruntimePython: versions?.onnxruntime,
      torch: versions?.torch,
      transformers: versions?.transformers,
    }),
    perModel,
    results: rows,
  });
}

interface BenchSettings {
  texts: string[];
  textsFile: string;
  count: number;
  maxLength: number;
  batches: number[];
  threads: number;
  repeats: number;
}

/** One model: the engines must agree, then interleaved timed rounds. */
async function benchOne(
  model: BenchModel,
  trained: Awaited<ReturnType<typeof trainedClassifier>>,
  settings: BenchSettings,
): Promise<{ rows: Row[]; agreement: Record<string, number>; tokenizeMs: number; hello: z.infer<typeof helloSchema> }> {
  const { texts, count, maxLength, batches, threads, repeats } = settings;
  const files = {
    modelPath: trained.modelPath,
    tokenizerPath: trained.tokenizerPath,
    task: 'multilabel' as const,
    labelNames: ['TA', 'UD', 'UI'],
    maxLength,
    threshold: 0.5,
  };
  const classifiers = new Map<number, Classifier>();
  for (const batch of batches)
    classifiers.set(batch, await Classifier.fromFiles(files, { batchSize: batch, threads }, `bench model ${model}`));
  const first = classifiers.get(batches[0]!)!;
  const ids = await first.tokenize(texts);
  const short = ids.filter((row) => row.length !== maxLength).length;
  if (short > 0)
    throw new Error(`${model}: ${short} texts tokenize to fewer than ${maxLength} tokens: make the texts longer`);
  const python = pythonSide(trained.dir, settings.textsFile, threads);
  try {
    const hello = await python.hello;
    if (hello.tokens !== maxLength)
      throw new Error(`${model}: Python tokenizes the first text into ${hello.tokens} tokens, not ${maxLength}`);
    // The engines must agree before their speeds mean anything.
    const ts = await first.predict(texts.slice(0, hello.logits.length));
    const tsVsOnnx = Math.max(...ts.flatMap((p, i) => p.logits.map((x, j) => Math.abs(x - hello.logits[i]![j]!))));
    console.log(
      `agreement on the first ${hello.logits.length} rows: max |Δlogit| ts vs python onnxruntime ${tsVsOnnx.toExponential(1)}, max |Δprobability| onnxruntime vs torch ${hello.onnxVsTorchMaxAbsProbability.toExponential(1)}`,
    );

    const once = async (engine: Engine, batch: number): Promise<number> => {
      if (engine !== 'ts') return python.time(engine, batch);
      const started = performance.now();
      await classifiers.get(batch)!.predict(texts);
      return (performance.now() - started) / 1000;
    };
    const tokenizeOnce = async (): Promise<number> => {
      const started = performance.now();
      await first.tokenize(texts);
      return (performance.now() - started) / 1000;
    };
    for (const batch of batches) for (const engine of ENGINES) await once(engine, batch);
    const seconds = new Map<string, number[]>();
    const tokenizeSeconds: number[] = [];
    for (let r = 0; r < repeats; r++) {
      for (const batch of batches) {
        for (const engine of ENGINES) {
          const key = `${engine}/${batch}`;
          seconds.set(key, [...(seconds.get(key) ?? []), await once(engine, batch)]);
        }
      }
      tokenizeSeconds.push(await tokenizeOnce());
      console.log(`  round ${r + 1}/${repeats} done`);
    }
    const rows = batches.flatMap((batch) => {
      const tsMedian = median(seconds.get(`ts/${batch}`)!.map((s) => count / s));
      return ENGINES.map((engine) => {
        const rates = seconds.get(`${engine}/${batch}`)!.map((s) => count / s);
        return {
          model,
          engine,
          batch,
          sentencesPerSecondMedian: median(rates),
          min: Math.min(...rates),
          max: Math.max(...rates),
          vsTs: median(rates) / tsMedian,
          runsSeconds: seconds.get(`${engine}/${batch}`)!,
        };
      });
    });
    const tokenizeMs = median(tokenizeSeconds) * 1000;
    console.log(
      `TS tokenization alone: ${tokenizeMs.toFixed(0)} ms for ${count} texts (median), part of every TS engine run`,
    );
    return {
      rows,
      agreement: {
        tsVsPythonOnnxMaxAbsLogit: tsVsOnnx,
        onnxVsTorchMaxAbsProbability: hello.onnxVsTorchMaxAbsProbability,
      },
      tokenizeMs,
      hello,
    };
  } finally {
    python.close();
    for (const c of classifiers.values()) await c.release();
  }
}

runMain(main);
