/**
 * Speed of the lexical (BM25) hard-negative recipe on the largest shared pool: Korean UnSmile
 * train (15,005 rows, 10 labels, every row positive for at least one label, `clean` included).
 *
 *     npx tsx bench/mining.ts [--repeats 5] [--neighbours 3] [--ngrams 2,3]
 *
 * The canonical pool is made once by the real `dataset` stage (pipelines/datasets/unsmile.yaml's
 * mapping, its public URL mirrored to the local copy in ../shared/data) into a temporary store.
 * Then each round times the parts of mining the pool: read (stream + validate every row), index
 * build, queries (one per row with a positive label, all its labels served by one query), merge
 * (rank, cap per example, dedupe, maxTotal), and the whole `mine-hard-negatives` stage, bm25 only,
 * end to end (both reads, the write, two puts). One warm-up round, then `--repeats` measured
 * rounds; medians and ranges, the peak RSS and the machine's load average are printed, and the raw
 * numbers go to bench/results/mining-<timestamp>.json (git-ignored).
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { z } from 'zod';
import type { StageContext } from '../activities/stages/context';
import { dataset } from '../stages/dataset/implementation';
import { mineHardNegatives } from '../stages/mine-hard-negatives/implementation';
import { PROJECT_ROOT } from '../common/paths';
import { mineLexical } from '../mining/bm25';
import { mergeFinds } from '../mining/merge';
import { positives, readPool } from '../mining/pool';
import { MINING_DEFAULTS } from '../stages/mine-hard-negatives/contract';
import { jsonSchema, type Json } from '../pipeline/run-spec';
import { FsArtifactStore } from '../store/fs-store';
import { artifactRefSchema } from '../store/types';
import { loadConfig } from '../temporal.config';
import { sharedFile } from '../test/shared-data';
import { environment, median, positiveInt, runMain, writeReport } from './support';

const WARMUPS = 1;
const LABELS = [
  '여성/가족',
  '남성',
  '성소수자',
  '인종/국적',
  '연령',
  '지역',
  '종교',
  '기타 혐오',
  '악플/욕설',
  'clean',
];

interface Round {
  readMs: number;
  buildMs: number;
  queryMs: number;
  mergeMs: number;
  stageMs: number;
  queries: number;
  vocabulary: number;
  finds: number;
  /** Distinct rows before maxTotal cuts them. */
  distinct: number;
  mined: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { repeats: { type: 'string' }, neighbours: { type: 'string' }, ngrams: { type: 'string' } },
  });
  const repeats = positiveInt('repeats', values.repeats, 5);
  const neighbours = positiveInt('neighbours', values.neighbours, MINING_DEFAULTS.bm25.neighbours);
  const grams = (values.ngrams ?? MINING_DEFAULTS.bm25.ngrams.join(','))
    .split(',')
    .map((v) => positiveInt('ngrams', v, 0));
  if (grams.length !== 2 || grams[0]! > grams[1]!) throw new Error('--ngrams is MIN,MAX');
  const ngrams: [number, number] = [grams[0]!, grams[1]!];
  const bm25 = { ...MINING_DEFAULTS.bm25, neighbours, ngrams };
  const work = await mkdtemp(join(tmpdir(), 'fairline-bench-mining-'));
  const load = { start: loadavg(), end: [0, 0, 0] };
  try {
    // The pool: the dataset stage over the local copy, as unsmile.yaml maps it (train only).
    const doc = z
      .object({ stages: z.array(z.object({ id: z.string(), with: z.record(z.string(), z.unknown()) }).passthrough()) })
      .passthrough()
      .parse(parse(await readFile(join(PROJECT_ROOT, 'pipelines', 'datasets', 'unsmile.yaml'), 'utf8')));
    const spec = doc.stages.find((s) => s.id === 'data')!.with;
    const train = z
      .object({ train: z.object({ url: z.string(), sha256: z.string() }) })
      .passthrough()
      .parse(spec.sources).train;
    const store = new FsArtifactStore(join(work, 'store'));
    const config = loadConfig(
      {
        store: { uri: pathToFileURL(join(work, 'store')).href },
        dataMirrors: [{ from: train.url, to: pathToFileURL(sharedFile(train.url)).href }],
      },
      {},
    );
    const context = (name: string): StageContext => ({
      stageId: name,
      store,
      config,
      log: { info() {}, warn() {} },
      heartbeat() {},
      signal: new AbortController().signal,
      scratchDir: join(work, 'scratch', `${name}-${performance.now()}`),
    });
    const made = await (async () => {
      const ctx = context('data');
      await mkdir(ctx.scratchDir, { recursive: true });
      return dataset(
        { format: 'tsv', url: train.url, sha256: train.sha256, mapping: jsonSchema.parse(spec.mapping) },
        ctx,
      );
    })();
    const poolRef = artifactRefSchema.parse(made.train);
    console.log(
      `mining: UnSmile train, bm25 neighbours ${neighbours}, ngrams [${ngrams.join(', ')}], k1 ${bm25.k1}, b ${bm25.b}; ${repeats} rounds after ${WARMUPS} warm-up; node ${process.version}, ${cpus().length} CPUs`,
    );

    const once = async (): Promise<Round> => {
      let started = performance.now();
      const pool = await readPool(await store.open(poolRef), 'train.jsonl');
      const readMs = performance.now() - started;
      const lexical = await mineLexical(
        { ids: pool.ids, texts: pool.texts, width: pool.width, positive: positives(pool, pool.width) },
        { ...bm25, labels: LABELS.map((_, i) => i), labelNames: LABELS },
      );
      started = performance.now();
      const mined = mergeFinds(lexical.finds, pool.ids, {
        capPerExample: MINING_DEFAULTS.capPerExample,
        maxTotal: MINING_DEFAULTS.maxTotal,
      });
      const mergeMs = performance.now() - started;
      const distinct = mergeFinds(lexical.finds, pool.ids, {
        capPerExample: MINING_DEFAULTS.capPerExample,
        maxTotal: Number.MAX_SAFE_INTEGER,
      }).length;
      const ctx = context('mine');
      await mkdir(ctx.scratchDir, { recursive: true });
      started = performance.now();
      const result = await mineHardNegatives(
        { dataset: poolRef, labelNames: LABELS, bm25: { neighbours, ngrams } } satisfies Record<string, Json>,
        ctx,
      );
      const stageMs = performance.now() - started;
      await rm(ctx.scratchDir, { recursive: true, force: true });
      // The stage must mine what the parts mined: the bench times the real thing.
      if (result.mined !== mined.length)
        throw new Error(`the stage mined ${String(result.mined)} rows, the parts ${mined.length}`);
      return {
        readMs,
        buildMs: lexical.buildMs,
        queryMs: lexical.queryMs,
        mergeMs,
        stageMs,
        queries: lexical.queries,
        vocabulary: lexical.index.vocabulary,
        finds: lexical.finds.length,
        distinct,
        mined: mined.length,
      };
    };

    for (let w = 0; w < WARMUPS; w++) await once();
    const rounds: Round[] = [];
    for (let r = 0; r < repeats; r++) rounds.push(await once());
    load.end = loadavg();

    const first = rounds[0]!;
    const columns: (keyof Round)[] = ['readMs', 'buildMs', 'queryMs', 'mergeMs', 'stageMs'];
    console.log(
      `\npool ${first.queries} queries over 15,005 rows, ${first.vocabulary} distinct terms; ${first.finds} finds → ${first.distinct} distinct rows → ${first.mined} mined (cap ${MINING_DEFAULTS.capPerExample}/example, maxTotal ${MINING_DEFAULTS.maxTotal})`,
    );
    for (const c of columns) {
      const v = rounds.map((r) => r[c]);
      console.log(
        `  ${c.padEnd(8)} median ${median(v).toFixed(0).padStart(6)} ms   range ${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}`,
      );
    }
    const rss = process.resourceUsage().maxRSS / 1024;
    console.log(
      `\nqueries/s (median): ${(first.queries / (median(rounds.map((r) => r.queryMs)) / 1000)).toFixed(0)}; peak RSS ${rss.toFixed(0)} MB; load average ${load.start.map((l) => l.toFixed(2)).join(' ')} → ${load.end.map((l) => l.toFixed(2)).join(' ')}`,
    );

    await writeReport('mining', {
      settings: { dataset: 'unsmile train', bm25, repeats, warmups: WARMUPS },
      environment: environment({ loadavg: load, peakRssMb: rss }),
      rounds,
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

runMain(main);
