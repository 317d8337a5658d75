/**
 * Throughput of the `dataset` stage: download + parse + map + validate + split + write, in rows/s,
 * on the largest shared dataset by rows (Korean UnSmile train: 15,005 rows, 1.8 MB of TSV).
 *
 *     npx tsx bench/dataset-throughput.ts [--repeats 7] [--scale 1] [--via file,http] [--split source,random]
 *
 * The stage implementation (stages/dataset/implementation.ts) is called directly, as runStage
 * calls it, with a real FsArtifactStore (fsync included) and a fresh scratch folder and store per
 * run; no Temporal. The input is pipelines/datasets/unsmile.yaml's stage, train source only, its
 * public URL redirected by a data mirror to:
 * - file: the local copy in ../shared/data (file://);
 * - http: a static HTTP server on 127.0.0.1 streaming that copy from disk (a real download).
 * Split modes: `source` keeps the file as the train split (one pass: rows go straight to the split
 * file); `random` splits it 80/10/10, seeded and stratified (two passes over a scratch file).
 * `--scale N` repeats the file's rows N times (header once) in a temporary file, to look at larger
 * inputs; the ids stay unique since they are record numbers.
 *
 * The first call in the process (cold: module loading, JIT, schema set-up) is reported apart;
 * then every configuration runs WARMUPS times, and `--repeats` measured rounds alternate between
 * the configurations. Reported are medians (and min–max) of rows/s and of the stage's own phase
 * timings (fetch, parse+validate, write, store), plus the peak RSS. Results also
 * go to bench/results/dataset-throughput-<timestamp>.json (git-ignored). The machine's load
 * average is recorded too: on a shared machine other work shows up in the numbers.
 */
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { z } from 'zod';
import { jsonSchema, type Json } from '../pipeline/run-spec';
import type { StageContext } from '../activities/stages/context';
import { dataset } from '../stages/dataset/implementation';
import { PROJECT_ROOT } from '../common/paths';
import { FsArtifactStore } from '../store/fs-store';
import { loadConfig } from '../temporal.config';
import { SHARED_DATA, sharedFile } from '../test/shared-data';
import { environment, median, positiveInt, runMain, writeReport } from './support';

/** Warm-up runs of every configuration before the measured ones. */
const WARMUPS = 2;

const TRAIN_URL = 'https://raw.githubusercontent.com/smilegate-ai/korean_unsmile_dataset/main/unsmile_train_v1.0.tsv';

function listOf<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T[] {
  if (value === undefined) return [...allowed];
  const items = value.split(',').map((v) => v.trim());
  const unknown = items.filter((v) => !allowed.some((a) => a === v));
  if (unknown.length > 0) throw new Error(`--${name}: unknown ${unknown.join(', ')} (allowed: ${allowed.join(', ')})`);
  return allowed.filter((a) => items.includes(a));
}

