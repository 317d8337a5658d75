/**
 * `fairline validate`: every problem kind is reported at the right FILE:LINE:COL with a message
 * that says what is wrong, and valid files resolve into the RunSpec the workflow receives.
 * Fixtures live in test/fixtures/pipelines/, one small file per problem kind.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { validateCommand } from '../../cli/validate';
import { PROJECT_ROOT } from '../../common/paths';
import { canonicalJson } from '../../pipeline/canonical-json';
import { formatDuration, parseDuration } from '../../pipeline/duration';
import { runSpecSchema, type Json } from '../../pipeline/run-spec';
import { STAGE_TYPES, type StageType } from '../../stages';
import {
  formatProblem,
  validatePipelineFile,
  validatePipelineText,
  type Problem,
  type StageTypeRegistry,
  type ValidationResult,
} from '../../pipeline/validate';
import { artifactRefSchema } from '../../store/types';
import { aliasBombPipeline } from '../pipelines';

const fixtures = fileURLToPath(new URL('../fixtures/pipelines/', import.meta.url));
const fixture = (name: string): string => join(fixtures, name);

/** A stage type that consumes another stage's artifact, so references can be tested before `train` exists. */
const trainType: StageType = {
  name: 'train',
  version: '3',
  description: 'test double of the trainer stage',
  with: z
    .object({
      dataset: artifactRefSchema,
      epochs: z.number().int(),
      lr: z.number().optional(),
      label: z.string().optional(),
      layers: z.array(z.number()).optional(),
      compareWith: z.object({ model: artifactRefSchema }).strict().optional(),
    })
    .strict(),
  outputs: { model: 'artifact', accuracy: 'scalar' },
  defaults: {
    queue: 'gpu',
    retry: { maximumAttempts: 1, initialIntervalMs: 1_000, backoffCoefficient: 2, maximumIntervalMs: 10_000 },
    timeout: { startToCloseMs: 3_600_000 },
  },
};
const stageTypes: StageTypeRegistry = { ...STAGE_TYPES, train: trainType };

function problemsOf(result: ValidationResult): Problem[] {
  if (result.ok) assert.fail(`expected problems, got a valid spec: ${result.summary}`);
  return result.problems;
}

function specOf(result: ValidationResult) {
  if (!result.ok) assert.fail(`expected a valid spec, got:\n${result.problems.map(formatProblem).join('\n')}`);
  return result;
}

interface Row {
  readonly sentence: string;
  readonly fixture: string;
  readonly at: `${number}:${number}`;
  readonly message: string;
  /** How many problems the file has in all (default 1): one mistake must not echo into several. */
  readonly count?: number;
}

