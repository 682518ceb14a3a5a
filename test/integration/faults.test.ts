/**
 * A failure injected at each AWS call of the write path. Whatever fails, no acknowledged event is
 * lost, no chain forks, and once the reindex job has run every acknowledged event is indexed.
 */
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { dynamoClient, s3Client } from "../../lambda/aws/clients";
import { documentClient } from "../../lambda/aws/index-store";
import { headHintKey } from "../../lambda/core/index-items";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import { createReindexJob } from "../../lambda/handlers/reindex";
import type { Receipt } from "../../lambda/ingest/ingest-service";
import { postEventsEvent } from "../support/api-event";
import { createTestArchive } from "../support/aws";
import { expectChainIntact, expectReceiptsKept } from "../support/chain-checks";
import { testConfig } from "../support/config";
import { type FaultKind, type FaultRule, injectFaults, keyStartsWith, pkStartsWith } from "../support/faults";

const REQUESTS = 6;
interface Scenario {
  readonly name: string;
  readonly s3?: readonly FaultRule[];
  readonly dynamo?: readonly FaultRule[];
  /** Whether every request is still expected to be acknowledged. */
  readonly allAcknowledged: boolean;
  readonly idempotencyKeys?: boolean;
}

const kinds: readonly FaultKind[] = ["error", "timeout", "conflict", "lost-response"];

/** Transient faults the write path must absorb: every request still gets its 201. */
const absorbed: Scenario[] = kinds.flatMap((kind) => [
  {
    name: `data object put: ${kind} once`,
    s3: [{ command: "PutObjectCommand", match: keyStartsWith("events/"), kind, times: 1 }],
    allAcknowledged: true,
  },
  {
    name: `link put: ${kind} twice`,
    s3: [{ command: "PutObjectCommand", match: keyStartsWith("chains/"), kind, times: 2 }],
    allAcknowledged: true,
  },
  {
    name: `index batch write: ${kind} always`,
    dynamo: [{ command: "BatchWriteItemCommand", kind, times: 1000 }],
    allAcknowledged: true,
  },
  {
    name: `indexed marker: ${kind} always`,
    dynamo: [{ command: "PutItemCommand", match: pkStartsWith("indexed#"), kind, times: 1000 }],
    allAcknowledged: true,
  },
  {
    name: `head hint update: ${kind} always`,
    dynamo: [{ command: "UpdateItemCommand", match: pkStartsWith("head#"), kind, times: 1000 }],
    allAcknowledged: true,
  },
  {
    name: `head hint read: ${kind} always`,
    dynamo: [{ command: "GetItemCommand", match: pkStartsWith("head#"), kind, times: 1000 }],
    allAcknowledged: true,
  },
  {
    name: `chain lease: ${kind} always`,
    dynamo: [{ command: "BatchGetItemCommand", kind, times: 1000 }],
    allAcknowledged: true,
  },
]);

/** Faults that outlast the retries: some requests fail with 5xx, but nothing acknowledged is lost. */
const outlasting: Scenario[] = [
  // Finding the head is a read with no retry beyond the SDK's: a fault the SDK does not resend (409)
  // fails that request, the next ones succeed.
  ...kinds.map((kind) => ({
    name: `chain listing: ${kind} once`,
    s3: [{ command: "ListObjectsV2Command", kind, times: 1 }],
    allAcknowledged: false,
  })),
  {
    name: "link put: error always",
    s3: [{ command: "PutObjectCommand", match: keyStartsWith("chains/"), kind: "error", times: 1000 }],
    allAcknowledged: false,
  },
  {
    name: "link put: lost response always",
    s3: [
      { command: "PutObjectCommand", match: keyStartsWith("chains/"), kind: "lost-response", times: 1000 },
    ],
    allAcknowledged: true,
  },
  {
    name: "link put: 409 eight times",
    s3: [{ command: "PutObjectCommand", match: keyStartsWith("chains/"), kind: "conflict", times: 8 }],
    allAcknowledged: false,
  },
  {
    name: "link read after 412: timeout always",
    s3: [{ command: "GetObjectCommand", match: keyStartsWith("chains/"), kind: "timeout", times: 1000 }],
    allAcknowledged: false,
  },
  {
    name: "data object put: error always",
    s3: [{ command: "PutObjectCommand", match: keyStartsWith("events/"), kind: "error", times: 1000 }],
    allAcknowledged: false,
  },
  {
    name: "idempotency receipt update: error always",
    dynamo: [
      { command: "UpdateItemCommand", match: pkStartsWith("idempotency#"), kind: "error", times: 1000 },
    ],
    allAcknowledged: true,
    idempotencyKeys: true,
  },
  {
    name: "idempotency claim: lost response once",
    dynamo: [
      { command: "PutItemCommand", match: pkStartsWith("idempotency#"), kind: "lost-response", times: 1 },
    ],
    allAcknowledged: false,
    idempotencyKeys: true,
  },
];

