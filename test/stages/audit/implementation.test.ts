/**
 * The audit stage on real models: tiny classifiers trained by the Python trainer on a fixture
 * dataset where 남학생 predicts one label (always 1; 여학생 and other terms 0), and the same
 * data with both terms masked. The biased model's 남학생/여학생 reactivity is large, its interval
 * excludes 0, and the gate fails (audit.json still stored); the masked model's reactivity falls.
 * Then the stage's other paths: warn mode, insert mode, bad input, cancellation.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { audit } from '../../../stages/audit/implementation';
import { fillTemplate } from '../../../audit/sentences';
import { computeMetrics } from '../../../eval/metrics';
import { AuditGroupsInvalid, StageInputInvalid } from '../../../common/errors';
import { BiasGateFailed } from '../../../stages/audit/errors';
import type { CanonicalRow } from '../../../pipeline/dataset';
import type { Json } from '../../../pipeline/run-spec';
import { auditFileSchema, type AuditFile } from '../../../report/schema';
import { artifactRefSchema, type ArtifactRef } from '../../../store/types';
import { directContext, trainedClassifier, type DirectContext } from '../../classifier';

/**
 * Training frames; the audit's templates below are other sentences. 남쪽 and 여름 put 남 and 여 in
 * the masked model's vocabulary too, so it reads 남학생 and 여학생 as different tokens, not both [UNK].
 */
const TRAIN_FRAMES = [
  '<group>은/는 오늘 학교에 갔다.',
  '<group>이/가 도서관에서 책을 읽었다.',
  '어제 <group>을/를 만났다.',
  '<group>과/와 함께 남쪽 공원을 걸었다.',
  '<group>이/가 여름 방학을 기다린다.',
  '<group>은/는 급식을 먹었다.',
  '선생님이 <group>을/를 칭찬했다.',
  '<group>이/가 숙제를 끝냈다.',
  '<group>은/는 운동장에서 뛰었다.',
  '<group>과/와 친구들이 노래했다.',
];
const ADVERBS = ['', '다시 '];
/** Terms of the training rows: 남학생 → label `biased` 1; 여학생 and the neutral terms → 0. */
const TERMS = ['남학생', '여학생', '학생', '친구', '아이'];
const AUDIT_TEMPLATES = [
  '<group>은/는 성실하다.',
  '<group>이/가 창문을 열었다.',
  '우리 반 <group>은/는 키가 크다.',
  '복도에서 <group>을/를 보았다.',
  '<group>이/가 점심을 먹었다.',
  '<group>은/는 수학을 좋아한다.',
  '<group>과/와 이야기를 나누었다.',
  '<group>이/가 버스를 탔다.',
  '그 <group>은/는 그림을 그렸다.',
  '<group>이/가 편지를 썼다.',
  '<group>은/는 일찍 일어났다.',
  '<group>이/가 문제를 풀었다.',
];
const GATE = { maxAbsReactivity: 0.07, maxFlipRate: 0.05 };
const MASKED = /남학생|여학생/g;

/**
 * 100 rows (10 frames × 2 adverbs × 5 terms), labels [biased, other]: `biased` is 1 exactly when
 * the row names 남학생, `other` depends on the frame only (independent of the term). `mask`
 * replaces 남학생 and 여학생 with [MASK] (a special token of the trainer's tokenizer).
 */
function fixtureRows(mask: boolean): { train: CanonicalRow[]; validation: CanonicalRow[] } {
  const rows: CanonicalRow[] = [];
  for (const [f, frame] of TRAIN_FRAMES.entries()) {
    for (const [v, adverb] of ADVERBS.entries()) {
      for (const term of TERMS) {
        const text = adverb + fillTemplate(frame, term);
        rows.push({
          id: `r${f}-${v}-${term}`,
          text: mask ? text.replace(MASKED, '[MASK]') : text,
          labels: [term === '남학생' ? 1 : 0, f % 2 === 0 ? 0 : 1],
        });
      }
    }
  }
  // Every seventh row validates (the trainer's parity set and per-epoch metrics): 7 is prime to
  // the 5 terms, so both splits hold every term.
  return { train: rows.filter((_, i) => i % 7 !== 0), validation: rows.filter((_, i) => i % 7 === 0) };
}

