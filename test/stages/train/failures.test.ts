import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { TRAINER_FAILURE_BUDGET } from '../../../stages/train/implementation';
import { startEngine, type Engine } from '../../engine';
import { tinyTrainingPipeline } from '../../pipelines';

/** Pids of live `python -m trainer train` processes started by this test process's worker. */
function trainers(): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), '-f', 'trainer train'])
      .toString()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

describe('the train stage’s failure budgets', () => {
  let engine: Engine;
  before(async () => (engine = await startEngine()));
  after(async () => engine?.close());

  test('a trainer that keeps crashing spends the trainer’s own budget and fails the stage for good, not after all 20 attempts', async () => {
    const handle = await engine.start(tinyTrainingPipeline({ name: 'crashing', epochs: 50 }));
    // Every trainer the stage starts is killed outright (SIGKILL): a crash of the trainer itself.
    let done = false;
    const killed = new Set<number>();
    const killer = (async () => {
      while (!done) {
        for (const pid of trainers()) {
          if (killed.has(pid)) continue;
          killed.add(pid);
          process.kill(pid, 'SIGKILL');
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const outcome = await engine.outcome(handle);
    done = true;
    await killer;
    assert.equal(outcome.status, 'failed');
    const activity = outcome.error?.cause?.cause;
    assert.ok(activity instanceof ActivityFailure);
    const cause = activity.cause;
    assert.ok(cause instanceof ApplicationFailure);
    assert.equal(cause.type, 'TrainerFailureBudgetSpent');
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, new RegExp(`the trainer failed ${TRAINER_FAILURE_BUDGET} times`));
    const attempts = (outcome.history.events ?? []).filter(
      (e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt !== undefined,
    );
    assert.equal(
      Math.max(...attempts.map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0)),
      TRAINER_FAILURE_BUDGET,
      'the stage stopped at the budget',
    );
    assert.equal(killed.size, TRAINER_FAILURE_BUDGET);
    const model = outcome.progress.stages.find((s) => s.id === 'model')!;
    assert.equal(model.attempts, TRAINER_FAILURE_BUDGET, 'the run reports the attempts Temporal counted');
  });
});
