import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { builtinStages } from '../../stages/implementations';
import type { StageImplementation } from '../../activities/stages/context';
import { workflowIds } from '../../common/constants';
import { withConfiguredQueues } from '../../client/start';
import type { Json } from '../../pipeline/run-spec';
import { STAGE_TYPES, type StageType } from '../../stages';
import { validatePipelineText } from '../../pipeline/validate';
import type { PipelineRunInput } from '../../workflows/pipeline-run';
import { startEngine, type Engine } from '../engine';
import { cleanEnv, fairline, suiteTemporal } from '../helpers';

/**
 * A plugin stage that hands back the values its `with` names as scalar outputs, each published
 * as the search attribute an evaluate or audit stage would set: runs with chosen numbers.
 */
const echoWith = z
  .object({
    macroF1: z.number().optional(),
    microF1: z.number().optional(),
    reactivity: z.number().optional(),
    gatePassed: z.boolean().optional(),
    datasetDigest: z.string().optional(),
    modelDigest: z.string().optional(),
    fail: z.boolean().default(false),
  })
  .strict();
const echoType: StageType = {
  name: 'echo-metrics',
  version: '1',
  description: 'Return the given values as outputs and publish them as search attributes (test plugin)',
  with: echoWith,
  outputs: {
    macroF1: 'scalar',
    microF1: 'scalar',
    reactivity: 'scalar',
    gatePassed: 'scalar',
    datasetDigest: 'scalar',
    modelDigest: 'scalar',
  },
  publish: {
    searchAttributes: {
      macroF1: 'FairlineMacroF1',
      microF1: 'FairlineMicroF1',
      reactivity: 'FairlineReactivity',
      gatePassed: 'FairlineGatePassed',
      datasetDigest: 'FairlineDatasetDigest',
      modelDigest: 'FairlineModelDigest',
    },
  },
  defaults: STAGE_TYPES.download!.defaults,
};
const echo: StageImplementation = async (input) => {
  const values = echoWith.parse(input);
  if (values.fail) throw new Error('told to fail');
  const outputs: Record<string, Json> = {};
  for (const [key, value] of Object.entries(values))
    if (key !== 'fail' && (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string'))
      outputs[key] = value;
  return outputs;
};

/** Runs visible through the client for a list filter, sorted. */
async function listIds(client: Client, query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
  return ids.sort();
}

/**
 * Visibility is eventually consistent: ask until the answer is the expected one or time is up, and return the last
 * answer.
 */
async function settle(client: Client, query: string, expected: string[], timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let ids = await listIds(client, query);
  while (JSON.stringify(ids) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    ids = await listIds(client, query);
  }
  return ids;
}

const runRowSchema = z
  .object({
    run: z.string(),
    pipeline: z.string(),
    trigger: z.string().nullable(),
    outcome: z.string(),
    status: z.string(),
    stage: z.string().nullable(),
    macroF1: z.number().nullable(),
    microF1: z.number().nullable(),
    reactivity: z.number().nullable(),
    gatePassed: z.boolean().nullable(),
    datasetDigest: z.string().nullable(),
    modelDigest: z.string().nullable(),
    durationS: z.number(),
  })
  .passthrough();

describe('runs are found by list filters on each search attribute', () => {
  let engine: Engine;
  let env: NodeJS.ProcessEnv;
  const sfx = Math.random().toString(36).slice(2, 8);
  const names = {
    alpha: `sa-alpha-${sfx}`,
    beta: `sa-beta-${sfx}`,
    gamma: `sa-gamma-${sfx}`,
    delta: `sa-delta-${sfx}`,
  };
  const ours = `FairlinePipeline IN (${Object.values(names)
    .map((n) => `"${n}"`)
    .join(', ')})`;
  const id = (name: keyof typeof names): string => workflowIds.pipelineRun(names[name], `r-${sfx}`);
  const digest = (n: number): string => `sha-${sfx}-${n}`;

  before(async () => {
    engine = await startEngine({
      stages: { ...builtinStages(), 'echo-metrics': { implementation: echo, fingerprint: 'e'.repeat(64) } },
      stageTypes: { ...STAGE_TYPES, 'echo-metrics': echoType },
    });
    const pipeline = (name: string, stages: string): string => `name: ${name}\nstages:\n${stages}`;
    const values = (v: Record<string, number | boolean | string>): string => JSON.stringify(v);
    /** Starts a run with a trigger of our choosing (engine.start always says cli), as the scheduler would. */
    const startAs = async (yaml: string, trigger: string) => {
      const result = validatePipelineText(yaml, 'runs.yaml', {
        set: [],
        stageTypes: { ...STAGE_TYPES, 'echo-metrics': echoType },
      });
      if (!result.ok) throw new Error(result.problems.map((p) => p.message).join('\n'));
      const spec = withConfiguredQueues(result.spec, engine.config);
      const input: PipelineRunInput = {
        spec,
        runId: `r-${sfx}`,
        bookkeepingQueue: engine.config.taskQueues.cpu,
        trigger,
      };
      return engine.client.workflow.start('pipelineRun', {
        workflowId: workflowIds.pipelineRun(spec.name, `r-${sfx}`),
        taskQueue: engine.config.taskQueues.cpu,
        args: [input],
      });
    };
    const handles = await Promise.all([
      engine.start(
        pipeline(
          names.alpha,
          `  - { id: score, uses: echo-metrics, with: ${values({ macroF1: 0.61, microF1: 0.7, reactivity: 0.05, gatePassed: true, datasetDigest: digest(1), modelDigest: digest(11) })} }`,
        ),
        { runId: `r-${sfx}` },
      ),
      engine.start(
        pipeline(
          names.beta,
          `  - { id: score, uses: echo-metrics, with: ${values({ macroF1: 0.72, microF1: 0.8, reactivity: 0.09, gatePassed: false, datasetDigest: digest(1), modelDigest: digest(12) })} }`,
        ),
        { runId: `r-${sfx}` },
      ),
      startAs(
        pipeline(
          names.gamma,
          `  - { id: audit, uses: echo-metrics, with: ${values({ macroF1: 0.83, microF1: 0.85, reactivity: 0.12, gatePassed: false, datasetDigest: digest(2), modelDigest: digest(13) })} }`,
        ),
        'backfill',
      ),
      // Its data stage publishes a dataset digest; the next stage fails before any metric exists.
      engine.start(
        pipeline(
          names.delta,
          `  - { id: data, uses: echo-metrics, with: ${values({ datasetDigest: digest(2) })} }\n  - { id: explode, uses: echo-metrics, needs: [data], retry: { maximumAttempts: 1 }, with: { fail: true } }`,
        ),
        { runId: `r-${sfx}` },
      ),
    ]);
    const outcomes = await Promise.all(handles.map((h) => engine.outcome(h)));
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['succeeded', 'succeeded', 'succeeded', 'failed'],
    );
    // Wait until visibility holds every run's final record.
    const closed = await settle(
      engine.client,
      `${ours} AND ExecutionStatus != "Running"`,
      [id('alpha'), id('beta'), id('delta'), id('gamma')].sort(),
      20_000,
    );
    assert.equal(closed.length, 4);
    env = cleanEnv({ FAIRLINE_TEMPORAL_ADDRESS: suiteTemporal().address });
  });
  after(async () => {
    await engine?.close();
  });

  const cases: [string, string, (keyof typeof names)[]][] = [
    ['FairlinePipeline', `FairlinePipeline = "sa-alpha-SFX"`, ['alpha']],
    ['FairlineStatus', `FairlineStatus = "succeeded"`, ['alpha', 'beta', 'gamma']],
    ['FairlineStatus', `FairlineStatus = "failed"`, ['delta']],
    ['FairlineStage', `FairlineStage = "audit"`, ['gamma']],
    ['FairlineStage', `FairlineStage = "explode"`, ['delta']],
    ['FairlineTrigger', `FairlineTrigger = "cli"`, ['alpha', 'beta', 'delta']],
    ['FairlineTrigger', `FairlineTrigger = "backfill"`, ['gamma']],
    ['FairlineDatasetDigest', `FairlineDatasetDigest = "sha-SFX-1"`, ['alpha', 'beta']],
    ['FairlineDatasetDigest', `FairlineDatasetDigest = "sha-SFX-2"`, ['delta', 'gamma']],
    ['FairlineModelDigest', `FairlineModelDigest = "sha-SFX-12"`, ['beta']],
    ['FairlineMacroF1', `FairlineMacroF1 BETWEEN 0.7 AND 0.9`, ['beta', 'gamma']],
    ['FairlineMicroF1', `FairlineMicroF1 < 0.75`, ['alpha']],
    ['FairlineReactivity', `FairlineReactivity > 0.07`, ['beta', 'gamma']],
    ['FairlineGatePassed', `FairlineGatePassed = false`, ['beta', 'gamma']],
    ['FairlineGatePassed', `FairlineGatePassed = true`, ['alpha']],
  ];
  for (const [attribute, filter, expected] of cases) {
    test(`${attribute}: ${filter} returns exactly ${expected.join(', ')}`, async () => {
      const want = expected.map(id).sort();
      const got = await settle(engine.client, `${ours} AND ${filter.replaceAll('SFX', sfx)}`, want);
      assert.deepEqual(got, want);
    });
  }

  test('runs --where --json lists the matching runs with their search attributes', async () => {
    const { code, stdout, stderr } = await fairline(
      ['runs', '--where', `${ours} AND FairlineReactivity > 0.07`, '--json'],
      env,
    );
    assert.equal(code, 0, stderr);
    const rows = z.array(runRowSchema).parse(JSON.parse(stdout));
    const byPipeline = new Map(rows.map((r) => [r.pipeline, r]));
    assert.deepEqual([...byPipeline.keys()].sort(), [names.beta, names.gamma]);
    assert.deepEqual(
      { ...byPipeline.get(names.gamma)!, durationS: 0 },
      {
        run: `r-${sfx}`,
        pipeline: names.gamma,
        trigger: 'backfill',
        outcome: 'succeeded',
        status: 'completed',
        stage: 'audit',
        macroF1: 0.83,
        microF1: 0.85,
        reactivity: 0.12,
        gatePassed: false,
        datasetDigest: digest(2),
        modelDigest: digest(13),
        durationS: 0,
        workflowId: id('gamma'),
        started: byPipeline.get(names.gamma)!.started,
        closed: byPipeline.get(names.gamma)!.closed,
      },
    );
  });

  test('runs --pipeline and --where together narrow to that pipeline', async () => {
    const { code, stdout } = await fairline(
      ['runs', '--pipeline', names.beta, '--where', 'FairlineGatePassed = false', '--json'],
      env,
    );
    assert.equal(code, 0);
    assert.deepEqual(
      z
        .array(runRowSchema)
        .parse(JSON.parse(stdout))
        .map((r) => r.pipeline),
      [names.beta],
    );
  });

  test('the table shows run, trigger, started, duration, status, macro F1, reactivity and gate, with — where a run has no value', async () => {
    const { code, stdout, stderr } = await fairline(['runs', '--where', ours], env);
    assert.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^run +pipeline +trigger +started \(UTC\) +duration +status +macro F1 +reactivity +gate$/);
    assert.equal(lines.length, 5);
    const line = (name: string): string => lines.find((l) => l.includes(name))!;
    const when = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +[\\d.]+ (s|min)';
    assert.match(
      line(names.alpha),
      new RegExp(`^r-${sfx} +${names.alpha} +cli +${when} +succeeded +0\\.610 +0\\.050 +passed$`),
    );
    assert.match(
      line(names.beta),
      new RegExp(`^r-${sfx} +${names.beta} +cli +${when} +succeeded +0\\.720 +0\\.090 +failed$`),
    );
    assert.match(
      line(names.gamma),
      new RegExp(`^r-${sfx} +${names.gamma} +backfill +${when} +succeeded +0\\.830 +0\\.120 +failed$`),
    );
    assert.match(line(names.delta), new RegExp(`^r-${sfx} +${names.delta} +cli +${when} +failed +— +— +—$`));
  });

  test('--limit caps the list and --pipeline drops the pipeline column', async () => {
    const limited = await fairline(['runs', '--where', ours, '--limit', '2', '--json'], env);
    assert.equal(z.array(runRowSchema).parse(JSON.parse(limited.stdout)).length, 2);
    const one = await fairline(['runs', '--pipeline', names.alpha], env);
    assert.match(one.stdout.split('\n')[0]!, /^run +trigger +started/);
    const bad = await fairline(['runs', '--limit', 'many'], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit/);
  });

  test('a filter Temporal cannot read exits 2 with its message', async () => {
    const syntax = await fairline(['runs', '--where', 'FairlineReactivity >'], env);
    assert.equal(syntax.code, 2);
    assert.match(
      syntax.stderr,
      /Temporal refused the list filter "FairlineReactivity >": invalid query: .*syntax error/,
    );
    const unknown = await fairline(['runs', '--where', 'FairlineNope = 1'], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /'FairlineNope' is not a valid search attribute/);
  });
});
