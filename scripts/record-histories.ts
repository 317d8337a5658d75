/**
 * Records the event histories that test/workflows/replay.test.ts replays against today's
 * `pipelineRun`, to catch changes that would break runs already in flight.
 *
 *     npx tsx scripts/record-histories.ts            # writes test/histories/*.json
 *
 * It starts its own Temporal dev server and real in-process workers (test/engine.ts), runs a few
 * representative pipelines, checks that each ended as intended, and writes each run's history as
 * Temporal's JSON (`{ "events": [...] }`, what `temporal workflow show -o json` prints).
 *
 * Why: Temporal rebuilds a workflow's state by re-running its code against the recorded history.
 * A deploy whose `pipelineRun` makes different decisions for the same history (another order of
 * activities, an extra or missing activity, timer, local activity or search-attribute upsert)
 * breaks every run that is open at that moment with a nondeterminism error. The replay test
 * fails on such a change before it ships.
 *
 * When to re-record: only when the replay test fails because of an intentional change AND no
 * run of the old code can still be open anywhere. Re-recording just to turn the test green hides
 * exactly the bug it exists to find. The usual path for an intentional change is instead:
 *   1. gate the new behaviour with `patched('some-change-id')` from @temporalio/workflow (old
 *      histories take the old branch, new runs the new one), or ship it as a new workflow type
 *      / a new worker build id, so that open runs keep the code they started with;
 *   2. keep the old histories (they must still replay: that proves the old branch is intact),
 *      and run this script to add histories of the new behaviour — rename or move the old
 *      files first (e.g. `diamond-succeeded.v1.json`) so that they are not overwritten;
 *   3. once no old run can be open, `deprecatePatch(...)`, later remove the old branch, and
 *      only then delete the old histories and re-record.
 * Add a scenario here whenever `pipelineRun` gains a new kind of decision (a signal, a timer,
 * continue-as-new, a child workflow) so that the replay test covers it too.
 *
 * test/histories/unchanged-skipped-before-traits.json is not written here: it was recorded with
 * the code before the `stage-traits` patch (commit bbd3e3b; the same scenario as
 * `unchanged-skipped`), and proves that runs started then keep the old rule; keep it until that
 * patch is deprecated.
 *
 * The payloads hold tmp paths and loopback ports of the recording machine (harmless: replay takes
 * them from the history). Worker identities, the host name (in sticky queue names) and the
 * checkout's path (in stack traces) are replaced so that the files do not name the recording host.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { PROJECT_ROOT } from '../common/paths';
import { startTemporalDevServer, type DevServer } from '../infra/temporal';
import { startEngine, type Engine, type Outcome } from '../test/engine';
import { startHttpSource, type HttpSource } from '../test/http-source';
import { endlessPipeline, missingPipeline } from '../test/pipelines';
import { testStages, testStageTypes } from '../test/stages';

export const HISTORIES_DIR = join(PROJECT_ROOT, 'test', 'histories');
const MAX_BYTES = 200 * 1024;
const RECORDER_IDENTITY = 'fairline-history-recorder';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** top (pinned download) → left, right (concat of top) → bottom (concat of left and right). */
function diamond(http: HttpSource): string {
  const body = 'the top of the diamond\n';
  http.files.set('top.txt', body);
  return `
name: diamond
stages:
  - { id: top, uses: download, with: { url: "${http.url('/files/top.txt')}", sha256: "${sha(body)}" } }
  - { id: left, uses: concat, needs: [top], with: { parts: ["\${{ stages.top.outputs.dataset }}"], name: left.txt } }
  - { id: right, uses: concat, needs: [top], with: { parts: ["\${{ stages.top.outputs.dataset }}"], name: right.txt } }
  - id: bottom
    uses: concat
    needs: [left, right]
    with: { parts: ["\${{ stages.left.outputs.dataset }}", "\${{ stages.right.outputs.dataset }}"] }
`;
}

/** data (a pinned download, a source) → copy; run nightly with skipIfUnchanged, the second night is skipped. */
function unchanged(http: HttpSource): string {
  const body = 'nightly data\n';
  http.files.set('nightly.txt', body);
  return `
name: unchanged
stages:
  - { id: data, uses: download, with: { url: "${http.url('/files/nightly.txt')}", sha256: "${sha(body)}" } }
  - { id: copy, uses: concat, needs: [data], with: { parts: ["\${{ stages.data.outputs.dataset }}"] } }
`;
}

