/**
 * Waits out a store outage inside an activity. Every call of the wrapped store that fails with
 * StoreUnavailable (connection refused, 5xx, a reset) is retried with capped exponential backoff,
 * heartbeating while it waits, until the outage window (config `store.outageWindowMs`) has passed
 * since the first failure of the outage; then the error surfaces and Temporal's retry policy takes
 * over. A restart of MinIO or a short S3 incident thus never fails a stage nor spends an attempt.
 *
 * Only whole calls are retried: every method is idempotent (content-addressed puts, `putAt` of the
 * same bytes is a no-op, reads verify), and a stream already handed out is not resumed.
 */
import { StoreUnavailable } from './errors';
import type { ArtifactStore } from './types';

export interface OutageOptions {
  /** How long one outage may last before its error surfaces. 0: never wait. */
  windowMs: number;
  /** Called about every second while waiting, so the activity stays alive. */
  heartbeat(): void;
  /** Aborts the wait (the activity was cancelled). */
  signal: AbortSignal;
  log?: (message: string, attrs: Record<string, unknown>) => void;
  /** First and largest pause between tries. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((done, fail) => {
    if (signal.aborted) return fail(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      done();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      fail(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/** The store, with each call retried through outages of up to `options.windowMs`. */
export function outageTolerant(store: ArtifactStore, options: OutageOptions): ArtifactStore {
  if (options.windowMs <= 0) return store;
  const initial = options.initialDelayMs ?? 500;
  const max = options.maxDelayMs ?? 10_000;
  // Shared by every call: concurrent calls in one outage share its window.
  let outageSince: number | undefined;

  const retrying = async <T>(method: string, call: () => Promise<T>): Promise<T> => {
    let delay = initial;
    for (;;) {
      try {
        const result = await call();
        if (outageSince !== undefined) {
          options.log?.('the artifact store is back', { method, outageMs: Date.now() - outageSince });
          outageSince = undefined;
        }
        return result;
      } catch (error) {
        if (!(error instanceof StoreUnavailable)) throw error;
        const now = Date.now();
        if (outageSince === undefined) {
          outageSince = now;
          options.log?.('the artifact store is unavailable; waiting for it', {
            method,
            windowMs: options.windowMs,
            error: error.message,
          });
        }
        if (now - outageSince >= options.windowMs) throw error;
        // Sleep in slices of at most a second, heartbeating between them.
        const until = Math.min(now + delay, outageSince + options.windowMs);
        while (Date.now() < until) {
          options.heartbeat();
          await sleep(Math.min(1_000, until - Date.now()), options.signal);
        }
        delay = Math.min(delay * 2, max);
      }
    }
  };

  return {
    rootUri: store.rootUri,
    put: (source, o) => retrying('put', () => store.put(source, o)),
    putAt: (key, source, o) => retrying('putAt', () => store.putAt(key, source, o)),
    open: (ref) => retrying('open', () => store.open(ref)),
    read: (ref) => retrying('read', () => store.read(ref)),
    download: (ref, destination) => retrying('download', () => store.download(ref, destination)),
    head: (key) => retrying('head', () => store.head(key)),
    list: (prefix) => retrying('list', () => store.list(prefix)),
    delete: (key) => retrying('delete', () => store.delete(key)),
    uriOf: (key) => store.uriOf(key),
    keyOf: (uri) => store.keyOf(uri),
    close: () => store.close(),
  };
}
