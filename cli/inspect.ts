/**
 * Commands that look at runs and artifacts: `cancel`, `lineage`, `cache ls|rm` (`runs` is in runs.ts).
 */
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { z } from 'zod';
import { RunNotFound } from '../client/errors';
import { resolveRun } from '../client/runs';
import { withClient } from '../common/connections';
import { openStore } from '../store';
import { artifactRefSchema, type ArtifactStore } from '../store/types';
import type { FairlineConfig } from '../temporal.config';
import { workflowUrl } from '../client/follow';
import { table } from './table';

const say = (line: string): void => void process.stderr.write(`${line}\n`);
const print = (line: string): void => void process.stdout.write(`${line}\n`);

export async function cancelCommand(config: FairlineConfig, runId: string, opts: { wait: string }): Promise<number> {
  return withClient(config, async (client) => {
    let workflowId: string;
    try {
      workflowId = await resolveRun(client, runId, {});
    } catch (error) {
      if (!(error instanceof RunNotFound)) throw error;
      say(error.message);
      return 1;
    }
    const { status, runId: executionRunId } = await client.workflow.getHandle(workflowId).describe();
    // Pinned to the execution found now, so a later run under the same id is never touched.
    const handle = client.workflow.getHandle(workflowId, executionRunId);
    if (status.name !== 'RUNNING') {
      say(`${workflowId} is not running (${status.name.toLowerCase()})`);
      return 1;
    }
    await handle.cancel();
    say(`cancel requested for ${workflowId}; running stages stop at their next heartbeat…`);
    const waitMs = Number(opts.wait) * 1000;
    const outcome = await Promise.race([
      handle.result().then(
        () => 'succeeded before the cancellation reached it',
        (error: unknown) =>
          error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure
            ? 'cancelled'
            : `ended: ${String(error)}`,
      ),
      // unref: once the run has ended, this timer must not keep the command alive.
      new Promise<string>((r) =>
        setTimeout(
          () => r(`still stopping after ${opts.wait} s (see ${workflowUrl(config, workflowId)})`),
          waitMs,
        ).unref(),
      ),
    ]);
    print(`${workflowId}: ${outcome}`);
    return outcome === 'cancelled' ? 0 : 1;
  });
}

const lineageEntrySchema = z
  .object({
    artifact: artifactRefSchema,
    output: z.string(),
    stage: z.string(),
    uses: z.string(),
    pipeline: z.string(),
    runId: z.string(),
    workflowRunId: z.string(),
    manifest: z.string(),
  })
  .strict();

async function readJson(store: ArtifactStore, key: string): Promise<unknown> {
  const info = await store.head(key);
  if (!info?.sha256) return undefined;
  return JSON.parse(
    (await store.read({ uri: info.uri, sha256: info.sha256, bytes: info.bytes, kind: 'json' })).toString('utf8'),
  );
}

export async function lineageCommand(config: FairlineConfig, uri: string, opts: { json?: boolean }): Promise<number> {
  const store = openStore(config);
  try {
    const key = store.keyOf(uri);
    const info = await store.head(key);
    if (!info?.sha256) {
      say(`${uri}: no such artifact in ${store.rootUri}`);
      return 1;
    }
    const entries = [];
    for (const object of await store.list(`lineage/${info.sha256}/`)) {
      const parsed = lineageEntrySchema.safeParse(await readJson(store, object.key));
      if (parsed.success) entries.push(parsed.data);
    }
    if (opts.json) {
      print(JSON.stringify({ uri, sha256: info.sha256, bytes: info.bytes, producedBy: entries }, null, 2));
    } else if (entries.length === 0) {
      print(
        `${uri}\n  sha256 ${info.sha256}, ${info.bytes} bytes\n  no run recorded producing it (stored by hand, or by a run that did not finish)`,
      );
    } else {
      print(`${uri}\n  sha256 ${info.sha256}, ${info.bytes} bytes, produced by:`);
      for (const e of entries)
        print(
          `  - pipeline ${e.pipeline}, run ${e.runId}, stage ${e.stage} (${e.uses}) output ${e.output}\n    manifest ${e.manifest}`,
        );
    }
    return entries.length > 0 ? 0 : 1;
  } finally {
    await store.close();
  }
}

const cacheEntrySchema = z
  .object({
    outputs: z.record(z.string(), z.unknown()),
    stage: z.string(),
    uses: z.string(),
    pipeline: z.string(),
    runId: z.string(),
  })
  .passthrough();

export async function cacheLsCommand(
  config: FairlineConfig,
  opts: { pipeline?: string; json?: boolean },
): Promise<number> {
  const store = openStore(config);
  try {
    const rows = [];
    for (const object of await store.list('cache/')) {
      const parsed = cacheEntrySchema.safeParse(await readJson(store, object.key));
      if (!parsed.success) continue;
      if (opts.pipeline && parsed.data.pipeline !== opts.pipeline) continue;
      const bytes = Object.values(parsed.data.outputs)
        .map((v) => artifactRefSchema.safeParse(v))
        .reduce((sum, r) => sum + (r.success ? r.data.bytes : 0), 0);
      rows.push({
        key: object.key.replace(/^cache\/|\.json$/g, ''),
        pipeline: parsed.data.pipeline,
        stage: parsed.data.stage,
        uses: parsed.data.uses,
        run: parsed.data.runId,
        bytes,
      });
    }
    if (opts.json) print(JSON.stringify(rows, null, 2));
    else if (rows.length === 0) say('the cache is empty');
    else
      print(
        table([
          ['key', 'pipeline', 'stage', 'uses', 'from run', 'output bytes'],
          ...rows.map((r) => [r.key.slice(0, 16), r.pipeline, r.stage, r.uses, r.run, String(r.bytes)]),
        ]),
      );
    return 0;
  } finally {
    await store.close();
  }
}

export async function cacheRmCommand(
  config: FairlineConfig,
  keys: string[],
  opts: { pipeline?: string; all?: boolean },
): Promise<number> {
  if (keys.length === 0 && !opts.pipeline && !opts.all) {
    say('say what to remove: cache keys (or unique prefixes), --pipeline NAME, or --all');
    return 2;
  }
  const store = openStore(config);
  try {
    let removed = 0;
    const unmatched = new Set(keys);
    for (const object of await store.list('cache/')) {
      const key = object.key.replace(/^cache\/|\.json$/g, '');
      const prefix = keys.find((k) => key.startsWith(k));
      let match = opts.all === true || prefix !== undefined;
      if (!match && opts.pipeline) {
        const parsed = cacheEntrySchema.safeParse(await readJson(store, object.key));
        match = parsed.success && parsed.data.pipeline === opts.pipeline;
      }
      if (prefix) unmatched.delete(prefix);
      if (match) {
        await store.delete(object.key);
        removed++;
      }
    }
    // The artifacts stay: other cache entries or runs may reference them.
    say(`removed ${removed} cache ${removed === 1 ? 'entry' : 'entries'}; the stages they served will run again`);
    for (const k of unmatched) say(`no cache entry matches ${k}`);
    return unmatched.size > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}
