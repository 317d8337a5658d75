/**
 * The `dataset` stage implementation called directly (as runStage calls it) with a real
 * FsArtifactStore, on small sources written here: the exact bytes of a canonical row, headerless
 * CSV by column index, jsonl ids and their duplicates, the median tie rule, a missing header
 * column, and seeded splits that are byte-identical across stores.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DatasetColumnMissing, DatasetRowsInvalid } from '../../../stages/dataset/errors';
import { canonicalRowSchema } from '../../../pipeline/dataset';
import { datasetCardSchema } from '../../../stages/dataset/contract';
import type { Json } from '../../../pipeline/run-spec';
import { artifactRefSchema } from '../../../store/types';
import { directDatasetStage } from './support';

async function file(dir: string, name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, body);
  return pathToFileURL(path).href;
}

describe('the dataset stage, called directly', () => {
  test('writes canonical rows byte for byte: keys in order, default ids, pair and meta', async () => {
    const { dir, store, run } = await directDatasetStage();
    const url = await file(dir, 'a.csv', 'x,그 문장,"맥락, 있음",1,g\ny,둘째,맥락,0,h\n');
    const out = await run({
      url,
      format: 'csv',
      csv: { header: false },
      mapping: { text: 1, pair: { text: 2 }, label: { column: 3, classes: 2 }, meta: [4] },
      split: 'test',
    });
    const test = (await store.read(artifactRefSchema.parse(out.test))).toString('utf8');
    assert.equal(
      test,
      '{"id":"test-1","text":"그 문장","labels":1,"pair":{"text":"맥락, 있음"},"meta":{"4":"g"}}\n{"id":"test-2","text":"둘째","labels":0,"pair":{"text":"맥락"},"meta":{"4":"h"}}\n',
    );
    for (const split of ['train', 'validation'] as const)
      assert.equal(artifactRefSchema.parse(out[split]).bytes, 0, `${split} is an empty file`);
    const card = datasetCardSchema.parse(
      JSON.parse((await store.read(artifactRefSchema.parse(out.card))).toString('utf8')),
    );
    assert.deepEqual(card.rows, { train: 0, validation: 0, test: 2 });
    assert.deepEqual(card.labels.test, { '0': 1, '1': 1 });
    assert.equal(card.task, 'multiclass');
  });

  test('a duplicate id fails, naming both lines, and stores nothing', async () => {
    const { dir, store, run } = await directDatasetStage();
    const url = await file(
      dir,
      'a.jsonl',
      '{"id":"a","t":"x","l":[1,0]}\n{"id":"b","t":"y","l":[0,1]}\n\n{"id":"a","t":"z","l":[0,0]}\n',
    );
    await assert.rejects(
      run({ url, format: 'jsonl', mapping: { text: 't', id: 'id', labels: { column: 'l' } } }),
      (error: unknown) => {
        assert.ok(error instanceof DatasetRowsInvalid);
        assert.equal(error.total, 1);
        assert.deepEqual(error.problems, ['a.jsonl:4: duplicate id "a" (first at a.jsonl:1)']);
        return true;
      },
    );
    assert.deepEqual(await store.list(''), []);
  });

  test('a median threshold puts values equal to the median above it', async () => {
    const { dir, store, run } = await directDatasetStage();
    const url = await file(
      dir,
      'e.csv',
      'comment;isHate\na;0.0\nb;0.3333333333333333\nc;0.3333333333333333\nd;1.0\ne;0.1\n',
    );
    const out = await run({
      url,
      format: 'csv',
      csv: { delimiter: ';' },
      mapping: { text: 'comment', label: { column: 'isHate', threshold: 'median' }, labelNames: ['no', 'yes'] },
    });
    const rows = (await store.read(artifactRefSchema.parse(out.train)))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => canonicalRowSchema.parse(JSON.parse(l)));
    assert.deepEqual(
      rows.map((r) => [r.text, r.labels]),
      [
        ['a', 0],
        ['b', 1],
        ['c', 1],
        ['d', 1],
        ['e', 0],
      ],
    );
    const card = datasetCardSchema.parse(
      JSON.parse((await store.read(artifactRefSchema.parse(out.card))).toString('utf8')),
    );
    assert.equal(card.threshold?.value, 1 / 3);
    assert.deepEqual(card.labels.train, { no: 2, yes: 3 });
  });

  test('a mapping column the header lacks fails at once, listing the header', async () => {
    const { dir, run } = await directDatasetStage();
    const url = await file(dir, 'a.tsv', 'document\tlabel\nx\t1\n');
    await assert.rejects(
      run({
        url,
        format: 'tsv',
        mapping: { text: 'documnet', labels: { column: 'label', separator: ',', classes: 9 } },
      }),
      (error: unknown) => {
        assert.ok(error instanceof DatasetColumnMissing);
        assert.equal(
          error.message,
          'a.tsv: the mapping names column "documnet", which the header does not have (columns: "document", "label")',
        );
        return true;
      },
    );
  });

  test('a seeded split is byte-identical in another store; another seed splits differently', async () => {
    const body = `id,text,label\n${Array.from({ length: 200 }, (_, i) => `r${i},text ${i},${i % 7 === 0 ? 'b' : 'a'}`).join('\n')}\n`;
    const input = (url: string, seed: number): Record<string, Json> => ({
      url,
      format: 'csv',
      mapping: { id: 'id', text: 'text', label: { column: 'label', classes: ['a', 'b'] } },
      split: { train: 0.7, validation: 0.15, test: 0.15, seed },
    });
    const first = await directDatasetStage();
    const second = await directDatasetStage();
    const url = await file(first.dir, 'd.csv', body);
    const a = await first.run(input(url, 42));
    const b = await second.run(input(url, 42));
    const c = await second.run(input(url, 43));
    for (const output of ['train', 'validation', 'test', 'card']) {
      assert.equal(artifactRefSchema.parse(a[output]).sha256, artifactRefSchema.parse(b[output]).sha256, output);
    }
    assert.notEqual(artifactRefSchema.parse(a.train).sha256, artifactRefSchema.parse(c.train).sha256);
    const card = datasetCardSchema.parse(
      JSON.parse((await first.store.read(artifactRefSchema.parse(a.card))).toString('utf8')),
    );
    assert.deepEqual(card.rows, { train: 140, validation: 30, test: 30 });
    // 29 rows of class b (every 7th): 70/15/15 % of them in the splits, within a row.
    const b29 = [card.labels.train.b ?? -1, card.labels.validation.b ?? -1, card.labels.test.b ?? -1];
    assert.equal(b29[0]! + b29[1]! + b29[2]!, 29);
    [0.7, 0.15, 0.15].forEach((ratio, s) =>
      assert.ok(Math.abs(b29[s]! - ratio * 29) <= 1, `split ${s}: ${b29[s]} of 29`),
    );
  });
});
