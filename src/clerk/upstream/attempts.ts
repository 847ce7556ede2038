/**
 * One attempt's bounds and whether another is worth it: the call policy's timeout (a timed-out call is never
 * retried: that would double a caller's wait for a Clerk that is not answering), and the retry rule.
 */
import { CircuitOpenError, UpstreamUnavailableError } from '../../team/errors.js';

/** Marks a timeout: retrying it would double the time a caller waits for a Clerk that is not answering. */
export class UpstreamTimeoutError extends UpstreamUnavailableError {}

/** Network errors (no status) and 5xx are worth another try; 4xx, 429, timeouts and refusals are not. */
export function isRetryable(error: unknown): boolean {
  return (
    error instanceof UpstreamUnavailableError &&
    !(error instanceof UpstreamTimeoutError) &&
    !(error instanceof CircuitOpenError) &&
    (error.status === undefined || error.status >= 500)
  );
}

export function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Bounds the wait for one call. The SDK accepts no AbortSignal: the HTTP request itself is ended through
 * `currentCallSignal` by the Clerk HTTP agent (src/clerk/http-agent.ts), whose socket timeouts are the backstop.
 */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UpstreamTimeoutError(`Clerk did not answer within ${timeoutMs} ms`, undefined)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