const rows: readonly Row[] = [
  {
    sentence: 'a YAML syntax error is reported at its position, with a hint to quote ${{ }} inside { }',
    fixture: 'yaml-syntax.yaml',
    at: '5:19',
    message: 'must be quoted',
  },
  {
    sentence: 'a duplicate key is reported at its second occurrence',
    fixture: 'duplicate-key.yaml',
    at: '7:7',
    message: 'duplicate key "url"',
  },
  {
    sentence: 'an unknown key is named, pointed at, and a near miss is suggested',
    fixture: 'unknown-key.yaml',
    at: '8:5',
    message: 'unknown key "need" (did you mean "needs"?)',
  },
  {
    sentence: 'an unknown stage type lists the known ones',
    fixture: 'unknown-uses.yaml',
    at: '4:11',
    message: 'unknown stage type "dowload" (did you mean "download"?); known types: download',
  },
  {
    sentence: 'a duplicate stage id is reported at the second definition',
    fixture: 'duplicate-stage-id.yaml',
    at: '6:9',
    message: 'duplicate stage id "data" (first defined at line 3)',
  },
  {
    sentence: 'needs naming an unknown stage points at that entry',
    fixture: 'unknown-needs.yaml',
    at: '8:19',
    message: 'unknown stage "dta"',
  },
  {
    sentence: 'a cycle is printed as a → b → c → a at the needs entry that closes it',
    fixture: 'cycle.yaml',
    at: '13:13',
    message: 'cycle: a → b → c → a',
  },
  {
    sentence: 'a reference to an unknown stage is reported at the expression',
    fixture: 'unknown-stage-ref.yaml',
    at: '10:16',
    message: 'unknown stage "dat" (did you mean "data"?)',
  },
  {
    sentence: 'a reference to an output the stage type does not have lists its outputs',
    fixture: 'unknown-output.yaml',
    at: '10:16',
    message: 'has no output "model"; its outputs: dataset',
  },
  {
    sentence: 'a reference to an undeclared param lists the declared ones',
    fixture: 'unknown-param.yaml',
    at: '9:17',
    message: 'unknown param "epoch" (did you mean "epochs"?)',
  },
  {
    sentence: 'a reference to a stage that is not an ancestor through needs is refused',
    fixture: 'unreachable-ref.yaml',
    at: '13:16',
    message: 'stage "data" is not among this stage\'s needs',
  },
  {
    sentence: 'a stage cannot use its own outputs',
    fixture: 'self-ref.yaml',
    at: '6:16',
    message: 'cannot use its own outputs',
  },
  {
    sentence: 'a stage output embedded in a longer string is refused',
    fixture: 'embedded-output.yaml',
    at: '10:12',
    message: 'embedded in a longer string',
  },
  {
    sentence: 'an expression that is neither a param nor a stage output is refused',
    fixture: 'bad-expression.yaml',
    at: '6:12',
    message: 'unsupported expression ${{ env.HOME }}',
    count: 2,
  },
  {
    sentence: 'an unterminated expression is refused',
    fixture: 'bad-expression.yaml',
    at: '7:13',
    message: 'unterminated expression',
    count: 2,
  },
  {
    sentence: 'a param default that is not a string, number or boolean is a type error',
    fixture: 'param-type.yaml',
    at: '4:11',
    message: 'params.layers: a param default must be a string, a number or a boolean',
    count: 2,
  },
  {
    sentence: 'an invalid param name is reported at the name',
    fixture: 'param-type.yaml',
    at: '5:3',
    message: 'invalid name "2nd-try" in params',
    count: 2,
  },
  {
    sentence: 'a malformed duration in retry is reported at its value',
    fixture: 'malformed-duration.yaml',
    at: '5:31',
    message: 'malformed duration "10 sec"',
    count: 2,
  },
  {
    sentence: 'a duration with units out of order is malformed',
    fixture: 'malformed-duration.yaml',
    at: '7:21',
    message: 'malformed duration "30m1h"',
    count: 2,
  },
  {
    sentence: 'a retry whose maximum interval is below its initial interval is refused',
    fixture: 'retry-intervals.yaml',
    at: '5:52',
    message: 'maximumInterval (30s) is shorter than initialInterval (2m)',
  },
  {
    sentence: 'with failing the stage type schema points at the offending with key',
    fixture: 'with-schema.yaml',
    at: '6:12',
    message:
      'with.url: must be an http(s)://, s3:// or file:// URL, or a path (./relative to the pipeline file, or /absolute)',
    count: 3,
  },
  {
    sentence: 'an unquoted number where a string is expected comes with a hint to quote it',
    fixture: 'with-schema.yaml',
    at: '7:15',
    message: 'with.sha256: expected string, got 1234; YAML reads this unquoted value as a number',
    count: 3,
  },
  {
    sentence: 'an unknown key in with is reported with the keys its stage type allows',
    fixture: 'with-schema.yaml',
    at: '8:7',
    message: 'unknown key "mirror" in with; allowed keys: url, sha256, name, maxBytes',
    count: 3,
  },
  {
    sentence: 'an output ref where the stage type wants a string fails its schema (an ArtifactRef is not a string)',
    fixture: 'output-ref-not-string.yaml',
    at: '10:12',
    message: 'with.url: expected string, got ${{ stages.data.outputs.dataset }} (an artifact reference)',
  },
  {
    sentence: 'a key the stage type requires is missing from with',
    fixture: 'missing-with-key.yaml',
    at: '6:7',
    message: 'missing required key "url" in with',
  },
  {
    sentence: 'an invalid pipeline name is refused',
    fixture: 'invalid-ids.yaml',
    at: '1:7',
    message: 'name: must be lowercase letters',
    count: 2,
  },
  {
    sentence: 'an invalid stage id is refused',
    fixture: 'invalid-ids.yaml',
    at: '3:9',
    message: 'stage "Data_1": id: must be lowercase',
    count: 2,
  },
  {
    sentence: 'an unknown queue lists the known ones',
    fixture: 'unknown-queue.yaml',
    at: '5:12',
    message: 'unknown queue "tpu"; known queues: cpu, gpu',
  },
  {
    sentence: 'a stage without uses is missing a required key',
    fixture: 'missing-uses.yaml',
    at: '3:5',
    message: 'stage "data": missing required key "uses"',
  },
  {
    sentence: 'an empty file is not a pipeline',
    fixture: 'empty.yaml',
    at: '1:1',
    message: 'must be a mapping with at least `name` and `stages`',
  },
  {
    sentence: 'a cron hour of 25 is refused at the field, naming the field and its range',
    fixture: 'schedule-cron-hour.yaml',
    at: '3:12',
    message:
      'schedule.cron: cron "0 25 * * *": hour 25 is out of range: hour takes 0-23 (field 2 of 5: minute hour day-of-month month day-of-week)',
  },
  {
    sentence: 'a cron with four fields is refused with the layouts Temporal takes',
    fixture: 'schedule-cron-fields.yaml',
    at: '3:10',
    message:
      'has 4 fields: Temporal takes 5 fields (minute hour day-of-month month day-of-week), 6 (… year) or 7 (second … year)',
  },
  {
    sentence: 'a cron day name Temporal does not know is refused at its field',
    fixture: 'schedule-cron-day.yaml',
    at: '3:18',
    message: 'day-of-week "FRX" is not a number or a name: day-of-week takes 0-7 or day names',
  },
  {
    sentence: 'an unknown time zone is refused with the nearest names',
    fixture: 'schedule-timezone.yaml',
    at: '4:13',
    message: 'schedule.timezone: unknown time zone "Asia/Seul" (did you mean Asia/Seoul?)',
  },
  {
    sentence: 'a time zone in a CRON_TZ= prefix is checked at its place in the cron',
    fixture: 'schedule-cron-tz.yaml',
    at: '3:18',
    message: 'schedule.cron: unknown time zone "Asia/Seol" (did you mean Asia/Seoul?)',
  },
  {
    sentence: 'an overlap value that is not one of Temporal’s policies is refused with the list',
    fixture: 'schedule-overlap.yaml',
    at: '4:12',
    message:
      'schedule.overlap: unknown overlap policy "skip-all": Temporal\'s policies are skip, buffer-one, buffer-all, cancel-other, terminate-other, allow-all',
  },
  {
    sentence: 'a heartbeat timeout longer than startToClose is refused with the reason',
    fixture: 'heartbeat-timeout.yaml',
    at: '5:45',
    message:
      'stage "data": timeout.heartbeat 2h is longer than timeout.startToClose 1h: an attempt is cut off at startToClose before a silent worker could be noticed',
  },
  {
    sentence: 'a startToClose below the stage type’s default heartbeat is refused at startToClose',
    fixture: 'heartbeat-default.yaml',
    at: '5:30',
    message:
      'stage "data": the download stage\'s default heartbeat timeout 30s is longer than timeout.startToClose 10s',
  },
  {
    sentence: 'an alias inside the node it names is refused at the alias',
    fixture: 'alias-cycle.yaml',
    at: '6:23',
    message:
      'YAML: alias *parts is inside the node it names (its anchored node starts at 6:19): it would expand forever',
  },
];

