/**
 * A run's records: its workflow found by id, its memo (which names the run's records in the
 * artifact store), and those records read back from the store, verified and checked against their
 * schema. What `compare` and `report` look back at.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { z } from 'zod';
import { ArtifactNotFound } from '../common/errors';
import { withClient } from '../common/connections';
import { comparedManifestSchema, compareRuns, type RunComparison } from '../report/compare';
import { reportSchema } from '../report/schema';
import { openStore } from '../store';
import type { ArtifactStore } from '../store/types';
import type { FairlineConfig } from '../temporal.config';
import { RunNotFound, RunRecordInvalid, RunReportMissing } from './errors';
import { pipelineOf, resolveRun, runOf } from './runs';

/** A run's workflow id, memo and status (`running`, `completed`, `failed`, …). */
export interface RunMemo {
  workflowId: string;
  memo: Record<string, unknown>;
  status: string;
}

/** The newest execution of the run's workflow, found by run id, pipeline/run or workflow id. */
export async function runMemo(
  client: Client,
  id: string,
  options: { pipeline?: string | undefined },
): Promise<RunMemo> {
  const workflowId = await resolveRun(client, id, options);
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return { workflowId, memo: description.memo ?? {}, status: description.status.name.toLowerCase() };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError)
      throw new RunNotFound(runOf(workflowId) || id, client.options.namespace);
    throw error;
  }
}

/** An artifact's bytes by URI, verified against the digest the store recorded for it. */
export async function readStored(store: ArtifactStore, uri: string): Promise<Buffer> {
  const info = await store.head(store.keyOf(uri));
  if (!info?.sha256) throw new ArtifactNotFound(uri);
  return store.read({ uri: info.uri, sha256: info.sha256, bytes: info.bytes, kind: 'record' });
}

/** A JSON artifact by URI, verified and checked against its schema; RunRecordInvalid otherwise. */
export async function readStoredJson<T extends z.ZodType>(
  store: ArtifactStore,
  uri: string,
  schema: T,
): Promise<z.infer<T>> {
  return parseRecord(uri, await readStored(store, uri), schema);
}

/** The bytes of the record at `uri` as JSON checked against its schema; RunRecordInvalid otherwise. */
export function parseRecord<T extends z.ZodType>(uri: string, bytes: Buffer, schema: T): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new RunRecordInvalid(uri, `not JSON: ${error.message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new RunRecordInvalid(uri, issues.join('; '));
  }
  return parsed.data;
}

/** Where a compared run's records are. */
export interface RunRecords {
  workflowId: string;
  pipeline: string;
  run: string;
  report: string;
  manifest: string;
}

/** The memo keys a run's records are under: the report stage publishes `report`; the workflow writes `manifest`. */
const MEMO = { report: 'report', manifest: 'manifest' } as const;

/** The newest execution of the run's workflow and the URIs its memo names. */
export async function findRecords(
  client: Client,
  id: string,
  options: { pipeline?: string | undefined },
): Promise<RunRecords> {
  const { workflowId, memo, status } = await runMemo(client, id, options);
  const report = memo[MEMO.report];
  const manifest = memo[MEMO.manifest];
  if (typeof report !== 'string' || typeof manifest !== 'string') {
    // The memo is written once, when the run ends.
    const reason =
      status === 'running'
        ? 'it is still running (the memo naming report.json is written when the run ends)'
        : `it ended (${status}) without a report stage writing report.json; only runs whose pipeline has a report stage that ran can be compared`;
    throw new RunReportMissing(workflowId, reason);
  }
  return { workflowId, pipeline: pipelineOf(workflowId), run: runOf(workflowId), report, manifest };
}

/** Two runs' records, and the comparison of B against A. */
export interface CompareOutput {
  a: RunRecords;
  b: RunRecords;
  comparison: RunComparison;
}

/** Finds both runs, reads their manifests and reports (verified), and compares them (report/compare.ts). */
export async function compareRecords(
  config: FairlineConfig,
  runA: string,
  runB: string,
  options: { pipeline?: string | undefined },
): Promise<CompareOutput> {
  const [a, b] = await withClient(config, (client) =>
    Promise.all([findRecords(client, runA, options), findRecords(client, runB, options)]),
  );
  const store = openStore(config);
  try {
    const read = async (records: RunRecords) => ({
      manifest: await readStoredJson(store, records.manifest, comparedManifestSchema),
      report: await readStoredJson(store, records.report, reportSchema),
    });
    return { a, b, comparison: compareRuns(await read(a), await read(b)) };
  } finally {
    await store.close();
  }
}
