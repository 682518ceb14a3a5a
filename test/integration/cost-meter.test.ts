/**
 * The cost benchmark's request meter (bench/cost/request-meter.ts) on the real write path against the
 * emulator: one batch of ten known events is counted as exactly the requests the ingest handler makes,
 * and what it counts is checked against what the bucket and the table then hold.
 */
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { asFormat1Item } from "../../bench/cost";
import { attributeItemOf, itemBytes } from "../../bench/cost/dynamo-units";
import { PRICES } from "../../bench/cost/prices";
import { RequestMeter, summarize } from "../../bench/cost/request-meter";
import { dynamoClient, s3Client } from "../../lambda/aws/clients";
import { createArchiveBucket, createIndexTable } from "../../lambda/aws/provision";
import { eventItemKey } from "../../lambda/core/index-items";
import { GLOBAL_INDEXES, PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { createIngestHandler, type IngestHandler } from "../../lambda/handlers/ingest";
import { postEventsEvent } from "../support/api-event";
import { tableItems } from "../support/archive-state";
import { emulatorTarget, type TestArchive, uniqueName } from "../support/aws";
import { testConfig } from "../support/config";

const TEN = Array.from({ length: 10 }, (_, i) => ({
  action: "http.request",
  outcome: "success",
  actor: { sub: `user-${i % 2}`, session_id: `sess-${i % 2}` },
  resource: { type: "document", id: `doc-${i}` },
  http: { request_id: `req-${i}`, method: "GET", route: "/docs/:id", status: 200 },
}));

describe("the request meter on the write path", () => {
  let archive: TestArchive;
  let meter: RequestMeter;
  /** The same requests, counted as index format 1 (before postings) would have written them. */
  let format1: RequestMeter;
  let ingest: IngestHandler;

  beforeAll(async () => {
    meter = new RequestMeter();
    format1 = new RequestMeter({ countItemAs: asFormat1Item });
    const target = emulatorTarget();
    const s3 = format1.attach(meter.attach(s3Client(target), "s3"), "s3");
    const dynamo = format1.attach(meter.attach(dynamoClient(target), "dynamodb"), "dynamodb");
    archive = {
      target,
      s3,
      dynamo,
      bucket: uniqueName("sealtrail-cost"),
      table: uniqueName("sealtrail-cost"),
    };
    await createArchiveBucket(s3, archive.bucket);
    await createIndexTable(dynamo, archive.table);
    ingest = createIngestHandler(testConfig(archive, { chains: 1 }), { s3, dynamo });
    meter.reset();
  });

  it("counts the first request's chain lease and head discovery, once per function environment", async () => {
    const result = await ingest(postEventsEvent({ body: { events: TEN } }));
    expect(result.statusCode, result.body).toBe(201);
    const first = summarize(meter.requests);
    expect(Object.keys(first).sort()).toEqual([
      "dynamodb BatchGetItem",
      "dynamodb BatchWriteItem",
      "dynamodb GetItem",
      "dynamodb PutItem",
      "dynamodb UpdateItem",
      "s3 ListObjectsV2 chains/",
      "s3 PutObject chains/",
      "s3 PutObject events/",
    ]);
    // The lease (one read of every chain's lease, one conditional put) and the marker.
    expect(first["dynamodb BatchGetItem"]?.requests).toBe(1);
    expect(first["dynamodb PutItem"]?.requests).toBe(2);
  });

  it("counts one steady batch of ten as exactly the requests it makes, and what they store", async () => {
    meter.reset();
    format1.reset();
    const result = await ingest(postEventsEvent({ body: { events: TEN } }));
    expect(result.statusCode, result.body).toBe(201);
    const receipt = JSON.parse(result.body as string) as { ids: string[]; batch: { key: string } };
    const counted = summarize(meter.requests);
    const pointerItems = (await tableItems(archive)).filter((item) =>
      receipt.ids.some(
        (id) =>
          item[PARTITION_KEY] === eventItemKey(id)[PARTITION_KEY] &&
          item[SORT_KEY] === eventItemKey(id)[SORT_KEY],
      ),
    );
    expect(pointerItems).toHaveLength(10);
    // Each pointer is under 1 KB: 1 unit in the table, and 1 in each GSI whose keys it has (by-request
    // at most). Each of the batch's postings is under 1 KB too: 1 unit each.
    const gsis = Object.values(GLOBAL_INDEXES);
    let pointerUnits = 0;
    for (const item of pointerItems) {
      const keyed = gsis.filter((gsi) => item[gsi.partitionKey] !== undefined);
      expect(keyed.map((gsi) => gsi.indexName)).toEqual(item.request_key === undefined ? [] : ["by-request"]);
      expect(JSON.stringify(item).length).toBeLessThan(1024);
      pointerUnits += 1 + keyed.length;
    }
    const postings = (await tableItems(archive)).filter(
      (item) => String(item[PARTITION_KEY]).startsWith("posting#") && item.batch_key === receipt.batch.key,
    );
    expect(postings.length).toBeGreaterThan(0);
    for (const item of postings) expect(JSON.stringify(item).length).toBeLessThan(1024);
    const stored = await archive.s3.send(
      new GetObjectCommand({ Bucket: archive.bucket, Key: receipt.batch.key }),
    );
    const dataBytes = (await stored.Body?.transformToByteArray())?.length;

    expect(counted).toEqual({
      "s3 PutObject events/": { requests: 1, writeUnits: 0, readUnits: 0, bytes: dataBytes },
      "s3 PutObject chains/": expect.objectContaining({ requests: 1, writeUnits: 0, readUnits: 0 }),
      "dynamodb BatchWriteItem": {
        requests: Math.ceil((10 + postings.length) / 25),
        writeUnits: pointerUnits + postings.length,
        readUnits: 0,
        // Billed bytes: each item's names and values plus DynamoDB's overhead, in the table and each GSI.
        bytes: [...pointerItems, ...postings].reduce(
          (n, item) =>
            n +
            (itemBytes(attributeItemOf(item)) + PRICES.dynamodb.itemOverheadBytes) *
              (1 + gsis.filter((gsi) => item[gsi.partitionKey] !== undefined).length),
          0,
        ),
      },
      // The link's "indexed" marker, then the chain's head hint.
      "dynamodb PutItem": expect.objectContaining({ requests: 1, writeUnits: 1 }),
      "dynamodb UpdateItem": expect.objectContaining({ requests: 1, writeUnits: 1 }),
    });
    // Format 1 wrote no postings and gave each pointer all six GSI keys (these events have an actor,
    // session, resource and request id; every event has an action and a time shard): 7 units each.
    const asBefore = summarize(format1.requests);
    expect(asBefore["dynamodb BatchWriteItem"]?.writeUnits).toBe(70);
    for (const line of ["s3 PutObject events/", "dynamodb PutItem", "dynamodb UpdateItem"]) {
      expect(asBefore[line]).toEqual(counted[line]);
    }
  });
});