describe('each problem kind is reported as FILE:LINE:COL with what is wrong', () => {
  for (const row of rows) {
    test(row.sentence, async () => {
      const file = fixture(row.fixture);
      const problems = problemsOf(await validatePipelineFile(file, { stageTypes }));
      const listing = problems.map(formatProblem).join('\n');
      const match = problems.find((p) => `${p.line}:${p.col}` === row.at && p.message.includes(row.message));
      assert.ok(match, `expected ${row.at} "${row.message}" in:\n${listing}`);
      assert.equal(match.file, file);
      assert.equal(problems.length, row.count ?? 1, `unexpected number of problems:\n${listing}`);
    });
  }

  test('an unreadable file is a problem at 1:1', async () => {
    const problems = problemsOf(await validatePipelineFile(fixture('no-such-file.yaml')));
    assert.equal(problems.length, 1);
    assert.deepEqual([problems[0]?.line, problems[0]?.col], [1, 1]);
    assert.match(problems[0]?.message ?? '', /cannot read the pipeline file/);
  });

  test('a problem prints as FILE:LINE:COL: message', () => {
    assert.equal(formatProblem({ file: 'p.yaml', line: 3, col: 7, message: 'boom' }), 'p.yaml:3:7: boom');
  });

  test('several problems in one file are all reported, in file order', async () => {
    const problems = problemsOf(await validatePipelineFile(fixture('many-problems.yaml'), { stageTypes }));
    const got = problems.map((p) => `${p.line}:${p.col} ${p.message}`);
    const expected = [
      ['1:7', 'name: must be lowercase'],
      ['2:1', 'unknown key "stagez" (did you mean "stages"?)'],
      ['7:11', 'unknown stage type "dowload"'],
      ['11:19', 'unknown stage "missing"'],
      ['12:12', 'unknown queue "tpu"'],
      ['13:31', 'malformed duration "soon"'],
      ['16:15', 'unknown param "epochz"'],
      ['17:9', 'duplicate stage id "model"'],
      ['19:18', 'with.url: expected string, got 42'],
    ];
    assert.equal(problems.length, expected.length, got.join('\n'));
    expected.forEach(([at, fragment], i) => {
      assert.ok(
        got[i]?.startsWith(`${at} `) && got[i]?.includes(fragment ?? ''),
        `#${i}: expected ${at} ${fragment}, got ${got[i]}`,
      );
    });
  });

  test('a problem in a reference does not also surface as a schema complaint about the same key', async () => {
    // unknown-stage-ref.yaml: `dataset` is required by train; its broken reference is reported once.
    const problems = problemsOf(await validatePipelineFile(fixture('unknown-stage-ref.yaml'), { stageTypes }));
    assert.equal(problems.length, 1, problems.map(formatProblem).join('\n'));
  });

  test('a hand-written $output object is refused: only ${{ }} may make an output reference', () => {
    const text = [
      'name: forged',
      'stages:',
      '  - id: a',
      '    uses: download',
      '    with:',
      '      url: https://example.org/a.json',
      '      name: { $output: { stage: x, output: y } }',
    ].join('\n');
    const problems = problemsOf(validatePipelineText(text, 'forged.yaml'));
    assert.ok(
      problems.some((p) => p.line === 7 && p.col === 15 && p.message.includes('"$output" is reserved')),
      problems.map(formatProblem).join('\n'),
    );
  });
});

