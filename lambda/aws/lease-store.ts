/**
 * Chain leases in DynamoDB, as the chain writer's ChainLeases port (lambda/ingest/ports.ts): a
 * conditional, expiring item per chain, so each Lambda environment usually writes to a chain no other
 * environment writes to. Leases only reduce contention; correctness rests on S3's If-None-Match, so a
 * lost or stolen lease costs a retry, never a fork.
 */
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { leaseKey } from "../core/index-items";
import { PARTITION_KEY } from "../core/index-table";
import type { ChainLeases } from "../ingest/ports";
import { isConditionalCheckFailed } from "./errors";

const MAX_CONDITIONAL_TRIES = 3;

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export class DynamoChainLeases implements ChainLeases {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async acquire(
    holder: string,
    chains: readonly string[],
    nowMs: number,
    leaseMs: number,
  ): Promise<string | undefined> {
    const held = new Set<string>();
    // BatchGetItem takes at most 100 keys.
    for (let i = 0; i < chains.length; i += 100) {
      const keys = chains.slice(i, i + 100).map(leaseKey);
      const result = await this.doc.send(
        new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of result.Responses?.[this.table] ?? []) {
        if (typeof item.lease_until === "number" && item.lease_until > nowMs) held.add(String(item.chain));
      }
    }
    const free = shuffled(chains.filter((chain) => !held.has(chain)));
    for (const chain of free.slice(0, MAX_CONDITIONAL_TRIES)) {
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...leaseKey(chain), chain, holder, lease_until: nowMs + leaseMs },
            ConditionExpression: "attribute_not_exists(#pk) OR lease_until < :now OR holder = :holder",
            ExpressionAttributeNames: { "#pk": PARTITION_KEY },
            ExpressionAttributeValues: { ":now": nowMs, ":holder": holder },
          }),
        );
        return chain;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
    }
    return undefined;
  }

  async renew(chain: string, holder: string, nowMs: number, leaseMs: number): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: leaseKey(chain),
          UpdateExpression: "SET lease_until = :until",
          ConditionExpression: "holder = :holder",
          ExpressionAttributeValues: { ":until": nowMs + leaseMs, ":holder": holder },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