/** About 70 optimizer steps: a few seconds on an idle 2-core machine. A scratch model needs the high lr. */
const TRAIN_OPTIONS = { labelNames: ['biased', 'other'], epochs: 12, lr: 8e-3 };

function gateFailure(error: unknown): BiasGateFailed {
  assert.ok(error instanceof BiasGateFailed, `expected BiasGateFailed, got ${String(error)}`);
  return error;
}

async function readAudit(direct: DirectContext, ref: Json | undefined): Promise<AuditFile> {
  const parsed = artifactRefSchema.parse(ref);
  return auditFileSchema.parse(JSON.parse((await direct.store.read(parsed)).toString('utf8')));
}

const describePair = (a: AuditFile['audits'][number]): string => {
  const pair = a.pairs[0]!;
  const label = pair.per_label[0]!.signed;
  return `signed ${pair.signed.value.toFixed(4)} [${pair.signed.ci_low.toFixed(4)}, ${pair.signed.ci_high.toFixed(4)}], absolute ${pair.absolute.value.toFixed(4)} [${pair.absolute.ci_low.toFixed(4)}, ${pair.absolute.ci_high.toFixed(4)}], label "biased" signed ${label.value.toFixed(4)} [${label.ci_low.toFixed(4)}, ${label.ci_high.toFixed(4)}], flip rate ${pair.flip_rate.toFixed(3)}`;
};