describe('a valid file resolves into the RunSpec the workflow receives', () => {
  test('params and output refs are resolved, and defaults merged, into the RunSpec shape', async () => {
    const file = fixture('good-train.yaml');
    const { spec, summary } = specOf(await validatePipelineFile(file, { stageTypes }));
    assert.doesNotThrow(() => runSpecSchema.parse(spec));
    assert.equal(spec.name, 'korean-bias');
    assert.equal(spec.description, 'Baseline vs debiased bias classifier');
    assert.equal(spec.sourceFile, file);
    assert.deepEqual(spec.params, { epochs: 5, lr: 3e-5, tag: 'v1' });
    assert.match(spec.specDigest, /^[0-9a-f]{64}$/);
    assert.equal(summary, `${file}: ok — pipeline "korean-bias", 3 stages (download, train ×2), 3 params`);

    const [data, baseline, debiased] = spec.stages;
    assert.deepEqual(data, {
      id: 'data',
      uses: 'download',
      version: '1',
      needs: [],
      queue: 'cpu',
      retry: { maximumAttempts: 5, initialIntervalMs: 1_000, backoffCoefficient: 2, maximumIntervalMs: 60_000 },
      timeout: { startToCloseMs: 1_800_000, heartbeatMs: 30_000 },
      cache: true,
      with: {
        url: 'https://example.org/train.json',
        sha256: '8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4',
        name: 'train.json',
      },
      // The stage type's publish declaration travels with the spec: the workflow upserts from it.
      publish: { searchAttributes: { dataset: 'FairlineDatasetDigest' } },
      // A download's outputs are the run's data (skipIfUnchanged).
      source: true,
    });
    assert.deepEqual(baseline, {
      id: 'baseline',
      uses: 'train',
      version: '3',
      needs: ['data'],
      queue: 'gpu',
      retry: { maximumAttempts: 3, initialIntervalMs: 10_000, backoffCoefficient: 2, maximumIntervalMs: 300_000 },
      timeout: { startToCloseMs: 6 * 3_600_000, heartbeatMs: 120_000, scheduleToStartMs: 600_000 },
      cache: true,
      with: {
        dataset: { $output: { stage: 'data', output: 'dataset' } },
        epochs: 5,
        lr: 3e-5,
        label: 'baseline-v1',
      },
    });
    // References at any depth; `data` is reachable from `debiased` only through `baseline`.
    assert.deepEqual(debiased?.with, {
      dataset: { $output: { stage: 'data', output: 'dataset' } },
      epochs: 5,
      lr: 1e-5,
      layers: [5, 2],
      compareWith: { model: { $output: { stage: 'baseline', output: 'model' } } },
    });
    assert.deepEqual(debiased?.retry, {
      maximumAttempts: 1,
      initialIntervalMs: 1_000,
      backoffCoefficient: 2,
      maximumIntervalMs: 10_000,
    });
  });

  test('partial retry and timeout overrides keep the type defaults for the rest; the schedule is kept', async () => {
    const result = specOf(await validatePipelineFile(fixture('good-downloads.yaml')));
    const [first, second] = result.spec.stages;
    assert.deepEqual(first?.with, { url: 'https://example.org/train.json', maxBytes: 1_000_000 });
    assert.deepEqual(second?.retry, {
      maximumAttempts: 2,
      initialIntervalMs: 500,
      backoffCoefficient: 2,
      maximumIntervalMs: 60_000,
    });
    assert.deepEqual(second?.timeout, { startToCloseMs: 5_400_000, heartbeatMs: 30_000, scheduleToStartMs: 600_000 });
    assert.equal(second?.cache, false);
    assert.deepEqual(second?.with, { url: 'https://example.org/test.json', name: 'test.json' });
    assert.deepEqual(result.schedule, { cron: '0 3 * * *', timezone: 'Asia/Seoul' });
  });
});

