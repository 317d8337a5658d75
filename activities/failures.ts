/**
 * Turns fairline's own errors into Temporal ApplicationFailures, so that permanent conditions are
 * non-retryable and the failure's `type` names the condition. Unknown errors pass through and
 * are retried under the stage's retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FairlineError } from '../common/errors';

/**
 * `attempt`, when given, travels in the failure's details: the workflow reports the attempts
 * Temporal counted for a failed stage as it does for a succeeded one.
 */
export function toFailure(error: unknown, attempt?: number): unknown {
  if (error instanceof FairlineError) {
    // A failure that carries findings (a failed bias gate's audit) hands them to the workflow.
    const outputs =
      'outputs' in error && typeof error.outputs === 'object' && error.outputs !== null
        ? { outputs: error.outputs }
        : {};
    const detail = { ...outputs, ...(attempt !== undefined ? { attempt } : {}) };
    const details = Object.keys(detail).length > 0 ? [detail] : undefined;
    return ApplicationFailure.create({
      type: error.type,
      message: error.message,
      nonRetryable: !error.retryable,
      cause: error,
      ...(details ? { details } : {}),
    });
  }
  if (
    attempt !== undefined &&
    !(error instanceof ApplicationFailure) &&
    error instanceof Error &&
    !isCancellation(error)
  ) {
    // An unexpected error stays retryable, as Temporal would make it, and says its attempt.
    return ApplicationFailure.create({
      type: error.name,
      message: error.message,
      cause: error,
      details: [{ attempt }],
    });
  }
  return error;
}

const isCancellation = (error: Error): boolean => error.name === 'CancelledFailure' || error.name === 'AbortError';

/** Wraps an activity so that every error it throws goes through toFailure. */
export function withFailures<A extends unknown[], R>(
  fn: (...args: A) => Promise<R>,
  attempt?: () => number,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (error) {
      throw toFailure(error, attempt?.());
    }
  };
}
