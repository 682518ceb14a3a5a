/**
 * The DynamoDB index: event pointers, "indexed" markers, head hints and the reindex watermark for
 * the write path (the ReindexIndex port, lambda/ingest/ports.ts), the two reads of the query API (one
 * pointer by id, one page of a GSI query: EventIndex, lambda/query/ports.ts) and the markers the proof
 * builder reads (LinkMarkers, lambda/proof/proof-service.ts). The archive in S3 stays the source of
 * truth; all of this can be rebuilt.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  eventItemKey,
  headHintKey,
  type IndexItem,
  indexedMarkerKey,
  reindexWatermarkKey,
} from "../core/index-items";
import { PARTITION_KEY, SORT_KEY } from "../core/index-table";
import type { ReindexIndex } from "../ingest/ports";
import type { IndexedMarker, LinkMarkers } from "../proof/proof-service";
import type { EventIndex, IndexPage, IndexPageQuery } from "../query/ports";
import { isConditionalCheckFailed } from "./errors";

/** DynamoDB's BatchWriteItem limit. */
const BATCH_WRITE_LIMIT = 25;
/**
 * Rounds of resending UnprocessedItems. This is protocol, not a second retry policy: a BatchWriteItem
 * that left items unprocessed succeeded (HTTP 200), so the SDK never resends it; a call that failed
 * was already retried by the SDK (lambda/aws/clients.ts) and is thrown, not looped on here.
 */
const MAX_UNPROCESSED_ROUNDS = 10;

export function documentClient(dynamo: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class IndexStore implements ReindexIndex, EventIndex, LinkMarkers {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  /** Writes items 25 at a time, resending unprocessed items with backoff until all are written. */
  async putItems(items: readonly IndexItem[]): Promise<void> {
    const chunks: IndexItem[][] = [];
    for (let i = 0; i < items.length; i += BATCH_WRITE_LIMIT)
      chunks.push(items.slice(i, i + BATCH_WRITE_LIMIT));
    await Promise.all(chunks.map((chunk) => this.writeChunk(chunk)));
  }

  private async writeChunk(chunk: IndexItem[]): Promise<void> {
    let pending = chunk.map((item) => ({ PutRequest: { Item: item } }));
    for (let round = 0; pending.length > 0; round++) {
      if (round >= MAX_UNPROCESSED_ROUNDS) {
        throw new Error(`DynamoDB left ${pending.length} index items unprocessed after ${round} rounds`);
      }
      if (round > 0) await sleep(Math.min(1000, 25 * 2 ** round) * (0.5 + Math.random()));
      const result = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } }));
      pending = (result.UnprocessedItems?.[this.table] ?? []) as typeof pending;
    }
  }

  /** The pointer item of one event, strongly consistent; undefined when not indexed. */
  async eventPointer(eventId: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: eventItemKey(eventId), ConsistentRead: true }),
    );
    return result.Item;
  }

  /** One page of a key-condition Query on a GSI: never a Scan. */
  async queryIndexPage(query: IndexPageQuery): Promise<IndexPage> {
    const names: Record<string, string> = { "#pk": query.partitionKey.name, ...query.filter?.names };
    const values: Record<string, unknown> = { ":pk": query.partitionKey.value, ...query.filter?.values };
    const { lower, upper } = query.sortKey;
    // DynamoDB refuses an expression name it does not use: name the sort key only when bounded.
    if (lower !== undefined || upper !== undefined) names["#sk"] = query.sortKey.name;
    let condition = "#pk = :pk";
    if (lower !== undefined) values[":lower"] = lower;
    if (upper !== undefined) values[":upper"] = upper;
    if (lower !== undefined && upper !== undefined) condition += " AND #sk BETWEEN :lower AND :upper";
    else if (lower !== undefined) condition += " AND #sk >= :lower";
    else if (upper !== undefined) condition += " AND #sk <= :upper";
    const page = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: query.indexName,
        KeyConditionExpression: condition,
        FilterExpression: query.filter?.expression,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: true,
        Limit: query.limit,
        ExclusiveStartKey: query.startKey,
      }),
    );
    return { items: page.Items ?? [], lastEvaluatedKey: page.LastEvaluatedKey };
  }

  async markIndexed(chain: string, seq: number, linkHash: string): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { ...indexedMarkerKey(chain, seq), chain, seq, link_hash: linkHash },
      }),
    );
  }

  /** The seqs of `chain` at or after `fromSeq` that carry an "indexed" marker. */
  async indexedSeqs(chain: string, fromSeq: number): Promise<Set<number>> {
    const { [PARTITION_KEY]: pk, [SORT_KEY]: fromSk } = indexedMarkerKey(chain, fromSeq);
    const seqs = new Set<number>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "#pk = :pk AND #sk >= :from",
          ExpressionAttributeNames: { "#pk": PARTITION_KEY, "#sk": SORT_KEY },
          ExpressionAttributeValues: { ":pk": pk, ":from": fromSk },
          ProjectionExpression: "#sk",
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) seqs.add(Number(item[SORT_KEY]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return seqs;
  }

  /** The chain's "indexed" markers in seq order (eventually consistent: the proof re-checks them). */
  async *indexedMarkers(chain: string): AsyncIterable<IndexedMarker> {
    const { [PARTITION_KEY]: pk } = indexedMarkerKey(chain, 0);
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "#pk = :pk",
          ExpressionAttributeNames: { "#pk": PARTITION_KEY, "#sk": SORT_KEY, "#h": "link_hash" },
          ExpressionAttributeValues: { ":pk": pk },
          ProjectionExpression: "#sk, #h",
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) yield { seq: Number(item[SORT_KEY]), linkHash: item.link_hash };
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  async headHint(chain: string): Promise<number | undefined> {
    const result = await this.doc.send(new GetCommand({ TableName: this.table, Key: headHintKey(chain) }));
    const seq = result.Item?.seq;
    return typeof seq === "number" ? seq : undefined;
  }

  /** Moves the hint forward only; a concurrent writer's newer hint wins. */
  async advanceHeadHint(chain: string, seq: number, linkHash: string): Promise<void> {
    await this.raiseNumber(headHintKey(chain), "seq", seq, { link_hash: linkHash });
  }

  async reindexWatermark(chain: string): Promise<number> {
    const result = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: reindexWatermarkKey(chain), ConsistentRead: true }),
    );
    const seq = result.Item?.next_seq;
    return typeof seq === "number" ? seq : 0;
  }

  async advanceReindexWatermark(chain: string, nextSeq: number): Promise<void> {
    await this.raiseNumber(reindexWatermarkKey(chain), "next_seq", nextSeq);
  }

  /** Sets `attribute` to `value` (and `also`) only if that raises it: concurrent writers never move it back. */
  private async raiseNumber(
    key: Record<string, string>,
    attribute: string,
    value: number,
    also: Record<string, string> = {},
  ): Promise<void> {
    const names: Record<string, string> = { "#n": attribute };
    const values: Record<string, unknown> = { ":v": value };
    const sets = ["#n = :v"];
    Object.entries(also).forEach(([name, extra], i) => {
      names[`#a${i}`] = name;
      values[`:a${i}`] = extra;
      sets.push(`#a${i} = :a${i}`);
    });
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: "attribute_not_exists(#n) OR #n < :v",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }
}