describe('YAML aliases are bounded before they expand', () => {
  test('a 3 MB file whose anchored lexicon 99 stages reuse is refused at the first alias that goes over, naming the anchor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fairline-alias-'));
    try {
      const file = join(dir, 'alias-bomb.yaml');
      const { text, firstAlias } = aliasBombPipeline();
      await writeFile(file, text);
      const problems = problemsOf(await validatePipelineFile(file));
      assert.equal(problems.length, 1, problems.map(formatProblem).join('\n'));
      assert.equal(`${problems[0]!.line}:${problems[0]!.col}`, firstAlias);
      assert.match(
        problems[0]!.message,
        /^YAML: alias \*terms \(its anchored node starts at 15:13\) copies 1\.\d MiB; .* more than the 256\.0 KiB a whole run spec may hold/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a small anchor reused by more stages than the parser’s old alias count allowed (100) validates', () => {
    const stages = Array.from(
      { length: 120 },
      (_, i) =>
        `  - { id: s${i}, uses: download, retry: ${i === 0 ? '&patient { maximumAttempts: 9 }' : '*patient'}, with: { url: "https://example.org/${i}.json" } }`,
    );
    const { spec } = specOf(validatePipelineText(`name: many\nstages:\n${stages.join('\n')}\n`, 'many.yaml'));
    assert.equal(spec.stages.length, 120);
    assert.ok(spec.stages.every((s) => s.retry.maximumAttempts === 9));
  });
});

describe('a path is accepted wherever a relative path is: absolute, or relative to the pipeline file', () => {
  const placed = '/work/pipelines/p.yaml';
  /** The value at `keys` inside a resolved `with`. */
  const at = (value: Json | undefined, keys: readonly string[]): Json | undefined =>
    keys.reduce<Json | undefined>(
      (v, k) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v[k] : undefined),
      value,
    );
  const cases: [what: string, stage: string, keys: string[]][] = [
    ['download url', '{ id: s, uses: download, with: { url: PATH } }', ['url']],
    [
      'dataset url',
      '{ id: s, uses: dataset, with: { format: jsonl, url: PATH, mapping: { text: text, labels: { column: labels } } } }',
      ['url'],
    ],
    [
      'dataset sources.*.url',
      '{ id: s, uses: dataset, with: { format: jsonl, sources: { train: { url: PATH } }, mapping: { text: text, labels: { column: labels } } } }',
      ['sources', 'train', 'url'],
    ],
    [
      'ner-mask lexicon file',
      '{ id: s, uses: ner-mask, needs: [d], with: { dataset: "${{ stages.d.outputs.train }}", sources: { lexicon: { file: PATH } } } }',
      ['sources', 'lexicon', 'file'],
    ],
    [
      'audit groupsFile',
      '{ id: s, uses: audit, needs: [d], with: { dataset: "${{ stages.d.outputs.train }}", models: { m: "${{ stages.d.outputs.card }}" }, insert: {}, groupsFile: PATH } }',
      ['groupsFile'],
    ],
  ];
  const dataset =
    '  - { id: d, uses: dataset, with: { format: jsonl, url: "https://example.org/t.jsonl", mapping: { text: text, labels: { column: labels } } } }';
  for (const [what, stage, keys] of cases) {
    for (const [path, url] of [
      ['/data/train files/t.jsonl', 'file:///data/train%20files/t.jsonl'],
      ['../data/t.jsonl', 'file:///work/data/t.jsonl'],
    ] as const) {
      test(`${what}: "${path}" becomes ${url}`, () => {
        const text = `name: paths\nstages:\n${dataset}\n  - ${stage.replace('PATH', JSON.stringify(path))}\n`;
        const { spec } = specOf(validatePipelineText(text, placed));
        assert.equal(at(spec.stages.find((s) => s.id === 's')!.with, keys), url);
      });
    }
  }
});

