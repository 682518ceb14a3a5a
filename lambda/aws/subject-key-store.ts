/**
 * Data subjects' keys in the DynamoDB table, as the privacy layer's SubjectKeyStore port
 * (lambda/privacy/ports.ts). One item per subject holds its live wrapped key and the key's generation;
 * destroying the key removes the wrapped bytes from that item in the same transaction that checks the
 * subject's legal hold and replaces the tenant's erasure epoch, so a concurrent writer either sees the
 * live key or creates a later generation, never revives an old one.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { erasureEpochKey, legalHoldKey, subjectKeyItemKey } from "../core/index-items";
import { PARTITION_KEY, SORT_KEY } from "../core/index-table";
import type {
  KeyDestruction,
  LegalHold,
  StoredSubjectKey,
  SubjectKeyStore,
  SubjectRef,
} from "../privacy/ports";
import { failedTransactionConditions, isConditionalCheckFailed } from "./errors";

/** Every attribute by placeholder: several of these words are DynamoDB reserved words. */
const NAMES = {
  "#wrapped": "wrapped",
  "#generation": "generation",
  "#created": "created_at",
  "#erased": "erased_at",
} as const;

const BATCH_GET_MAX_KEYS = 100;
const BATCH_GET_MAX_ATTEMPTS = 5;

/** An item's primary key as one string, to match BatchGetItem's answers (in any order) to the refs. */
function itemName(item: Record<string, unknown>): string {
  return JSON.stringify([item[PARTITION_KEY], item[SORT_KEY]]);
}

function bytesOf(value: unknown): Uint8Array | undefined {
  return value instanceof Uint8Array ? value : undefined;
}