function expect(name: string, outcome: Outcome, status: Outcome['status'], stages: Record<string, string>): void {
  const actual = Object.fromEntries(outcome.progress.stages.map((s) => [s.id, s.status]));
  const problems = [
    ...(outcome.status === status ? [] : [`run ended ${outcome.status}, expected ${status}`]),
    ...Object.entries(stages)
      .filter(([id, want]) => actual[id] !== want)
      .map(([id, want]) => `stage ${id} is ${actual[id]}, expected ${want}`),
  ];
  if (problems.length > 0) throw new Error(`scenario "${name}" did not go as intended: ${problems.join('; ')}`);
}

async function cancelOnceHeartbeating(engine: Engine, handle: WorkflowHandle): Promise<Outcome> {
  for (let i = 0; i < 100; i++) {
    const description = await handle.describe();
    if ((description.raw.pendingActivities ?? []).some((a) => a.heartbeatDetails)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await handle.cancel();
  return engine.outcome(handle);
}

/** Temporal's JSON of a history, pretty-printed, with the recording host made anonymous. */
function historyFile(history: temporal.api.history.v1.IHistory): string {
  const json = JSON.parse(historyToJSON(history)) as unknown;
  const host = hostname();
  const scrubText = (text: string): string =>
    text.split(`${PROJECT_ROOT}/`).join('./').split(host).join('recorder-host');
  const scrub = (value: unknown): unknown => {
    if (typeof value === 'string') return scrubText(value);
    if (Array.isArray(value)) return value.map(scrub);
    if (value === null || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === 'identity' && typeof v === 'string' ? RECORDER_IDENTITY : scrub(v),
      ]),
    );
  };
  return `${JSON.stringify(scrub(json), null, 2)}\n`;
}

async function main(): Promise<void> {
  let server: DevServer | undefined;
  let engine: Engine | undefined;
  let http: HttpSource | undefined;
  try {
    console.log('starting a Temporal dev server');
    server = await startTemporalDevServer();
    engine = await startEngine({ address: server.address, stages: testStages(), stageTypes: testStageTypes });
    http = await startHttpSource();

    const recorded: [string, Outcome][] = [];
    const first = await engine.run(diamond(http));
    expect('diamond-succeeded', first, 'succeeded', {
      top: 'succeeded',
      left: 'succeeded',
      right: 'succeeded',
      bottom: 'succeeded',
    });
    recorded.push(['diamond-succeeded', first]);

    const again = await engine.run(diamond(http));
    expect('diamond-fully-cached', again, 'succeeded', {
      top: 'cached',
      left: 'cached',
      right: 'cached',
      bottom: 'cached',
    });
    recorded.push(['diamond-fully-cached', again]);

    const failed = await engine.run(missingPipeline(http));
    expect('failed-stage-skips-downstream', failed, 'failed', {
      data: 'failed',
      after: 'skipped',
      independent: 'succeeded',
    });
    recorded.push(['failed-stage-skips-downstream', failed]);

    const cancelled = await cancelOnceHeartbeating(engine, await engine.start(endlessPipeline(http)));
    expect('cancelled-while-running', cancelled, 'cancelled', { trickle: 'cancelled', after: 'cancelled' });
    recorded.push(['cancelled-while-running', cancelled]);

    const firstNight = await engine.run(unchanged(http), { skipIfUnchanged: true });
    expect('unchanged-first-night', firstNight, 'succeeded', { data: 'succeeded', copy: 'succeeded' });
    const secondNight = await engine.run(unchanged(http), { skipIfUnchanged: true });
    expect('unchanged-skipped', secondNight, 'succeeded', { data: 'cached', copy: 'skipped' });
    if (secondNight.progress.status !== 'skipped')
      throw new Error(`scenario "unchanged-skipped" ended ${secondNight.progress.status}, expected skipped`);
    recorded.push(['unchanged-skipped', secondNight]);

    await mkdir(HISTORIES_DIR, { recursive: true });
    for (const [name, outcome] of recorded) {
      const text = historyFile(outcome.history);
      const bytes = Buffer.byteLength(text);
      if (bytes > MAX_BYTES) throw new Error(`history "${name}" is ${bytes} bytes, over the ${MAX_BYTES}-byte budget`);
      const file = join(HISTORIES_DIR, `${name}.json`);
      await writeFile(file, text);
      console.log(`wrote ${file} (${outcome.history.events?.length ?? 0} events, ${(bytes / 1024).toFixed(1)} KiB)`);
    }
  } finally {
    await engine?.close();
    await http?.close();
    await server?.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