describe('stage traits travel in the RunSpec, so the scheduler and the CLI never test stage names', () => {
  test('every stage of the demo carries exactly its type’s source, report, alwaysRuns and publish', async () => {
    const { spec } = specOf(await validatePipelineFile(join(PROJECT_ROOT, 'pipelines', 'demo.yaml')));
    for (const stage of spec.stages) {
      const type = STAGE_TYPES[stage.uses]!;
      assert.equal(stage.source, type.source, `${stage.id}.source`);
      assert.equal(stage.report, type.report, `${stage.id}.report`);
      assert.equal(stage.alwaysRuns, type.alwaysRuns, `${stage.id}.alwaysRuns`);
      assert.deepEqual(stage.publish, type.publish, `${stage.id}.publish`);
    }
    const traits = (uses: string) => spec.stages.find((s) => s.uses === uses)!;
    assert.equal(traits('dataset').source, true, 'the demo gets its data through a dataset stage');
    assert.equal(traits('report').report, 'html');
    assert.equal(traits('train').source, undefined);
  });
});

describe('--set params.NAME=VALUE', () => {
  test('--set overrides params with typed values, which flow into with', async () => {
    const set = ['params.epochs=8', 'params.lr=1e-4', 'params.tag=2024'];
    const { spec } = specOf(await validatePipelineFile(fixture('good-train.yaml'), { stageTypes, set }));
    // `2024` reads as a number in YAML, but the param is a string: the text is taken as is.
    assert.deepEqual(spec.params, { epochs: 8, lr: 1e-4, tag: '2024' });
    assert.equal(spec.stages[1]?.with.epochs, 8);
    assert.equal(spec.stages[1]?.with.label, 'baseline-2024');
  });

  test('a later --set of the same param wins', async () => {
    const set = ['params.epochs=8', 'params.epochs=9'];
    const { spec } = specOf(await validatePipelineFile(fixture('good-train.yaml'), { stageTypes, set }));
    assert.equal(spec.params.epochs, 9);
  });

  test('a value of the wrong type is refused, naming --set params.K, at the param', async () => {
    const problems = problemsOf(
      await validatePipelineFile(fixture('good-train.yaml'), { stageTypes, set: ['params.epochs=abc'] }),
    );
    assert.equal(problems.length, 1);
    assert.deepEqual([problems[0]?.line, problems[0]?.col], [5, 3]);
    assert.match(problems[0]?.message ?? '', /^--set params\.epochs=abc: expected a number like the default 5/);
  });

  test('a boolean param refuses a number', async () => {
    const problems = problemsOf(
      await validatePipelineFile(fixture('good-downloads.yaml'), { set: ['params.verify=1'] }),
    );
    assert.match(problems[0]?.message ?? '', /--set params\.verify=1: expected a boolean/);
  });

  test('an unknown param is refused and a near miss suggested', async () => {
    const problems = problemsOf(
      await validatePipelineFile(fixture('good-train.yaml'), { stageTypes, set: ['params.epoch=3'] }),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? '', /--set params\.epoch: unknown param "epoch" \(did you mean "epochs"\?\)/);
  });

  test('something other than params.NAME=VALUE is refused', async () => {
    const problems = problemsOf(
      await validatePipelineFile(fixture('good-train.yaml'), { stageTypes, set: ['name=other', 'params.epochs'] }),
    );
    assert.equal(problems.length, 2);
    for (const p of problems) assert.match(p.message, /expected params\.NAME=VALUE/);
  });
});

