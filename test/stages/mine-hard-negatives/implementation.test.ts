/**
 * The mine-hard-negatives stage run as runStage runs it, on real parts: a classifier the real
 * Python trainer made from the demo data, onnxruntime scoring the pool, a temp-folder store; and
 * the real trainer taking the mined rows back as weighted examples.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { mineHardNegatives } from '../../../stages/mine-hard-negatives/implementation';
import { DatasetRowInvalid, StageInputInvalid } from '../../../common/errors';
import { LabelsMismatch } from '../../../stages/mine-hard-negatives/errors';
import { PROJECT_ROOT } from '../../../common/paths';
import { loadClassifier } from '../../../activities/stages/classifier';
import type { CanonicalRow } from '../../../pipeline/dataset';
import { mineWithSchema } from '../../../stages/mine-hard-negatives/contract';
import type { Json } from '../../../pipeline/run-spec';
import { hardNegativeRowSchema, miningSummarySchema, type HardNegativeRow } from '../../../report/schema';
import { artifactRefSchema, type ArtifactRef } from '../../../store/types';
import {
  demoRows,
  directContext,
  trainedClassifier,
  type DirectContext,
  type TrainedClassifier,
} from '../../classifier';
import { tempDir } from '../../helpers';

/**
 * Enough training for the tiny model to be sure of itself on the demo's templates (a collapsed model predicts the
 * priors).
 */
const CONFIDENT = { epochs: 20, lr: 3e-3, batchSize: 8 };
const LABELS = ['TA', 'UD', 'UI'];
/** Rows labelled UI in the demo that the pool relabels TA: label noise a confident model disagrees with. */
const FLIPPED = 4;

/**
 * The demo's training rows as a pool: an entity and a meta key on every row (they must survive), a few UI rows
 * relabelled TA.
 */
function poolRows(): CanonicalRow[] {
  let flipped = 0;
  return demoRows('train').map((row) => {
    const flip = flipped < FLIPPED && Array.isArray(row.labels) && row.labels[2] === 1;
    if (flip) flipped++;
    return {
      ...row,
      labels: flip ? [1, 0, 0] : row.labels,
      entities: [{ start: 0, end: 1, type: 'gender' }],
      meta: { source: 'demo', flipped: flip },
    };
  });
}

/** A multilabel row's 0/1 vector. */
function vector(labels: CanonicalRow['labels']): number[] {
  assert.ok(Array.isArray(labels), `expected a 0/1 vector, got ${JSON.stringify(labels)}`);
  return labels;
}

async function readRows(direct: DirectContext, ref: Json | undefined): Promise<HardNegativeRow[]> {
  const text = (await direct.store.read(artifactRefSchema.parse(ref))).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => hardNegativeRowSchema.parse(JSON.parse(l)));
}

