/**
 * The one rule for creating an archive object: put with If-None-Match: *, and when the key exists
 * or the put's outcome is unknown, the stored bytes decide. Identical bytes are our own earlier
 * attempt; other bytes are returned for the caller to judge.
 *
 * Resending after a throttle, a 5xx or a lost response is the SDK's job, under the one retry policy
 * configured in lambda/aws/clients.ts: a send the SDK retried after a lost response comes back as
 * "exists", and the read below tells our bytes from another writer's. What this module adds is only
 * what the protocol needs on top:
 * - "exists" but not readable yet, or "conflict" (S3's 409: another conditional write of this key is
 *   in flight, often our own lost one): the same bytes are sent again, at most CONFIRM_ROUNDS times;
 * - a put that failed after the SDK's retries: the key is read once, and absent means not written.
 * So one object costs at most the SDK's attempts per round, never attempts × attempts.
 */
import type { ObjectStore, PutOutcome } from "../archive/object-store";

/** Sends of the same bytes while a write of the key is in flight or not yet readable. */
export const CONFIRM_ROUNDS = 3;

export interface WriteExactlyOptions {
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
  options: WriteExactlyOptions = {},
): Promise<"ours" | Buffer> {
  for (let round = 0; round < CONFIRM_ROUNDS; round++) {
    if (round > 0) await sleep(50 * 2 ** round * (0.5 + Math.random()));
    let outcome: PutOutcome;
    try {
      const started = performance.now();
      outcome = await objects.putIfAbsent(key, bytes, contentType);
      options.onRoundTrip?.(performance.now() - started);
    } catch (error) {
      // The SDK has resent what it could; whether the last send was stored is unknown: the key decides.
      const stored = await readStored(objects, key, error);
      if (stored) return stored.equals(bytes) ? "ours" : stored;
      throw new WriteUnconfirmedError(key, "the write failed and the key holds nothing", { cause: error });
    }
    if (outcome === "created") return "ours";
    const stored = await readStored(objects, key);
    if (stored) return stored.equals(bytes) ? "ours" : stored;
  }
  throw new WriteUnconfirmedError(key, `still in flight or unreadable after ${CONFIRM_ROUNDS} rounds`);
}

async function readStored(
  objects: ObjectStore,
  key: string,
  putError?: unknown,
): Promise<Buffer | undefined> {
  try {
    return await objects.get(key);
  } catch (error) {
    throw new WriteUnconfirmedError(key, "the key could not be read to confirm the write", {
      cause: putError === undefined ? error : new AggregateError([putError, error]),
    });
  }
}
