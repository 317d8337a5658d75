import assert from 'node:assert/strict';
import { mulberry32 } from '../../audit/random';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { MetricsInputInvalid } from '../../eval/errors';
import { PROJECT_ROOT } from '../../common/paths';
import { computeCurves } from '../../eval/curves';
import { computeMetrics, type MetricsInput } from '../../eval/metrics';
import { labelCurvesSchema, metricsSchema } from '../../report/schema';
import { loadConfig } from '../../temporal.config';
import { cleanEnv, fairline, tempDir } from '../helpers';

const TOLERANCE = 1e-9;

/** Seeded inputs (audit/random.ts's mulberry32), so every run scores the same ones. */
const prng = mulberry32;

/** Rounding to a few decimals makes tied scores common, which is where curve code goes wrong. */
const round = (x: number, decimals: number | undefined): number =>
  decimals === undefined ? x : Math.round(x * 10 ** decimals) / 10 ** decimals;

interface Case {
  name: string;
  input: MetricsInput;
}

function randomMultilabel(seed: number, n: number, width: number, decimals?: number): MetricsInput {
  const rand = prng(seed);
  const yTrue = Array.from({ length: n }, () => Array.from({ length: width }, () => (rand() < 0.35 ? 1 : 0)));
  const yScore = yTrue.map((row) => row.map((y) => round(0.3 * y + 0.7 * rand(), decimals)));
  return { task: 'multilabel', yTrue, yScore };
}

function randomMulticlass(seed: number, n: number, width: number, decimals?: number): MetricsInput {
  const rand = prng(seed);
  const yTrue = Array.from({ length: n }, () => Math.floor(rand() * width));
  const yScore = yTrue.map((y) => {
    const exp = Array.from({ length: width }, (_, j) => Math.exp(3 * rand() + (j === y ? 1 : 0)));
    const sum = exp.reduce((a, b) => a + b, 0);
    return exp.map((e) => round(e / sum, decimals));
  });
  return { task: 'multiclass', yTrue, yScore };
}

function randomBinary(seed: number, n: number, decimals?: number, threshold?: number): MetricsInput {
  const rand = prng(seed);
  const yTrue = Array.from({ length: n }, () => (rand() < 0.4 ? 1 : 0));
  const yScore = yTrue.map((y) => round(0.35 * y + 0.65 * rand(), decimals));
  return { task: 'binary', yTrue, yScore, ...(threshold !== undefined ? { threshold } : {}) };
}

function randomCases(): Case[] {
  const cases: Case[] = [];
  for (let seed = 1; seed <= 8; seed++) {
    const rand = prng(1000 + seed);
    const n = 1 + Math.floor(rand() * 120);
    const width = 2 + Math.floor(rand() * 5);
    const decimals = [undefined, 1, 2][seed % 3];
    cases.push({
      name: `random multilabel #${seed} (${n}×${width})`,
      input: randomMultilabel(seed, n, width, decimals),
    });
    cases.push({
      name: `random multiclass #${seed} (${n}×${width})`,
      input: randomMulticlass(seed, n, width, decimals),
    });
    cases.push({
      name: `random binary #${seed} (${n})`,
      input: randomBinary(seed, n, decimals, seed % 2 ? 0.4 : undefined),
    });
  }
  return cases;
}

const identity = (n: number, k: number): number[][] =>
  Array.from({ length: n }, (_, i) => Array.from({ length: k }, (_, j) => (i % k === j ? 0.9 : 0.1 / (k - 1))));

