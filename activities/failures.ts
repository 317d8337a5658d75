/**
 * Turns fairline's own errors into Temporal ApplicationFailures, so that permanent conditions are
 * non-retryable and the failure's `type` names the condition. Unknown errors pass through and
 * are retried under the stage's retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FairlineError } from '../common/errors';

export function toFailure(error: unknown): unknown {
  if (error instanceof FairlineError) {
    // A failure that carries findings (a failed bias gate's audit) hands them to the workflow.
    const details = 'outputs' in error && typeof error.outputs === 'object' && error.outputs !== null ? [{ outputs: error.outputs }] : undefined;
    return ApplicationFailure.create({ type: error.type, message: error.message, nonRetryable: !error.retryable, cause: error, ...(details ? { details } : {}) });
  }
  return error;
}

/** Wraps an activity so that every error it throws goes through toFailure. */
export function withFailures<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (error) {
      throw toFailure(error);
    }
  };
}
