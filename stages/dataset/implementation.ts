/**
 * The `dataset` stage: fetch → parse → map → validate every row → split → write canonical JSONL
 * per split and a dataset card. Its contract (the `with` schema, the card) is
 * contract.ts; README.md beside this file says why it is shaped this way.
 *
 * Outputs, always all four, so that references to them are stable: `train`, `validation`,
 * `test` (canonical JSONL, pipeline/dataset.ts; a split without rows is an empty file) and
 * `card` (JSON: sources with their sha256, rows and label frequencies per split, rejected rows).
 *
 * Splits: with `sources: { train: …, test: … }` every file is its own split, as its authors cut
 * it; with one `url`, `split: NAME` (default `train`) names the split the whole file is, and
 * `split: { train: 0.8, validation: 0.1, test: 0.1, seed: 42 }` splits it at random, seeded and
 * stratified (./split.ts). Within a split, rows keep their source order.
 *
 * Validation: every row is mapped and checked against the canonical row schema; the reasons a
 * row is rejected are listed in REJECT_REASONS. With `onInvalidRow: fail` (the default) one bad row
 * fails the stage with a non-retryable DatasetRowsInvalid listing the first 20 problems as
 * `source:row: reason`. Nothing is put into the store before every row has passed: the fetched
 * files, the rows and the splits live in the attempt's scratch folder until then, so a failed
 * stage leaves no artifact at all (the raw file is not stored: the card names its URL and sha256,
 * and the `download` stage stores raw files). With `skip`, bad rows are dropped and counted in
 * the card. A file that cannot be read as its format at all (truncated JSON, an unterminated
 * quote) is a DatasetMalformed in either mode.
 *
 * Streaming: files are fetched to disk and read back in chunks; a pass keeps one record in memory,
 * plus a few numbers per row (split, stratum, a `median` cell) and the ids when the mapping names
 * an id column (to find duplicates). The authors' splits take one pass, rows going straight to
 * the split files. A random split or a `median` threshold takes two: the first maps and validates
 * into a scratch file of row parts (labels of a `median` rule wait for the median, a random split
 * for every row's stratum), the second completes the rows into the split files. Same inputs give
 * byte-identical artifacts and card.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { DatasetColumnMissing, DatasetMalformed, DatasetRowsInvalid, DatasetSplitTooLarge } from './errors';
import { canonicalRowSchema, type CanonicalRow, type Task } from '../../pipeline/dataset';
import {
  adapterTask,
  datasetCardSchema,
  datasetContract,
  SPLIT_NAMES,
  type DatasetCard,
  type Column,
  type DatasetWith,
  type RejectReason,
  type SplitName,
} from './contract';
import { describeIssues } from '../../pipeline/errors';
import type { Json } from '../../pipeline/run-spec';
import type { ArtifactRef } from '../../store/types';
import type { StageContext } from '../../activities/stages/context';
import { defineStage } from '../../activities/stages/define';
import { fetchToFile } from '../download/implementation';
import { parseCsv } from './csv';
import { readJsonArray, readJsonl } from './json';
import { readKlueNer } from './klue-ner';
import { KLUE_RE_RELATIONS } from '../../eval/klue-re';
import { readKlueRe } from './klue-re';
import { readKlueNli, readKlueSts } from './klue-pairs';
import { compileMapping, type CompiledMapping } from './mapping';
import { describeWhere, linesOf, type RecordView, type SourceRecord } from './records';
import { assignSplits, firstOfShuffle } from './split';

const HEARTBEAT_EVERY_MS = 1_000;
/** How many rejected rows an error or a card lists. */
export const EXAMPLES = 20;

interface PlannedSource {
  /** The split the file is, or null when one file is split at random. */
  split: SplitName | null;
  url: string;
  sha256?: string | undefined;
  maxBytes?: number | undefined;
  /** The URL's file name: how messages name the source. */
  name: string;
  /** Scratch copy. */
  path: string;
}

/** Buffered line writer with backpressure. */
class LineSink {
  private readonly stream: WriteStream;
  private parts: string[] = [];
  private size = 0;
  constructor(path: string) {
    this.stream = createWriteStream(path);
  }
  async write(line: string): Promise<void> {
    this.parts.push(line);
    this.size += line.length;
    if (this.size >= 1 << 16) await this.flush();
  }
  private async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const data = this.parts.join('');
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(data)) await once(this.stream, 'drain');
  }
  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
  }
}

