import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { builtinStages, type RegisteredStage } from '../../stages/implementations';
import type { StageImplementation } from '../../activities/stages/context';
import { SA } from '../../common/constants';
import { FairlineError } from '../../common/errors';
import { STAGE_TYPES, type StageType } from '../../stages';
import { artifactRefSchema } from '../../store/types';
import { startEngine, scheduledStages, type Engine } from '../engine';

/** A gate that fails with its findings, the way the audit stage's BiasGateFailed does. */
class VerdictFailed extends FairlineError {
  readonly type = 'BiasGateFailed';
  readonly retryable = false;
  constructor(readonly outputs: Record<string, unknown>) {
    super('the verdict is no');
  }
}

/** A failure without findings. */
class JudgeCrashed extends FairlineError {
  readonly type = 'JudgeCrashed';
  readonly retryable = false;
  constructor() {
    super('the judge crashed');
  }
}

const verdictWith = z.object({ pass: z.boolean(), score: z.number(), crash: z.boolean().default(false) }).strict();
const verdictType: StageType = {
  name: 'verdict',
  version: '1',
  description: 'Judge, and publish the score and the verdict (test plugin)',
  with: verdictWith,
  outputs: { finding: 'artifact', score: 'scalar', passed: 'scalar' },
  publish: {
    searchAttributes: { score: 'FairlineReactivity', passed: 'FairlineGatePassed', finding: 'FairlineModelDigest' },
    memo: { finding: 'finding' },
  },
  defaults: STAGE_TYPES.download!.defaults,
};
const verdict: StageImplementation = async (input, context) => {
  const { pass, score, crash } = verdictWith.parse(input);
  if (crash) throw new JudgeCrashed();
  const outputs = {
    finding: await context.store.put({ bytes: `score ${score}\n` }, { kind: 'finding', name: 'finding.txt' }),
    score,
    passed: pass,
  };
  if (!pass) throw new VerdictFailed(outputs);
  return outputs;
};

const collectWith = z.object({ finding: artifactRefSchema }).strict();
const collect: StageImplementation = async (input, context) => ({
  text: (await context.store.read(collectWith.parse(input).finding)).toString(),
});
const collectType = (alwaysRuns: boolean): StageType => ({
  name: alwaysRuns ? 'summarize' : 'deploy',
  version: '1',
  description: 'Read the finding (test plugin)',
  with: collectWith,
  outputs: { text: 'scalar' },
  ...(alwaysRuns ? { alwaysRuns } : {}),
  defaults: STAGE_TYPES.download!.defaults,
});

const stageTypes = { ...STAGE_TYPES, verdict: verdictType, summarize: collectType(true), deploy: collectType(false) };
const stages: Record<string, RegisteredStage> = {
  ...builtinStages(),
  verdict: { implementation: verdict, fingerprint: 'v'.repeat(64) },
  summarize: { implementation: collect, fingerprint: 's'.repeat(64) },
  deploy: { implementation: collect, fingerprint: 'd'.repeat(64) },
};

function pipeline(name: string, verdictWithBlock: string): string {
  return `
name: ${name}
stages:
  - { id: judge, uses: verdict, with: ${verdictWithBlock} }
  - { id: summary, uses: summarize, needs: [judge], with: { finding: "\${{ stages.judge.outputs.finding }}" } }
  - { id: ship, uses: deploy, needs: [judge], with: { finding: "\${{ stages.judge.outputs.finding }}" } }
`;
}

describe('stage outputs the run publishes', () => {
  let engine: Engine;
  before(async () => {
    engine = await startEngine({ stages, stageTypes });
  });
  after(async () => engine?.close());

  test('a stage type’s published outputs become typed search attributes and memo entries of the run', async () => {
    const handle = await engine.start(pipeline('publish-pass', '{ pass: true, score: 0.031 }'), { noCache: true });
    const outcome = await engine.outcome(handle);
    assert.equal(outcome.status, 'succeeded', outcome.error?.message);
    const description = await handle.describe();
    const attributes = description.typedSearchAttributes;
    assert.equal(attributes.get(SA.reactivity), 0.031);
    assert.equal(attributes.get(SA.gatePassed), true);
    const finding = artifactRefSchema.parse(outcome.progress.stages.find((s) => s.id === 'judge')!.outputs!.finding);
    assert.equal(attributes.get(SA.modelDigest), finding.sha256, 'an artifact output publishes its digest');
    assert.equal(description.memo?.finding, finding.uri);
  });

  test('a failed gate hands its findings to the stages that always run, skips the others, and fails the run as BiasGateFailed', async () => {
    const handle = await engine.start(pipeline('publish-fail', '{ pass: false, score: 0.2 }'), { noCache: true });
    const outcome = await engine.outcome(handle);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error?.cause?.name, 'ApplicationFailure');
    assert.match(outcome.error!.cause!.message, /stage "judge" failed: the verdict is no/);
    assert.equal(outcome.error!.cause instanceof ApplicationFailure && outcome.error!.cause.type, 'BiasGateFailed');
    const byId = Object.fromEntries(outcome.progress.stages.map((s) => [s.id, s]));
    assert.equal(byId.judge!.status, 'failed');
    assert.equal(byId.summary!.status, 'succeeded', 'the summary still runs on the findings');
    assert.equal(byId.summary!.outputs!.text, 'score 0.2\n');
    assert.equal(byId.ship!.status, 'skipped');
    assert.equal(byId.ship!.skippedBecause, 'judge');
    assert.deepEqual(scheduledStages(outcome.history).sort(), ['judge', 'summary']);
    const attributes = (await handle.describe()).typedSearchAttributes;
    assert.equal(attributes.get(SA.gatePassed), false);
    assert.equal(attributes.get(SA.reactivity), 0.2);
  });

  test('a stage that always runs is skipped when a need failed without findings', async () => {
    const outcome = await engine.run(pipeline('publish-crash', '{ pass: true, score: 0, crash: true }'), {
      noCache: true,
    });
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.error!.cause instanceof ApplicationFailure && outcome.error!.cause.type, 'StageFailed');
    const byId = Object.fromEntries(outcome.progress.stages.map((s) => [s.id, s]));
    assert.equal(byId.summary!.status, 'skipped');
    assert.equal(byId.ship!.status, 'skipped');
  });
});
