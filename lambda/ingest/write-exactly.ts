/**
 * The one rule for creating an archive object: put with If-None-Match: *, and when the key exists
 * (or the response was lost) the stored bytes decide. Identical bytes are our own earlier attempt;
 * other bytes are returned for the caller to judge. Transient failures resend the same bytes, and
 * after the last one the key is read once more before giving up.
 */
import type { ObjectStore } from "../archive/object-store";
// The one value this service module takes from lambda/aws/: which thrown errors leave a put's outcome
// unknown. errors.ts loads no SDK (it reads an error's name and HTTP status), but what those are is the
// adapter's knowledge. It stays here until the retry work of issue 13 (item 5) reshapes this loop, so
// retry behaviour is not changed in passing.
import { isTransient } from "../aws/errors";

export interface WriteExactlyOptions {
  /** Sends of the same bytes before the key is read a last time. */
  readonly attempts: number;
  /** Reports each put's round trip (the chain writer's unit of backoff). */
  readonly onRoundTrip?: (ms: number) => void;
}

/** The object's outcome could not be confirmed: nothing written may be treated as stored. */
export class WriteUnconfirmedError extends Error {
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(`${key}: ${message}`, options);
    this.name = "WriteUnconfirmedError";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function writeExactly(
  objects: ObjectStore,
  key: string,
  bytes: Buffer,
  contentType: string,
  options: WriteExactlyOptions,
): Promise<"ours" | Buffer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    if (attempt > 0) await sleep(Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random()));
    try {
      const started = performance.now();
      const outcome = await objects.putIfAbsent(key, bytes, contentType);
      options.onRoundTrip?.(performance.now() - started);
      if (outcome === "created") return "ours";
      const stored = await objects.get(key);
      if (stored === undefined) continue; // 412 but not readable yet: ask again.
      return stored.equals(bytes) ? "ours" : stored;
    } catch (error) {
      if (!isTransient(error)) throw new WriteUnconfirmedError(key, "the write failed", { cause: error });
      lastError = error;
    }
  }
  // The outcome of the last send is unknown: the stored object decides.
  let stored: Buffer | undefined;
  try {
    stored = await objects.get(key);
  } catch (error) {
    lastError = error;
  }
  if (stored?.equals(bytes)) return "ours";
  if (stored) return stored;
  throw new WriteUnconfirmedError(key, `not confirmed after ${options.attempts} attempts`, {
    cause: lastError,
  });
}
