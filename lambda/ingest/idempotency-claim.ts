/**
 * The rule an IdempotencyStore applies to the record it finds for a key, the same for every store
 * (DynamoDB in lambda/aws/, memory in test/support/): what the request is told, or "take" when the
 * store may write its own claim over what is there.
 */
import type { IdempotencyClaim } from "./ports";

/** An idempotency record as a store holds it. */
export interface StoredClaim {
  readonly state: "pending" | "done";
  readonly owner: string;
  readonly bodyHash: string;
  readonly claimUntil: number;
  /** JSON text of the receipt, once done. */
  readonly receipt?: string;
}

export function decideOnStoredClaim(
  existing: StoredClaim | undefined,
  bodyHash: string,
  owner: string,
  nowMs: number,
): IdempotencyClaim | "take" {
  if (!existing) return "take";
  if (existing.bodyHash !== bodyHash) return { kind: "conflict" };
  if (existing.state === "done")
    return { kind: "completed", bodyHash, receipt: JSON.parse(existing.receipt ?? "null") };
  // Our own claim: the put's response was lost and the SDK's resend found the item it had written.
  if (existing.owner === owner) return { kind: "claimed", owner };
  if (existing.claimUntil > nowMs) return { kind: "in_progress" };
  return "take";
}
