/**
 * Pipelines that both the workflow tests (test/workflows/pipeline-run.test.ts) and the history
 * recorder (scripts/record-histories.ts) run against the test HTTP source (test/http-source.ts).
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../common/paths';
import type { HttpSource } from './http-source';

/** A stage's retry policy that gives up within seconds, for stages expected to fail or retry once. */
export const fastRetry = 'retry: { maximumAttempts: 3, initialInterval: 200ms, maximumInterval: 1s }';

/** A 404 (non-retryable) fails `data`; `after` is skipped; `independent` still runs. */
export function missingPipeline(http: HttpSource): string {
  return `
name: missing
stages:
  - id: data
    uses: download
    ${fastRetry}
    with: { url: "${http.url('/missing/nothing.txt')}" }
  - { id: after, uses: download, needs: [data], with: { url: "${http.url('/files/after.txt')}" } }
  - { id: independent, uses: download, with: { url: "${http.url('/files/independent.txt')}" } }
`;
}

/** A download that never ends (heartbeat timeout 3 s), to be cancelled; `after` never starts. */
export function endlessPipeline(http: HttpSource): string {
  return `
name: endless
stages:
  - id: trickle
    uses: download
    timeout: { startToClose: 10m, heartbeat: 3s }
    with: { url: "${http.url('/trickle/forever.bin')}" }
  - { id: after, uses: download, needs: [trickle], with: { url: "${http.url('/files/never.txt')}" } }
`;
}

/**
 * A pipeline of about `bytes` bytes whose first mask stage anchors a long lexicon (`&terms`) that
 * `reuses` more stages take by alias (`*terms`): small on disk, `reuses + 1` times larger once
 * aliases are expanded. The validator must refuse it at the alias, without expanding it.
 */
export function aliasBombPipeline(bytes = 3_000_000, reuses = 99): { text: string; firstAlias: `${number}:${number}` } {
  const head = `name: alias-bomb
stages:
  - id: data
    uses: dataset
    with: { format: jsonl, url: "file:///data/train.jsonl", mapping: { text: text, labels: { column: labels } } }
  - id: mask-0
    uses: ner-mask
    needs: [data]
    with:
      dataset: "\${{ stages.data.outputs.train }}"
      sources:
        lexicon:
          type: GROUP
          terms: &terms
`;
  const terms: string[] = [];
  for (let size = head.length, i = 0; size < bytes; i++) {
    const line = `            - term-${String(i).padStart(9, '0')}\n`;
    terms.push(line);
    size += line.length;
  }
  const text = head + terms.join('');
  const reused = Array.from(
    { length: reuses },
    (_, i) =>
      `  - { id: mask-${i + 1}, uses: ner-mask, needs: [data], with: { dataset: "\${{ stages.data.outputs.train }}", sources: { lexicon: { type: GROUP, terms: *terms } } } }\n`,
  );
  const firstLine = text.split('\n').length;
  return { text: text + reused.join(''), firstAlias: `${firstLine}:${(reused[0] ?? '').indexOf('*terms') + 1}` };
}

/**
 * A tiny scratch model trained on fairline's demo data: seconds per epoch on a CPU, so a test or
 * bench picks `epochs` to be mid-training when it acts. `retry` is a stage-level YAML line.
 */
export function tinyTrainingPipeline(options: {
  name: string;
  epochs: number;
  checkpointEvery?: number;
  retry?: string;
}): string {
  const data = join(PROJECT_ROOT, 'data', 'demo');
  const checkpoints =
    options.checkpointEvery === undefined ? '' : ` checkpointEvery: ${options.checkpointEvery}, keepCheckpoints: 0,`;
  return `
name: ${options.name}
stages:
  - id: data
    uses: dataset
    with: { format: json, url: "file://${data}/train.json", mapping: { text: sentence, labels: { column: labels } } }
  - id: model
    uses: train
    needs: [data]
    ${options.retry ?? ''}
    with: { dataset: "\${{ stages.data.outputs.train }}", epochs: ${options.epochs}, batchSize: 8, lr: 0.001, maxLength: 16,${checkpoints} scratch: { hidden: 32, intermediate: 64, layers: 1, heads: 2 } }
`;
}
