import assert from 'node:assert/strict';
import { mulberry32 } from '../../audit/random';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../common/paths';
import { computeCurves } from '../../eval/curves';
import { klueClassArea, trapezoidalArea } from '../../eval/klue-re';
import { computeMetrics, type MetricsInput } from '../../eval/metrics';
import { metricsSchema } from '../../report/schema';
import { loadConfig } from '../../temporal.config';
import { cleanEnv, fairline, tempDir } from '../helpers';
import { SHARED_DATA } from '../shared-data';

const TOLERANCE = 1e-9;

/** KLUE-RE's 30 relations, no_relation first: the one real KLUE-RE file here. */
const RELATIONS: string[] = (
  JSON.parse(readFileSync(join(SHARED_DATA, 'klue-re', 'relation_list.json'), 'utf8')) as { relations: string[] }
).relations;

/** Seeded inputs (audit/random.ts's mulberry32), so every run scores the same ones. */
const prng = mulberry32;

interface Case {
  name: string;
  yTrue: number[];
  probs: number[][];
  labels: string[];
}

/**
 * n rows over `present` of the 30 classes (the others have no positives), no_relation about a
 * third of them as in KLUE-RE; softmax scores leaning to the true class, rounded to `decimals`
 * so that tied scores are common.
 */
function randomCase(seed: number, n: number, present: number, decimals: number): Case {
  const rand = prng(seed);
  const k = RELATIONS.length;
  const yTrue = Array.from({ length: n }, () => (rand() < 0.33 ? 0 : 1 + Math.floor(rand() * (present - 1))));
  const probs = yTrue.map((y) => {
    const exp = Array.from({ length: k }, (_, j) => Math.exp(2.5 * rand() + (j === y ? 1.5 : 0)));
    const sum = exp.reduce((a, b) => a + b, 0);
    return exp.map((e) => Math.round((e / sum) * 10 ** decimals) / 10 ** decimals);
  });
  return {
    name: `seed ${seed}: ${n} rows, ${present} of 30 classes present, scores to ${decimals} decimals`,
    yTrue,
    probs,
    labels: RELATIONS,
  };
}

const uniform = (k: number): number[] => Array.from({ length: k }, () => 1 / k);

const cases: Case[] = [
  randomCase(1, 400, 30, 3),
  randomCase(2, 250, 24, 2),
  randomCase(3, 120, 12, 2),
  randomCase(4, 1000, 30, 4),
  randomCase(5, 60, 8, 1),
  randomCase(6, 37, 30, 6),
  {
    name: 'every row predicted no_relation: micro F1 has nothing to count and is 0',
    yTrue: [0, 3, 7, 0, 29],
    probs: [0, 3, 7, 0, 29].map(() => [0.9, ...Array.from({ length: 29 }, () => 0.1 / 29)]),
    labels: RELATIONS,
  },
  {
    name: 'every score tied: one threshold per class',
    yTrue: [0, 1, 1, 2, 0, 5],
    probs: Array.from({ length: 6 }, () => uniform(30)),
    labels: RELATIONS,
  },
  {
    name: 'three classes, no_relation not first, one class without positives',
    yTrue: [1, 1, 2, 2, 1, 2],
    probs: [
      [0.2, 0.5, 0.3],
      [0.6, 0.2, 0.2],
      [0.1, 0.1, 0.8],
      [0.3, 0.3, 0.4],
      [0.3, 0.3, 0.4],
      [0.5, 0.25, 0.25],
    ],
    labels: ['per:title', 'no_relation', 'org:founded'],
  },
];

