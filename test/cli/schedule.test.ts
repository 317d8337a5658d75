import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { stopProcess } from '../../infra/temporal';
import { startHttpSource, type HttpSource } from '../http-source';
import { cleanEnv, fairline, startWorkerProcess, suiteTemporal, tempDir } from '../helpers';

describe('fairline schedule', () => {
  let env: NodeJS.ProcessEnv;
  let dir: string;
  let http: HttpSource;
  let worker: ChildProcess;
  let client: Client;

  /** Lists runs matching a visibility query once `count` of them have closed (or fails after a while). */
  async function closedRuns(
    query: string,
    count: number,
    timeoutMs = 60_000,
  ): Promise<{ workflowId: string; status: string; fairlineStatus: string; trigger: string }[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = [];
      for await (const w of client.workflow.list({ query })) {
        const sa = w.searchAttributes ?? {};
        found.push({
          workflowId: w.workflowId,
          status: w.status.name,
          fairlineStatus: String(sa.FairlineStatus?.[0] ?? ''),
          trigger: String(sa.FairlineTrigger?.[0] ?? ''),
        });
      }
      const closed = found.filter((f) => f.status !== 'RUNNING');
      if (closed.length >= count && closed.every((f) => f.fairlineStatus !== 'running')) return closed;
      if (Date.now() > deadline)
        throw new Error(`only ${closed.length}/${count} closed runs for ${query}: ${JSON.stringify(found)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async function pipelineFile(name: string, schedule: string): Promise<string> {
    http.files.set(`${name}.txt`, `data of ${name}\n`);
    const sha = createHash('sha256').update(`data of ${name}\n`).digest('hex');
    const file = join(dir, `${name}.yaml`);
    await writeFile(
      file,
      `name: ${name}\nschedule: ${schedule}\nstages:\n  - { id: data, uses: download, with: { url: "${http.url(`/files/${name}.txt`)}", sha256: ${sha} } }\n`,
    );
    return file;
  }

  before(async () => {
    dir = await tempDir();
    http = await startHttpSource();
    const { address, uiUrl } = suiteTemporal();
    env = cleanEnv({
      FAIRLINE_TEMPORAL_ADDRESS: address,
      FAIRLINE_TEMPORAL_UI_URL: uiUrl,
      FAIRLINE_STORE: pathToFileURL(join(dir, 'store')).href,
    });
    worker = await startWorkerProcess(env);
    client = new Client({ connection: await Connection.connect({ address }), namespace: 'fairline' });
  });
  after(async () => {
    for (const name of ['nightly', 'backfilled', 'unchanged', 'unchanged-dataset', 'one-at-a-time'])
      await fairline(['schedule', 'delete', name], env).catch(() => undefined);
    if (worker) await stopProcess(worker);
    await client?.connection.close();
    await http?.close();
  });

  test('apply creates a schedule, re-applying the same file changes nothing, and an edited file updates it with a diff', async () => {
    const file = await pipelineFile('nightly', '{ cron: "0 3 * * *", timezone: Asia/Seoul, paused: true }');
    const created = await fairline(['schedule', 'apply', file], env);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /schedule\/nightly: created/);
    const again = await fairline(['schedule', 'apply', file], env);
    assert.match(again.stdout, /schedule\/nightly: unchanged/);
    const text = (await readFile(file, 'utf8')).replace('0 3 * * *', '30 4 * * *');
    await writeFile(file, text);
    const updated = await fairline(['schedule', 'apply', file], env);
    assert.match(updated.stdout, /schedule\/nightly: updated/);
    assert.match(updated.stdout, /schedule\.cron: "0 3 \* \* \*" → "30 4 \* \* \*"/);
    const described = await fairline(['schedule', 'describe', 'nightly', '--json'], env);
    const d = JSON.parse(described.stdout);
    assert.equal(d.paused, true);
    assert.equal(d.next.length, 5);
    // 04:30 in Seoul is 19:30 UTC.
    assert.ok(
      d.next.every((t: string) => t.endsWith('T19:30:00.000Z')),
      JSON.stringify(d.next),
    );
  });

  test('a backfill of three intervals starts three runs marked FairlineTrigger = backfill', async () => {
    const file = await pipelineFile('backfilled', '{ every: 1h, paused: true }');
    assert.equal((await fairline(['schedule', 'apply', file], env)).code, 0);
    const to = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 1);
    const from = new Date(to.getTime() - 3 * 3_600_000);
    const backfill = await fairline(
      ['schedule', 'backfill', 'backfilled', '--from', from.toISOString(), '--to', to.toISOString()],
      env,
    );
    assert.equal(backfill.code, 0, backfill.stderr);
    const runs = await closedRuns(`FairlinePipeline = "backfilled"`, 3);
    assert.equal(runs.length, 3);
    assert.ok(
      runs.every((r) => r.trigger === 'backfill' && r.status === 'COMPLETED'),
      JSON.stringify(runs),
    );
    assert.ok(runs.every((r) => r.workflowId.startsWith('pipeline/backfilled/scheduled-')));
  });

  test('skipIfUnchanged ends the second run as skipped when data and spec are unchanged', async () => {
    const file = await pipelineFile('unchanged', '{ every: 24h, paused: true, skipIfUnchanged: true }');
    assert.equal((await fairline(['schedule', 'apply', file], env)).code, 0);
    assert.equal((await fairline(['schedule', 'trigger', 'unchanged'], env)).code, 0);
    await closedRuns(`FairlinePipeline = "unchanged"`, 1);
    assert.equal((await fairline(['schedule', 'trigger', 'unchanged'], env)).code, 0);
    const runs = await closedRuns(`FairlinePipeline = "unchanged"`, 2);
    const statuses = runs.map((r) => r.fairlineStatus).sort();
    assert.deepEqual(statuses, ['skipped', 'succeeded']);
    assert.ok(runs.every((r) => r.trigger === 'schedule'));
  });

  test('a nightly skipIfUnchanged schedule whose data comes through a dataset stage skips the second run: the dataset is a source', async () => {
    // Unpinned, so the dataset stage itself runs every night; its outputs' digests are the run's data.
    http.files.set(
      'unchanged-dataset.jsonl',
      ['{"text":"서울에서 만나요","labels":[0,1]}', '{"text":"부산은 멀다","labels":[1,0]}'].join('\n') + '\n',
    );
    const file = join(dir, 'unchanged-dataset.yaml');
    await writeFile(
      file,
      `name: unchanged-dataset
schedule: { cron: "0 3 * * *", timezone: Asia/Seoul, paused: true, skipIfUnchanged: true }
stages:
  - id: data
    uses: dataset
    with: { format: jsonl, url: "${http.url('/files/unchanged-dataset.jsonl')}", mapping: { text: text, labels: { column: labels } } }
  - id: masked
    uses: ner-mask
    needs: [data]
    with: { dataset: "\${{ stages.data.outputs.train }}", sources: { lexicon: { terms: [서울, 부산], type: LOC } } }
`,
    );
    assert.equal((await fairline(['schedule', 'apply', file], env)).code, 0);
    assert.equal((await fairline(['schedule', 'trigger', 'unchanged-dataset'], env)).code, 0);
    await closedRuns(`FairlinePipeline = "unchanged-dataset"`, 1);
    assert.equal((await fairline(['schedule', 'trigger', 'unchanged-dataset'], env)).code, 0);
    const runs = await closedRuns(`FairlinePipeline = "unchanged-dataset"`, 2);
    assert.deepEqual(runs.map((r) => r.fairlineStatus).sort(), ['skipped', 'succeeded']);
    const skipped = runs.find((r) => r.fairlineStatus === 'skipped')!;
    const result: { stages: { id: string; status: string; skippedBecause?: string }[] } = await client.workflow
      .getHandle(skipped.workflowId)
      .result();
    const byId = new Map(result.stages.map((s) => [s.id, s]));
    assert.equal(byId.get('data')!.status, 'succeeded', 'the source ran and found the same digests');
    assert.equal(byId.get('masked')!.status, 'skipped');
    assert.match(byId.get('masked')!.skippedBecause ?? '', /^unchanged since run /);
  });

  test('overlap skip keeps one run at a time', async () => {
    const file = join(dir, 'one-at-a-time.yaml');
    await writeFile(
      file,
      `name: one-at-a-time\nschedule: { every: 1s, overlap: skip }\nstages:\n  - { id: slow, uses: download, with: { url: "${http.url('/slow/x.txt?ms=3000')}" } }\n`,
    );
    assert.equal((await fairline(['schedule', 'apply', file], env)).code, 0);
    let maxRunning = 0;
    const until = Date.now() + 7_000;
    while (Date.now() < until) {
      let running = 0;
      for await (const _ of client.workflow.list({
        query: `FairlinePipeline = "one-at-a-time" AND ExecutionStatus = "Running"`,
      }))
        running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 300));
    }
    await fairline(['schedule', 'pause', 'one-at-a-time', '--note', 'test over'], env);
    assert.equal(maxRunning, 1, 'never more than one run at once');
    let total = 0;
    for await (const _ of client.workflow.list({ query: `FairlinePipeline = "one-at-a-time"` })) total++;
    assert.ok(total >= 2 && total <= 4, `a 3 s run every second under overlap skip: ${total} runs in 7 s`);
  });
});