describe('specDigest', () => {
  const digestOf = async (set: string[] = []): Promise<string> =>
    specOf(await validatePipelineFile(fixture('good-train.yaml'), { stageTypes, set })).spec.specDigest;

  test('is stable for the same file and params', async () => {
    assert.equal(await digestOf(), await digestOf());
    // Setting a param to its default changes nothing that runs, so nothing in the digest.
    assert.equal(await digestOf(['params.epochs=5']), await digestOf());
  });

  test('changes when a param changes', async () => {
    assert.notEqual(await digestOf(['params.epochs=6']), await digestOf());
  });

  test('ignores the order keys are written in, comments and the file name', async () => {
    const text = await readFile(fixture('good-downloads.yaml'), 'utf8');
    const reordered = text
      .replace(
        'name: two-downloads\ndescription: Train and test files\n',
        'description: Train and test files\nname: two-downloads\n',
      )
      .replace(
        '    uses: download\n    with:\n      url: ${{ params.host }}/train.json\n      maxBytes: ${{ params.limit }}\n',
        '    with:\n      maxBytes: ${{ params.limit }} # moved\n      url: ${{ params.host }}/train.json\n    uses: download\n',
      );
    assert.notEqual(reordered, text);
    const a = specOf(validatePipelineText(text, 'a.yaml')).spec.specDigest;
    const b = specOf(validatePipelineText(reordered, 'b.yaml')).spec.specDigest;
    assert.equal(a, b);
  });

  test('canonical JSON sorts keys at every depth', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: true, c: null }] }), '{"a":[{"c":null,"d":true}],"b":1}');
  });
});

describe('durations', () => {
  test('parse single units and largest-first combinations into ms', () => {
    const cases: [string, number][] = [
      ['500ms', 500],
      ['10s', 10_000],
      ['2m', 120_000],
      ['6h', 21_600_000],
      ['1d', 86_400_000],
      ['1h30m', 5_400_000],
      ['1m500ms', 60_500],
      ['0s', 0],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  test('refuse malformed text', () => {
    for (const text of ['', '10', '10 s', '1.5h', '30m1h', '1h1h', '5M', '-1s', 's', '1w'])
      assert.equal(parseDuration(text), undefined, text);
  });

  test('format back into the same notation', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(60_500), '1m500ms');
  });
});

describe('validateCommand', () => {
  const capture = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, output: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };

  test('prints one summary per valid file and exits 0', async () => {
    const { out, err, output } = capture();
    const code = await validateCommand(
      [fixture('good-downloads.yaml'), fixture('good-train.yaml')],
      { stageTypes },
      output,
    );
    assert.equal(code, 0);
    assert.equal(err.length, 0);
    assert.equal(out.length, 2);
    assert.match(
      out[0] ?? '',
      /good-downloads\.yaml: ok — pipeline "two-downloads", 2 stages \(download ×2\), 3 params$/,
    );
  });

  test('prints every problem of every file as FILE:LINE:COL and exits 1', async () => {
    const { out, err, output } = capture();
    const code = await validateCommand(
      [fixture('cycle.yaml'), fixture('good-downloads.yaml'), fixture('invalid-ids.yaml')],
      {},
      output,
    );
    assert.equal(code, 1);
    assert.equal(out.length, 1);
    assert.deepEqual(
      err.map((l) => l.slice(fixtures.length)),
      [
        'cycle.yaml:13:13: stage "c": needs[0]: stages depend on each other in a cycle: a → b → c → a',
        'invalid-ids.yaml:1:7: name: must be lowercase letters, digits and "-", starting with a letter',
        'invalid-ids.yaml:3:9: stage "Data_1": id: must be lowercase letters, digits and "-" (not starting with "-")',
      ],
    );
  });

  test('passes --set through', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fairline-validate-'));
    try {
      const file = join(dir, 'p.yaml');
      await writeFile(
        file,
        'name: p\nparams: { n: 1 }\nstages:\n  - { id: a, uses: download, with: { url: "https://e.org/${{ params.n }}" } }\n',
      );
      const { err, output } = capture();
      assert.equal(await validateCommand([file], { set: ['params.n=x'] }, output), 1);
      assert.equal(err[0], `${file}:2:11: --set params.n=x: expected a number like the default 1, got "x"`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
