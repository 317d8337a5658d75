/**
 * Checkpoint retention (config store.keepCheckpoints, stages/train/implementation.ts pruneCheckpoints):
 * once a train stage has stored its final model, its checkpoint bundles go (or all but the newest
 * N stay), and `fairline gc` then frees the checkpoint files while the model still reads back.
 * A real trainer on a tiny scratch model: 20 steps, a checkpoint every 5.
 *
 *   npx tsx infra/run-tests.ts test/stages/train/retention.test.ts
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { collectGarbage } from '../../../store/gc';
import { artifactRefSchema } from '../../../store/types';
import { startEngine, type Engine } from '../../engine';
import { tinyTrainingPipeline } from '../../pipelines';

function pipeline(name: string): string {
  return tinyTrainingPipeline({ name, epochs: 2, checkpointEvery: 5 });
}

const CASES: { keep: number | 'all' | undefined; left: (stored: number) => number; says: string }[] = [
  { keep: undefined, left: () => 0, says: 'by default no checkpoint bundle outlives the stored model' },
  { keep: 2, left: () => 2, says: 'keepCheckpoints: 2 leaves the newest two' },
  { keep: 'all', left: (stored) => stored, says: "keepCheckpoints: 'all' leaves every one" },
];

describe('checkpoints after a train stage succeeds', () => {
  const engines: Engine[] = [];
  after(async () => {
    for (const engine of engines) await engine.close();
  });

  for (const { keep, left, says } of CASES) {
    test(says, async () => {
      const engine = await startEngine(keep !== undefined ? { keepCheckpoints: keep } : {});
      engines.push(engine);
      const name = `retention-${keep ?? 'default'}`;
      // Count the bundles as the trainer stores them: polled while the run goes.
      const seen = new Set<string>();
      const handle = await engine.start(pipeline(name), { runId: 'r1' });
      let done = false;
      const watching = (async () => {
        while (!done) {
          for (const info of await engine.store.list(`checkpoints/${name}/`)) seen.add(info.key);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const outcome = await engine.outcome(handle);
      done = true;
      await watching;
      assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
      assert.ok(seen.size >= 2, `the trainer stored checkpoints while it ran (${seen.size} seen)`);

      const remaining = (await engine.store.list(`checkpoints/${name}/`)).map((info) => info.key);
      // A bundle written between two polls is seen here, if it stayed.
      for (const key of remaining) seen.add(key);
      assert.equal(remaining.length, left(seen.size), remaining.join(', '));
      // The newest survive: the kept ones are the last in step order of all that were stored.
      assert.deepEqual(remaining, [...seen].sort().slice(seen.size - remaining.length));

      // gc frees what only the removed bundles named; the model and everything the manifest reaches stay whole.
      const gc = await collectGarbage(engine.store, {
        liveExecutions: new Set(),
        minAgeMs: 0,
        dryRun: false,
        keepEndedCheckpoints: true,
      });
      if (keep === undefined) assert.ok(gc.bytes > 0, 'checkpoint files were freed');
      const model = outcome.progress.stages.find((s) => s.id === 'model')!;
      for (const output of ['model', 'tokenizer', 'huggingface', 'classifier'] as const) {
        await engine.store.read(artifactRefSchema.parse(model.outputs![output]));
      }
      const hf = JSON.parse(
        (await engine.store.read(artifactRefSchema.parse(model.outputs!.huggingface))).toString(),
      ) as { files: Record<string, unknown> };
      for (const file of Object.values(hf.files)) await engine.store.read(artifactRefSchema.parse(file));
    });
  }
});
