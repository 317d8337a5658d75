/**
 * Sentences per second of the TypeScript inference engine (inference/engine.ts) against Python
 * onnxruntime and PyTorch eager, on the same exported model and identical inputs.
 *
 *     npx tsx bench/inference.ts [--repeats 5] [--threads 2] [--batches 32,128] [--texts 256] [--max-length 128]
 *
 * The model: a scratch BERT (hidden 256, 4 layers, 4 heads, intermediate 1024) trained for a few
 * steps by the real Python trainer with maxLength 128 (test/classifier.ts caches it in the OS temp
 * folder), so model.onnx, tokenizer.json and the HF folder are exactly what the train stage
 * ships. The inputs: demo sentences joined into texts long enough that every one truncates to
 * exactly --max-length tokens, so every batch is [batch, 128] with no padding. The engines:
 * - ts: Classifier.predict on the texts (tokenization included: it is part of the engine's work);
 * - onnxruntime: Python onnxruntime on the same model.onnx, fed the token ids the engine produced;
 * - torch: PyTorch eager (AutoModelForSequenceClassification on the HF folder), same ids.
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
  onnxVsTorchMaxAbsLogit: z.number(),
  logits: z.array(z.array(z.number())),
});
const timingSchema = z.object({ seconds: z.number() });

/** bench/inference_python.py as a long-lived process: one request line in, one JSON line out. */
function pythonSide(modelDir: string, idsFile: string, threads: number): { hello: Promise<z.infer<typeof helloSchema>>; time(engine: Engine, batch: number): Promise<number>; close(): void } {
  const python = loadConfig({}, {}).trainer.python;
  const child = spawn(python, [join(PROJECT_ROOT, 'bench', 'inference_python.py'), modelDir, idsFile, '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'inherit'] });
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
  return Array.from({ length: count }, (_, i) => Array.from({ length: 64 }, (_, k) => sentences[(i + k) % sentences.length]).join(' '));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repeats: { type: 'string' }, threads: { type: 'string' }, batches: { type: 'string' }, texts: { type: 'string' }, 'max-length': { type: 'string' } } });
  const repeats = positiveInt('repeats', values.repeats, 5);
  const threads = positiveInt('threads', values.threads, 2);
  const count = positiveInt('texts', values.texts, 256);
  const maxLength = positiveInt('max-length', values['max-length'], 128);
  const batches = (values.batches ?? '32,128').split(',').map((b) => positiveInt('batches', b.trim(), 0));
  const load = { start: loadavg(), end: [0, 0, 0] };

  console.log(`inference throughput: ${count} texts of ${maxLength} tokens, batches ${batches.join(', ')}, ${threads} threads, ${repeats} rounds after 1 warm-up; training or reusing the bench model…`);
  const trained = await trainedClassifier({
    train: demoRows('train'),
    validation: demoRows('test'),
    options: { maxLength, scratch: BENCH_MODEL, epochs: 1, maxSteps: 3, batchSize: 16 },
  });
  const files = { modelPath: trained.modelPath, tokenizerPath: trained.tokenizerPath, task: 'multilabel' as const, labelNames: ['TA', 'UD', 'UI'], maxLength, threshold: 0.5 };
  const classifiers = new Map<number, Classifier>();
  for (const batch of batches) classifiers.set(batch, await Classifier.fromFiles(files, { batchSize: batch, threads }, 'bench model'));
  const first = classifiers.get(batches[0]!)!;

  const texts = longTexts(count);
  const ids = await first.tokenize(texts);
  const short = ids.filter((row) => row.length !== maxLength).length;
  if (short > 0) throw new Error(`${short} texts tokenize to fewer than ${maxLength} tokens: make the texts longer`);
  const work = await mkdtemp(join(tmpdir(), 'fairline-bench-inference-'));
  await writeFile(join(work, 'ids.json'), JSON.stringify(ids));
  const python = pythonSide(trained.dir, join(work, 'ids.json'), threads);
  try {
    const hello = await python.hello;
    // The engines must agree before their speeds mean anything.
    const ts = await first.predict(texts.slice(0, hello.logits.length));
    const tsVsOnnx = Math.max(...ts.flatMap((p, i) => p.logits.map((x, j) => Math.abs(x - hello.logits[i]![j]!))));
    console.log(`agreement on the first ${hello.logits.length} rows, max |Δlogit|: ts vs python onnxruntime ${tsVsOnnx.toExponential(1)}, onnxruntime vs torch ${hello.onnxVsTorchMaxAbsLogit.toExponential(1)}`);

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
    load.end = loadavg();

    const rows = batches.flatMap((batch) => {
      const tsMedian = median(seconds.get(`ts/${batch}`)!.map((s) => count / s));
      return ENGINES.map((engine) => {
        const rates = seconds.get(`${engine}/${batch}`)!.map((s) => count / s);
        return { engine, batch, sentencesPerSecondMedian: median(rates), min: Math.min(...rates), max: Math.max(...rates), vsTs: median(rates) / tsMedian, runsSeconds: seconds.get(`${engine}/${batch}`)! };
      });
    });
    const names: Record<Engine, string> = { ts: 'TS engine (onnxruntime-node)', onnxruntime: 'Python onnxruntime', torch: 'PyTorch eager' };
    const header = ['engine', 'batch', 'sentences/s (median)', 'min–max', '× TS engine'];
    const table = rows.map((r) => [names[r.engine], String(r.batch), r.sentencesPerSecondMedian.toFixed(1), `${r.min.toFixed(1)}–${r.max.toFixed(1)}`, r.vsTs.toFixed(2)]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}`);
    for (const row of table) console.log(line(row));
    const tokenizeMs = median(tokenizeSeconds) * 1000;
    console.log(`\nTS tokenization alone: ${tokenizeMs.toFixed(0)} ms for ${count} texts (median), part of every TS engine run`);
    console.log(`python ${hello.python}, onnxruntime ${hello.onnxruntime}, torch ${hello.torch}; node ${process.version}; load average ${load.start.map((l) => l.toFixed(2)).join(' ')} → ${load.end.map((l) => l.toFixed(2)).join(' ')}`);

    await writeReport('inference', {
      settings: { texts: count, maxLength, batches, threads, repeats, warmups: 1, model: BENCH_MODEL, modelDir: trained.dir },
      environment: environment({
        loadavg: load,
        python: hello.python,
        onnxruntimePython: hello.onnxruntime,
        torch: hello.torch,
        transformers: hello.transformers,
      }),
      agreement: { tsVsPythonOnnxMaxAbsLogit: tsVsOnnx, onnxVsTorchMaxAbsLogit: hello.onnxVsTorchMaxAbsLogit },
      tokenizeMsMedian: tokenizeMs,
      results: rows,
    });
  } finally {
    python.close();
    for (const c of classifiers.values()) await c.release();
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);
