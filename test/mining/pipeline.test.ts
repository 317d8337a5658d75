/**
 * The stage in a pipeline file: the client validates its `with` block against the registry (the
 * output references it takes and gives), and reports a config that mines nothing at its line.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TASK_QUEUES } from '../../common/constants';
import { validatePipelineText } from '../../pipeline/validate';

const PIPELINE = (mine: string): string => `
name: mining
stages:
  - id: data
    uses: dataset
    with: { format: jsonl, url: "file:///data/train.jsonl", mapping: { text: text, labels: { column: labels } } }
  - id: baseline
    uses: train
    needs: [data]
    with: { dataset: "\${{ stages.data.outputs.train }}" }
  - id: mine
    uses: mine-hard-negatives
    needs: [data, baseline]
    with:
${mine}
  - id: retrain
    uses: train
    needs: [data, mine]
    with:
      dataset: "\${{ stages.data.outputs.train }}"
      hardNegatives: { dataset: "\${{ stages.mine.outputs.dataset }}", weight: 2 }
`;

describe('mine-hard-negatives in a pipeline file', () => {
  test('a pool, a model and both recipes validate, and train takes the mined dataset', () => {
    const result = validatePipelineText(
      PIPELINE(`      dataset: "\${{ stages.data.outputs.train }}"
      model: "\${{ stages.baseline.outputs.classifier }}"
      modelBased: { perLabel: 20 }
      bm25: { neighbours: 2, ngrams: [1, 3] }
      inference: { batchSize: 32 }`),
      'mining.yaml',
    );
    assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.problems));
    const stage = result.spec.stages.find((s) => s.id === 'mine');
    assert.equal(stage?.uses, 'mine-hard-negatives');
    assert.equal(stage?.queue, TASK_QUEUES.cpu);
  });

  test('bm25 off without a model is refused at its line', () => {
    const result = validatePipelineText(
      PIPELINE(`      dataset: "\${{ stages.data.outputs.train }}"\n      bm25: false`),
      'mining.yaml',
    );
    assert.ok(!result.ok);
    assert.equal(result.problems.length, 1);
    assert.match(result.problems[0]!.message, /this mines nothing/);
    // Line 16 of the text: `bm25: false`.
    assert.equal(result.problems[0]!.line, 16);
  });
});