const edgeCases: Case[] = [
  {
    name: 'multilabel with every score tied at the threshold',
    input: {
      task: 'multilabel',
      yTrue: [
        [1, 0],
        [0, 1],
        [1, 1],
        [0, 0],
      ],
      yScore: Array.from({ length: 4 }, () => [0.5, 0.5]),
    },
  },
  {
    name: 'multilabel with a label that has no positives and one that is all positives',
    input: {
      task: 'multilabel',
      yTrue: [
        [0, 1, 1],
        [0, 1, 0],
        [0, 1, 1],
        [0, 1, 0],
        [0, 1, 1],
      ],
      yScore: [
        [0.7, 0.9, 0.8],
        [0.2, 0.4, 0.3],
        [0.6, 0.6, 0.6],
        [0.1, 0.55, 0.2],
        [0.6, 0.8, 0.3],
      ],
      labels: ['never', 'always', 'sometimes'],
    },
  },
  {
    name: 'multilabel with no positives at all',
    input: {
      task: 'multilabel',
      yTrue: [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
      yScore: [
        [0.7, 0.1],
        [0.2, 0.3],
        [0.6, 0.6],
      ],
    },
  },
  {
    name: 'multilabel all correct',
    input: {
      task: 'multilabel',
      yTrue: [
        [1, 0, 1],
        [0, 1, 0],
        [1, 1, 0],
        [0, 0, 1],
      ],
      yScore: [
        [1, 0, 1],
        [0, 1, 0],
        [1, 1, 0],
        [0, 0, 1],
      ],
    },
  },
  {
    name: 'multilabel all wrong',
    input: {
      task: 'multilabel',
      yTrue: [
        [1, 0, 1],
        [0, 1, 0],
        [1, 1, 0],
        [0, 0, 1],
      ],
      yScore: [
        [0, 1, 0],
        [1, 0, 1],
        [0, 0, 1],
        [1, 1, 0],
      ],
    },
  },
  { name: 'multilabel single row', input: { task: 'multilabel', yTrue: [[1, 0, 1]], yScore: [[0.8, 0.2, 0.4]] } },
  {
    name: 'multilabel KLUE-RE style exclude',
    input: {
      ...randomMultilabel(77, 40, 4, 1),
      labels: ['no_relation', 'a', 'b', 'c'],
      exclude: 'no_relation',
      threshold: 0.45,
    },
  },
  {
    name: 'multiclass argmax ties go to the lowest index',
    input: {
      task: 'multiclass',
      yTrue: [0, 1, 2, 1, 2],
      yScore: [
        [0.4, 0.4, 0.2],
        [0.3, 0.3, 0.4],
        [0.2, 0.4, 0.4],
        [1 / 3, 1 / 3, 1 / 3],
        [0.5, 0.25, 0.25],
      ],
    },
  },
  {
    name: 'multiclass with a class that never occurs',
    input: {
      task: 'multiclass',
      yTrue: [0, 1, 0, 1, 1],
      yScore: [
        [0.6, 0.3, 0.1],
        [0.2, 0.3, 0.5],
        [0.5, 0.1, 0.4],
        [0.1, 0.8, 0.1],
        [0.3, 0.6, 0.1],
      ],
    },
  },
  { name: 'multiclass all correct', input: { task: 'multiclass', yTrue: [0, 1, 2, 3, 0, 1], yScore: identity(6, 4) } },
  { name: 'multiclass all wrong', input: { task: 'multiclass', yTrue: [1, 2, 3, 0, 1, 2], yScore: identity(6, 4) } },
  { name: 'multiclass single row', input: { task: 'multiclass', yTrue: [2], yScore: [[0.2, 0.3, 0.5]] } },
  {
    name: 'multiclass with every score tied',
    input: { task: 'multiclass', yTrue: [0, 1, 2, 2], yScore: Array.from({ length: 4 }, () => [0.25, 0.25, 0.5]) },
  },
  {
    name: 'multiclass KLUE-RE micro F1 without no_relation',
    input: {
      ...randomMulticlass(42, 90, 5, 2),
      labels: ['no_relation', 'org:founded', 'per:origin', 'org:members', 'per:title'],
      exclude: 'no_relation',
    },
  },
  { name: 'binary all correct', input: { task: 'binary', yTrue: [0, 1, 1, 0], yScore: [0.1, 0.9, 0.8, 0.3] } },
  { name: 'binary all wrong', input: { task: 'binary', yTrue: [0, 1, 1, 0], yScore: [0.9, 0.1, 0.2, 0.7] } },
  { name: 'binary with positives only', input: { task: 'binary', yTrue: [1, 1, 1], yScore: [0.9, 0.4, 0.6] } },
  {
    name: 'binary with negatives only, all predicted negative',
    input: { task: 'binary', yTrue: [0, 0, 0], yScore: [0.1, 0.2, 0.5] },
  },
  { name: 'binary single row', input: { task: 'binary', yTrue: [1], yScore: [0.7] } },
  {
    name: 'binary scores exactly at the threshold count as negative',
    input: { task: 'binary', yTrue: [1, 0, 1, 0, 1], yScore: [0.5, 0.5, 0.7, 0.2, 0.5], labels: ['ham', 'spam'] },
  },
  { name: 'binary with a custom threshold and an exclude', input: { ...randomBinary(9, 50, 1, 0.3), exclude: '0' } },
];

const cases = [...randomCases(), ...edgeCases];

interface ReferenceResult {
  metrics: Record<string, unknown>;
  curves: unknown[];
}

/** One Python process for every case: scikit-learn's import alone takes about a second. */
function sklearnReference(all: readonly Case[]): ReferenceResult[] {
  const python = loadConfig({}, {}).trainer.python;
  const payload = all.map(({ input }) => ({
    task: input.task,
    y_true: input.yTrue,
    y_score: input.yScore,
    ...(input.labels ? { labels: input.labels } : {}),
    ...(input.exclude !== undefined ? { exclude: input.exclude } : {}),
    ...(input.threshold !== undefined ? { threshold: input.threshold } : {}),
  }));
  const result = spawnSync(python, [join(PROJECT_ROOT, 'test', 'eval', 'sklearn_reference.py')], {
    input: JSON.stringify(payload),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(result.status, 0, `sklearn_reference.py failed:\n${result.stderr}`);
  const parsed: unknown = JSON.parse(result.stdout);
  assert.ok(Array.isArray(parsed) && parsed.length === all.length);
  return parsed.map((entry: unknown) => {
    assert.ok(typeof entry === 'object' && entry !== null && 'metrics' in entry && 'curves' in entry);
    const { metrics, curves } = entry;
    assert.ok(typeof metrics === 'object' && metrics !== null && Array.isArray(curves));
    return { metrics: { ...metrics }, curves };
  });
}

/** Deep equality with numbers compared to TOLERANCE; the path says where they part. */
function assertClose(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    assert.ok(Math.abs(actual - expected) <= TOLERANCE, `${path}: ${actual} ≠ scikit-learn's ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array, got ${JSON.stringify(actual)}`);
    assert.equal(
      actual.length,
      expected.length,
      `${path}: length ${actual.length} ≠ scikit-learn's ${expected.length}`,
    );
    expected.forEach((e, i) => assertClose(actual[i], e, `${path}[${i}]`));
  } else if (typeof expected === 'object' && expected !== null) {
    assert.ok(
      typeof actual === 'object' && actual !== null && !Array.isArray(actual),
      `${path}: expected an object, got ${JSON.stringify(actual)}`,
    );
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${path}: keys differ`);
    for (const [key, value] of Object.entries(expected)) assertClose(Reflect.get(actual, key), value, `${path}.${key}`);
  } else {
    assert.equal(actual, expected, `${path}: ${JSON.stringify(actual)} ≠ scikit-learn's ${JSON.stringify(expected)}`);
  }
}

describe('every metric and curve point agrees with scikit-learn to 1e-9', () => {
  let reference: ReferenceResult[] = [];
  before(() => {
    reference = sklearnReference(cases);
  });
  cases.forEach((c, i) => {
    test(c.name, () => {
      const metrics = metricsSchema.parse(computeMetrics(c.input));
      const curves = computeCurves(c.input).map((curve) => labelCurvesSchema.parse(curve));
      const { note, ...comparable } = metrics;
      assert.equal(note !== undefined, c.input.exclude !== undefined, 'a note exactly when a label is excluded');
      assertClose(comparable, reference[i]!.metrics, 'metrics');
      assertClose(curves, reference[i]!.curves, 'curves');
    });
  });
});

describe('computeMetrics', () => {
  test('says which label micro_f1 leaves out, and keeps it in the macro and ranking metrics', () => {
    const input = edgeCases.find((c) => c.name.startsWith('multiclass KLUE-RE'))!.input;
    const withExclude = computeMetrics(input);
    const without = computeMetrics({ ...input, exclude: undefined });
    assert.equal(withExclude.excluded_label, 'no_relation');
    assert.match(withExclude.note ?? '', /micro_f1 leaves out "no_relation"/);
    assert.notEqual(withExclude.micro_f1, without.micro_f1);
    assert.equal(withExclude.macro_f1, without.macro_f1);
    assert.equal(withExclude.average_precision_macro, without.average_precision_macro);
    assert.equal(without.excluded_label, undefined);
  });

  test('leaves ROC-AUC null for a label with one class only and averages over the others', () => {
    const m = computeMetrics(edgeCases[1]!.input);
    assert.deepEqual(
      m.per_label.map((p) => [p.label, p.roc_auc === null, p.average_precision === null]),
      [
        ['never', true, true],
        ['always', true, false],
        ['sometimes', false, false],
      ],
    );
    assert.equal(m.roc_auc_macro, m.per_label[2]!.roc_auc);
    const curves = computeCurves(edgeCases[1]!.input);
    assert.equal(curves[0]!.roc, null);
    assert.equal(curves[0]!.pr, null);
    assert.equal(curves[1]!.roc, null);
    assert.notEqual(curves[1]!.pr, null);
  });

  test('names labels 0, 1, … and uses the 0.5 threshold when none are given', () => {
    const m = computeMetrics({ task: 'multilabel', yTrue: [[1, 0, 0]], yScore: [[0.9, 0.1, 0.2]] });
    assert.deepEqual(m.labels, ['0', '1', '2']);
    assert.equal(m.threshold, 0.5);
    const b = computeMetrics({ task: 'binary', yTrue: [1, 0], yScore: [0.9, 0.1] });
    assert.deepEqual(b.labels, ['0', '1']);
    assert.equal(b.f1, 1);
    assert.equal(b.roc_auc, 1);
    assert.equal(computeMetrics({ task: 'multiclass', yTrue: [1], yScore: [[0.1, 0.9]] }).threshold, null);
  });

  const invalid: [string, MetricsInput, RegExp][] = [
    [
      'a ragged multilabel row',
      {
        task: 'multilabel',
        yTrue: [
          [1, 0],
          [1, 0],
        ],
        yScore: [
          [0.1, 0.2],
          [0.1, 0.2, 0.3],
        ],
      },
      /^row 1: y_score has 3 entries, expected 2 \(as in row 0\)$/,
    ],
    [
      'a y_true vector shorter than the scores',
      {
        task: 'multilabel',
        yTrue: [[1, 0], [1]],
        yScore: [
          [0.1, 0.2],
          [0.1, 0.2],
        ],
      },
      /^row 1: y_true has 1 entries, expected 2/,
    ],
    [
      'a multilabel truth that is not 0/1',
      { task: 'multilabel', yTrue: [[1, 2]], yScore: [[0.1, 0.2]] },
      /^row 0: y_true\[1\] must be 0 or 1, got 2$/,
    ],
    [
      'a class index past the last class',
      {
        task: 'multiclass',
        yTrue: [0, 3],
        yScore: [
          [0.5, 0.5],
          [0.5, 0.5],
        ],
      },
      /^row 1: y_true must be a class index 0\.\.1, got 3$/,
    ],
    [
      'a NaN score',
      { task: 'binary', yTrue: [0, 1, 1], yScore: [0.2, 0.3, Number.NaN] },
      /^row 2: y_score must be one finite probability/,
    ],
    [
      'a vector score for binary',
      { task: 'binary', yTrue: [1], yScore: [[0.2, 0.8]] },
      /^row 0: y_score must be one finite probability/,
    ],
    [
      'more label names than scores',
      { task: 'multiclass', yTrue: [0], yScore: [[0.5, 0.5]], labels: ['a', 'b', 'c'] },
      /^row 0: y_score has 2 entries, expected 3 \(one per label: 3 labels given\)$/,
    ],
    [
      'three names for binary',
      { task: 'binary', yTrue: [0], yScore: [0.5], labels: ['a', 'b', 'c'] },
      /^labels: binary has 2 classes/,
    ],
    [
      'a duplicate label',
      { task: 'multiclass', yTrue: [0], yScore: [[0.5, 0.5]], labels: ['a', 'a'] },
      /^labels: label "a" appears twice$/,
    ],
    [
      'an excluded label that is not a label',
      { task: 'multiclass', yTrue: [0], yScore: [[0.5, 0.5]], exclude: 'no_relation' },
      /^exclude: "no_relation" is not one of the labels \(0, 1\)$/,
    ],
    [
      'a threshold for multiclass',
      { task: 'multiclass', yTrue: [0], yScore: [[0.5, 0.5]], threshold: 0.5 },
      /^threshold: multiclass predictions are the argmax/,
    ],
    [
      'rows of truth and scores that differ in number',
      { task: 'binary', yTrue: [0, 1], yScore: [0.5] },
      /^input: y_true has 2 rows but y_score has 1$/,
    ],
    ['no rows', { task: 'binary', yTrue: [], yScore: [] }, /^input: no rows to score$/],
  ];
  for (const [what, input, message] of invalid) {
    test(`refuses ${what}, naming where`, () => {
      assert.throws(
        () => computeMetrics(input),
        (error: unknown) => error instanceof MetricsInputInvalid && message.test(error.message) && !error.retryable,
      );
    });
  }
});

describe('fairline metrics', () => {
  test('prints the same metrics as the library, and names FILE:LINE for a bad row with exit code 2', async () => {
    const dir = await tempDir();
    const input = edgeCases.find((c) => c.name.startsWith('multiclass KLUE-RE'))!.input;
    const good = join(dir, 'preds.jsonl');
    await writeFile(
      good,
      input.yTrue.map((y, i) => `${JSON.stringify({ id: `r${i}`, y_true: y, y_score: input.yScore[i] })}\n`).join('\n'),
    );
    const shortRow = join(dir, 'short.jsonl');
    await writeFile(shortRow, '{"y_true": 0, "y_score": [0.5, 0.3, 0.2]}\n\n{"y_true": 1, "y_score": [0.5, 0.5]}\n');
    const badJson = join(dir, 'bad.jsonl');
    await writeFile(badJson, '{"y_true": 1, "y_score": 0.5}\n{"y_true": 1, "y_score": 0.5\n');
    const missing = join(dir, 'missing.jsonl');
    await writeFile(missing, '{"y_true": 1, "y_score": 0.5}\n{"y_true": 1}\n');

    const env = cleanEnv();
    const [ok, short, json, noKey] = await Promise.all([
      fairline(
        [
          'metrics',
          '--task',
          'multiclass',
          '--input',
          good,
          '--labels',
          input.labels!.join(','),
          '--exclude',
          'no_relation',
        ],
        env,
      ),
      fairline(['metrics', '--task', 'multiclass', '--input', shortRow, '--labels', 'a,b,c'], env),
      fairline(['metrics', '--task', 'binary', '--input', badJson], env),
      fairline(['metrics', '--task', 'binary', '--input', missing, '--threshold', '0.3'], env),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), computeMetrics(input));
    assert.match(ok.stdout, /^\{\n {2}"task": "multiclass",\n/, 'two-space indented JSON');

    assert.equal(short.code, 2);
    assert.match(
      short.stderr,
      new RegExp(
        `${shortRow.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: y_score has 2 entries, expected 3 \\(one per label: 3 labels given\\)`,
      ),
    );
    assert.equal(json.code, 2);
    assert.match(json.stderr, /bad\.jsonl:2: not valid JSON/);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /missing\.jsonl:2: missing key "y_score"/);
  });
});