/** A csv/tsv record's columns: by header name (through the header's index), or by 0-based index. */
class FieldsView implements RecordView {
  constructor(
    private readonly fields: readonly string[],
    private readonly columns: ReadonlyMap<string, number> | undefined,
  ) {}
  private index(column: Column): number {
    return typeof column === 'number' ? column : (this.columns?.get(column) ?? -1);
  }
  has(column: Column): boolean {
    const i = this.index(column);
    return i >= 0 && i < this.fields.length;
  }
  get(column: Column): unknown {
    return this.fields[this.index(column)];
  }
}

/** Reads a scratch file in 256 KiB chunks (fewer, larger reads than the 64 KiB default). */
const chunksOf = (path: string) => createReadStream(path, { highWaterMark: 256 * 1024 });

/** The records of one source file, in the format the stage names, in batches. */
async function* recordsOf(
  spec: DatasetWith,
  source: PlannedSource,
  mapping: CompiledMapping | undefined,
): AsyncGenerator<SourceRecord[]> {
  switch (spec.format) {
    case 'json':
      yield* readJsonArray(chunksOf(source.path), source.name);
      return;
    case 'jsonl':
      yield* readJsonl(chunksOf(source.path), source.name);
      return;
    case 'klue-ner':
      yield* readKlueNer(chunksOf(source.path), source.name);
      return;
    case 'klue-re':
      yield* readKlueRe(chunksOf(source.path), source.name);
      return;
    case 'klue-nli':
      yield* readKlueNli(chunksOf(source.path), source.name);
      return;
    case 'klue-sts':
      yield* readKlueSts(chunksOf(source.path), source.name);
      return;
    case 'csv':
    case 'tsv': {
      const header = spec.csv?.header ?? true;
      const csv = parseCsv(chunksOf(source.path), {
        delimiter: spec.csv?.delimiter ?? (spec.format === 'tsv' ? '\t' : ','),
        quoting: spec.csv?.quoting ?? 'rfc4180',
        source: source.name,
      });
      let columns: Map<string, number> | undefined;
      let width = 0;
      for await (const records of csv) {
        const batch: SourceRecord[] = [];
        for (const record of records) {
          const where = { line: record.line, byte: record.byte };
          if (header && columns === undefined) {
            if (!record.ok)
              throw new DatasetMalformed(describeWhere(source.name, where), `the header row: ${record.detail}`);
            columns = new Map();
            for (const [i, field] of record.fields.entries()) if (!columns.has(field)) columns.set(field, i);
            width = record.fields.length;
            for (const column of mapping?.columns ?? []) {
              if (typeof column === 'string' && !columns.has(column))
                throw new DatasetColumnMissing(source.name, column, record.fields);
            }
          } else if (!record.ok) batch.push({ kind: 'invalid', where, reason: 'invalid-utf8', detail: record.detail });
          else if (header && record.fields.length !== width) {
            batch.push({
              kind: 'invalid',
              where,
              reason: 'field-count',
              detail: `${record.fields.length} fields, the header has ${width}`,
            });
          } else batch.push({ kind: 'view', where, view: new FieldsView(record.fields, columns) });
        }
        if (batch.length > 0) yield batch;
      }
      if (header && columns === undefined) throw new DatasetMalformed(source.name, 'the file is empty: no header row');
    }
  }
}

/** The rows rejected so far: counts per reason and the first examples. */
class Rejections {
  total = 0;
  readonly byReason: Partial<Record<RejectReason, number>> = {};
  readonly examples: string[] = [];
  add(where: string, reason: RejectReason, detail: string): void {
    this.total += 1;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    if (this.examples.length < EXAMPLES) this.examples.push(`${where}: ${detail}`);
  }
}

/**
 * Progress reports at most once a second (`details` is only built then), and the point where a
 * cancelled stage stops.
 */
function pacer(context: StageContext): (details: () => Record<string, Json>) => void {
  let last = 0;
  let calls = 0;
  return (details) => {
    // Date.now() on every row costs more than the rows' own checks: look every 256 rows.
    if ((calls++ & 0xff) !== 0) return;
    context.signal.throwIfAborted();
    const now = Date.now();
    if (now - last < HEARTBEAT_EVERY_MS) return;
    last = now;
    context.heartbeat(details());
  };
}

const splitIndex = (split: SplitName): number => SPLIT_NAMES.indexOf(split);

