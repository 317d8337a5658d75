/**
 * The `dataset` stage on the real engine with the real datasets of ../shared/data:
 * - every pipeline in pipelines/datasets/ runs unchanged (its public URLs redirected to the local
 *   copies by data mirrors), and each stage's rows, label frequencies, entity counts and texts
 *   match an independent reading with Python's csv/json modules (independent_counts.py);
 * - corrupted copies of real files (truncated JSON, a bad UTF-8 byte, a wrong label count, a
 *   sha256 mismatch, …) fail non-retryably, naming the row or byte, and leave no artifact;
 * - `onInvalidRow: skip` drops and counts bad rows (the source served over HTTP);
 * - the same seed gives byte-identical artifacts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { temporal } from '@temporalio/proto';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { trainerVenvPython, PROJECT_ROOT } from '../../../common/paths';
import { canonicalRowSchema, type CanonicalRow } from '../../../pipeline/dataset';
import { datasetCardSchema, SPLIT_NAMES, type DatasetCard, type SplitName } from '../../../stages/dataset/contract';
import { artifactRefSchema, type ArtifactRef } from '../../../store/types';
import { startEngine, type Engine, type Outcome } from '../../engine';
import { tempDir } from '../../helpers';
import { startHttpSource, type HttpSource } from '../../http-source';
import { SHARED_DATA, sharedDataMirrors, sharedFile } from '../../shared-data';

const DATASETS = join(PROJECT_ROOT, 'pipelines', 'datasets');

// ---- independent reading -------------------------------------------------------------------

const sourceSummarySchema = z.object({
  rows: z.number(),
  labels: z.record(z.string(), z.number()),
  texts: z.string(),
  entities: z.record(z.string(), z.number()).optional(),
  median: z.number().optional(),
});
const independentSchema = z.record(z.string(), z.record(z.string(), sourceSummarySchema));
type SourceSummary = z.infer<typeof sourceSummarySchema>;

async function independentCounts(): Promise<z.infer<typeof independentSchema>> {
  const python = existsSync(trainerVenvPython()) ? trainerVenvPython() : 'python3';
  const script = join(PROJECT_ROOT, 'test', 'stages', 'dataset', 'independent_counts.py');
  const { stdout } = await promisify(execFile)(python, [script, SHARED_DATA], { maxBuffer: 64 * 1024 * 1024 });
  return independentSchema.parse(JSON.parse(stdout));
}

// ---- reading what a run produced ------------------------------------------------------------

interface Produced {
  refs: Record<SplitName | 'card', ArtifactRef>;
  card: DatasetCard;
  rows: Record<SplitName, CanonicalRow[]>;
}

function outputsOf(outcome: Outcome, stage: string): Record<string, ArtifactRef> {
  const state = outcome.progress.stages.find((s) => s.id === stage);
  assert.ok(state?.outputs, `stage ${stage} has outputs (status ${state?.status}, ${state?.error ?? ''})`);
  return Object.fromEntries(
    Object.entries(state.outputs).map(([name, value]) => [name, artifactRefSchema.parse(value)]),
  );
}

async function produced(engine: Engine, outcome: Outcome, stage: string): Promise<Produced> {
  const outputs = outputsOf(outcome, stage);
  const ref = (name: SplitName | 'card'): ArtifactRef => {
    const r = outputs[name];
    assert.ok(r, `output ${name}`);
    return r;
  };
  const card = datasetCardSchema.parse(JSON.parse((await engine.store.read(ref('card'))).toString('utf8')));
  const read = async (split: SplitName): Promise<CanonicalRow[]> => {
    const text = (await engine.store.read(ref(split))).toString('utf8');
    return text === ''
      ? []
      : text
          .trimEnd()
          .split('\n')
          .map((line) => canonicalRowSchema.parse(JSON.parse(line)));
  };
  const rows = { train: await read('train'), validation: await read('validation'), test: await read('test') };
  return {
    refs: { train: ref('train'), validation: ref('validation'), test: ref('test'), card: ref('card') },
    card,
    rows,
  };
}

const digest = (texts: string[]): string => createHash('sha256').update(texts.join('\n')).digest('hex');

/** Label frequencies counted from the rows themselves. */
function frequencies(rows: CanonicalRow[], names: string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (const row of rows) {
    if (Array.isArray(row.labels)) row.labels.forEach((bit, i) => (counts[names[i]!] = counts[names[i]!]! + bit));
    else counts[names[row.labels]!] = counts[names[row.labels]!]! + 1;
  }
  return counts;
}

