/**
 * The klue-re adapter: KLUE-RE's JSON records into single-label rows whose text carries typed
 * entity markers (the punctuation form of Zhou & Chen 2021), ids from guids, labels in
 * relation_list.json's order; records whose spans do not spell their words, overlap, or name an
 * unknown relation are rejected with the guid and the key. Then the stage itself on the
 * pipeline's fixture (pipelines/klue-re/data/), with a real FsArtifactStore.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../../common/paths';
import { canonicalRowSchema } from '../../../pipeline/dataset';
import { datasetCardSchema, datasetWithSchema } from '../../../stages/dataset/contract';
import { DatasetRowsInvalid } from '../../../stages/dataset/errors';
import { KLUE_RE_RELATIONS } from '../../../eval/klue-re';
import { readKlueRe } from '../../../stages/dataset/klue-re';
import type { SourceRecord } from '../../../stages/dataset/records';
import { FsArtifactStore } from '../../../store/fs-store';
import { artifactRefSchema } from '../../../store/types';
import { tempDir } from '../../helpers';
import { SHARED_DATA } from '../../shared-data';
import { directDatasetStage } from './support';

const FIXTURE = join(PROJECT_ROOT, 'pipelines', 'klue-re', 'data');

async function read(input: string, size = 0): Promise<SourceRecord[]> {
  const bytes = Buffer.from(input, 'utf8');
  async function* chunks(): AsyncGenerator<Buffer> {
    if (size === 0) yield bytes;
    else for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  const out: SourceRecord[] = [];
  for await (const batch of readKlueRe(chunks(), 'dev.json')) out.push(...batch);
  return out;
}

interface Entity {
  word: string;
  start_idx: number;
  end_idx: number;
  type: string;
}

/** A KLUE-RE record, its entities found by their first occurrence in the sentence (JS indices: BMP text only). */
function record(
  guid: string,
  sentence: string,
  subject: string,
  object: string,
  label: string,
): Record<string, unknown> {
  const entity = (word: string, type: string): Entity => {
    const start = sentence.indexOf(word);
    assert.ok(start >= 0, `${word} is in ${sentence}`);
    return { word, start_idx: start, end_idx: start + word.length - 1, type };
  };
  return {
    guid,
    sentence,
    subject_entity: entity(subject, 'PER'),
    object_entity: entity(object, 'ORG'),
    label,
    source: 'wikipedia',
  };
}

