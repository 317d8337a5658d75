/**
 * The klue-nli and klue-sts adapters on small inputs in KLUE's exact JSON shape: grouping by
 * premise, what is rejected and why. (The real files go through test/stages/evaluate-embedding/.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readKlueNli, readKlueSts } from '../../../stages/dataset/klue-pairs';
import type { SourceRecord } from '../../../stages/dataset/records';

async function read(
  reader: (input: AsyncIterable<Buffer>, source: string) => AsyncGenerator<SourceRecord[]>,
  items: unknown[],
): Promise<SourceRecord[]> {
  async function* chunks(): AsyncGenerator<Buffer> {
    yield Buffer.from(JSON.stringify(items));
  }
  const out: SourceRecord[] = [];
  for await (const batch of reader(chunks(), 'dev.json')) out.push(...batch);
  return out;
}

const nli = (guid: string, premise: string, hypothesis: string, gold_label: string) => ({
  guid,
  source: 'test',
  premise,
  hypothesis,
  gold_label,
});

describe('the klue-nli adapter', () => {
  test('groups a premise’s hypotheses into one (anchor, entailment, contradictions) row, neutral left out', async () => {
    const records = await read(readKlueNli, [
      nli('g0', 'P1', 'contra 1', 'contradiction'),
      nli('g1', 'P2', 'ent 2', 'entailment'),
      nli('g2', 'P1', 'ent 1', 'entailment'),
      nli('g3', 'P1', 'neutral 1', 'neutral'),
    ]);
    assert.deepEqual(
      records.map((r) => (r.kind === 'row' ? r.row : r.kind)),
      [
        { id: 'g2', text: 'P1', pair: { text: 'ent 1' }, meta: { negatives: ['contra 1'] } },
        { id: 'g1', text: 'P2', pair: { text: 'ent 2' }, meta: { negatives: [] } },
      ],
    );
  });

  const rejected = [
    {
      name: 'a premise without an entailment hypothesis',
      items: [nli('g0', 'P', 'h', 'neutral')],
      detail: /no entailment/,
    },
    { name: 'an unknown gold label', items: [nli('g0', 'P', 'h', 'maybe')], detail: /gold_label "maybe"/ },
    {
      name: 'a missing hypothesis',
      items: [{ guid: 'g0', premise: 'P', gold_label: 'entailment' }],
      detail: /KLUE-NLI item/,
    },
  ];
  for (const c of rejected) {
    test(`rejects ${c.name} as a malformed record, at its item`, async () => {
      const [record] = await read(readKlueNli, c.items);
      assert.equal(record?.kind, 'invalid');
      if (record?.kind !== 'invalid') return;
      assert.equal(record.reason, 'malformed-record');
      assert.equal(record.where.item, 1);
      assert.match(record.detail, c.detail);
    });
  }
});

describe('the klue-sts adapter', () => {
  test('writes sentence1, sentence2 and the gold score (and binary label) per item', async () => {
    const [record] = await read(readKlueSts, [
      { guid: 's0', sentence1: 'a', sentence2: 'b', labels: { label: 3.4, 'real-label': 3.43, 'binary-label': 1 } },
    ]);
    assert.deepEqual(record?.kind === 'row' ? record.row : record, {
      id: 's0',
      text: 'a',
      pair: { text: 'b' },
      meta: { score: 3.4, binary: 1 },
    });
  });

  test('rejects a score outside 0–5', async () => {
    const [record] = await read(readKlueSts, [{ guid: 's0', sentence1: 'a', sentence2: 'b', labels: { label: 7 } }]);
    assert.equal(record?.kind, 'invalid');
  });
});
