import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { IndexStore } from "../../lambda/aws/index-store";

/** A document client whose BatchWriteItem leaves some items unprocessed, as DynamoDB does under load. */
function throttlingClient(unprocessedRounds: number) {
  const written: unknown[] = [];
  let calls = 0;
  const client = {
    async send(command: {
      input: { RequestItems: Record<string, Array<{ PutRequest: { Item: unknown } }>> };
    }) {
      calls++;
      const requests = command.input.RequestItems.t ?? [];
      if (calls <= unprocessedRounds) {
        // Accept the first item, hand the rest back.
        written.push(requests[0]?.PutRequest.Item);
        return { UnprocessedItems: { t: requests.slice(1) } };
      }
      written.push(...requests.map((r) => r.PutRequest.Item));
      return { UnprocessedItems: {} };
    },
  };
  return { client: client as unknown as DynamoDBDocumentClient, written, calls: () => calls };
}

describe("IndexStore.putItems", () => {
  it("resends unprocessed items until every item is written, 25 per request", async () => {
    const fake = throttlingClient(2);
    const items = Array.from({ length: 10 }, (_, i) => ({ pk: `event#${i}`, sk: "event" }));

    await new IndexStore(fake.client, "t").putItems(items);

    expect(fake.calls()).toBe(3);
    expect(new Set(fake.written.map((item) => (item as { pk: string }).pk)).size).toBe(10);
  });

  it("gives up with an error when DynamoDB never processes them", async () => {
    const fake = throttlingClient(1000);
    const items = Array.from({ length: 30 }, (_, i) => ({ pk: `event#${i}`, sk: "event" }));

    await expect(new IndexStore(fake.client, "t").putItems(items)).rejects.toThrow(/unprocessed/);
  }, 30_000);
});
