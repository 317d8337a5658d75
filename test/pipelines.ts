/**
 * Pipelines that both the workflow tests (test/workflows/pipeline-run.test.ts) and the history
 * recorder (scripts/record-histories.ts) run against the test HTTP source (test/http-source.ts).
 */
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
