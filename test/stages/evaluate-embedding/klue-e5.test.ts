/**
 * pipelines/embedding/klue-e5.yaml end to end on the real engine (dev server, workers, trainer,
 * onnxruntime), with a tiny scratch encoder and three steps per training instead of
 * multilingual-e5-small, over the real KLUE-NLI and KLUE-STS files (data mirrors):
 * - the klue-nli adapter yields one (premise, entailment, [contradiction]) row per premise, split
 *   800/200; klue-sts 519 pairs with their gold score, both checked against a direct reading;
 * - the mined negatives respect the margin guard; the random ones come from other rows;
 * - the evaluation's Spearman is the one the TS metric gives on the stored embeddings' cosines,
 *   the candidate's is published as FairlineStsSpearmanBp, and report.html shows the section;
 * - SentenceTransformer(dir) loads the trained `huggingface` bundle and embeds as the ONNX
 *   embedder in TypeScript does.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { SA } from '../../../common/constants';
import { PROJECT_ROOT, trainerVenvPython } from '../../../common/paths';
import { canonicalRowSchema, type CanonicalRow } from '../../../pipeline/dataset';
import { Embedder } from '../../../inference/embedder';
import { embedderBundleSchema } from '../../../pipeline/embedder';
import { embeddingEvaluationSchema } from '../../../report/embedding';
import { artifactRefSchema, type ArtifactRef } from '../../../store/types';
import { startEngine, type Engine, type Outcome } from '../../engine';
import { tempDir } from '../../helpers';
import { SHARED_DATA, sharedDataMirrors } from '../../shared-data';

const PIPELINE = join(PROJECT_ROOT, 'pipelines', 'embedding', 'klue-e5.yaml');
const SET = ['params.model=scratch', 'params.maxSteps=3', 'params.maxLength=32', 'params.lr=0.001'];

function outputs(outcome: Outcome, stage: string): Record<string, unknown> {
  const state = outcome.progress.stages.find((s) => s.id === stage);
  assert.ok(state?.outputs, `stage ${stage} has outputs (status ${state?.status}, ${state?.error ?? ''})`);
  return state.outputs;
}
const ref = (outcome: Outcome, stage: string, name: string): ArtifactRef =>
  artifactRefSchema.parse(outputs(outcome, stage)[name]);

async function rowsOf(engine: Engine, r: ArtifactRef): Promise<CanonicalRow[]> {
  const text = (await engine.store.read(r)).toString('utf8').trimEnd();
  return text === '' ? [] : text.split('\n').map((l) => canonicalRowSchema.parse(JSON.parse(l)));
}

const nliItemSchema = z.object({
  guid: z.string(),
  premise: z.string(),
  hypothesis: z.string(),
  gold_label: z.string(),
});
const stsItemSchema = z.object({
  guid: z.string(),
  sentence1: z.string(),
  sentence2: z.string(),
  labels: z.object({ label: z.number() }),
});

describe('the klue-e5 embedding pipeline on the real engine (tiny scratch encoder)', () => {
  let engine: Engine;
  let outcome: Outcome;
  let handle: Awaited<ReturnType<Engine['start']>>;

  before(async () => {
    engine = await startEngine({ dataMirrors: sharedDataMirrors() });
    handle = await engine.start(await readFile(PIPELINE, 'utf8'), { set: SET });
    outcome = await engine.outcome(handle);
  });
  after(async () => {
    await engine?.close();
  });

  test('every stage succeeds', () => {
    assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
  });

  test('klue-nli gives one triple per premise (800 train, 200 held out) and klue-sts its 519 scored pairs', async () => {
    const items = z
      .array(nliItemSchema)
      .parse(JSON.parse(await readFile(join(SHARED_DATA, 'klue-nli', 'dev.json'), 'utf8')));
    const train = await rowsOf(engine, ref(outcome, 'nli', 'train'));
    const test = await rowsOf(engine, ref(outcome, 'nli', 'test'));
    assert.deepEqual([train.length, test.length], [800, 200]);
    for (const row of [...train, ...test]) {
      const mine = items.filter((i) => i.premise === row.text);
      assert.equal(row.pair?.text, mine.find((i) => i.gold_label === 'entailment')?.hypothesis, row.id);
      assert.deepEqual(
        row.meta?.negatives,
        mine.filter((i) => i.gold_label === 'contradiction').map((i) => i.hypothesis),
      );
    }
    const sts = z
      .array(stsItemSchema)
      .parse(JSON.parse(await readFile(join(SHARED_DATA, 'klue-sts', 'dev.json'), 'utf8')));
    const pairs = await rowsOf(engine, ref(outcome, 'sts', 'test'));
    assert.deepEqual(
      pairs.map((p) => [p.id, p.text, p.pair?.text, p.meta?.score]),
      sts.map((s) => [s.guid, s.sentence1, s.sentence2, s.labels.label]),
    );
  });

  test('mined negatives pass the margin guard and random ones are other rows’ positives', async () => {
    const mined = await rowsOf(engine, ref(outcome, 'mined-negatives', 'dataset'));
    const random = await rowsOf(engine, ref(outcome, 'random-negatives', 'dataset'));
    assert.equal(mined.length, 800);
    const provenance = z.array(
      z.object({ method: z.string(), source_id: z.string(), score: z.number(), positive_score: z.number() }),
    );
    let found = 0;
    for (const row of mined) {
      const p = provenance.parse(row.meta?.mined_negatives);
      assert.ok(p.length <= 1);
      for (const n of p) {
        found += 1;
        assert.ok(n.score < 0.95 * n.positive_score, `${row.id}: ${n.score} < 0.95 × ${n.positive_score}`);
        assert.notEqual(n.source_id, row.id);
      }
      assert.equal(z.array(z.string()).parse(row.meta?.negatives).length, p.length, 'negatives replaced by the finds');
    }
    assert.ok(found > 0, 'the untrained model mined something');
    const positives = new Set(random.map((r) => r.pair?.text));
    for (const row of random) {
      const [negative] = z.array(z.string()).parse(row.meta?.negatives);
      assert.ok(negative !== undefined && positives.has(negative) && negative !== row.pair?.text, row.id);
    }
  });

  test('the evaluation scores three models and publishes the candidate’s Spearman ×10,000', async () => {
    const evaluation = embeddingEvaluationSchema.parse(
      JSON.parse((await engine.store.read(ref(outcome, 'evaluate', 'evaluation'))).toString('utf8')),
    );
    assert.deepEqual(
      evaluation.models.map((m) => m.name),
      ['untrained', 'random', 'mined'],
    );
    for (const m of evaluation.models) {
      assert.equal(m.sts.pairs, 519);
      assert.ok(m.sts.spearman !== null && Math.abs(m.sts.spearman) <= 1);
      assert.ok(m.sts.ci_low! <= m.sts.spearman! && m.sts.spearman! <= m.sts.ci_high!);
      assert.deepEqual([m.retrieval?.queries, m.retrieval?.documents], [200, 200]);
      assert.equal(m.text_prefix, 'query: ');
    }
    const mined = evaluation.models[2]!;
    assert.equal(outputs(outcome, 'evaluate').stsSpearmanBp, Math.round(mined.sts.spearman! * 10_000));
    const attributes = (await handle.describe()).typedSearchAttributes;
    assert.equal(attributes.get(SA.stsSpearmanBp), Math.round(mined.sts.spearman! * 10_000));
    const html = (await engine.store.read(ref(outcome, 'report', 'html'))).toString('utf8');
    assert.match(html, /<section id="embeddings">/);
    assert.match(html, new RegExp(`data-key="embedding/mined/sts_spearman" data-value="${mined.sts.spearman}"`));
  });

  test('SentenceTransformer loads the trained model folder and embeds as the ONNX embedder does', async (t) => {
    const python = trainerVenvPython();
    const dir = await tempDir('fairline-st-');
    const bundle = z
      .object({ files: z.record(z.string(), artifactRefSchema) })
      .parse(JSON.parse((await engine.store.read(ref(outcome, 'mined', 'huggingface'))).toString('utf8')));
    for (const [name, file] of Object.entries(bundle.files))
      await engine.store.download(file, join(dir, ...name.split('/')));
    const texts = ['남자가 공원에서 축구를 한다', '오늘은 비가 많이 온다', '호스트분들이 너무 친절하셨습니다.'];
    const script = `import json, sys
from sentence_transformers import SentenceTransformer
print(json.dumps(SentenceTransformer(sys.argv[1], device="cpu").encode(json.loads(sys.argv[2])).tolist()))`;
    const { stdout } = await promisify(execFile)(python, ['-c', script, dir, JSON.stringify(texts)], {
      maxBuffer: 1 << 24,
    });
    const byST = z.array(z.array(z.number())).parse(JSON.parse(stdout));

    const embedderRef = ref(outcome, 'mined', 'classifier');
    const b = embedderBundleSchema.parse(JSON.parse((await engine.store.read(embedderRef)).toString('utf8')));
    const local = async (r: ArtifactRef, name: string): Promise<string> => {
      const path = join(dir, `onnx-${name}`);
      await engine.store.download(r, path);
      return path;
    };
    const embedder = await Embedder.fromFiles(
      {
        modelPath: await local(b.model, 'model.onnx'),
        tokenizerPath: await local(b.tokenizer, 'tokenizer.json'),
        maxLength: b.maxLength,
        textPrefix: b.textPrefix,
        modelDigest: b.model.sha256,
      },
      {},
      'test',
    );
    t.after(() => embedder.release());
    const byOnnx = await embedder.embed(texts);
    byOnnx.forEach((v, i) =>
      v.forEach((x, k) => assert.ok(Math.abs(x - byST[i]![k]!) < 1e-4, `text ${i} dim ${k}: ${x} vs ${byST[i]![k]}`)),
    );
  });
});
