/** Classifies AWS SDK errors into what the write path does about them. */

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

function statusOf(error: unknown): number | undefined {
  return (error as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** 412: the key already exists (If-None-Match: *). */
export function isPreconditionFailed(error: unknown): boolean {
  return statusOf(error) === 412 || (error as SdkError | undefined)?.name === "PreconditionFailed";
}

export function isNotFound(error: unknown): boolean {
  const name = (error as SdkError | undefined)?.name;
  return statusOf(error) === 404 || name === "NoSuchKey" || name === "NotFound";
}

export function isConditionalCheckFailed(error: unknown): boolean {
  return (error as SdkError | undefined)?.name === "ConditionalCheckFailedException";
}

const TRANSIENT_NAMES = new Set([
  "TimeoutError",
  "AbortError",
  "RequestTimeout",
  "RequestTimeoutException",
  "ConditionalRequestConflict",
  "SlowDown",
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "InternalError",
  "ServiceUnavailable",
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
]);

/**
 * An error after which the same request may be sent again: a 409 from a concurrent conditional
 * write, throttling, a 5xx, or a lost response (timeout, reset) where the outcome is unknown.
 */
export function isTransient(error: unknown): boolean {
  const e = error as SdkError | undefined;
  if (!e) return false;
  const status = statusOf(e);
  if (status === 409 || status === 429 || (status !== undefined && status >= 500)) return true;
  // No HTTP response at all (timeout, reset): the outcome is unknown, so the same request is retried.
  return TRANSIENT_NAMES.has(e.name ?? "") || TRANSIENT_NAMES.has(e.code ?? "");
}
