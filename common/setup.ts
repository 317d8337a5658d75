/**
 * Preparing a Temporal cluster for fairline (`fairline setup`): the namespace and fairline's
 * search attributes, created when missing and left alone when present, so it can run on every
 * deploy against any cluster (the PostgreSQL one of infra/cluster.ts, a team's self-hosted one).
 * On Temporal Cloud namespaces and search attributes are managed in the Cloud console or tcld:
 * there this checks them and names what is missing instead of failing on the first call.
 */
import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from './constants';

/** gRPC status codes of the answers told apart here. */
const GRPC = { notFound: 5, alreadyExists: 6, permissionDenied: 7, unavailable: 14, unimplemented: 12 } as const;

function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Registers any of fairline's search attributes the namespace lacks (idempotent); returns those added. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !known.has(name));
  if (missing.length === 0) return [];
  const types = proto.temporal.api.enums.v1.IndexedValueType;
  const typeOf = {
    Keyword: types.INDEXED_VALUE_TYPE_KEYWORD,
    Double: types.INDEXED_VALUE_TYPE_DOUBLE,
    Int: types.INDEXED_VALUE_TYPE_INT,
    Bool: types.INDEXED_VALUE_TYPE_BOOL,
  } as const;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, typeOf[type]])),
  });
  return missing.map(([name]) => name);
}

export interface SetupOptions {
  /** How long closed runs' histories are kept (a new namespace only; an existing one keeps its own). */
  retentionDays: number;
  /** How long to keep trying while a freshly started server is not answering yet. */
  waitMs?: number;
  log?: (line: string) => void;
}

export interface SetupResult {
  namespaceCreated: boolean;
  searchAttributesAdded: string[];
}

/** A fresh namespace answers once the servers' namespace caches refresh (2 s by default). */
const CACHE_REFRESH_MS = 2_000;

/**
 * Creates the namespace if missing, then adds the missing search attributes, retrying while the
 * server is unavailable or the new namespace is not yet known everywhere. Running it twice
 * changes nothing the second time (the result says so).
 */
export async function setupNamespace(
  connection: Connection,
  namespace: string,
  options: SetupOptions,
): Promise<SetupResult> {
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  const retrying = async <T>(what: string, body: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        return await body();
      } catch (error) {
        const code = grpcCode(error);
        const transient = code === GRPC.unavailable || code === GRPC.notFound;
        if (!transient || Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };

  let namespaceCreated = false;
  const exists = await retrying('describe namespace', async () => {
    try {
      await connection.workflowService.describeNamespace({ namespace });
      return true;
    } catch (error) {
      if (grpcCode(error) === GRPC.notFound) return false;
      throw error;
    }
  });
  if (!exists) {
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        description: 'fairline pipelines',
        workflowExecutionRetentionPeriod: msToTs(`${options.retentionDays} days`),
      });
      namespaceCreated = true;
      options.log?.(`namespace ${namespace}: created (retention ${options.retentionDays} d)`);
    } catch (error) {
      // Another `fairline setup` won the race: same outcome.
      if (grpcCode(error) !== GRPC.alreadyExists)
        throw new Error(`register namespace ${namespace}: ${(error as Error).message}`);
    }
  } else options.log?.(`namespace ${namespace}: exists`);

  let searchAttributesAdded: string[];
  try {
    searchAttributesAdded = await retrying('add search attributes', () =>
      ensureSearchAttributes(connection, namespace),
    );
  } catch (error) {
    const code = grpcCode((error as { cause?: unknown }).cause) ?? undefined;
    if (
      code === GRPC.permissionDenied ||
      code === GRPC.unimplemented ||
      /permission|not allowed|unimplemented/i.test((error as Error).message)
    ) {
      throw new Error(
        `${(error as Error).message}\nThis cluster does not let clients add search attributes (Temporal Cloud manages them in its console or with tcld): add ${Object.entries(
          SEARCH_ATTRIBUTES,
        )
          .map(([n, t]) => `${n} (${t})`)
          .join(', ')}`,
      );
    }
    throw error;
  }
  options.log?.(
    searchAttributesAdded.length > 0
      ? `search attributes added: ${searchAttributesAdded.join(', ')}`
      : 'search attributes: all present',
  );
  if (namespaceCreated || searchAttributesAdded.length > 0) {
    // Wait until the server lists every attribute, then one cache refresh, so the first run's
    // upserts do not race the history service's cache.
    await retrying('list search attributes', async () => {
      const listed = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = Object.keys(SEARCH_ATTRIBUTES).filter((name) => !(name in (listed.customAttributes ?? {})));
      if (missing.length > 0)
        throw Object.assign(new Error(`not yet listed: ${missing.join(', ')}`), { code: GRPC.notFound });
    });
    await new Promise((r) => setTimeout(r, CACHE_REFRESH_MS + 500));
  }
  return { namespaceCreated, searchAttributesAdded };
}
