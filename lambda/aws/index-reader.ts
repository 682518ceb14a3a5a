/**
 * Every event pointer item of the index, for the verifier's cross-check. An auditor's read: a Scan
 * (filtered to pointer items) is the one way to also find items that point at no archived event.
 */
import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { eventItemKey, POINTER_FIELDS } from "../core/index-items";
import { SORT_KEY } from "../core/index-table";
import type { IndexEntry } from "../verify/verifier";

export async function* eventPointers(doc: DynamoDBDocumentClient, table: string): AsyncIterable<IndexEntry> {
  const pointerSortKey = eventItemKey("x")[SORT_KEY];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: "#sk = :sk",
        ExpressionAttributeNames: { "#sk": SORT_KEY },
        ExpressionAttributeValues: { ":sk": pointerSortKey },
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }),
    );
    for (const item of page.Items ?? []) {
      const eventId = item[POINTER_FIELDS.eventId];
      if (typeof eventId === "string") yield { eventId, attributes: item };
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}