describe('the klue-re adapter', () => {
  test("lists the relations in relation_list.json's order, no_relation first", () => {
    const shared = JSON.parse(readFileSync(join(SHARED_DATA, 'klue-re', 'relation_list.json'), 'utf8')) as {
      relations: string[];
    };
    assert.deepEqual([...KLUE_RE_RELATIONS], shared.relations);
  });

  test('marks subject and object with their types, in either order; the label is the relation index', async () => {
    const input = JSON.stringify([
      record('g-1', '김민수는 한빛전자에서 일한다.', '김민수', '한빛전자', 'per:employee_of'),
      record('g-2', '한빛전자의 창업자는 김민수이다.', '김민수', '한빛전자', 'no_relation'),
    ]);
    for (const size of [0, 5]) {
      const [first, second] = await read(input, size);
      assert.ok(first?.kind === 'row' && second?.kind === 'row');
      assert.equal(first.row.text, '@ * PER * 김민수 @는 # ^ ORG ^ 한빛전자 #에서 일한다.');
      assert.equal(first.row.id, 'g-1');
      assert.equal(first.row.labels, KLUE_RE_RELATIONS.indexOf('per:employee_of'));
      assert.equal(second.row.text, '# ^ ORG ^ 한빛전자 #의 창업자는 @ * PER * 김민수 @이다.');
      assert.equal(second.row.labels, 0);
      assert.deepEqual(second.row.meta, {
        sentence: '한빛전자의 창업자는 김민수이다.',
        subject_entity: { word: '김민수', start_idx: 11, end_idx: 13, type: 'PER' },
        object_entity: { word: '한빛전자', start_idx: 0, end_idx: 3, type: 'ORG' },
        source: 'wikipedia',
      });
      assert.equal(second.where.item, 2);
    }
  });

  test('counts indices in code points, as Python does: a character outside the BMP is one index', async () => {
    // '😀' is two UTF-16 units but one code point: 박씨 starts at code point 2.
    const input = JSON.stringify([
      {
        guid: 'g-emoji',
        sentence: '😀 박씨는 누리통신 직원이다.',
        subject_entity: { word: '박씨', start_idx: 2, end_idx: 3, type: 'PER' },
        object_entity: { word: '누리통신', start_idx: 6, end_idx: 9, type: 'ORG' },
        label: 'per:employee_of',
      },
    ]);
    const [only] = await read(input);
    assert.ok(only?.kind === 'row', JSON.stringify(only));
    assert.equal(only.row.text, '😀 @ * PER * 박씨 @는 # ^ ORG ^ 누리통신 # 직원이다.');
  });

  const good = record('g-ok', '김민수는 한빛전자에서 일한다.', '김민수', '한빛전자', 'per:employee_of');
  const broken: { sentence: string; change: (r: Record<string, unknown>) => void; reason: string; detail: RegExp }[] = [
    {
      sentence: 'a subject word that the span does not spell',
      change: (r) => Object.assign(r.subject_entity as Entity, { word: '김민호' }),
      reason: 'entity-mismatch',
      detail:
        /^guid "g-bad": subject_entity\.word is "김민호" but sentence\[0\.\.2\] \(end_idx inclusive\) is "김민수"$/,
    },
    {
      sentence: 'an object end_idx one past the word (end_idx read as exclusive)',
      change: (r) => Object.assign(r.object_entity as Entity, { end_idx: 9 }),
      reason: 'entity-mismatch',
      detail: /^guid "g-bad": object_entity\.word is "한빛전자" but sentence\[5\.\.9\] .* is "한빛전자에"$/,
    },
    {
      sentence: 'an index past the sentence',
      change: (r) => Object.assign(r.object_entity as Entity, { end_idx: 99 }),
      reason: 'entity-invalid',
      detail: /^guid "g-bad": object_entity\.end_idx is 99, not an index into the sentence \(0–15\)$/,
    },
    {
      sentence: 'an end before the start',
      change: (r) => Object.assign(r.subject_entity as Entity, { start_idx: 2, end_idx: 1 }),
      reason: 'entity-invalid',
      detail: /subject_entity\.end_idx 1 is before start_idx 2/,
    },
    {
      sentence: 'a missing object entity',
      change: (r) => delete r.object_entity,
      reason: 'entity-invalid',
      detail: /^guid "g-bad": object_entity is nothing, not an object$/,
    },
    {
      sentence: 'an index given as text',
      change: (r) => Object.assign(r.subject_entity as Entity, { start_idx: '0' }),
      reason: 'entity-invalid',
      detail: /subject_entity\.start_idx is "0", not an index/,
    },
    {
      sentence: 'overlapping spans',
      change: (r) => Object.assign(r.object_entity as Entity, { word: '민수는', start_idx: 1, end_idx: 3 }),
      reason: 'entity-overlap',
      detail: /subject_entity \[0, 2\] and object_entity \[1, 3\] overlap/,
    },
    {
      sentence: 'a relation KLUE-RE does not have',
      change: (r) => (r.label = 'per:pet'),
      reason: 'label-unknown',
      detail: /^guid "g-bad": label is "per:pet", not one of KLUE-RE's 30 relations$/,
    },
    {
      sentence: 'no guid',
      change: (r) => delete r.guid,
      reason: 'id-missing',
      detail: /guid is nothing/,
    },
  ];
  for (const c of broken) {
    test(`rejects ${c.sentence}, naming the item, the guid and the key`, async () => {
      const bad = structuredClone({ ...good, guid: 'g-bad' });
      c.change(bad);
      const records = await read(JSON.stringify([good, bad]));
      assert.equal(records[0]?.kind, 'row');
      const second = records[1];
      assert.ok(second?.kind === 'invalid', JSON.stringify(second));
      assert.equal(second.where.item, 2);
      assert.equal(second.reason, c.reason);
      assert.match(second.detail, c.detail);
    });
  }
});

