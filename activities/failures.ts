/**
 * Turns fairline's own errors into Temporal ApplicationFailures, so that permanent conditions are
 * non-retryable and the failure's `type` names the condition. Unknown errors pass through and
 * are retried under the stage's retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FairlineError } from '../common/errors';

/**
 * The most characters of an error message a failure carries. A message the size of a stderr dump
 * (a progress bar without newlines runs to megabytes) does not fit: one over the server's failure
 * limit is recorded as "Failure exceeds size limit", and one whose completion passes gRPC's 4 MB
 * is refused outright, so the stage ends in a StartToClose timeout (a 3 MB message did; 1 MB went
 * through). 16,000 keeps every message fairline writes whole.
 */
export const MAX_FAILURE_MESSAGE = 16_000;

/**
 * `message` cut to MAX_FAILURE_MESSAGE: its start and its end (where a traceback says what
 * failed), and how much is left out.
 */
export function boundedMessage(message: string): string {
  if (message.length <= MAX_FAILURE_MESSAGE) return message;
  const keep = MAX_FAILURE_MESSAGE / 2;
  const left = message.length - 2 * keep;
  return `${message.slice(0, keep)} … [${left} characters left out] … ${message.slice(-keep)}`;
}

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
    const message = boundedMessage(error.message);
    return ApplicationFailure.create({
      type: error.type,
      message,
      nonRetryable: !error.retryable,
      // The cause repeats the message: an oversized one would bring the whole text back.
      ...(message === error.message ? { cause: error } : {}),
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
    const message = boundedMessage(error.message);
    return ApplicationFailure.create({
      type: error.name,
      message,
      ...(message === error.message ? { cause: error } : {}),
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
