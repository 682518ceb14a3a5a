/**
 * Every acknowledged event is indexable, on an emulator that enforces DynamoDB's key size limits
 * (emulator-smoke.test.ts proves moto does): events whose key parts are at the schema's limits, and
 * a tenant and subject from token claims that no schema bounds, are indexed when acknowledged, found
 * by every filter, and indexed by the reindex job when the write path could not index them.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { dynamoClient } from "../../lambda/aws/clients";
import { GLOBAL_INDEXES, KEY_SIZE_LIMITS, PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import type { EventInput } from "../../lambda/core/schema";
import { createIngestHandler, type IngestHandler } from "../../lambda/handlers/ingest";
import { createQueryHandler, type QueryHandler } from "../../lambda/handlers/query";
import { createReindexJob } from "../../lambda/handlers/reindex";
import type { Receipt } from "../../lambda/ingest/ingest-service";
import { postEventsEvent, WRITE_CLAIMS } from "../support/api-event";
import { tableItems } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { testConfig } from "../support/config";
import { injectFaults } from "../support/faults";
import { metricsRecorder } from "../support/metrics";
import { queryEvent, READ_CLAIMS } from "../support/query-event";

/** A tenant of 1,500 × "é" (3,000 bytes): one claim, which no schema bounds, alone past the limit. */
const LONG_TENANT = "é".repeat(1500);

interface Case {
  readonly name: string;
  readonly event: EventInput;
  /** The query filters that must each find it. */
  readonly lookups: ReadonlyArray<Record<string, string>>;
}

const CASES: readonly Case[] = [
  {
    name: "resource.id of 1,024 × # (3,072 bytes escaped)",
    event: { action: "doc.read", outcome: "success", resource: { type: "doc", id: "#".repeat(1024) } },
    lookups: [{ resource_type: "doc", resource_id: "#".repeat(1024) }],
  },
  {
    name: "resource.id of 1,024 × é (2,048 bytes)",
    event: {
      action: "doc.read",
      outcome: "success",
      resource: { type: "%".repeat(128), id: "é".repeat(1024) },
    },
    lookups: [{ resource_type: "%".repeat(128), resource_id: "é".repeat(1024) }],
  },
  {
    name: "actor, session and request id at their limits, all #",
    event: {
      action: "a".repeat(128),
      outcome: "success",
      actor: { sub: "#".repeat(256), iss: "#".repeat(512), session_id: "#".repeat(256) },
      http: { request_id: "#".repeat(256) },
    },
    lookups: [
      { actor: "#".repeat(256) },
      { actor: "#".repeat(256), actor_iss: "#".repeat(512) },
      { action: "a".repeat(128) },
      { session_id: "#".repeat(256) },
      { request_id: "#".repeat(256) },
    ],
  },
];

const bytes = (value: unknown) => Buffer.byteLength(String(value), "utf8");

/** Every key attribute of every item is within DynamoDB's limits (asserted directly, not only by the emulator). */
async function expectKeysWithinLimits(archive: TestArchive): Promise<void> {
  const partitionKeys = [PARTITION_KEY, ...Object.values(GLOBAL_INDEXES).map((gsi) => gsi.partitionKey)];
  const sortKeys = [SORT_KEY, ...Object.values(GLOBAL_INDEXES).map((gsi) => gsi.sortKey)];
  for (const item of await tableItems(archive)) {
    for (const name of partitionKeys) {
      if (name in item)
        expect(bytes(item[name]), name).toBeLessThanOrEqual(KEY_SIZE_LIMITS.partitionKeyBytes);
    }
    for (const name of sortKeys) {
      if (name in item) expect(bytes(item[name]), name).toBeLessThanOrEqual(KEY_SIZE_LIMITS.sortKeyBytes);
    }
  }
}

async function found(query: QueryHandler, filters: Record<string, string>, claims?: Record<string, string>) {
  const result = await query(queryEvent("GET /v1/events", { query: { ...filters, limit: "100" }, claims }));
  expect(result.statusCode, result.body as string).toBe(200);
  return (JSON.parse(result.body as string) as { events: Array<{ id: string }> }).events.map((e) => e.id);
}

async function ingestOne(ingest: IngestHandler, event: EventInput, claims?: Record<string, string>) {
  const result = await ingest(postEventsEvent({ body: { events: [event] }, claims }));
  expect(result.statusCode, result.body as string).toBe(201);
  return JSON.parse(result.body as string) as Receipt;
}

describe("events whose key parts are at the limits", () => {
  let archive: TestArchive;
  let ingest: IngestHandler;
  let query: QueryHandler;

  beforeAll(async () => {
    archive = await createTestArchive();
    const config = testConfig(archive, { tenantClaim: "tenant" });
    ingest = createIngestHandler(config);
    query = createQueryHandler(config);
  });

  it.each(CASES)("$name: acknowledged, indexed at once, found by every filter", async ({
    event,
    lookups,
  }) => {
    const claims = { ...WRITE_CLAIMS, tenant: "acme" };

    const receipt = await ingestOne(ingest, event, claims);

    const items = await tableItems(archive);
    expect(
      items.some((item) => item[PARTITION_KEY] === `indexed#${receipt.chain}`),
      "the link got its indexed marker",
    ).toBe(true);
    for (const filters of lookups) {
      expect(
        await found(query, filters, { ...READ_CLAIMS, tenant: "acme" }),
        JSON.stringify(filters),
      ).toContain(receipt.ids[0]);
    }
    await expectKeysWithinLimits(archive);
  });

  it("a tenant and a subject from token claims past the key limit: acknowledged, indexed, found", async () => {
    const sub = "é".repeat(256);
    const receipt = await ingestOne(
      ingest,
      { action: "doc.read", outcome: "success", resource: { type: "doc", id: "#".repeat(1024) } },
      { ...WRITE_CLAIMS, sub, tenant: LONG_TENANT },
    );
    const reader = { ...READ_CLAIMS, tenant: LONG_TENANT };

    expect(await found(query, { actor: sub }, reader)).toContain(receipt.ids[0]);
    expect(await found(query, { resource_type: "doc", resource_id: "#".repeat(1024) }, reader)).toContain(
      receipt.ids[0],
    );
    expect(await found(query, { action: "doc.read" }, reader)).toContain(receipt.ids[0]);
    // Another tenant's reader never sees it.
    expect(await found(query, { action: "doc.read" }, { ...READ_CLAIMS, tenant: "acme" })).not.toContain(
      receipt.ids[0],
    );
    await expectKeysWithinLimits(archive);
  });
});

describe("the reindex job and events at the limits", () => {
  it("indexes an acknowledged event whose index write failed at ingest, and reports no failure", async () => {
    const archive = await createTestArchive();
    const config = testConfig(archive);
    const dynamo = dynamoClient(config.aws);
    injectFaults(dynamo, [{ command: "BatchWriteItemCommand", kind: "error", times: 1000 }]);
    const receipt = await ingestOne(createIngestHandler(config, { dynamo }), CASES[0]?.event as EventInput);
    expect((await tableItems(archive)).some((item) => item.event_id === receipt.ids[0])).toBe(false);
    const metrics = metricsRecorder();

    const result = await createReindexJob(config, {}, { metrics })();

    expect(result).toEqual({ linksIndexed: 1, linksRejected: 0, linksFailed: 0, chainsFailed: [] });
    expect(metrics.values()).toMatchObject({ ReindexLinksIndexed: 1, ReindexLinksFailed: 0 });
    const query = createQueryHandler(config);
    expect(await found(query, { resource_type: "doc", resource_id: "#".repeat(1024) })).toEqual(receipt.ids);
  });
});