describe("faults at each AWS call of the write path", () => {
  it.each([...absorbed, ...outlasting])("$name", async (scenario) => {
    const archive = await createTestArchive();
    const config = testConfig(archive, { chains: 1 });
    // A second writer fills the chain first, so the faulty writer must find the head by reading S3.
    const clean = createIngestHandler(config);
    const receipts: Receipt[] = [];
    for (let i = 0; i < 3; i++) receipts.push(JSON.parse((await clean(postEventsEvent())).body as string));

    const s3 = s3Client(config.aws);
    const dynamo = dynamoClient(config.aws);
    const s3Faults = injectFaults(s3, scenario.s3 ?? []);
    const dynamoFaults = injectFaults(dynamo, scenario.dynamo ?? []);
    const faulty = createIngestHandler(config, { s3, dynamo });
    const statuses: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const headers: Record<string, string> = scenario.idempotencyKeys
        ? { "idempotency-key": `key-${i}` }
        : {};
      const result = await faulty(
        postEventsEvent({
          body: {
            events: [{ action: "fault.test", outcome: "success", resource: { type: "n", id: String(i) } }],
          },
          headers,
        }),
      );
      statuses.push(result.statusCode as number);
      if (result.statusCode === 201) receipts.push(JSON.parse(result.body as string));
      else expect(result.statusCode, result.body as string).toBeGreaterThanOrEqual(500);
    }
    expect(s3Faults.fired + dynamoFaults.fired, "the fault was injected").toBeGreaterThan(0);
    if (scenario.allAcknowledged) expect(statuses).toEqual(Array(REQUESTS).fill(201));

    await createReindexJob(config)();

    const hashes = await expectChainIntact(archive, "0");
    await expectReceiptsKept(archive, receipts, hashes);
  });

  it("a head hint pointing past the real head is not trusted", async () => {
    const archive = await createTestArchive();
    const config = testConfig(archive, { chains: 1 });
    const first = createIngestHandler(config);
    const receipts: Receipt[] = [JSON.parse((await first(postEventsEvent())).body as string)];
    await documentClient(archive.dynamo).send(
      new PutCommand({
        TableName: archive.table,
        Item: { ...headHintKey("0"), seq: 500, link_hash: "f".repeat(64) },
      }),
    );

    const fresh = createIngestHandler(config);
    for (let i = 0; i < 3; i++) receipts.push(JSON.parse((await fresh(postEventsEvent())).body as string));

    expect(receipts.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
    await expectReceiptsKept(archive, receipts, await expectChainIntact(archive, "0"));
  });

  it("a head hint behind the real head is caught up by reading forward", async () => {
    const archive = await createTestArchive();
    const config = testConfig(archive, { chains: 1 });
    const first = createIngestHandler(config);
    const receipts: Receipt[] = [];
    for (let i = 0; i < 4; i++) receipts.push(JSON.parse((await first(postEventsEvent())).body as string));
    await documentClient(archive.dynamo).send(
      new PutCommand({
        TableName: archive.table,
        Item: { ...headHintKey("0"), seq: 1, link_hash: "0".repeat(64) },
      }),
    );

    const fresh = createIngestHandler(config);
    receipts.push(JSON.parse((await fresh(postEventsEvent())).body as string));

    expect(receipts.map((r) => r.seq)).toEqual([0, 1, 2, 3, 4]);
    await expectReceiptsKept(archive, receipts, await expectChainIntact(archive, "0"));
  });
});
