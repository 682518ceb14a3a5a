/** Classifies AWS SDK errors into what the write path does about them. */

interface SdkError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
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

/**
 * The conditions a cancelled DynamoDB transaction failed, by the position of its items: `true` where
 * that item's condition failed. Undefined for any other error.
 */
export function failedTransactionConditions(error: unknown): boolean[] | undefined {
  const e = error as (SdkError & { CancellationReasons?: { Code?: string }[] }) | undefined;
  if (e?.name !== "TransactionCanceledException") return undefined;
  return (e.CancellationReasons ?? []).map((reason) => reason.Code === "ConditionalCheckFailed");
}

/**
 * 409 ConditionalRequestConflict: S3 is completing another conditional write of the key. The SDK's
 * retry policy does not resend it, so the write path's protocol decides (lambda/ingest/write-exactly.ts).
 */
export function isConditionalConflict(error: unknown): boolean {
  const e = error as SdkError | undefined;
  return statusOf(e) === 409 || e?.name === "ConditionalRequestConflict";
}