export const dataset = defineStage(datasetContract, async (spec, context) => {
  const onInvalidRow = spec.onInvalidRow ?? 'fail';
  const mapping = spec.mapping ? compileMapping(spec.mapping) : undefined;
  const task: Task = mapping?.task ?? adapterTask(spec.format) ?? 'multilabel';
  // A split decided after reading every row: ratios, or shuffle-then-first-N.
  const ratios = typeof spec.split === 'object' ? spec.split : undefined;
  const timings: Record<string, number> = {};
  let clock = Date.now();
  const lap = (phase: string): void => {
    const now = Date.now();
    timings[phase] = now - clock;
    clock = now;
  };

  // 1. Fetch every source into the scratch folder (sha256 pins and maxBytes checked on the way).
  const fileName = (url: string): string =>
    decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'source');
  const planned: PlannedSource[] = spec.sources
    ? SPLIT_NAMES.flatMap((split, i) => {
        const source = spec.sources?.[split];
        return source
          ? [{ split, ...source, name: fileName(source.url), path: join(context.scratchDir, `source-${i}`) }]
          : [];
      })
    : [
        {
          split: ratios ? null : typeof spec.split === 'string' ? spec.split : 'train',
          url: spec.url ?? '',
          sha256: spec.sha256,
          maxBytes: spec.maxBytes,
          name: fileName(spec.url ?? 'file:///source'),
          path: join(context.scratchDir, 'source-0'),
        },
      ];
  const fetched: DatasetCard['sources'] = [];
  for (const source of planned) {
    const { sha256, bytes } = await fetchToFile(source, source.path, context);
    fetched.push({ split: source.split, url: source.url, sha256, bytes, records: 0 });
  }
  lap('fetchMs');

  // 2. Pass one: parse, map and validate every record. When every row's split and labels are
  // known now (the authors' splits, no median), rows go straight to the split files; otherwise
  // into a scratch file of row parts that pass two completes.
  const beat = pacer(context);
  const rejected = new Rejections();
  const direct = ratios === undefined && mapping?.median === undefined;
  const sinks = SPLIT_NAMES.map((split) => ({ split, path: join(context.scratchDir, `${split}.jsonl`) })).map((s) => ({
    ...s,
    sink: new LineSink(s.path),
  }));
  const rowsPath = join(context.scratchDir, 'rows.tsv');
  const rows = direct ? undefined : new LineSink(rowsPath);
  const splitOf: number[] = [];
  const strata: number[] = [];
  const stratumIds = new Map<string, number>();
  const stratumLabels: ((0 | 1)[] | number)[] = [];
  const values: number[] = [];
  const ids = new Map<string, string>();
  const entitiesPerSplit = SPLIT_NAMES.map(() => new Map<string, number>());
  const stratumOf = (labels: (0 | 1)[] | number): number => {
    const key = Array.isArray(labels) ? labels.join('') : String(labels);
    let id = stratumIds.get(key);
    if (id === undefined) {
      id = stratumLabels.length;
      stratumIds.set(key, id);
      stratumLabels.push(labels);
    }
    return id;
  };
  const countEntities = (split: number, types: Iterable<[string, number]>): void => {
    const counts = entitiesPerSplit[split]!;
    for (const [type, n] of types) counts.set(type, (counts.get(type) ?? 0) + n);
  };

  for (const [s, source] of planned.entries()) {
    let n = 0;
    for await (const batch of recordsOf(spec, source, mapping))
      for (const record of batch) {
        n += 1;
        beat(() => ({ phase: 'parse', source: source.name, records: n }));
        if (record.kind === 'invalid') {
          rejected.add(describeWhere(source.name, record.where), record.reason, record.detail);
          continue;
        }
        let row: CanonicalRow;
        let value: number | undefined;
        if (record.kind === 'row') {
          row = {
            id: record.row.id ?? `${source.split ?? 'row'}-${n}`,
            text: record.row.text,
            labels: record.row.labels ?? [],
            ...(record.row.entities ? { entities: record.row.entities } : {}),
            ...(record.row.pair ? { pair: record.row.pair } : {}),
            ...(record.row.meta ? { meta: record.row.meta } : {}),
          };
        } else {
          const mapped = mapping!.map(record.view);
          if (!mapped.ok) {
            rejected.add(describeWhere(source.name, record.where), mapped.reason, mapped.detail);
            continue;
          }
          const m = mapped.row;
          value = m.value;
          row = {
            id: m.id ?? `${source.split ?? 'row'}-${n}`,
            text: m.text,
            labels: m.labels,
            ...(m.entities ? { entities: m.entities } : {}),
            ...(m.pair ? { pair: m.pair } : {}),
            ...(m.meta ? { meta: m.meta } : {}),
          };
        }
        if (row.text.trim() === '') {
          rejected.add(describeWhere(source.name, record.where), 'empty-text', 'empty text');
          continue;
        }
        const checked = canonicalRowSchema.safeParse(row);
        if (!checked.success) {
          rejected.add(describeWhere(source.name, record.where), 'schema', describeIssues(checked.error.issues, 'row'));
          continue;
        }
        const explicitId = record.kind === 'row' ? record.row.id : spec.mapping?.id !== undefined ? row.id : undefined;
        if (explicitId !== undefined) {
          const first = ids.get(explicitId);
          if (first !== undefined) {
            rejected.add(
              describeWhere(source.name, record.where),
              'duplicate-id',
              `duplicate id ${JSON.stringify(explicitId)} (first at ${first})`,
            );
            continue;
          }
          ids.set(explicitId, describeWhere(source.name, record.where));
        }
        const entityCounts = new Map<string, number>();
        if (row.entities) for (const e of row.entities) entityCounts.set(e.type, (entityCounts.get(e.type) ?? 0) + 1);
        const rest =
          (row.entities ? `,"entities":${JSON.stringify(row.entities)}` : '') +
          (row.pair ? `,"pair":${JSON.stringify(row.pair)}` : '') +
          (row.meta ? `,"meta":${JSON.stringify(row.meta)}` : '');
        const split = source.split === null ? -1 : splitIndex(source.split);
        if (rows === undefined) {
          await sinks[split]!.sink.write(
            `{"id":${JSON.stringify(row.id)},"text":${JSON.stringify(row.text)},"labels":${JSON.stringify(row.labels)}${rest}}\n`,
          );
          countEntities(split, entityCounts);
        } else {
          const pending = value !== undefined;
          const parts = [
            n,
            explicitId !== undefined ? JSON.stringify(explicitId) : '',
            JSON.stringify(row.text),
            pending ? '' : JSON.stringify(row.labels),
            rest,
          ];
          parts.push([...entityCounts].map(([t, c]) => `${t}:${c}`).join(','));
          await rows.write(`${parts.join('\t')}\n`);
          if (pending) values.push(value!);
        }
        splitOf.push(split);
        strata.push(value !== undefined ? -1 : stratumOf(row.labels));
      }
    fetched[s]!.records = n;
    if (n === 0) throw new DatasetMalformed(source.name, 'no records: the file holds no rows');
  }
  await rows?.close();
  lap('parseMs');

  const kept = splitOf.length;
  const sourceNames = planned.map((p) => p.name).join(', ');
  if (rejected.total > 0 && onInvalidRow === 'fail') {
    throw new DatasetRowsInvalid(
      rejected.total,
      rejected.examples,
      ` in ${sourceNames} (onInvalidRow: fail; nothing was stored)`,
    );
  }
  if (kept === 0)
    throw new DatasetRowsInvalid(
      rejected.total,
      rejected.examples,
      ` in ${sourceNames}: every row was rejected, none is left`,
    );

  // 3. Labels that waited for the median; then the split of every row.
  let threshold: DatasetCard['threshold'];
  const medianLabels: (0 | 1)[] = [];
  if (mapping?.median) {
    const sorted = Float64Array.from(values).sort();
    const mid = sorted.length >> 1;
    const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    const { above, column } = mapping.median;
    for (const [i, v] of values.entries()) {
      const label: 0 | 1 = v >= median ? above : above === 1 ? 0 : 1;
      medianLabels.push(label);
      strata[i] = stratumOf(label);
    }
    threshold = {
      column,
      value: median,
      rule: `value ≥ median (${median}) → class ${above}, below → class ${1 - above}`,
    };
  } else if (mapping?.threshold && typeof mapping.threshold.value === 'number') {
    const { column, value, above } = mapping.threshold;
    threshold = { column, value, rule: `value ≥ ${value} → class ${above}, below → class ${1 - above}` };
  }
  if (ratios && 'shuffle' in ratios) {
    if (ratios.trainFirst >= kept) throw new DatasetSplitTooLarge(ratios.trainFirst, kept);
    const assigned = firstOfShuffle(kept, ratios.shuffle, ratios.trainFirst);
    for (let i = 0; i < kept; i++) splitOf[i] = assigned[i]!;
  } else if (ratios) {
    const assigned = assignSplits(
      strata,
      [ratios.train ?? 0, ratios.validation ?? 0, ratios.test ?? 0],
      ratios.seed,
      ratios.stratify ?? true,
    );
    for (let i = 0; i < kept; i++) splitOf[i] = assigned[i]!;
  }

  // 4. Pass two (when needed): complete the rows and write the split files, in source order.
  if (rows !== undefined) {
    let i = 0;
    for await (const lines of linesOf(chunksOf(rowsPath), 'rows'))
      for (const line of lines) {
        if (line.bytes.length === 0) continue;
        beat(() => ({ phase: 'write', rows: i, of: kept }));
        const [n, idJson, textJson, labelsJson, rest, entityCounts] = line.bytes.toString('utf8').split('\t');
        const split = splitOf[i]!;
        const id = idJson || JSON.stringify(`${SPLIT_NAMES[split]}-${n}`);
        const labels = labelsJson || String(medianLabels[i]);
        await sinks[split]!.sink.write(`{"id":${id},"text":${textJson},"labels":${labels}${rest ?? ''}}\n`);
        if (entityCounts)
          countEntities(
            split,
            entityCounts
              .split(',')
              .map((pair): [string, number] => [
                pair.slice(0, pair.lastIndexOf(':')),
                Number(pair.slice(pair.lastIndexOf(':') + 1)),
              ]),
          );
        i += 1;
      }
  }
  for (const { sink } of sinks) await sink.close();

  // 5. The card: row counts and label frequencies per split, from the strata.
  const labelNames = mapping?.labelNames() ?? (spec.format === 'klue-re' ? [...KLUE_RE_RELATIONS] : []);
  const nameOf = (label: number): string => labelNames[label] ?? String(label);
  const rowCounts = [0, 0, 0];
  const perStratum = stratumLabels.map(() => [0, 0, 0]);
  for (let r = 0; r < kept; r++) {
    const split = splitOf[r]!;
    const inStratum = perStratum[strata[r]!]!;
    rowCounts[split] = rowCounts[split]! + 1;
    inStratum[split] = inStratum[split]! + 1;
  }
  const frequencies = (split: number): Record<string, number> => {
    const counts = new Map(labelNames.map((name) => [name, 0]));
    const bump = (label: number, by: number): void =>
      void counts.set(nameOf(label), (counts.get(nameOf(label)) ?? 0) + by);
    stratumLabels.forEach((labels, s) => {
      const rowsIn = perStratum[s]![split]!;
      if (Array.isArray(labels)) labels.forEach((bit, label) => bump(label, bit * rowsIn));
      else bump(labels, rowsIn);
    });
    return Object.fromEntries(counts);
  };
  const perSplit = <T>(f: (split: number) => T): { train: T; validation: T; test: T } => ({
    train: f(0),
    validation: f(1),
    test: f(2),
  });
  const entityTypes = [...new Set(entitiesPerSplit.flatMap((counts) => [...counts.keys()]))].sort();
  const card: DatasetCard = datasetCardSchema.parse({
    schema: 'fairline.dataset-card/1',
    format: spec.format,
    task,
    sources: fetched,
    split: ratios ?? { from: 'source' },
    rows: perSplit((s) => rowCounts[s]!),
    labelNames,
    labels: perSplit(frequencies),
    ...(threshold ? { threshold } : {}),
    ...(spec.format === 'klue-ner'
      ? { entities: perSplit((s) => Object.fromEntries(entityTypes.map((t) => [t, entitiesPerSplit[s]!.get(t) ?? 0]))) }
      : {}),
    rejected: {
      total: rejected.total,
      byReason: Object.fromEntries(Object.entries(rejected.byReason).sort()),
      examples: rejected.examples,
    },
    onInvalidRow,
  });
  const cardPath = join(context.scratchDir, 'card.json');
  const cardSink = new LineSink(cardPath);
  await cardSink.write(`${JSON.stringify(card, null, 2)}\n`);
  await cardSink.close();
  lap('writeMs');

  // 6. Only now, with every row valid (or skipped), does anything enter the store.
  const stored = new Map<SplitName, ArtifactRef>();
  for (const { split, path } of sinks)
    stored.set(split, await context.store.put({ path }, { kind: 'dataset', name: `${split}.jsonl` }));
  const cardRef = await context.store.put({ path: cardPath }, { kind: 'dataset-card', name: 'card.json' });
  lap('storeMs');
  context.log.info('dataset written', { rows: card.rows, rejected: rejected.total, ...timings });
  return {
    train: stored.get('train')!,
    validation: stored.get('validation')!,
    test: stored.get('test')!,
    card: cardRef,
  };
});