function reference(all: readonly Case[]): { klue_re_micro_f1: number; klue_re_auprc: number }[] {
  const python = loadConfig({}, {}).trainer.python;
  const result = spawnSync(python, [join(PROJECT_ROOT, 'test', 'eval', 'klue_re_reference.py')], {
    input: JSON.stringify(all.map((c) => ({ labels: c.labels, y_true: c.yTrue, probs: c.probs }))),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(result.status, 0, `klue_re_reference.py failed:\n${result.stderr}`);
  const parsed: unknown = JSON.parse(result.stdout);
  assert.ok(Array.isArray(parsed) && parsed.length === all.length);
  return parsed.map((entry: unknown) => {
    assert.ok(typeof entry === 'object' && entry !== null && 'klue_re_micro_f1' in entry && 'klue_re_auprc' in entry);
    const { klue_re_micro_f1, klue_re_auprc } = entry;
    assert.ok(typeof klue_re_micro_f1 === 'number' && typeof klue_re_auprc === 'number');
    return { klue_re_micro_f1, klue_re_auprc };
  });
}

const inputOf = (c: Case): MetricsInput => ({
  task: 'multiclass',
  yTrue: c.yTrue,
  yScore: c.probs,
  labels: c.labels,
  exclude: 'no_relation',
});

describe("KLUE-RE's micro F1 and AUPRC agree with KLUE's script on scikit-learn to 1e-9", () => {
  let expected: ReturnType<typeof reference> = [];
  before(() => {
    expected = reference(cases);
  });
  cases.forEach((c, i) => {
    test(c.name, () => {
      const metrics = metricsSchema.parse(computeMetrics(inputOf(c)));
      const { klue_re_micro_f1: f1, klue_re_auprc: auprc } = expected[i]!;
      assert.ok(metrics.klue_re_micro_f1 !== undefined && metrics.klue_re_auprc !== undefined);
      assert.ok(Math.abs(metrics.klue_re_micro_f1 - f1) <= TOLERANCE, `micro F1 ${metrics.klue_re_micro_f1} ≠ ${f1}`);
      assert.ok(Math.abs(metrics.klue_re_auprc - auprc) <= TOLERANCE, `AUPRC ${metrics.klue_re_auprc} ≠ ${auprc}`);
    });
  });

  test('the random cases include classes without positives and tied scores', () => {
    const absent = cases.filter((c) => new Set(c.yTrue).size < c.labels.length).length;
    const tied = cases.filter((c) => c.probs.some((row) => new Set(row).size < row.length)).length;
    assert.ok(absent >= 5 && tied >= 5, `${absent} cases with absent classes, ${tied} with ties`);
  });
});

describe('the KLUE-RE metrics', () => {
  test('integrate the precision-recall curve with the trapezoidal rule, not as average precision', () => {
    // Scores 0.9 (positive), 0.8 (negative), 0.7 (positive): the curve from recall 1 down is
    // (1, 2/3), (0.5, 0.5), (0.5, 1), (0, 1). Trapezoids: 0.5·(2/3 + 1/2)/2 + 0 + 0.5·(1 + 1)/2 = 19/24;
    // average precision's steps: 0.5·2/3 + 0 + 0.5·1 = 5/6.
    const threeRows = {
      task: 'multiclass' as const,
      yTrue: [1, 0, 1],
      yScore: [
        [0.1, 0.9],
        [0.2, 0.8],
        [0.3, 0.7],
      ],
    };
    const [, curve] = computeCurves(threeRows);
    assert.ok(curve?.pr);
    assert.ok(Math.abs(klueClassArea(curve.pr) - 19 / 24) < 1e-15);
    const metrics = computeMetrics(threeRows);
    assert.ok(Math.abs(metrics.per_label[1]!.average_precision! - 5 / 6) < 1e-15);
  });

  test('count a class without positives as area 0.5, as scikit-learn 1.7 draws its curve', () => {
    assert.equal(klueClassArea(null), 0.5);
    assert.equal(trapezoidalArea([1, 1, 1, 0], [0, 0, 0, 1]), 0.5);
  });

  test('refuse an x that is not monotonic, as sklearn.metrics.auc does', () => {
    assert.throws(() => trapezoidalArea([0, 1, 0.5], [1, 1, 1]), /neither increasing nor decreasing/);
  });

  test('are there only for a multiclass task with an excluded label', () => {
    const c = cases[0]!;
    const without = computeMetrics({ ...inputOf(c), exclude: undefined });
    assert.equal(without.klue_re_micro_f1, undefined);
    assert.equal(without.klue_re_auprc, undefined);
    const multilabel = computeMetrics({
      task: 'multilabel',
      yTrue: [
        [1, 0],
        [0, 1],
      ],
      yScore: [
        [0.9, 0.2],
        [0.3, 0.6],
      ],
      labels: ['no_relation', 'a'],
      exclude: 'no_relation',
    });
    assert.equal(multilabel.klue_re_auprc, undefined);
    const withExclude = computeMetrics(inputOf(c));
    assert.equal(withExclude.klue_re_micro_f1, withExclude.micro_f1 * 100);
    assert.match(withExclude.note ?? '', /klue_re_auprc is KLUE's AUPRC/);
  });

  test('are printed by fairline metrics --task multiclass --labels … --exclude no_relation next to the other keys', async () => {
    const dir = await tempDir();
    const c = cases[1]!;
    const file = join(dir, 'predictions.jsonl');
    await writeFile(file, c.yTrue.map((y, i) => JSON.stringify({ y_true: y, y_score: c.probs[i] })).join('\n') + '\n');
    const run = await fairline(
      ['metrics', '--task', 'multiclass', '--input', file, '--labels', RELATIONS.join(','), '--exclude', 'no_relation'],
      cleanEnv(),
    );
    assert.equal(run.code, 0, run.stderr);
    const printed = metricsSchema.parse(JSON.parse(run.stdout));
    const library = computeMetrics(inputOf(c));
    assert.equal(printed.klue_re_micro_f1, library.klue_re_micro_f1);
    assert.equal(printed.klue_re_auprc, library.klue_re_auprc);
    assert.equal(printed.micro_f1, library.micro_f1);
    assert.equal(printed.average_precision_macro, library.average_precision_macro);
  });
});
