/**
 * Idempotency records in DynamoDB, as the ingest service's IdempotencyStore port
 * (lambda/ingest/ports.ts): keyed on (tenant, reporter, Idempotency-Key), holding a hash of the body
 * and, once the link is written, the receipt. A pending record is claimed by one request at a time.
 */
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { idempotencyKey } from "../core/index-items";
import { PARTITION_KEY, TTL_ATTRIBUTE } from "../core/index-table";
import { decideOnStoredClaim, type StoredClaim } from "../ingest/idempotency-claim";
import type { IdempotencyClaim, IdempotencyScope, IdempotencyStore } from "../ingest/ports";
import { isConditionalCheckFailed } from "./errors";

/** How long a key is remembered. */
const RETENTION_SECONDS = 7 * 86_400;

function storedClaimOf(item: Record<string, unknown>): StoredClaim {
  return {
    state: item.state === "done" ? "done" : "pending",
    owner: String(item.owner),
    bodyHash: String(item.body_hash),
    claimUntil: Number(item.claim_until),
    receipt: item.receipt === undefined ? undefined : String(item.receipt),
  };
}

export class DynamoIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /**
   * Claims the key for this request, or tells why not: already completed (replay), another body
   * (conflict), or a live claim by a concurrent request (in progress). An expired or released
   * claim is taken over.
   */
  async claim(
    scope: IdempotencyScope,
    bodyHash: string,
    owner: string,
    nowMs: number,
    claimMs: number,
  ): Promise<IdempotencyClaim> {
    const key = idempotencyKey(scope.tenant, scope.reporterIss, scope.reporterSub, scope.key);
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = (
        await this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }))
      ).Item;
      const decided = decideOnStoredClaim(existing && storedClaimOf(existing), bodyHash, owner, nowMs);
      if (decided !== "take") return decided;
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...key,
              state: "pending",
              owner,
              body_hash: bodyHash,
              claim_until: nowMs + claimMs,
              [TTL_ATTRIBUTE]: Math.floor(nowMs / 1000) + RETENTION_SECONDS,
            },
            ConditionExpression: existing
              ? "#owner = :previous AND #state <> :done"
              : "attribute_not_exists(#pk)",
            ExpressionAttributeNames: existing
              ? { "#owner": "owner", "#state": "state" }
              : { "#pk": PARTITION_KEY },
            ExpressionAttributeValues: existing
              ? { ":previous": existing.owner, ":done": "done" }
              : undefined,
          }),
        );
        return { kind: "claimed", owner };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
        // Someone else claimed or completed it in between: look again.
      }
    }
    return { kind: "in_progress" };
  }

  /** The receipt stored for this key and body, if that request was sealed; reads only. */
  async completedReceipt(scope: IdempotencyScope, bodyHash: string): Promise<unknown> {
    const key = idempotencyKey(scope.tenant, scope.reporterIss, scope.reporterSub, scope.key);
    const existing = (
      await this.doc.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true }))
    ).Item;
    return existing?.state === "done" && existing.body_hash === bodyHash
      ? JSON.parse(String(existing.receipt))
      : undefined;
  }

  async complete(scope: IdempotencyScope, owner: string, receipt: unknown): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: idempotencyKey(scope.tenant, scope.reporterIss, scope.reporterSub, scope.key),
        UpdateExpression: "SET #state = :done, receipt = :receipt",
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#state": "state", "#owner": "owner" },
        ExpressionAttributeValues: { ":done": "done", ":receipt": JSON.stringify(receipt), ":owner": owner },
      }),
    );
  }

  /** Gives a claim up after a failure that acknowledged nothing, so a retry need not wait. */
  async release(scope: IdempotencyScope, owner: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: idempotencyKey(scope.tenant, scope.reporterIss, scope.reporterSub, scope.key),
          UpdateExpression: "SET claim_until = :zero",
          ConditionExpression: "#owner = :owner AND #state = :pending",
          ExpressionAttributeNames: { "#owner": "owner", "#state": "state" },
          ExpressionAttributeValues: { ":zero": 0, ":owner": owner, ":pending": "pending" },
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
