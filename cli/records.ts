/**
 * What the commands that look back at a finished run (`compare`, `report`) share: the run's
 * workflow found by id, its memo (which names the run's records in the artifact store), and those
 * records read back from the store, verified and checked against their schema.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { z } from 'zod';
import { ArtifactNotFound, RunNotFound, RunRecordInvalid } from '../common/errors';
import type { ArtifactStore } from '../store/types';
import { resolveRun, runOf } from './runs';

/** A run's workflow id, memo and status (`running`, `completed`, `failed`, …). */
export interface RunMemo {
  workflowId: string;
  memo: Record<string, unknown>;
  status: string;
}

/** The newest execution of the run's workflow, found by run id, pipeline/run or workflow id. */
export async function runMemo(client: Client, id: string, options: { pipeline?: string | undefined }): Promise<RunMemo> {
  const workflowId = await resolveRun(client, id, options);
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return { workflowId, memo: description.memo ?? {}, status: description.status.name.toLowerCase() };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new RunNotFound(runOf(workflowId) || id, client.options.namespace);
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
export async function readStoredJson<T extends z.ZodType>(store: ArtifactStore, uri: string, schema: T): Promise<z.infer<T>> {
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
