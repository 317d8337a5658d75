/**
 * The `klue-nli` and `klue-sts` adapters: KLUE's NLI and STS JSON files (a JSON array per split,
 * klue-nli-v1.1_{train,dev}.json, klue-sts-v1.1_{train,dev}.json) into the pair rows of
 * sentence-embedding training and evaluation (trainer/embedding.py, stages/evaluate-embedding).
 *
 * - `klue-nli`: one row per premise, grouped over the whole file in order of first appearance:
 *   `text` the premise (the anchor), `pair.text` its entailment hypothesis (the positive),
 *   `meta.negatives` its contradiction hypotheses (the hard negatives; neutral ones are not used:
 *   they may well be true). Id: the entailment item's guid. A premise without an entailment
 *   hypothesis has no positive: it is a rejected record (`malformed-record`), as is an item
 *   without string premise/hypothesis or a gold_label outside entailment/neutral/contradiction.
 * - `klue-sts`: one row per item: `text` sentence1, `pair.text` sentence2, `meta.score` the gold
 *   similarity `labels.label` (0–5), `meta.binary` `labels.binary-label`. Id: the guid.
 *
 * Neither carries classification labels: `labels` is the empty 0/1 vector.
 */
import { z } from 'zod';
import { readJsonArray } from './json';
import { show, type SourceRecord, type Where } from './records';

const NLI_LABELS = ['entailment', 'neutral', 'contradiction'];

/** KLUE-STS's `labels`: the mean of the annotators' scores (0–5), and its binarisation. */
const stsLabelsSchema = z.object({ label: z.number().min(0).max(5), 'binary-label': z.number().int().optional() });

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** klue-nli: premise → (entailment, contradictions), one row per premise. */
export async function* readKlueNli(input: AsyncIterable<Buffer>, source: string): AsyncGenerator<SourceRecord[]> {
  const groups = new Map<string, { where: Where; positive?: { id: string; text: string }; negatives: string[] }>();
  const invalid: SourceRecord[] = [];
  for await (const batch of readJsonArray(input, source)) {
    for (const record of batch) {
      if (record.kind !== 'view') {
        invalid.push(record);
        continue;
      }
      const { view, where } = record;
      const [guid, premise, hypothesis, label] = ['guid', 'premise', 'hypothesis', 'gold_label'].map((k) =>
        view.get(k),
      );
      if (!str(premise) || !str(hypothesis) || !str(guid) || typeof label !== 'string' || !NLI_LABELS.includes(label)) {
        invalid.push({
          kind: 'invalid',
          where,
          reason: 'malformed-record',
          detail: `a KLUE-NLI item has string guid, premise, hypothesis and gold_label in ${NLI_LABELS.join('/')}; got guid ${show(guid)}, gold_label ${show(label)}`,
        });
        continue;
      }
      const group = groups.get(premise) ?? { where, negatives: [] };
      groups.set(premise, group);
      if (label === 'entailment') group.positive ??= { id: guid, text: hypothesis };
      if (label === 'contradiction') group.negatives.push(hypothesis);
    }
  }
  const rows: SourceRecord[] = [...invalid];
  for (const [premise, group] of groups) {
    if (!group.positive) {
      rows.push({
        kind: 'invalid',
        where: group.where,
        reason: 'malformed-record',
        detail: `premise ${show(premise)} has no entailment hypothesis: no positive for it`,
      });
      continue;
    }
    rows.push({
      kind: 'row',
      where: group.where,
      row: {
        id: group.positive.id,
        text: premise,
        pair: { text: group.positive.text },
        meta: { negatives: group.negatives },
      },
    });
  }
  if (rows.length > 0) yield rows;
}

/** klue-sts: one (sentence1, sentence2, score) row per item. */
export async function* readKlueSts(input: AsyncIterable<Buffer>, source: string): AsyncGenerator<SourceRecord[]> {
  for await (const batch of readJsonArray(input, source)) {
    yield batch.map((record): SourceRecord => {
      if (record.kind !== 'view') return record;
      const { view, where } = record;
      const [guid, s1, s2, labels] = ['guid', 'sentence1', 'sentence2', 'labels'].map((k) => view.get(k));
      const gold = stsLabelsSchema.safeParse(labels);
      if (!str(guid) || !str(s1) || !str(s2) || !gold.success)
        return {
          kind: 'invalid',
          where,
          reason: 'malformed-record',
          detail: `a KLUE-STS item has string guid, sentence1, sentence2 and labels.label in [0, 5]; got guid ${show(guid)}, labels ${show(labels)}`,
        };
      return {
        kind: 'row',
        where,
        row: {
          id: guid,
          text: s1,
          pair: { text: s2 },
          meta: {
            score: gold.data.label,
            ...(gold.data['binary-label'] !== undefined ? { binary: gold.data['binary-label'] } : {}),
          },
        },
      };
    });
  }
}
