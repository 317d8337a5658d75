/**
 * The sample stage run the way production runs it: YAML validated by the client, pipelineRun on
 * the suite's dev server, real workers, the demo dataset (data/demo) through a dataset stage.
 * The expected rows are computed here from the written rule (README.md: the N smallest
 * sha256("<seed>:<id>"), kept in input order), independently of the implementation.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { PROJECT_ROOT } from '../../../common/paths';
import { artifactRefSchema } from '../../../store/types';
import { startEngine, type Engine, type Outcome } from '../../engine';
import { tempDir } from '../../helpers';

const DEMO = join(PROJECT_ROOT, 'data', 'demo');

/** dataset (the demo's train split) → sample. */
function samplePipeline(name: string, sampleWith: string): string {
  return `
name: ${name}
stages:
  - id: data
    uses: dataset
    with:
      format: json
      sources: { train: { url: "${pathToFileURL(join(DEMO, 'train.json')).href}" } }
      mapping: { text: sentence, labels: { column: labels }, labelNames: [TA, UD, UI] }
  - { id: pick, uses: sample, needs: [data], with: { dataset: "\${{ stages.data.outputs.train }}", ${sampleWith} } }
`;
}

async function lines(engine: Engine, outcome: Outcome, stage: string, output: string): Promise<string[]> {
  assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
  const ref = artifactRefSchema.parse(outcome.progress.stages.find((s) => s.id === stage)!.outputs![output]);
  return (await engine.store.read(ref))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

/** The rule as README.md writes it. */
function expectedSample(rows: readonly string[], n: number, seed: number): string[] {
  const keyed = rows.map((text, line) => ({
    text,
    line,
    key: createHash('sha256')
      .update(`${seed}:${JSON.parse(text).id}`)
      .digest('hex'),
  }));
  const chosen = new Set(
    keyed
      .sort((a, b) => a.key.localeCompare(b.key) || a.line - b.line)
      .slice(0, n)
      .map((r) => r.line),
  );
  return rows.filter((_, line) => chosen.has(line));
}

describe('the sample stage in a pipeline', () => {
  let engine: Engine;
  before(async () => {
    engine = await startEngine();
  });
  after(async () => {
    await engine?.close();
  });

  test('draws N rows of a dataset stage’s split: the N smallest keys under the seed, in input order, byte for byte', async () => {
    const outcome = await engine.run(samplePipeline('sample-demo', 'rows: 10, seed: 7'));
    const train = await lines(engine, outcome, 'data', 'train');
    const drawn = await lines(engine, outcome, 'pick', 'dataset');
    assert.ok(train.length > 10);
    assert.deepEqual(drawn, expectedSample(train, 10, 7));
    assert.equal(outcome.progress.stages.find((s) => s.id === 'pick')!.outputs!.rows, 10);
  });

  test('the same seed draws the same rows in another run; another seed draws others; a smaller sample is part of a larger one', async () => {
    const first = await engine.run(samplePipeline('sample-again', 'rows: 10, seed: 7'), { noCache: true });
    const again = await engine.run(samplePipeline('sample-again', 'rows: 10, seed: 7'), { noCache: true });
    const other = await engine.run(samplePipeline('sample-other', 'rows: 10, seed: 8'));
    const larger = await engine.run(samplePipeline('sample-larger', 'rows: 20, seed: 7'));
    const a = await lines(engine, first, 'pick', 'dataset');
    assert.deepEqual(await lines(engine, again, 'pick', 'dataset'), a);
    assert.equal(again.progress.stages.find((s) => s.id === 'pick')!.cached, false, 'noCache ran the stage again');
    assert.notDeepEqual(await lines(engine, other, 'pick', 'dataset'), a);
    const big = await lines(engine, larger, 'pick', 'dataset');
    assert.ok(a.every((row) => big.includes(row)));
  });

  test('asking for more rows than the dataset has keeps every row, in order', async () => {
    const outcome = await engine.run(samplePipeline('sample-all', 'rows: 100000'));
    const train = await lines(engine, outcome, 'data', 'train');
    assert.deepEqual(await lines(engine, outcome, 'pick', 'dataset'), train);
    assert.equal(outcome.progress.stages.find((s) => s.id === 'pick')!.outputs!.rows, train.length);
  });

  test('a row that is not a canonical row fails the stage, naming its line, without retries', async () => {
    const file = join(await tempDir('fairline-sample-'), 'bad.jsonl');
    await writeFile(file, '{"id":"a","text":"one","labels":0}\n{"id":"b","labels":0}\n');
    const outcome = await engine.run(`
name: sample-bad-row
stages:
  - { id: data, uses: download, with: { url: "${pathToFileURL(file).href}" } }
  - { id: pick, uses: sample, needs: [data], with: { dataset: "\${{ stages.data.outputs.dataset }}", rows: 1 } }
`);
    assert.equal(outcome.status, 'failed');
    assert.match(
      outcome.error!.cause!.message,
      /stage "pick" failed: row "b" \(line 2 of dataset\): not a canonical row: text: /,
    );
    assert.equal(outcome.progress.stages.find((s) => s.id === 'pick')!.attempts, 1);
  });

  test('the client refuses a sample of no rows at its FILE:LINE:COL before a run starts', async () => {
    await assert.rejects(
      engine.start(samplePipeline('sample-zero', 'rows: 0')),
      /\d+:\d+ .*rows.*(greater|>|positive|too small)/i,
    );
  });
});
