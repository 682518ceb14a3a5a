/**
 * The rebuild state item in the index table (RebuildStateStore of lambda/ingest/rebuild-index.ts): the
 * claim a rebuild writes into an empty table before anything else, read again by a resumed run.
 */
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { PARTITION_KEY } from "../core/index-table";
import { type RebuildState, type RebuildStateStore, rebuildStateKey } from "../ingest/rebuild-index";
import { isConditionalCheckFailed } from "./errors";

export class DynamoRebuildStateStore implements RebuildStateStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  async isEmpty(): Promise<boolean> {
    // One item read at most: the only Scan of the index outside an auditor's cross-check.
    const page = await this.doc.send(
      new ScanCommand({
        TableName: this.table,
        Limit: 1,
        ProjectionExpression: "#pk",
        ExpressionAttributeNames: { "#pk": PARTITION_KEY },
        ConsistentRead: true,
      }),
    );
    return (page.Items ?? []).length === 0;
  }

  async read(): Promise<RebuildState | undefined> {
    const { Item: item } = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: rebuildStateKey(), ConsistentRead: true }),
    );
    if (!item || typeof item.bucket !== "string" || typeof item.started_at !== "string") return undefined;
    return {
      bucket: item.bucket,
      startedAt: item.started_at,
      finishedAt: typeof item.finished_at === "string" ? item.finished_at : undefined,
      indexTtlDays: typeof item.index_ttl_days === "number" ? item.index_ttl_days : null,
    };
  }

  async claim(state: RebuildState): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...rebuildStateKey(),
            bucket: state.bucket,
            started_at: state.startedAt,
            index_ttl_days: state.indexTtlDays,
          },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": PARTITION_KEY },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }

  async finish(finishedAt: string, summary: Readonly<Record<string, number>>): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: rebuildStateKey(),
        UpdateExpression: "SET finished_at = :finished, summary = :summary",
        ExpressionAttributeValues: { ":finished": finishedAt, ":summary": summary },
      }),
    );
  }
}
