/**
 * Garbage collection of the artifact store (`fairline gc`): removes content-addressed objects
 * (`objects/<sha256>/<name>`) that nothing fairline keeps refers to.
 *
 * What keeps an object: every record outside `objects/` (run manifests, cache entries, lineage
 * records, the runs index, trainer-failure records, anything else written under a chosen key),
 * except the checkpoint bundles of executions that are no longer running, which go too (unless
 * asked to keep them). References are followed through JSON objects transitively: a manifest
 * names a classifier bundle, which names the model, tokenizer and config; an hf-model bundle names
 * its files. A reference is any 64-hex digest in a string of a record, so a record that quotes a
 * digest in any shape keeps it: gc errs towards keeping.
 *
 * Objects written within `minAgeMs` stay whatever refers to them: a running stage stores its
 * outputs before the cache entry and manifest that will name them exist.
 */
import { GcRecordUnreadable } from './errors';
import type { ArtifactStore, ObjectInfo } from './types';

const OBJECT_KEY = /^objects\/([0-9a-f]{64})\/[^/]+$/;
const DIGEST = /[0-9a-f]{64}/g;
/** JSON objects larger than this are data, not bundles: they are not read for references. */
const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;

export interface GcOptions {
  /**
   * Temporal run ids (workflow execution ids) of the executions still running: their checkpoint
   * bundles (`checkpoints/<pipeline>/<run>/<execution>/…`) keep what they name.
   */
  liveExecutions: ReadonlySet<string>;
  /** Objects and bundles written less than this long ago are kept regardless. */
  minAgeMs: number;
  /** True: report what would go, remove nothing. */
  dryRun: boolean;
  /** True: checkpoint bundles of ended executions count as records (a later rerun may resume from them). */
  keepEndedCheckpoints?: boolean;
  /** Clock, for tests. */
  now?: number;
}

export interface GcReport {
  /** What was removed (or, in a dry run, would be), checkpoint bundles first. */
  removed: { key: string; bytes: number }[];
  /** Their total size. */
  bytes: number;
  /** Objects kept. */
  kept: number;
}

/** Checkpoint bundles live at `checkpoints/<pipeline>/<run>/<execution>/<stage…>/step-N.json`. */
function checkpointExecution(key: string): string | undefined {
  const parts = key.split('/');
  return parts[0] === 'checkpoints' && parts.length >= 5 ? parts[3] : undefined;
}

/** Every 64-hex digest in the string values (and keys) of a parsed JSON document. */
function digestsIn(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') {
    for (const match of value.matchAll(DIGEST)) into.add(match[0]);
  } else if (Array.isArray(value)) {
    for (const item of value) digestsIn(item, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      digestsIn(key, into);
      digestsIn(item, into);
    }
  }
}

/** Collects unreferenced objects (and ended executions' checkpoint bundles) and removes them unless dryRun. */
export async function collectGarbage(store: ArtifactStore, options: GcOptions): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const recent = (info: ObjectInfo): boolean =>
    info.modifiedAt === undefined ? options.minAgeMs > 0 : now - info.modifiedAt < options.minAgeMs;
  const all = await store.list('');

  const records: ObjectInfo[] = [];
  const staleBundles: ObjectInfo[] = [];
  const objects = new Map<string, ObjectInfo[]>();
  for (const info of all) {
    const object = OBJECT_KEY.exec(info.key);
    if (object) {
      objects.set(object[1]!, [...(objects.get(object[1]!) ?? []), info]);
      continue;
    }
    // Anything else under objects/ was not written by fairline: it is neither read nor removed.
    if (info.key.startsWith('objects/')) continue;
    const execution = checkpointExecution(info.key);
    if (
      execution !== undefined &&
      !options.keepEndedCheckpoints &&
      !options.liveExecutions.has(execution) &&
      !recent(info)
    )
      staleBundles.push(info);
    else records.push(info);
  }

  const referenced = new Set<string>();
  const read = async (info: ObjectInfo): Promise<void> => {
    if (!info.key.endsWith('.json') || info.bytes > MAX_BUNDLE_BYTES) return;
    if (info.sha256 === undefined) throw new GcRecordUnreadable(info.uri);
    let parsed: unknown;
    try {
      parsed = JSON.parse(
        (await store.read({ uri: info.uri, sha256: info.sha256, bytes: info.bytes, kind: 'record' })).toString('utf8'),
      );
    } catch (error) {
      if (error instanceof SyntaxError) return; // not JSON after all: it names nothing
      throw error;
    }
    const found = new Set<string>();
    digestsIn(parsed, found);
    for (const digest of found) await mark(digest);
  };
  const mark = async (digest: string): Promise<void> => {
    if (referenced.has(digest)) return;
    referenced.add(digest);
    for (const info of objects.get(digest) ?? []) await read(info);
  };
  for (const record of records) await read(record);
  // A record's own key can name a digest too (lineage/<sha256>/…).
  for (const record of records) for (const match of record.key.matchAll(DIGEST)) await mark(match[0]);

  const removed: { key: string; bytes: number }[] = staleBundles.map((info) => ({ key: info.key, bytes: info.bytes }));
  let kept = 0;
  for (const [digest, infos] of objects) {
    for (const info of infos) {
      if (referenced.has(digest) || recent(info)) kept++;
      else removed.push({ key: info.key, bytes: info.bytes });
    }
  }
  // Bundles go before the objects they name, so an interrupted gc never leaves a bundle naming a missing file.
  if (!options.dryRun) for (const { key } of removed) await store.delete(key);
  return { removed, bytes: removed.reduce((sum, r) => sum + r.bytes, 0), kept };
}