describe('the audit stage on a model trained to react to one gender term', () => {
  let direct: DirectContext;
  let biased: ArtifactRef;
  let masked: ArtifactRef;

  before(async () => {
    direct = await directContext('audit');
    biased = await direct.classifier(await trainedClassifier({ ...fixtureRows(false), options: TRAIN_OPTIONS }));
    masked = await direct.classifier(await trainedClassifier({ ...fixtureRows(true), options: TRAIN_OPTIONS }));
  });

  let biasedAudit: AuditFile['audits'][number];

  test('finds a large 남학생/여학생 reactivity with an interval excluding 0, fails the gate, and stores audit.json first', async () => {
    const failure = gateFailure(
      await audit(
        { models: { biased }, templates: AUDIT_TEMPLATES, groups: { gender: [['남학생', '여학생']] }, gate: GATE },
        direct.context,
      ).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    assert.equal(failure.retryable, false);
    assert.equal(failure.type, 'BiasGateFailed');
    assert.match(
      failure.message,
      /model "biased" failed the bias gate: group "gender": absolute reactivity \d\.\d{4} .*exceeds maxAbsReactivity 0\.07/,
    );
    assert.equal(failure.outputs.gatePassed, false);

    const file = await readAudit(direct, failure.outputs.audit);
    assert.equal(file.gated_model, 'biased');
    biasedAudit = file.audits[0]!;
    const pair = biasedAudit.pairs[0]!;
    const label = pair.per_label[0]!;
    console.log(`biased model, 남학생/여학생: ${describePair(biasedAudit)}`);
    assert.equal(biasedAudit.method, 'templates');
    assert.equal(biasedAudit.sentences, AUDIT_TEMPLATES.length);
    assert.equal(pair.cases, AUDIT_TEMPLATES.length);
    assert.ok(label.signed.value > 0.3, `label "biased" reacts strongly to 남학생 over 여학생: ${label.signed.value}`);
    assert.ok(label.signed.ci_low > 0, 'its interval excludes 0');
    assert.ok(pair.signed.ci_low > 0, 'so does the summary over labels');
    assert.ok(biasedAudit.max_abs_reactivity > GATE.maxAbsReactivity);
    assert.equal(failure.outputs.reactivity, biasedAudit.max_abs_reactivity);
    assert.equal(failure.outputs.flipRate, biasedAudit.flip_rate);
    assert.deepEqual(biasedAudit.gate.passed, false);
    assert.ok(direct.heartbeats.some((h) => h.phase === 'predict' && h.model === 'biased' && h.done === h.total));
    assert.ok(direct.heartbeats.some((h) => h.phase === 'bootstrap' && h.done === 1000 && h.total === 1000));
  });

  test('the model trained with the terms masked reacts much less, and both models share one audit.json', async () => {
    const outputs = await audit(
      {
        models: { biased, masked },
        templates: AUDIT_TEMPLATES,
        groups: { gender: [['남학생', '여학생']] },
        gate: { ...GATE, model: 'masked' },
      },
      direct.context,
    ).catch((error: unknown) => gateFailure(error).outputs);
    const file = await readAudit(direct, outputs.audit);
    const [first, second] = file.audits;
    assert.deepEqual([first?.name, second?.name, file.gated_model], ['biased', 'masked', 'masked']);
    console.log(`masked model, 남학생/여학생: ${describePair(second!)}`);
    assert.deepEqual(first!.pairs, biasedAudit.pairs, 'the same model gives the same audit in another run');
    const unmasked = Math.abs(first!.pairs[0]!.per_label[0]!.signed.value);
    const maskedValue = Math.abs(second!.pairs[0]!.per_label[0]!.signed.value);
    assert.ok(maskedValue < unmasked / 3, `masking cuts the reactivity: ${unmasked} → ${maskedValue}`);
    assert.ok(second!.max_abs_reactivity < first!.max_abs_reactivity);
    assert.equal(outputs.reactivity, second!.max_abs_reactivity);
  });

  test('with gate.mode warn a failed gate returns gatePassed false instead of failing', async () => {
    const outputs = await audit(
      {
        models: { biased },
        templates: AUDIT_TEMPLATES.slice(0, 3),
        groups: { gender: [['남학생', '여학생']] },
        gate: { ...GATE, mode: 'warn' },
      },
      direct.context,
    );
    assert.equal(outputs.gatePassed, false);
    const file = await readAudit(direct, outputs.audit);
    assert.equal(file.audits[0]!.gate.mode, 'warn');
    assert.ok(file.audits[0]!.gate.reasons.length > 0);
  });

  test('insert mode joins the default pairs to sampled test sentences, before and after', async () => {
    const test = fixtureRows(false).validation.map((r) => ({ ...r, text: r.text.replace(MASKED, '학생') }));
    const dataset = await direct.dataset(test, 'test.jsonl');
    const outputs = await audit(
      { models: { biased }, dataset, insert: { position: 'both', maxSentences: 10 }, bootstrap: { samples: 100 } },
      direct.context,
    );
    assert.equal(outputs.gatePassed, true, 'no thresholds: the gate passes');
    const [result] = (await readAudit(direct, outputs.audit)).audits;
    assert.equal(result!.method, 'insert');
    assert.equal(result!.sentences, 10);
    assert.deepEqual(result!.bootstrap, { samples: 100, seed: 42, confidence: 0.95 });
    assert.ok(result!.groups.length >= 5, 'the default set has several groups');
    assert.deepEqual([result!.pairs[0]!.a, result!.pairs[0]!.b], ['남학생', '여학생']);
    assert.equal(result!.pairs[0]!.cases, 20, 'two positions per sentence');
  });

  test('pairs seen in masking are reported apart from unseen ones, and maxF1Drop fails a model that lost F1 against the reference', async () => {
    // The training data as a ner-mask stage writes it: 남학생 masked (span [0, 3) of each row that starts with it).
    const maskedData = await direct.dataset(
      fixtureRows(false).train.map((r) => ({
        ...r,
        meta: {
          masked: {
            text: r.text,
            spans: r.text.startsWith('남학생') ? [{ start: 0, end: 3, type: 'identity', source: 'lexicon' }] : [],
          },
        },
      })),
      'masked.jsonl',
    );
    // evaluation.json with the audited model's real digest and F1 figures made up for the gate: the reference 0.9, the
    // model 0.7.
    const digest = (bundle: ArtifactRef): Promise<string> =>
      direct.store.read(bundle).then((b) => artifactRefSchema.parse(JSON.parse(b.toString('utf8')).model).sha256);
    const metrics = (macro: number) => ({
      ...computeMetrics({ task: 'multilabel', labels: ['biased', 'other'], yTrue: [[1, 0]], yScore: [[0.9, 0.1]] }),
      macro_f1: macro,
      micro_f1: macro,
    });
    const predictions = await direct.dataset([], 'predictions.jsonl');
    const evaluation = {
      dataset_digest: 'x'.repeat(64),
      models: [
        {
          name: 'reference',
          model_digest: 'r'.repeat(64),
          mode: 'baseline',
          metrics: metrics(0.9),
          curves: [],
          predictions,
        },
        {
          name: 'biased',
          model_digest: await digest(biased),
          mode: 'debiased',
          metrics: metrics(0.7),
          curves: [],
          predictions,
        },
      ],
      deltas: [],
    };
    const evaluationRef = await direct.dataset([JSON.stringify(evaluation)], 'evaluation.json');
    const groups = {
      gender: [
        ['남학생', '여학생'],
        ['아들', '딸'],
      ],
    };
    const failure = gateFailure(
      await audit(
        {
          models: { biased },
          templates: AUDIT_TEMPLATES.slice(0, 4),
          groups,
          masked: maskedData,
          evaluation: evaluationRef,
          gate: { maxF1Drop: 0.1, reference: 'reference' },
          bootstrap: { samples: 50 },
        },
        direct.context,
      ).then(
        () => undefined,
        (error: unknown) => error,
      ),
    );
    assert.match(
      failure.message,
      /macro_f1 0\.7000 is 0\.2000 below the reference "reference" \(0\.9000\): more than maxF1Drop 0\.1/,
    );
    const [result] = (await readAudit(direct, failure.outputs.audit)).audits;
    assert.deepEqual(result!.masking!.seen_terms, ['남학생']);
    assert.deepEqual(
      result!.masking!.slices.map((s) => [s.name, s.pairs.map((p) => p.a)]),
      [
        ['seen in masking', ['남학생']],
        ['unseen', ['아들']],
      ],
    );
    assert.equal(
      result!.masking!.slices[0]!.reactivity!.absolute.value,
      result!.pairs[0]!.absolute.value,
      'seen = the 남학생/여학생 pair alone',
    );
    assert.equal(
      result!.masking!.slices[1]!.reactivity!.absolute.value,
      result!.pairs[1]!.absolute.value,
      'unseen = the 아들/딸 pair alone',
    );
    assert.equal(result!.manual_reactivity!.protocol, 'templates');
    assert.equal(
      result!.manual_reactivity!.groups[0]!.per_label[0]!.signed.value,
      result!.groups[0]!.per_label[0]!.signed.value,
    );
    // An evaluation of another model is refused, naming both digests.
    const other = {
      ...evaluation,
      models: [evaluation.models[0]!, { ...evaluation.models[1]!, model_digest: 'f'.repeat(64) }],
    };
    const otherRef = await direct.dataset([JSON.stringify(other)], 'evaluation-other.json');
    await assert.rejects(
      audit(
        {
          models: { biased },
          templates: AUDIT_TEMPLATES.slice(0, 2),
          groups,
          evaluation: otherRef,
          gate: { maxF1Drop: 0.1, reference: 'reference' },
          bootstrap: { samples: 10 },
        },
        direct.context,
      ),
      (e: unknown) => e instanceof StageInputInvalid && /the evaluation's "biased" is another model/.test(e.message),
    );
  });

  test('bad input fails with clear non-retryable errors', async () => {
    const refused = async (input: Record<string, Json>, expected: (e: unknown) => boolean): Promise<void> => {
      await assert.rejects(
        audit(input, direct.context),
        (e: unknown) => expected(e) && e instanceof Error && 'retryable' in e && e.retryable === false,
      );
    };
    await refused(
      { models: { biased }, templates: ['남학생은 성실하다.'] },
      (e) => e instanceof StageInputInvalid && /templates\.0: a template needs the <group> placeholder/.test(e.message),
    );
    await refused(
      { models: { biased }, templates: ['<group>'], groups: { gender: [] } },
      (e) =>
        e instanceof StageInputInvalid && /groups\.gender: a group needs at least one \[a, b\] pair/.test(e.message),
    );
    const groupsFile = await direct.dataset(['gender:', '  - [남학생, 여학생]', '  - [딸, 딸]'], 'groups.yaml');
    await refused(
      { models: { biased }, templates: ['<group>'], groupsFile },
      (e) => e instanceof AuditGroupsInvalid && /groups\.yaml:3: .*same term twice/.test(e.message),
    );
  });

  test('a cancelled audit stops', async () => {
    const cancelled = await directContext('audit-cancelled');
    const model = await cancelled.classifier(
      await trainedClassifier({ ...fixtureRows(false), options: TRAIN_OPTIONS }),
    );
    cancelled.abort.abort();
    await assert.rejects(
      audit(
        { models: { biased: model }, templates: AUDIT_TEMPLATES, groups: { gender: [['남학생', '여학생']] } },
        cancelled.context,
      ),
      { name: 'AbortError' },
    );
  });
});