function sum(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Row `<split>-<n>`'s record number n. */
const recordNumber = (row: CanonicalRow): number => Number(/-(\d+)$/.exec(row.id)?.[1] ?? NaN);

// ---- the table ------------------------------------------------------------------------------

interface Expectation {
  pipeline: string;
  stage: string;
  /** The authors' files as splits: split → local file name in the independent reading. */
  sources?: Partial<Record<SplitName, string>>;
  /** One file split at random with these ratios. */
  random?: { file: string; ratios: [number, number, number] };
}

const expectations: Expectation[] = [
  { pipeline: 'ethics-problems', stage: 'data', sources: { train: 'train.json', test: 'test.json' } },
  { pipeline: 'korean-hate-speech', stage: 'hate', sources: { train: 'train.tsv', validation: 'dev.tsv' } },
  { pipeline: 'korean-hate-speech', stage: 'bias', sources: { train: 'train.tsv', validation: 'dev.tsv' } },
  { pipeline: 'unsmile', stage: 'data', sources: { train: 'train.tsv', validation: 'valid.tsv' } },
  { pipeline: 'kosbi', stage: 'data', random: { file: 'valid.json', ratios: [0.8, 0.1, 0.1] } },
  { pipeline: 'kmhas', stage: 'data', random: { file: 'valid.txt', ratios: [0.8, 0.1, 0.1] } },
  { pipeline: 'ethos', stage: 'binary', random: { file: 'binary.csv', ratios: [0.8, 0, 0.2] } },
  { pipeline: 'ethos', stage: 'multi-label', random: { file: 'multi_label.csv', ratios: [0.8, 0.1, 0.1] } },
  { pipeline: 'klue-ner', stage: 'data', sources: { validation: 'dev.tsv' } },
];

const pipelineText = (name: string): Promise<string> => readFile(join(DATASETS, `${name}.yaml`), 'utf8');

/** The activity's failure as the history records it: type, retryability, message, attempt. */
function stageFailure(history: temporal.api.history.v1.IHistory): {
  type: string;
  nonRetryable: boolean;
  message: string;
  attempt: number;
} {
  const events = history.events ?? [];
  const failed = events.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes;
  assert.ok(failed?.failure, 'the stage activity failed');
  const started = events.filter(
    (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === failed.scheduledEventId?.toString(),
  );
  return {
    type: failed.failure.applicationFailureInfo?.type ?? '',
    nonRetryable: failed.failure.applicationFailureInfo?.nonRetryable === true,
    message: failed.failure.message ?? '',
    attempt: started.reduce((n, e) => Math.max(n, e.activityTaskStartedEventAttributes?.attempt ?? 0), 0),
  };
}

describe('every shared dataset loads through its pipeline on the real engine', () => {
  let engine: Engine;
  let expected: z.infer<typeof independentSchema>;
  const outcomes = new Map<string, Outcome>();

  before(async () => {
    engine = await startEngine({ dataMirrors: sharedDataMirrors() });
    const names = [...new Set(expectations.map((e) => e.pipeline))];
    const [counts, ...runs] = await Promise.all([
      independentCounts(),
      ...names.map(async (name) => engine.run(await pipelineText(name))),
    ]);
    expected = counts;
    names.forEach((name, i) => outcomes.set(name, runs[i]!));
  });
  after(async () => {
    await engine?.close();
  });

  for (const e of expectations) {
    test(`${e.pipeline}/${e.stage}: rows, label frequencies and texts match an independent reading with Python`, async () => {
      const outcome = outcomes.get(e.pipeline)!;
      assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
      const { card, rows } = await produced(engine, outcome, e.stage);
      const theirs = expected[`${e.pipeline}/${e.stage}`]!;
      assert.equal(card.rejected.total, 0, card.rejected.examples.join('\n'));
      for (const split of SPLIT_NAMES)
        assert.equal(rows[split].length, card.rows[split], `${split}: the card counts the rows of the artifact`);

      if (e.sources) {
        for (const split of SPLIT_NAMES) {
          const file = e.sources[split];
          const source: SourceSummary = file ? theirs[file]! : { rows: 0, labels: {}, texts: digest([]) };
          assert.equal(card.rows[split], source.rows, `${split} rows`);
          if (file) {
            assert.deepEqual(card.labels[split], source.labels, `${split} label frequencies (card)`);
            assert.deepEqual(
              frequencies(rows[split], card.labelNames),
              source.labels,
              `${split} label frequencies (rows)`,
            );
            assert.equal(digest(rows[split].map((r) => r.text)), source.texts, `${split} texts, in file order`);
          }
        }
      } else {
        const { file, ratios } = e.random!;
        const source = theirs[file]!;
        const total = card.rows.train + card.rows.validation + card.rows.test;
        assert.equal(total, source.rows);
        SPLIT_NAMES.forEach((split, s) =>
          assert.ok(
            Math.abs(card.rows[split] - ratios[s]! * total) <= 1,
            `${split}: ${card.rows[split]} rows for ratio ${ratios[s]}`,
          ),
        );
        const all = [...rows.train, ...rows.validation, ...rows.test];
        assert.deepEqual(
          sum(sum(card.labels.train, card.labels.validation), card.labels.test),
          source.labels,
          'label frequencies over all splits',
        );
        assert.deepEqual(frequencies(all, card.labelNames), source.labels);
        assert.equal(
          digest(all.sort((a, b) => recordNumber(a) - recordNumber(b)).map((r) => r.text)),
          source.texts,
          'texts, in file order',
        );
        if (source.median !== undefined) assert.equal(card.threshold?.value, source.median, 'the median isHate');
      }

      if (e.pipeline === 'klue-ner') {
        const source = theirs['dev.tsv']!;
        assert.deepEqual(card.entities?.validation, source.entities);
        const spans = rows.validation.flatMap((r) => r.entities ?? []);
        assert.equal(
          spans.length,
          Object.values(source.entities ?? {}).reduce((a, b) => a + b, 0),
        );
        assert.ok(
          rows.validation.every((r) => Array.isArray(r.labels) && r.labels.length === 0),
          'NER rows carry the empty label vector',
        );
        assert.equal(rows.validation[0]?.id, 'klue-ner-v1_dev_00000-wikitree');
      }
    });
  }

  test('the card names each source by its public URL and the sha256 the pipeline pins', async () => {
    const { card } = await produced(engine, outcomes.get('unsmile')!, 'data');
    assert.deepEqual(
      card.sources.map((s) => [s.split, s.url.split('/').pop(), s.sha256.slice(0, 12), s.records]),
      [
        ['train', 'unsmile_train_v1.0.tsv', 'f560a2f624d9', 15005],
        ['validation', 'unsmile_valid_v1.0.tsv', 'b391af71ab35', 3737],
      ],
    );
    assert.equal(card.task, 'multilabel');
    assert.deepEqual(card.split, { from: 'source' });
  });

  test('a split without rows is still an artifact: an empty file', async () => {
    const { refs } = await produced(engine, outcomes.get('ethics-problems')!, 'data');
    assert.equal(refs.validation.bytes, 0);
    assert.equal(refs.validation.sha256, createHash('sha256').digest('hex'));
  });

  test('the same seed gives byte-identical artifacts; another seed another split', async () => {
    const first = outputsOf(outcomes.get('kmhas')!, 'data');
    const again = await engine.run(await pipelineText('kmhas'), { noCache: true });
    assert.equal(again.status, 'succeeded');
    assert.deepEqual(outputsOf(again, 'data'), first);
    const reseeded = await engine.run((await pipelineText('kmhas')).replace('seed: 42', 'seed: 7'), { noCache: true });
    const other = outputsOf(reseeded, 'data');
    assert.notEqual(other.train?.sha256, first.train?.sha256);
    assert.equal(other.train?.bytes !== undefined, true);
  });
});

// ---- corrupted copies -----------------------------------------------------------------------

interface Corruption {
  sentence: string;
  pipeline: string;
  stage: string;
  /** The public URL whose file is replaced by a corrupted copy. */
  url: string;
  corrupt(bytes: Buffer): Buffer;
  /** Keep the pipeline's pin (to test a sha256 mismatch); otherwise the copy is pinned afresh. */
  keepPin?: boolean;
  type: string;
  message(bytes: Buffer): RegExp;
}

const RAW = 'https://raw.githubusercontent.com';
const URLS = {
  ethicsTrain: `${RAW}/saltlux-ailabs/Ethics-skku/main/data/multilabel_classification/problems/train.json`,
  ethicsTest: `${RAW}/saltlux-ailabs/Ethics-skku/main/data/multilabel_classification/problems/test.json`,
  unsmileTrain: `${RAW}/smilegate-ai/korean_unsmile_dataset/main/unsmile_train_v1.0.tsv`,
  unsmileValid: `${RAW}/smilegate-ai/korean_unsmile_dataset/main/unsmile_valid_v1.0.tsv`,
  khsTrain: `${RAW}/kocohub/korean-hate-speech/master/labeled/train.tsv`,
  kosbi: `${RAW}/naver-ai/korean-safety-benchmarks/main/data/KoSBi/kosbi_valid.json`,
  kmhas: `${RAW}/adlnlp/K-MHaS/main/data/kmhas_valid.txt`,
  ethosBinary: `${RAW}/intelligence-csd-auth-gr/Ethos-Hate-Speech-Dataset/master/ethos/ethos_data/Ethos_Dataset_Binary.csv`,
  klueNer: `${RAW}/KLUE-benchmark/KLUE/main/klue_benchmark/klue-ner-v1.1/klue-ner-v1.1_dev.tsv`,
};

/** Byte offset where 1-based line `n` starts (files without quoted newlines). */
function lineStart(bytes: Buffer, n: number): number {
  let at = 0;
  for (let line = 1; line < n; line++) at = bytes.indexOf(0x0a, at) + 1;
  return at;
}

/** Replaces line `n` (1-based, without its LF) by `edit(line)`. */
function editLine(bytes: Buffer, n: number, edit: (line: string) => string): Buffer {
  const start = lineStart(bytes, n);
  const end = bytes.indexOf(0x0a, start);
  return Buffer.concat([
    bytes.subarray(0, start),
    Buffer.from(edit(bytes.subarray(start, end).toString('utf8'))),
    bytes.subarray(end),
  ]);
}

const corruptions: Corruption[] = [
  {
    sentence: 'truncated JSON fails naming the byte where the file ends and the item it cut',
    pipeline: 'ethics-problems',
    stage: 'data',
    url: URLS.ethicsTrain,
    corrupt: (bytes) => bytes.subarray(0, 150_000),
    type: 'DatasetMalformed',
    message: () =>
      /train\.json: byte 150000: truncated JSON: the file ends inside item \d+ \(which starts at line 1, byte \d+\)/,
  },
  {
    sentence: 'a bad UTF-8 byte fails naming the row, the byte and its offset',
    pipeline: 'unsmile',
    stage: 'data',
    url: URLS.unsmileValid,
    corrupt: (bytes) => {
      const copy = Buffer.from(bytes);
      copy[lineStart(copy, 101)] = 0xff;
      return copy;
    },
    type: 'DatasetRowsInvalid',
    message: (bytes) =>
      new RegExp(
        `1 invalid row in unsmile_train_v1\\.0\\.tsv, unsmile_valid_v1\\.0\\.tsv .*\\n  unsmile_valid_v1\\.0\\.tsv:101: invalid UTF-8: byte 0xff at offset ${lineStart(bytes, 101)}$`,
      ),
  },
  {
    sentence: 'a wrong label count fails naming the item',
    pipeline: 'ethics-problems',
    stage: 'data',
    url: URLS.ethicsTest,
    corrupt: (bytes) => {
      let seen = 0;
      return Buffer.from(
        bytes
          .toString('utf8')
          .replace(/"labels": \[(\d), (\d), (\d)\]/g, (all, a: string, b: string) =>
            ++seen === 17 ? `"labels": [${a}, ${b}]` : all,
          ),
      );
    },
    type: 'DatasetRowsInvalid',
    message: () => /\n {2}test\.json:item 17: column "labels": 2 labels, expected 3$/,
  },
  {
    sentence: 'a sha256 mismatch fails naming both digests',
    pipeline: 'kosbi',
    stage: 'data',
    url: URLS.kosbi,
    keepPin: true,
    corrupt: (bytes) => Buffer.concat([bytes, Buffer.from('\n')]),
    type: 'Sha256Mismatch',
    message: () =>
      /sha256 mismatch for .*kosbi_valid\.json: the pipeline pins 94708ec6593989e1\w+, the download hashes to [0-9a-f]{64}/,
  },
  {
    sentence: 'a label id out of range fails naming the row',
    pipeline: 'kmhas',
    stage: 'data',
    url: URLS.kmhas,
    corrupt: (bytes) => editLine(bytes, 50, (line) => line.replace(/\t[^\t]*$/, '\t1,9')),
    type: 'DatasetRowsInvalid',
    message: () => /\n {2}kmhas_valid\.txt:50: column "label": label id 9 is out of range \(9 classes: 0–8\)$/,
  },
  {
    sentence: 'a NaN in a numeric label column fails naming the row',
    pipeline: 'ethos',
    stage: 'binary',
    url: URLS.ethosBinary,
    corrupt: (bytes) => editLine(bytes, 10, (line) => line.replace(/;[^;]*$/, ';nan')),
    type: 'DatasetRowsInvalid',
    message: () => /\n {2}Ethos_Dataset_Binary\.csv:10: column "isHate": "nan" is not a number$/,
  },
  {
    sentence: 'an empty text fails naming the row',
    pipeline: 'korean-hate-speech',
    stage: 'hate',
    url: URLS.khsTrain,
    corrupt: (bytes) => editLine(bytes, 3, (line) => line.replace(/^[^\t]*/, '')),
    type: 'DatasetRowsInvalid',
    message: () => /\n {2}train\.tsv:3: column "comments": empty text$/,
  },
  {
    sentence: 'a duplicate id fails naming both places',
    pipeline: 'klue-ner',
    stage: 'data',
    url: URLS.klueNer,
    corrupt: (bytes) => {
      const first = bytes.indexOf('## klue-ner-v1_dev_00000');
      const end = bytes.indexOf('\n\n', first) + 2;
      return Buffer.concat([bytes, bytes.subarray(first, end)]);
    },
    type: 'DatasetRowsInvalid',
    message: (bytes) => {
      const line = bytes.subarray(0, bytes.lastIndexOf('## klue-ner-v1_dev_00000')).toString('utf8').split('\n').length;
      return new RegExp(
        `\\n {2}klue-ner-v1\\.1_dev\\.tsv:${line}: duplicate id "klue-ner-v1_dev_00000-wikitree" \\(first at klue-ner-v1\\.1_dev\\.tsv:6\\)$`,
      );
    },
  },
  {
    sentence: 'a file cut inside a quoted field fails naming the record’s line',
    pipeline: 'kmhas',
    stage: 'data',
    url: URLS.kmhas,
    corrupt: (bytes) => {
      const quoted = lineStart(bytes, 8000);
      const open = bytes.indexOf('\n"', quoted) + 1;
      return bytes.subarray(0, open + 10);
    },
    type: 'DatasetMalformed',
    message: () => /kmhas_valid\.txt:\d+: unterminated quoted field/,
  },
  {
    sentence: 'many bad rows fail with the total and the first 20',
    pipeline: 'unsmile',
    stage: 'data',
    url: URLS.unsmileTrain,
    corrupt: (bytes) => {
      let out = bytes;
      for (let n = 100; n < 125; n++) out = editLine(out, n, (line) => line.replace(/\t[01]\t([^\t]*)$/, '\t2\t$1'));
      return out;
    },
    type: 'DatasetRowsInvalid',
    message: () =>
      /^25 invalid rows in .*; the first 20:\n {2}unsmile_train_v1\.0\.tsv:100: column "clean": "2" is not 0 or 1 \(set labels\.threshold to binarise\)\n/,
  },
];

/** The pipeline file with only `stage`, the corrupted copy served from `file`, and a retry policy that would retry. */
async function corruptedPipeline(c: Corruption, file: string, bytes: Buffer, name: string): Promise<string> {
  const doc = z
    .object({ name: z.string(), stages: z.array(z.record(z.string(), z.unknown())) })
    .passthrough()
    .parse(parse(await pipelineText(c.pipeline)));
  const stage = doc.stages.find((s) => s.id === c.stage)!;
  const spec = z.record(z.string(), z.unknown()).parse(stage.with);
  const pin = c.keepPin ? undefined : createHash('sha256').update(bytes).digest('hex');
  const replace = (source: Record<string, unknown>): Record<string, unknown> =>
    source.url === c.url ? { ...source, url: pathToFileURL(file).href, ...(pin ? { sha256: pin } : {}) } : source;
  const sources = z.record(z.string(), z.record(z.string(), z.unknown())).optional().parse(spec.sources);
  const patched = sources
    ? { ...spec, sources: Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, replace(v)])) }
    : replace(spec);
  return stringify({
    name,
    stages: [
      { ...stage, with: patched, retry: { maximumAttempts: 3, initialInterval: '100ms', maximumInterval: '200ms' } },
    ],
  });
}

