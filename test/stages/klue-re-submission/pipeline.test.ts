/**
 * pipelines/klue-re/pipeline.yaml end to end on the suite's real dev server: the fixture through
 * the klue-re adapter, multilingual-e5-small trained as a 30-way multiclass model by the real
 * trainer, evaluate on onnxruntime with exclude: no_relation, the submission CSV, the published
 * FairlineKlueReMicroF1Bp and the report's KLUE-RE section. Then the pipeline's schedule, applied
 * and deleted with the CLI. Kept short with --set (2 epochs of 3 steps).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../../common/paths';
import { SA } from '../../../common/constants';
import { KLUE_RE_RELATIONS } from '../../../eval/klue-re';
import { evaluationSchema } from '../../../report/schema';
import { artifactRefSchema, type ArtifactRef } from '../../../store/types';
import { loadConfig } from '../../../temporal.config';
import { startEngine, type Engine } from '../../engine';
import { cleanEnv, fairline, suiteTemporal, tempDir } from '../../helpers';

const FOLDER = join(PROJECT_ROOT, 'pipelines', 'klue-re');
const PIPELINE = join(FOLDER, 'pipeline.yaml');

/** KLUE's two functions on scikit-learn (test/eval/klue_re_reference.py), for one case. */
function klueScript(
  labels: readonly string[],
  yTrue: number[],
  probs: number[][],
): { klue_re_micro_f1: number; klue_re_auprc: number } {
  const result = spawnSync(
    loadConfig({}, {}).trainer.python,
    [join(PROJECT_ROOT, 'test', 'eval', 'klue_re_reference.py')],
    { input: JSON.stringify([{ labels, y_true: yTrue, probs }]), encoding: 'utf8' },
  );
  assert.equal(result.status, 0, result.stderr);
  const [only] = JSON.parse(result.stdout) as { klue_re_micro_f1: number; klue_re_auprc: number }[];
  return only!;
}

/** The submission CSV's rows: id, pred_label and the probability list (ids here hold no comma or quote). */
function parseSubmission(csv: string): { id: string; pred: string; probs: number[] }[] {
  const [header, ...lines] = csv.trimEnd().split('\n');
  assert.equal(header, 'id,pred_label,probs');
  return lines.map((line) => {
    const match = /^([^,"]+),([^,"]+),"(\[.*\])"$/.exec(line);
    assert.ok(match, `a submission line: ${line.slice(0, 80)}`);
    return { id: match[1]!, pred: match[2]!, probs: JSON.parse(match[3]!) as number[] };
  });
}

describe('the klue-re pipeline on the dev server', () => {
  let engine: Engine;
  before(async () => {
    engine = await startEngine();
  });
  after(async () => engine?.close());

  test('trains, evaluates with KLUE’s metrics, writes the submission, publishes FairlineKlueReMicroF1Bp and reports it', async () => {
    // The engine validates text, not a file: the fixture's ./data paths are made absolute.
    const yaml = (await readFile(PIPELINE, 'utf8')).replaceAll('./data/', `${join(FOLDER, 'data')}/`);
    const handle = await engine.start(yaml, { set: ['params.epochs=2'], noCache: true });
    const outcome = await engine.outcome(handle);
    assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message ?? outcome.error?.message);
    const outputs = (id: string): Record<string, unknown> => {
      const stage = outcome.progress.stages.find((s) => s.id === id);
      assert.ok(stage?.outputs, `stage ${id} has outputs`);
      return stage.outputs;
    };
    const read = async (ref: unknown): Promise<string> =>
      (await engine.store.read(artifactRefSchema.parse(ref) as ArtifactRef)).toString('utf8');

    const evaluation = evaluationSchema.parse(JSON.parse(await read(outputs('evaluate').evaluation)));
    const { metrics, predictions } = evaluation.models[0]!;
    assert.deepEqual(metrics.labels, [...KLUE_RE_RELATIONS]);
    assert.equal(metrics.n, 24);
    assert.ok(metrics.klue_re_micro_f1 !== undefined && metrics.klue_re_auprc !== undefined);

    // The submission: one line per dev record in order, the probabilities evaluate scored, the argmax's name.
    const dev = JSON.parse(await readFile(join(FOLDER, 'data', 'dev.json'), 'utf8')) as {
      guid: string;
      label: string;
    }[];
    const submission = parseSubmission(await read(outputs('submission').submission));
    const scored = (await read(predictions))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; y_score: number[] });
    assert.deepEqual(
      submission.map((s) => s.id),
      dev.map((d) => d.guid),
    );
    submission.forEach((s, i) => {
      assert.deepEqual(s.probs, scored[i]!.y_score, `${s.id}: the probabilities evaluate scored`);
      assert.equal(s.probs.length, 30);
      assert.equal(s.pred, KLUE_RE_RELATIONS[s.probs.indexOf(Math.max(...s.probs))]);
    });

    // KLUE's own script, given the submission's probabilities and the gold relations, gives the published numbers.
    const gold = dev.map((d) => (KLUE_RE_RELATIONS as readonly string[]).indexOf(d.label));
    const official = klueScript(
      KLUE_RE_RELATIONS,
      gold,
      submission.map((s) => s.probs),
    );
    assert.ok(Math.abs(official.klue_re_micro_f1 - metrics.klue_re_micro_f1) <= 1e-9);
    assert.ok(Math.abs(official.klue_re_auprc - metrics.klue_re_auprc) <= 1e-9);
    assert.equal(outputs('submission').microF1, metrics.klue_re_micro_f1);
    assert.equal(outputs('submission').auprc, metrics.klue_re_auprc);
    const attributes = (await handle.describe()).typedSearchAttributes;
    assert.equal(attributes.get(SA.klueReMicroF1Bp), Math.round(metrics.klue_re_micro_f1 * 100));

    const html = await read(outputs('report').html);
    assert.match(html, /<section id="klue-re"><h2>Relation extraction \(KLUE-RE\)<\/h2>/);
    assert.ok(html.includes(`data-key="klue-re/encoder/klue_re_auprc" data-value="${metrics.klue_re_auprc}"`));
    // The numbers, whatever a two-epoch model makes of 48 sentences, for the record of this test's output.
    console.log(
      `# klue-re fixture, 2 epochs: klue_re_micro_f1 ${metrics.klue_re_micro_f1.toFixed(2)}, klue_re_auprc ${metrics.klue_re_auprc.toFixed(2)}, ` +
        `${submission.filter((s) => s.pred === 'no_relation').length}/24 predicted no_relation`,
    );
  });

  test('its schedule applies with fairline schedule apply, and deletes', async () => {
    const { address } = suiteTemporal();
    const dir = await tempDir();
    const env = cleanEnv({
      FAIRLINE_TEMPORAL_ADDRESS: address,
      FAIRLINE_STORE: pathToFileURL(join(dir, 'store')).href,
    });
    try {
      const applied = await fairline(['schedule', 'apply', PIPELINE], env);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /klue-re/);
      const listed = await fairline(['schedule', 'list'], env);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /klue-re/);
    } finally {
      const deleted = await fairline(['schedule', 'delete', 'klue-re'], env);
      assert.equal(deleted.code, 0, deleted.stderr);
    }
  });
});
