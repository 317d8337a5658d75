/**
 * `fairline gc` as an operator runs it, against the suite's Temporal dev server and a file store:
 * it asks Temporal which executions run, keeps their checkpoints, and reports the bytes it frees.
 *
 *   npx tsx infra/run-tests.ts test/cli/gc.test.ts
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { FsArtifactStore } from '../../store/fs-store';
import { cleanEnv, fairline, suiteTemporal, tempDir } from '../helpers';

describe('fairline gc', () => {
  let connection: Connection;
  let running: WorkflowHandleWithFirstExecutionRunId;

  before(async () => {
    connection = await Connection.connect({ address: suiteTemporal().address });
    const client = new Client({ connection, namespace: 'fairline' });
    // A run no worker picks up stays Running as long as the test needs it.
    running = await client.workflow.start('pipelineRun', {
      workflowId: `pipeline/gc-test/${randomUUID().slice(0, 8)}`,
      taskQueue: `nobody-${randomUUID()}`,
      args: [],
    });
  });
  after(async () => {
    await running?.terminate('test over').catch(() => {});
    await connection?.close();
  });

  test("keeps a running execution's checkpoint, removes an ended one's and an orphan, and a dry run removes nothing", async () => {
    const dir = await tempDir('fairline-gc-cli-');
    const store = new FsArtifactStore(join(dir, 'artifacts'));
    const liveFile = await store.put({ bytes: 'live weights' }, { kind: 'checkpoint-file', name: 'model.safetensors' });
    const liveBundle = `checkpoints/gc-test/r1/${running.firstExecutionRunId}/train/step-0000000005.json`;
    await store.putAt(
      liveBundle,
      { bytes: JSON.stringify({ step: 5, files: { 'model.safetensors': liveFile } }) },
      { kind: 'checkpoint' },
    );
    const endedFile = await store.put(
      { bytes: 'ended weights' },
      { kind: 'checkpoint-file', name: 'model.safetensors' },
    );
    const endedBundle = `checkpoints/gc-test/r0/${randomUUID()}/train/step-0000000005.json`;
    const ended = await store.putAt(
      endedBundle,
      { bytes: JSON.stringify({ step: 5, files: { 'model.safetensors': endedFile } }) },
      { kind: 'checkpoint' },
    );
    const orphan = await store.put({ bytes: 'nobody names me' }, { kind: 'blob', name: 'orphan.bin' });
    const freed = ended.bytes + endedFile.bytes + orphan.bytes;
    const gone = [endedBundle, store.keyOf(endedFile.uri), store.keyOf(orphan.uri)];

    const env = cleanEnv({
      FAIRLINE_TEMPORAL_ADDRESS: suiteTemporal().address,
      FAIRLINE_STORE: pathToFileURL(join(dir, 'artifacts')).href,
    });
    const all = async (): Promise<string[]> => (await store.list('')).map((i) => i.key).sort();
    const before = await all();

    const dry = await fairline(['gc', '--dry-run', '--min-age', '0'], env);
    assert.equal(dry.code, 0, dry.stderr);
    for (const key of gone) assert.match(dry.stdout, new RegExp(`would remove ${key}`));
    assert.match(dry.stdout, new RegExp(`dry run: 3 objects, ${freed} B would be freed`));
    assert.deepEqual(await all(), before);

    const real = await fairline(['gc', '--min-age', '0'], env);
    assert.equal(real.code, 0, real.stderr);
    assert.match(real.stdout, new RegExp(`freed ${freed} B \\(${freed} bytes\\) in 3 objects`));
    assert.deepEqual(
      await all(),
      before.filter((k) => !gone.includes(k)),
    );
    assert.ok(await store.head(liveBundle), 'the running execution keeps its checkpoint');
    assert.ok(await store.head(store.keyOf(liveFile.uri)), '… and the file it names');

    const grace = await fairline(['gc', '--min-age', 'soon'], env);
    assert.equal(grace.code, 2);
    assert.match(grace.stderr, /--min-age "soon": give a number of minutes/);
  });
});
