/**
 * When to retry a batch and how long to wait: exponential backoff with full jitter, at least what
 * the server asked for with `Retry-After`, bounded in attempts and in total time.
 */

export interface RetryOptions {
  /**
   * Requests per batch, the first included.
   * @default 8
   */
  readonly maxAttempts?: number;
  /**
   * Time from a batch's first request after which it is not retried again, ms.
   * @default 60_000
   */
  readonly maxElapsedMs?: number;
  /**
   * Backoff before the second request, ms; doubled per retry (full jitter: a random wait up to it).
   * @default 200
   */
  readonly baseDelayMs?: number;
  /**
   * Largest backoff, ms.
   * @default 10_000
   */
  readonly maxDelayMs?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  maxElapsedMs: 60_000,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
};

export function retryPolicy(options: RetryOptions | undefined): RetryPolicy {
  const policy = { ...DEFAULT_RETRY, ...options };
  for (const [name, value] of Object.entries(policy)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new TypeError(`retry.${name} must be a non-negative number, not ${String(value)}`);
    }
  }
  if (policy.maxAttempts < 1) throw new TypeError("retry.maxAttempts must be at least 1");
  return policy;
}

/** Statuses worth another try with the same Idempotency-Key: throttling, a key still in progress, server trouble. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** `Retry-After` in ms (delay-seconds or an HTTP-date), or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Full jitter (a random wait in [0, min(cap, base·2^retry))), and never less than `Retry-After`. */
export function backoffDelay(
  policy: RetryPolicy,
  retry: number,
  random: () => number,
  retryAfterMs: number | undefined,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  const jittered = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}