describe('corrupted copies of real files fail non-retryably, name the row or byte, and store nothing', () => {
  let engine: Engine;
  let dir: string;
  const results = new Map<string, { outcome: Outcome; bytes: Buffer }>();

  before(async () => {
    engine = await startEngine({ dataMirrors: sharedDataMirrors() });
    dir = await tempDir('fairline-corrupt-');
    await Promise.all(
      corruptions.map(async (c, i) => {
        const bytes = c.corrupt(await readFile(sharedFile(c.url)));
        const file = join(dir, String(i), c.url.split('/').pop()!);
        await mkdir(join(dir, String(i)));
        await writeFile(file, bytes);
        const outcome = await engine.run(await corruptedPipeline(c, file, bytes, `corrupt-${i}`));
        results.set(c.sentence, { outcome, bytes });
      }),
    );
  });
  after(async () => {
    await engine?.close();
  });

  for (const c of corruptions) {
    test(c.sentence, () => {
      const { outcome, bytes } = results.get(c.sentence)!;
      assert.equal(outcome.status, 'failed');
      const failure = stageFailure(outcome.history);
      assert.equal(failure.type, c.type, failure.message);
      assert.equal(failure.nonRetryable, true);
      assert.equal(failure.attempt, 1, 'not retried, though the policy allows 3 attempts');
      assert.match(failure.message, c.message(bytes));
    });
  }

  test('no failed run left a dataset artifact (or a cache entry) in the store', async () => {
    assert.deepEqual(await engine.store.list('objects/'), []);
    assert.deepEqual(await engine.store.list('cache/'), []);
  });
});