async function runStage(
  input: Record<string, unknown>,
): Promise<{ store: FsArtifactStore; out: Record<string, unknown> }> {
  const { store, run } = await directDatasetStage('fairline-klue-re-');
  return { store, out: await run(datasetWithSchema.parse(input)) };
}

describe('the dataset stage with format klue-re', () => {
  test("turns the fixture into canonical multiclass rows and a card over KLUE-RE's 30 relations", async () => {
    const { store, out } = await runStage({
      format: 'klue-re',
      sources: {
        train: { url: pathToFileURL(join(FIXTURE, 'train.json')).href },
        validation: { url: pathToFileURL(join(FIXTURE, 'dev.json')).href },
      },
    });
    const card = datasetCardSchema.parse(
      JSON.parse((await store.read(artifactRefSchema.parse(out.card))).toString('utf8')),
    );
    assert.equal(card.task, 'multiclass');
    assert.deepEqual(card.labelNames, [...KLUE_RE_RELATIONS]);
    assert.deepEqual(card.rows, { train: 48, validation: 24, test: 0 });
    assert.equal(card.rejected.total, 0);
    // Every relation occurs in the training fixture.
    assert.ok(Object.values(card.labels.train).every((n) => n > 0));

    const source = JSON.parse(await readFile(join(FIXTURE, 'dev.json'), 'utf8')) as { guid: string; label: string }[];
    const rows = (await store.read(artifactRefSchema.parse(out.validation)))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((line) => canonicalRowSchema.parse(JSON.parse(line)));
    assert.deepEqual(
      rows.map((r) => [r.id, r.labels]),
      source.map((s) => [s.guid, KLUE_RE_RELATIONS.indexOf(s.label as (typeof KLUE_RE_RELATIONS)[number])]),
    );
    assert.equal(rows[0]!.text, '@ * PER * 정다운 @은 # ^ DAT ^ 1990년 # 울산에서 태어났다.');
  });

  test('fails with one DatasetRowsInvalid naming file, item, guid and key', async () => {
    const dir = await tempDir('fairline-klue-re-bad-');
    const rows = JSON.parse(await readFile(join(FIXTURE, 'dev.json'), 'utf8')) as Record<string, Entity | string>[];
    (rows[2]!.object_entity as Entity).start_idx += 1;
    const path = join(dir, 'dev.json');
    await writeFile(path, JSON.stringify(rows));
    await assert.rejects(
      runStage({ format: 'klue-re', url: pathToFileURL(path).href, split: 'validation' }),
      (error: unknown) => {
        assert.ok(error instanceof DatasetRowsInvalid);
        assert.equal(error.total, 1);
        assert.match(
          error.problems[0]!,
          /^dev\.json:item 3: guid "fixture-dev-00002": object_entity\.word is "1975년" but sentence\[7\.\.10\] \(end_idx inclusive\) is "975년"$/,
        );
        return true;
      },
    );
  });

  test('refuses a mapping: the adapter maps rows itself', () => {
    const parsed = datasetWithSchema.safeParse({
      format: 'klue-re',
      url: 'https://x/dev.json',
      mapping: { text: 'sentence', label: { column: 'label', classes: 2 } },
    });
    assert.ok(!parsed.success);
    assert.match(parsed.error.issues[0]!.message, /the klue-re adapter maps rows itself/);
  });
});