export class DynamoSubjectKeyStore implements SubjectKeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  private async keyItem(ref: SubjectRef): Promise<Record<string, unknown> | undefined> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: subjectKeyItemKey(ref.tenant, ref.subject),
        ConsistentRead: true,
      }),
    );
    return result.Item;
  }

  async liveKeys(refs: readonly SubjectRef[]): Promise<(StoredSubjectKey | undefined)[]> {
    const found = new Map<string, StoredSubjectKey>();
    const names = refs.map((ref) => itemName(subjectKeyItemKey(ref.tenant, ref.subject)));
    const distinct = [...new Map(refs.map((ref, i) => [names[i] as string, ref])).values()];
    // BatchGetItem takes at most 100 keys, and may leave some unprocessed under load: ask again.
    for (let i = 0; i < distinct.length; i += BATCH_GET_MAX_KEYS) {
      let keys: Record<string, unknown>[] = distinct
        .slice(i, i + BATCH_GET_MAX_KEYS)
        .map((ref) => subjectKeyItemKey(ref.tenant, ref.subject));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt >= BATCH_GET_MAX_ATTEMPTS)
          throw new Error("the key store left subject keys unprocessed; retry");
        if (attempt > 0) await sleep(10 * 2 ** attempt);
        const result = await this.doc.send(
          new BatchGetCommand({
            RequestItems: {
              [this.table]: {
                Keys: keys,
                ConsistentRead: true,
                ProjectionExpression: "#pk, #sk, #wrapped, #generation",
                ExpressionAttributeNames: {
                  "#pk": PARTITION_KEY,
                  "#sk": SORT_KEY,
                  "#wrapped": NAMES["#wrapped"],
                  "#generation": NAMES["#generation"],
                },
              },
            },
          }),
        );
        for (const item of result.Responses?.[this.table] ?? []) {
          const wrapped = bytesOf(item.wrapped);
          if (wrapped) found.set(itemName(item), { generation: Number(item.generation), wrapped });
        }
        keys = result.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    }
    return names.map((name) => found.get(name));
  }

  async erasureEpoch(tenant: string): Promise<string> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: erasureEpochKey(tenant),
        ConsistentRead: true,
        ProjectionExpression: "#epoch",
        ExpressionAttributeNames: { "#epoch": "epoch" },
      }),
    );
    return String(result.Item?.epoch ?? "");
  }

  async createKey(ref: SubjectRef, wrapped: Uint8Array, nowMs: number) {
    // The generation is the creation time in ms, above every earlier generation of the subject: one
    // more than the last if the clock has not moved past it.
    let generation = nowMs;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: subjectKeyItemKey(ref.tenant, ref.subject),
            UpdateExpression:
              "SET #wrapped = :wrapped, #generation = :generation, #created = :now REMOVE #erased",
            ConditionExpression:
              "attribute_not_exists(#wrapped) AND (attribute_not_exists(#generation) OR #generation < :generation)",
            ExpressionAttributeNames: NAMES,
            ExpressionAttributeValues: {
              ":wrapped": wrapped,
              ":generation": generation,
              ":now": new Date(nowMs).toISOString(),
            },
          }),
        );
        return { generation, wrapped, created: true };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const item = await this.keyItem(ref);
      const live = bytesOf(item?.wrapped);
      if (live) return { generation: Number(item?.generation), wrapped: live, created: false };
      generation = Number(item?.generation ?? 0) + 1;
    }
    throw new Error("a subject's key was destroyed while it was being created; retry");
  }

  async destroyKey(ref: SubjectRef, nowMs: number): Promise<KeyDestruction> {
    const erasedAt = new Date(nowMs).toISOString();
    try {
      // One transaction: no hold placed meanwhile is ignored, and no function keeps the key past its
      // next request (the epoch changes with the destruction, never apart from it).
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: legalHoldKey(ref.tenant, ref.subject),
                ConditionExpression: "attribute_not_exists(#pk)",
                ExpressionAttributeNames: { "#pk": PARTITION_KEY },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: subjectKeyItemKey(ref.tenant, ref.subject),
                UpdateExpression: "REMOVE #wrapped SET #erased = :now",
                ConditionExpression: "attribute_exists(#wrapped)",
                ExpressionAttributeNames: { "#wrapped": NAMES["#wrapped"], "#erased": NAMES["#erased"] },
                ExpressionAttributeValues: { ":now": erasedAt },
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: erasureEpochKey(ref.tenant),
                UpdateExpression: "SET #epoch = :token",
                ExpressionAttributeNames: { "#epoch": "epoch" },
                ExpressionAttributeValues: { ":token": randomUUID() },
              },
            },
          ],
        }),
      );
    } catch (error) {
      const failed = failedTransactionConditions(error);
      if (!failed) throw error;
      if (failed[0]) {
        const hold = await this.legalHold(ref);
        if (hold) return { kind: "held", hold };
      }
      if (!failed[1]) throw error;
      const item = await this.keyItem(ref);
      if (item && typeof item.erased_at === "string")
        return { kind: "already_erased", generation: Number(item.generation), erasedAt: item.erased_at };
      return { kind: "unknown" };
    }
    const item = await this.keyItem(ref);
    return { kind: "erased", generation: Number(item?.generation), erasedAt };
  }

  async legalHold(ref: SubjectRef): Promise<LegalHold | undefined> {
    const result = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: legalHoldKey(ref.tenant, ref.subject),
        ConsistentRead: true,
      }),
    );
    const item = result.Item;
    if (!item) return undefined;
    return {
      reason: String(item.reason),
      placedAt: String(item.placed_at),
      placedBy: String(item.placed_by),
    };
  }

  async setLegalHold(ref: SubjectRef, hold: LegalHold | undefined): Promise<void> {
    const Key = legalHoldKey(ref.tenant, ref.subject);
    if (!hold) {
      await this.doc.send(new DeleteCommand({ TableName: this.table, Key }));
      return;
    }
    // An update, not a put: no role may put or batch-write a data subject's items (lib/privacy.ts).
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key,
        UpdateExpression: "SET #reason = :reason, #placedAt = :placedAt, #placedBy = :placedBy",
        ExpressionAttributeNames: { "#reason": "reason", "#placedAt": "placed_at", "#placedBy": "placed_by" },
        ExpressionAttributeValues: {
          ":reason": hold.reason,
          ":placedAt": hold.placedAt,
          ":placedBy": hold.placedBy,
        },
      }),
    );
  }
}