describe('the mine-hard-negatives stage', () => {
  let trained: TrainedClassifier;
  let direct: DirectContext;
  let model: ArtifactRef;
  let pool: ArtifactRef;
  let outputs: Record<string, Json>;
  let mined: HardNegativeRow[];

  before(async () => {
    trained = await trainedClassifier({ train: demoRows('train'), validation: demoRows('test'), options: CONFIDENT });
    direct = await directContext('mine');
    model = await direct.classifier(trained);
    pool = await direct.dataset(poolRows());
    outputs = await mineHardNegatives(
      { dataset: pool, model, modelBased: { perLabel: 5 }, bm25: { neighbours: 2 } },
      direct.context,
    );
    mined = await readRows(direct, outputs.dataset);
  });

  test('writes canonical rows with provenance, one per example, and a summary that counts them', async () => {
    assert.equal(outputs.mined, mined.length);
    assert.ok(mined.length > 0);
    assert.equal(new Set(mined.map((r) => r.id)).size, mined.length);
    const summary = miningSummarySchema.parse(
      JSON.parse((await direct.store.read(artifactRefSchema.parse(outputs.summary))).toString('utf8')),
    );
    assert.equal(summary.pool, 80);
    assert.equal(summary.mined, mined.length);
    for (const reason of ['confident-wrong', 'low-margin', 'bm25']) {
      assert.equal(
        summary.by_reason[reason],
        mined.filter((r) => r.meta.hard_negative.some((p) => p.reason === reason)).length,
        reason,
      );
      assert.ok(summary.by_reason[reason]! > 0, `${reason}: ${JSON.stringify(summary.by_reason)}`);
    }
    assert.ok(summary.examples.length > 0 && summary.examples.length <= 8);
  });

  test('keeps every field of the pool row: entities, pair and existing meta keys', () => {
    const byId = new Map(poolRows().map((r) => [r.id, r]));
    for (const row of mined) {
      const { hard_negative: _provenance, ...meta } = row.meta;
      const original = byId.get(row.id)!;
      assert.deepEqual({ ...row, meta }, original);
    }
  });

  test('the confidently wrong rows are wrong under the model: it decides the label, the row is negative for it', async () => {
    const classifier = await loadClassifier(model, direct.context, {}, 'model');
    try {
      const confident = mined.flatMap((row) =>
        row.meta.hard_negative.filter((p) => p.reason === 'confident-wrong').map((p) => ({ row, p })),
      );
      assert.ok(confident.length > 0);
      const predictions = await classifier.predict(confident.map(({ row }) => row.text));
      for (const [i, { row, p }] of confident.entries()) {
        const y = LABELS.indexOf(p.label);
        const probabilities = predictions[i]!.probabilities;
        assert.equal(classifier.decide(probabilities)[y], 1, `${row.id} ${p.label}`);
        assert.equal(Array.isArray(row.labels) && row.labels[y], 0, `${row.id} ${p.label}`);
        assert.ok(probabilities[y]! >= 0.8 && Math.abs(probabilities[y]! - p.score) < 1e-12);
      }
      // The relabelled rows are exactly what a confident model disagrees with.
      const flipped = mined.filter(
        (r) =>
          r.meta.flipped === true &&
          r.meta.hard_negative.some((p) => p.reason === 'confident-wrong' && p.label === 'UI'),
      );
      assert.equal(flipped.length, FLIPPED);
    } finally {
      await classifier.release();
    }
  });

  test('the low-margin rows are the negatives closest to the threshold', async () => {
    const classifier = await loadClassifier(model, direct.context, {}, 'model');
    try {
      const all = poolRows();
      const probabilities = (await classifier.predict(all.map((r) => r.text))).map((p) => p.probabilities);
      for (const [y, label] of LABELS.entries()) {
        const margins = all
          .flatMap((r, i) =>
            Array.isArray(r.labels) && r.labels[y] === 0
              ? [Math.abs(probabilities[i]![y]! - classifier.threshold)]
              : [],
          )
          .sort((a, b) => a - b);
        const chosen = mined.flatMap((r) =>
          r.meta.hard_negative
            .filter((p) => p.reason === 'low-margin' && p.label === label)
            .map((p) => Math.abs(p.score - classifier.threshold)),
        );
        assert.equal(chosen.length, 5, label);
        assert.ok(Math.max(...chosen) <= margins[4]! + 1e-12, label);
      }
    } finally {
      await classifier.release();
    }
  });

  test('bm25 neighbours carry another label than the example they were mined for', () => {
    const byId = new Map(poolRows().map((r) => [r.id, r]));
    const lexical = mined.flatMap((row) =>
      row.meta.hard_negative.filter((p) => p.reason === 'bm25').map((p) => ({ row, p })),
    );
    assert.ok(lexical.length > 0);
    for (const { row, p } of lexical) {
      const y = LABELS.indexOf(p.label);
      assert.equal(p.neighbour_id, row.id);
      assert.notEqual(p.source_id, row.id);
      assert.deepEqual([vector(byId.get(p.source_id)!.labels)[y], vector(row.labels)[y]], [1, 0]);
    }
  });

  test('reports each phase as a heartbeat with done and total', () => {
    const phases = direct.heartbeats.map((h) => h.phase);
    for (const phase of ['reading', 'scoring', 'bm25', 'writing'])
      assert.ok(phases.includes(phase), `${phase} in ${phases.join(', ')}`);
    assert.ok(direct.heartbeats.every((h) => typeof h.done === 'number' && typeof h.total === 'number'));
  });

  test('the trainer takes the mined rows as extra weighted examples', async () => {
    const dir = await tempDir('fairline-mine-train-');
    const jsonl = (rows: readonly object[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    await writeFile(join(dir, 'train.jsonl'), jsonl(demoRows('train')));
    await writeFile(join(dir, 'validation.jsonl'), jsonl(demoRows('test')));
    await direct.store.download(artifactRefSchema.parse(outputs.dataset), join(dir, 'hard_negatives.jsonl'));
    const config = {
      trainFile: join(dir, 'train.jsonl'),
      validationFile: join(dir, 'validation.jsonl'),
      outputDir: join(dir, 'out'),
      hardNegatives: { path: join(dir, 'hard_negatives.jsonl'), weight: 2 },
      labelNames: LABELS,
      maxSteps: 1,
      batchSize: 16,
      maxLength: 32,
      logEvery: 0,
      checkpointEvery: 0,
      scratch: { hidden: 32, layers: 1, heads: 2, intermediate: 64, vocabSize: 400 },
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    const result = spawnSync(
      direct.config.trainer.python,
      ['-m', 'trainer', 'train', '--config', join(dir, 'config.json')],
      { cwd: PROJECT_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    assert.equal(result.status, 0, result.stderr.split('\n').slice(-15).join('\n'));
    const events: { event?: string; rows?: number }[] = result.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const start = events.find((e) => e.event === 'start');
    assert.equal(start?.rows, 80 + mined.length, JSON.stringify(start));
    assert.match(result.stderr, new RegExp(`${80 + mined.length} train rows \\(${mined.length} hard negatives\\)`));
  });
});

describe('mining without a model', () => {
  test('runs bm25 alone and names labels by labelNames', async () => {
    const direct = await directContext('mine-bm25');
    const outputs = await mineHardNegatives(
      {
        dataset: await direct.dataset(demoRows('train')),
        labelNames: LABELS,
        labels: ['UD'],
        bm25: { neighbours: 1 },
        capPerExample: 1,
      },
      direct.context,
    );
    const rows = await readRows(direct, outputs.dataset);
    assert.ok(rows.length > 0);
    const provenance = rows.flatMap((r) => r.meta.hard_negative);
    assert.ok(provenance.every((p) => p.reason === 'bm25' && p.label === 'UD'));
    // At most one neighbour per UD positive. Not every positive finds one: 형 주제에 뭘 안다고
    // shares no term with any row that is not UD (형 alone is shorter than a bigram).
    const sources = provenance.map((p) => p.source_id);
    const positives = new Set(
      demoRows('train')
        .filter((r) => Array.isArray(r.labels) && r.labels[1] === 1)
        .map((r) => r.id),
    );
    assert.equal(new Set(sources).size, sources.length);
    assert.ok(sources.every((s) => positives.has(s)));
    assert.ok(
      sources.length >= positives.size - 4 && !sources.includes('train-25'),
      `${sources.length} of ${positives.size}`,
    );
  });

  test('an empty result is an empty file and a warning', async () => {
    const direct = await directContext('mine-empty');
    const warnings: string[] = [];
    const context = { ...direct.context, log: { info() {}, warn: (message: string) => void warnings.push(message) } };
    const rows = [
      { id: 'a', text: '모두 같은 라벨', labels: [1] },
      { id: 'b', text: '모두 같은 라벨이다', labels: [1] },
    ];
    const outputs = await mineHardNegatives({ dataset: await direct.dataset(rows) }, context);
    assert.equal(outputs.mined, 0);
    assert.equal(artifactRefSchema.parse(outputs.dataset).bytes, 0);
    assert.match(warnings.join('\n'), /no hard negatives/);
  });
});

describe('bad input', () => {
  let trained: TrainedClassifier;
  before(async () => {
    trained = await trainedClassifier({ train: demoRows('train'), validation: demoRows('test'), options: CONFIDENT });
  });

  test('a pool row that is not canonical is named by its line', async () => {
    const direct = await directContext('mine-bad-row');
    const dataset = await direct.dataset([
      ...demoRows('train').slice(0, 3),
      { id: 'bad', text: '', labels: [0, 1, 0] },
    ]);
    await assert.rejects(mineHardNegatives({ dataset }, direct.context), (error: unknown) => {
      assert.ok(error instanceof DatasetRowInvalid);
      assert.equal(error.retryable, false);
      assert.equal(error.row.line, 4);
      assert.match(error.message, /row "bad" \(line 4 of rows\.jsonl\): not a canonical row: text/);
      return true;
    });
  });

  test('rows of another label width than the pool’s first row are named by their line', async () => {
    const direct = await directContext('mine-ragged');
    const dataset = await direct.dataset([
      { id: 'a', text: '가나다', labels: [0, 1] },
      { id: 'b', text: '라마바', labels: [1, 0, 0] },
    ]);
    await assert.rejects(
      mineHardNegatives({ dataset }, direct.context),
      /row "b" \(line 2 of rows\.jsonl\): labels is a 0\/1 vector of 3, but the first row's \(line 1\) is a 0\/1 vector of 2/,
    );
  });

  test('a model whose labels differ from the pool’s label width is a clear non-retryable error', async () => {
    const direct = await directContext('mine-mismatch');
    const model = await direct.classifier(trained);
    const wide = await direct.dataset(demoRows('train').map((r) => ({ ...r, labels: [...vector(r.labels), 0] })));
    await assert.rejects(mineHardNegatives({ dataset: wide, model }, direct.context), (error: unknown) => {
      assert.ok(error instanceof LabelsMismatch);
      assert.equal(error.retryable, false);
      assert.match(
        error.message,
        /stage "mine-mismatch": model: the model has 3 labels \(TA, UD, UI\) but the dataset's rows are 0\/1 vectors of 4 labels/,
      );
      return true;
    });
    const multiclass = await direct.dataset(
      demoRows('train').map((r) => ({ ...r, labels: vector(r.labels).indexOf(1) })),
    );
    await assert.rejects(
      mineHardNegatives({ dataset: multiclass, model }, direct.context),
      (error: unknown) =>
        error instanceof LabelsMismatch &&
        /the model is multilabel but the dataset's rows are multiclass/.test(error.message),
    );
  });

  test('a label to mine that is not a label is refused, naming the labels', async () => {
    const direct = await directContext('mine-unknown-label');
    const dataset = await direct.dataset(demoRows('train'));
    await assert.rejects(
      mineHardNegatives({ dataset, labelNames: LABELS, labels: ['XX'] }, direct.context),
      (error: unknown) =>
        error instanceof StageInputInvalid && /"XX" is not a label \(the labels are TA, UD, UI\)/.test(error.message),
    );
  });

  test('a config that mines nothing, or a recipe without what it needs, is refused', () => {
    const ref = { uri: 'file:///x', sha256: '0'.repeat(64), bytes: 0, kind: 'dataset' };
    const problems = (input: object): string[] => {
      const parsed = mineWithSchema.safeParse(input);
      return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.deepEqual(problems({ dataset: ref, bm25: false }), [
      'bm25: this mines nothing: with bm25 off, give a `model` for model-based mining',
    ]);
    assert.deepEqual(problems({ dataset: ref, modelBased: { perLabel: 3 } }), [
      'modelBased: model-based mining needs a `model` to score the pool',
    ]);
    assert.deepEqual(problems({ dataset: ref, model: ref, modelBased: false, bm25: false }), [
      'modelBased: a `model` is given but modelBased is false: drop the model, or turn model-based mining on',
    ]);
    assert.deepEqual(problems({ dataset: ref, bm25: { ngrams: [3, 2] } }), [
      'bm25.ngrams: ngrams is [min, max] with min <= max',
    ]);
    assert.deepEqual(problems({ dataset: ref }), []);
  });

  test('a cancelled stage stops with the cancellation', async () => {
    const direct = await directContext('mine-cancel');
    const dataset = await direct.dataset(demoRows('train'));
    direct.abort.abort(new Error('cancelled by the test'));
    await assert.rejects(mineHardNegatives({ dataset }, direct.context), /cancelled by the test/);
  });
});
