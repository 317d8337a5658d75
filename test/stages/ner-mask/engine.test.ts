/**
 * The ner-mask stage run the way production runs it: YAML validated by the client, pipelineRun on
 * the suite's dev server, real workers, the real datasets (KLUE-NER dev, KoSBi's identity groups)
 * read in place.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Json } from '../../../pipeline/run-spec';
import { startEngine, scheduledStages, type Engine, type Outcome } from '../../engine';
import { alive, tempDir } from '../../helpers';
import {
  assertMaskedConsistent,
  KOSBI_GROUPS,
  kosbiGenderPairs,
  parseKlueNer,
  readOutputs,
  type KlueSentence,
} from './support';

/** A pipeline: download a JSONL file, then mask it with `withBlock` (YAML flow mapping entries). */
function maskPipeline(name: string, file: string, withBlock: string, extra = ''): string {
  return `
name: ${name}
stages:
  - { id: data, uses: download, with: { url: "${pathToFileURL(file).href}" } }
  - id: mask
    uses: ner-mask
    needs: [data]
    ${extra}
    with: { dataset: "\${{ stages.data.outputs.dataset }}", ${withBlock} }
`;
}

async function writeJsonl(rows: readonly object[], name: string): Promise<string> {
  const file = join(await tempDir('fairline-ner-mask-rows-'), name);
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

function maskOutputs(outcome: Outcome): Record<string, Json> {
  assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
  const outputs = outcome.progress.stages.find((s) => s.id === 'mask')?.outputs;
  assert.ok(outputs);
  return outputs;
}

/** Korean particles, as [after a final consonant, after a vowel]; 으로 is 로 after ㄹ as well. */
const PARTICLES: [string, string][] = [
  ['', ''],
  ['은', '는'],
  ['이', '가'],
  ['을', '를'],
  ['의', '의'],
  ['에', '에'],
  ['에게', '에게'],
  ['에서', '에서'],
  ['과', '와'],
  ['도', '도'],
  ['만', '만'],
  ['들', '들'],
  ['들은', '들은'],
  ['들이', '들이'],
  ['들의', '들의'],
  ['한테', '한테'],
  ['께', '께'],
  ['으로', '로'],
  ['이랑', '랑'],
  ['에게는', '에게는'],
  ['들에게', '들에게'],
  ['까지', '까지'],
  ['처럼', '처럼'],
  ['보다', '보다'],
];

function attach(term: string, [afterConsonant, afterVowel]: [string, string]): string {
  const code = term.codePointAt(term.length - 1)! - 0xac00;
  const final = code >= 0 && code < 11172 ? code % 28 : 0;
  if (final === 0) return term + afterVowel;
  if (afterConsonant === '으로' && final === 8) return `${term}로`;
  return term + afterConsonant;
}

describe('the ner-mask stage in a pipeline', () => {
  let engine: Engine;
  let klue: KlueSentence[];
  before(async () => {
    engine = await startEngine();
    klue = await parseKlueNer();
  });
  after(async () => {
    await engine?.close();
  });

  test('masking with KLUE-NER’s gold tags reproduces every entity span of its 5,000 dev sentences', async () => {
    assert.equal(klue.length, 5000);
    const file = await writeJsonl(
      klue.map((s) => ({ id: s.id, text: s.text, labels: 0, entities: s.entities })),
      'klue-ner-dev.jsonl',
    );
    const yaml = maskPipeline('klue-mask', file, 'sources: { dataset: true }');
    const outputs = maskOutputs(await engine.run(yaml));
    const { rows, card } = await readOutputs(engine.store, outputs);
    assert.equal(rows.length, klue.length);
    let spans = 0;
    rows.forEach((row, i) => {
      const gold = klue[i]!;
      assert.equal(row.id, gold.id);
      assert.deepEqual(
        row.meta.masked.spans.map((s) => ({ start: s.start, end: s.end, type: s.type })),
        gold.entities,
        `${gold.id}: the masked spans are the gold spans`,
      );
      assert.ok(row.meta.masked.spans.every((s) => s.source === 'dataset' && s.masks === 1));
      assertMaskedConsistent(row.text, row.meta.masked);
      spans += gold.entities.length;
    });
    const rowsWithEntities = klue.filter((s) => s.entities.length > 0).length;
    assert.deepEqual(
      { rows: card.rows, rowsMasked: card.rowsMasked, spans: card.spans, shareMasked: card.shareMasked },
      { rows: 5000, rowsMasked: rowsWithEntities, spans, shareMasked: rowsWithEntities / 5000 },
    );
    const perType: Record<string, number> = {};
    for (const s of klue.flatMap((k) => k.entities)) perType[s.type] = (perType[s.type] ?? 0) + 1;
    assert.deepEqual(card.perType, Object.fromEntries(Object.entries(perType).sort()));
    console.log(
      `KLUE-NER dev: ${card.rows} rows, ${card.spans} spans, ${card.rowsMasked} rows masked (${((card.shareMasked as number) * 100).toFixed(2)}%), per type ${JSON.stringify(card.perType)}`,
    );

    // The same input again: the download reruns (no pin), its bytes did not change, the mask is cached.
    const again = await engine.run(yaml);
    assert.equal(again.status, 'succeeded');
    assert.deepEqual(scheduledStages(again.history), ['data']);
    assert.deepEqual(maskOutputs(again), outputs);
  });

  test('the lexicon finds both members of every KoSBi male/female pair, with particles attached', async () => {
    const pairs = await kosbiGenderPairs();
    const rows = pairs.flatMap(([male, female], p) =>
      PARTICLES.map((particle, k) => {
        const first = attach(male, particle);
        return {
          id: `pair${p}-particle${k}`,
          text: `${first} 그리고 ${attach(female, particle)} 학교에 갔다`,
          labels: 0,
          male,
          female,
          femaleAt: first.length + 5,
        };
      }),
    );
    const file = await writeJsonl(
      rows.map(({ id, text, labels }) => ({ id, text, labels })),
      'gender-pairs.jsonl',
    );
    const outcome = await engine.run(
      maskPipeline('kosbi-pairs', file, `sources: { lexicon: { file: "${KOSBI_GROUPS}", categories: [성별] } }`),
    );
    const { rows: masked, card } = await readOutputs(engine.store, maskOutputs(outcome));
    assert.equal(masked.length, rows.length);
    for (const [i, row] of masked.entries()) {
      const { male, female, femaleAt } = rows[i]!;
      assert.deepEqual(
        row.meta.masked.spans.map((s) => [s.start, s.end, s.type, s.source]),
        [
          [0, male.length, '성별', 'lexicon'],
          [femaleAt, femaleAt + female.length, '성별', 'lexicon'],
        ],
        `${row.text}: both terms, without their particles`,
      );
      assertMaskedConsistent(row.text, row.meta.masked);
    }
    assert.equal(card.rowsMasked, pairs.length * PARTICLES.length);
    assert.deepEqual(card.perType, { 성별: 2 * pairs.length * PARTICLES.length });
  });

  test('bad input fails the stage at once, non-retryable, naming the row', async () => {
    const file = await writeJsonl(
      [
        { id: 'fine', text: '서울에 갔다', labels: 0, entities: [{ start: 0, end: 2, type: 'LC' }] },
        {
          id: 'tangled',
          text: '서울대학교',
          labels: 0,
          entities: [
            { start: 0, end: 5, type: 'OG' },
            { start: 0, end: 2, type: 'LC' },
          ],
        },
      ],
      'tangled.jsonl',
    );
    const outcome = await engine.run(
      maskPipeline(
        'tangled',
        file,
        'sources: { dataset: true }',
        'retry: { maximumAttempts: 5, initialInterval: 100ms }',
      ),
    );
    assert.equal(outcome.status, 'failed');
    assert.match(
      outcome.error!.cause!.message,
      /stage "mask" failed: row "tangled" \(line 2 of tangled\.jsonl\): dataset spans \[0, 2\) LC and \[0, 5\) OG overlap/,
    );
    const events = outcome.history.events ?? [];
    const failed = events
      .map((e) => e.activityTaskFailedEventAttributes)
      .find((a) => a?.failure?.applicationFailureInfo?.type === 'SpansOverlap');
    assert.equal(failed?.failure?.applicationFailureInfo?.nonRetryable, true);
    const starts = events
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt);
    assert.deepEqual(starts.slice(-1), [1], 'one attempt');
  });

  test('cancelling a run while the analyzer works kills the python process: no orphan', async () => {
    const rows = Array.from({ length: 30_000 }, (_, i) => ({
      id: `r${i}`,
      text: `${i}번째 날, 김철수는 서울에서 부산으로 갔다.`,
      labels: 0,
    }));
    const file = await writeJsonl(rows, 'many.jsonl');
    const handle = await engine.start(
      maskPipeline(
        'morph-cancel',
        file,
        'sources: { morph: { batch: 64 } }',
        'timeout: { startToClose: 10m, heartbeat: 3s }',
      ),
    );
    const pid = await analyzerPid();
    // Let it analyze a little, then cancel.
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(alive(pid));
    await handle.cancel();
    const outcome = await engine.outcome(handle);
    assert.equal(outcome.status, 'cancelled');
    assert.equal(outcome.progress.stages.find((s) => s.id === 'mask')?.status, 'cancelled');
    assert.equal(alive(pid), false, `analyzer ${pid} is gone when the run ends`);
    assert.ok(
      !childArgs().some((a) => a.includes('trainer.morph')),
      'no analyzer is left among this process’s children',
    );
  });
});

function childArgs(): string[] {
  return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

/** The pid of the `python -m trainer.morph` the in-process worker started. */
async function analyzerPid(): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const line = childArgs().find((l) => l.includes('trainer.morph'));
    if (line) return Number(line.trim().split(/\s+/)[0]);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the analyzer never started');
}