/** A static file server for `root`, streaming from disk. */
async function serve(root: string): Promise<{ base: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!path.startsWith(root)) return void res.writeHead(400).end();
    stat(path).then(
      (info) => {
        res.writeHead(200, { 'content-length': info.size, 'content-type': 'application/octet-stream' });
        createReadStream(path).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}

/** The `with` of unsmile.yaml's dataset stage, train source only. */
async function unsmileTrainWith(): Promise<Record<string, Json>> {
  const doc = z
    .object({ stages: z.array(z.object({ id: z.string(), with: z.record(z.string(), z.unknown()) }).passthrough()) })
    .passthrough()
    .parse(parse(await readFile(join(PROJECT_ROOT, 'pipelines', 'datasets', 'unsmile.yaml'), 'utf8')));
  const spec = doc.stages.find((s) => s.id === 'data')!.with;
  const sources = z
    .object({ train: z.object({ url: z.string(), sha256: z.string() }) })
    .passthrough()
    .parse(spec.sources);
  return {
    format: 'tsv',
    url: sources.train.url,
    sha256: sources.train.sha256,
    mapping: jsonSchema.parse(spec.mapping),
  };
}

interface Run {
  ms: number;
  rows: number;
  rowsPerSecond: number;
  phases: Record<string, number>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      repeats: { type: 'string' },
      scale: { type: 'string' },
      via: { type: 'string' },
      split: { type: 'string' },
    },
  });
  const repeats = positiveInt('repeats', values.repeats, 7);
  const scale = positiveInt('scale', values.scale, 1);
  const vias = listOf('via', values.via, ['file', 'http'] as const);
  const splits = listOf('split', values.split, ['source', 'random'] as const);
  const work = await mkdtemp(join(tmpdir(), 'fairline-bench-dataset-'));
  let http: Awaited<ReturnType<typeof serve>> | undefined;
  const load = { start: loadavg(), end: [0, 0, 0] };
  try {
    // The input: the real file, or its rows repeated `scale` times in a temporary copy.
    const base = await unsmileTrainWith();
    let localRoot = SHARED_DATA;
    let localPath = 'unsmile/train.tsv';
    let sha256: string | undefined = typeof base.sha256 === 'string' ? base.sha256 : undefined;
    if (scale > 1) {
      const original = await readFile(sharedFile(TRAIN_URL), 'utf8');
      const [header, ...body] = original.split('\n');
      const rows = body.join('\n').replace(/\n*$/, '\n');
      localRoot = work;
      localPath = `unsmile-train-x${scale}.tsv`;
      await writeFile(join(work, localPath), `${header}\n${rows.repeat(scale)}`);
      sha256 = undefined; // a fresh file: no pin
    }
    const bytes = (await stat(join(localRoot, localPath))).size;
    if (vias.includes('http')) http = await serve(localRoot);

    console.log(
      `dataset throughput: UnSmile train${scale > 1 ? ` ×${scale}` : ''} (${(bytes / 1e6).toFixed(1)} MB), ${repeats} rounds after ${WARMUPS} warm-ups, node ${process.version}, ${cpus().length} CPUs`,
    );
    const configs: { via: string; split: string; once: () => Promise<Run> }[] = [];
    for (const via of vias) {
      for (const split of splits) {
        const to = via === 'file' ? pathToFileURL(join(localRoot, localPath)).href : `${http!.base}/${localPath}`;
        const config = loadConfig({ dataMirrors: [{ from: TRAIN_URL, to }] }, {});
        const input: Record<string, Json> = {
          ...base,
          ...(split === 'random' ? { split: { train: 0.8, validation: 0.1, test: 0.1, seed: 42 } } : {}),
        };
        if (sha256 === undefined) delete input.sha256;
        const once = async (): Promise<Run> => {
          const dir = join(work, 'runs', `${via}-${split}-${performance.now()}`);
          const scratchDir = join(dir, 'scratch');
          await mkdir(scratchDir, { recursive: true });
          let phases: Record<string, number> = {};
          let rows = 0;
          const context: StageContext = {
            stageId: 'bench',
            store: new FsArtifactStore(join(dir, 'store')),
            config,
            log: {
              info(message, attrs) {
                if (message !== 'dataset written' || !attrs) return;
                phases = Object.fromEntries(
                  Object.entries(attrs).filter((e): e is [string, number] => typeof e[1] === 'number'),
                );
                const counts = z
                  .object({ train: z.number(), validation: z.number(), test: z.number() })
                  .parse(attrs.rows);
                rows = counts.train + counts.validation + counts.test;
              },
              warn() {},
            },
            heartbeat() {},
            signal: new AbortController().signal,
            scratchDir,
          };
          const started = performance.now();
          try {
            await dataset(input, context);
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
          const ms = performance.now() - started;
          return { ms, rows, rowsPerSecond: rows / (ms / 1000), phases };
        };
        configs.push({ via, split, once });
      }
    }

    // The very first call pays module loading, JIT and schema set-up: reported apart. Then every
    // configuration warms up, and the measured rounds alternate between configurations, so that
    // JIT warming and other load on the machine fall on all of them alike.
    const cold = await configs[0]!.once();
    console.log(`  first call (${configs[0]!.via}/${configs[0]!.split}, cold): ${cold.ms.toFixed(0)} ms`);
    for (let w = 0; w < WARMUPS; w++) for (const c of configs) await c.once();
    const results: { via: string; split: string; runs: Run[] }[] = configs.map((c) => ({
      via: c.via,
      split: c.split,
      runs: [],
    }));
    for (let r = 0; r < repeats; r++) {
      for (const [i, c] of configs.entries()) results[i]!.runs.push(await c.once());
    }
    for (const r of results) console.log(`  ${r.via}/${r.split}: ${r.runs.map((x) => x.ms.toFixed(0)).join(', ')} ms`);
    load.end = loadavg();

    const phase = (runs: Run[], key: string): string => median(runs.map((r) => r.phases[key] ?? 0)).toFixed(0);
    const header = [
      'source',
      'split',
      'rows',
      'rows/s (median)',
      'min–max',
      'ms (median)',
      'fetch',
      'parse+validate',
      'write',
      'store',
    ];
    const table = results.map(({ via, split, runs }) => [
      via,
      split,
      String(runs[0]?.rows ?? 0),
      median(runs.map((r) => r.rowsPerSecond)).toFixed(0),
      `${Math.min(...runs.map((r) => r.rowsPerSecond)).toFixed(0)}–${Math.max(...runs.map((r) => r.rowsPerSecond)).toFixed(0)}`,
      median(runs.map((r) => r.ms)).toFixed(0),
      phase(runs, 'fetchMs'),
      phase(runs, 'parseMs'),
      phase(runs, 'writeMs'),
      phase(runs, 'storeMs'),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    const line = (cells: string[]): string =>
      cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    console.log(`\n${line(header)}\n${line(widths.map((w) => '-'.repeat(w)))}`);
    for (const row of table) console.log(line(row));
    const rss = process.resourceUsage().maxRSS / 1024;
    console.log(
      `\nphases in ms (medians): fetch = download + sha256, parse+validate = pass one, write = pass two + card, store = four puts`,
    );
    console.log(
      `first call (cold) ${cold.ms.toFixed(0)} ms; peak RSS ${rss.toFixed(0)} MB; load average ${load.start.map((l) => l.toFixed(2)).join(' ')} → ${load.end.map((l) => l.toFixed(2)).join(' ')}`,
    );

    await writeReport('dataset-throughput', {
      settings: { dataset: 'unsmile train', url: TRAIN_URL, scale, bytes, repeats, warmups: WARMUPS, vias, splits },
      environment: environment({ loadavg: load, peakRssMb: rss }),
      firstCall: cold,
      results: results.map((r) => ({
        ...r,
        summary: {
          rows: r.runs[0]?.rows ?? 0,
          rowsPerSecondMedian: median(r.runs.map((x) => x.rowsPerSecond)),
          msMedian: median(r.runs.map((x) => x.ms)),
          phasesMedian: Object.fromEntries(
            ['fetchMs', 'parseMs', 'writeMs', 'storeMs'].map((k) => [k, median(r.runs.map((x) => x.phases[k] ?? 0))]),
          ),
        },
      })),
    });
  } finally {
    await http?.close();
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);