describe('onInvalidRow: skip', () => {
  let engine: Engine;
  let http: HttpSource;
  before(async () => {
    engine = await startEngine({ dataMirrors: sharedDataMirrors() });
    http = await startHttpSource();
  });
  after(async () => {
    await engine?.close();
    await http?.close();
  });

  test('drops bad rows and counts them in the card, with `source:row: reason` examples (served over HTTP)', async () => {
    let bytes: Buffer = await readFile(sharedFile(URLS.unsmileValid));
    bytes = editLine(bytes, 7, (line) => line.replace(/^[^\t]*/, '   '));
    bytes = editLine(bytes, 8, (line) => line.replace(/\t[01]\t([^\t]*)$/, '\tx\t$1'));
    const copy = Buffer.from(bytes);
    copy[lineStart(copy, 9)] = 0xc0;
    http.files.set('unsmile_valid_v1.0.tsv', copy);
    const text = (await pipelineText('unsmile'))
      .replace(URLS.unsmileValid, http.url('/files/unsmile_valid_v1.0.tsv'))
      .replace(/sha256: b391af71\w+/, `sha256: ${createHash('sha256').update(copy).digest('hex')}`)
      .replace('meta: [개인지칭]', 'meta: [개인지칭]\n      onInvalidRow: skip');
    const outcome = await engine.run(text);
    assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
    const { card, rows } = await produced(engine, outcome, 'data');
    assert.equal(card.rows.validation, 3737 - 3);
    assert.equal(rows.validation.length, 3737 - 3);
    assert.equal(card.rows.train, 15005);
    assert.deepEqual(card.rejected, {
      total: 3,
      byReason: { 'empty-text': 1, 'invalid-utf8': 1, 'label-not-a-number': 1 },
      examples: [
        'unsmile_valid_v1.0.tsv:7: column "문장": empty text',
        'unsmile_valid_v1.0.tsv:8: column "clean": "x" is not a number',
        `unsmile_valid_v1.0.tsv:9: invalid UTF-8: byte 0xc0 at offset ${lineStart(copy, 9)}`,
      ],
    });
    assert.equal(card.onInvalidRow, 'skip');
    assert.equal(http.hits.get('/files/unsmile_valid_v1.0.tsv'), 1);
  });
});
