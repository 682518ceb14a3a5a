/**
 * The reindex job on the emulator: a link it cannot index is reported and counted in the metric the
 * stack alarms on, and never stops the rest of its chain or any other chain; a chain it cannot read
 * fails the run, but only after every other chain is indexed.
 */
import { describe, expect, it } from "vitest";
import { dynamoClient, s3Client } from "../../lambda/aws/clients";
import { linkPrefix } from "../../lambda/core/paths";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import { createReindexJob, ReindexIncompleteError } from "../../lambda/handlers/reindex";
import type { Receipt } from "../../lambda/ingest/ingest-service";
import { REINDEX_METRICS } from "../../lambda/ingest/reindex";
import { postEventsEvent } from "../support/api-event";
import { tableItems } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { testConfig } from "../support/config";
import { injectFaults } from "../support/faults";
import { metricsRecorder } from "../support/metrics";

const POISON = "poison";

/** A BatchWriteItem that carries the event whose resource id is POISON. */
function writesPoison(input: Record<string, unknown>): boolean {
  const requests = Object.values(
    (input.RequestItems ?? {}) as Record<string, Array<{ PutRequest?: { Item?: Record<string, unknown> } }>>,
  ).flat();
  return requests.some((request) => request.PutRequest?.Item?.resource_id === POISON);
}

/**
 * Two writers, each on its own chain (leases), each writing a POISON batch and then two more; every
 * index write at ingest fails, so every link is left to the reindex job.
 */
async function deferredArchive(): Promise<{ archive: TestArchive; receipts: Receipt[] }> {
  const archive = await createTestArchive();
  const config = testConfig(archive, { chains: 2 });
  const receipts: Receipt[] = [];
  for (let writer = 0; writer < 2; writer++) {
    const dynamo = dynamoClient(config.aws);
    injectFaults(dynamo, [{ command: "BatchWriteItemCommand", kind: "error", times: 1000 }]);
    const ingest = createIngestHandler(config, { dynamo });
    for (const id of [POISON, `${writer}-a`, `${writer}-b`]) {
      const result = await ingest(
        postEventsEvent({
          body: { events: [{ action: "doc.read", outcome: "success", resource: { type: "doc", id } }] },
        }),
      );
      expect(result.statusCode, result.body as string).toBe(201);
      receipts.push(JSON.parse(result.body as string) as Receipt);
    }
  }
  expect(new Set(receipts.map((r) => r.chain))).toEqual(new Set(["0", "1"]));
  return { archive, receipts };
}

async function indexedIds(archive: TestArchive): Promise<Set<unknown>> {
  return new Set((await tableItems(archive)).map((item) => item.event_id).filter(Boolean));
}

describe("the reindex job", () => {
  it("reports and counts a link it cannot index, and indexes every later link and every other chain", async () => {
    const { archive, receipts } = await deferredArchive();
    const config = testConfig(archive, { chains: 2 });
    const dynamo = dynamoClient(config.aws);
    injectFaults(dynamo, [
      { command: "BatchWriteItemCommand", match: writesPoison, kind: "error", times: 1000 },
    ]);
    const metrics = metricsRecorder();

    const result = await createReindexJob(config, { dynamo }, { metrics })();

    expect(result).toEqual({ linksIndexed: 4, linksRejected: 0, linksFailed: 2, chainsFailed: [] });
    expect(metrics.values()).toEqual({
      [REINDEX_METRICS.linksIndexed]: 4,
      [REINDEX_METRICS.linksRejected]: 0,
      [REINDEX_METRICS.linksFailed]: 2,
    });
    expect(metrics.published()).toBe(1);
    const indexed = await indexedIds(archive);
    for (const receipt of receipts) {
      // The POISON batches are each chain's seq 0: everything after them was still indexed.
      expect(indexed.has(receipt.ids[0]), `${receipt.link_key}`).toBe(receipt.seq !== 0);
    }

    // Once the index takes it, the next run indexes what was left.
    const next = await createReindexJob(config, {}, { metrics: metricsRecorder() })();
    expect(next).toEqual({ linksIndexed: 2, linksRejected: 0, linksFailed: 0, chainsFailed: [] });
    const all = await indexedIds(archive);
    for (const receipt of receipts) expect(all.has(receipt.ids[0])).toBe(true);
  });

  it("fails a run that cannot read a chain, after indexing every other chain and publishing its metrics", async () => {
    const { archive, receipts } = await deferredArchive();
    const config = testConfig(archive, { chains: 2 });
    const s3 = s3Client(config.aws);
    injectFaults(s3, [
      {
        command: "ListObjectsV2Command",
        match: (input) => input.Prefix === linkPrefix("0"),
        kind: "error",
        times: 1000,
      },
    ]);
    const metrics = metricsRecorder();

    const run = createReindexJob(config, { s3 }, { metrics })();

    await expect(run).rejects.toBeInstanceOf(ReindexIncompleteError);
    await expect(run).rejects.toThrow(/chain\(s\) 0/);
    expect(metrics.values()[REINDEX_METRICS.linksIndexed]).toBe(3);
    expect(metrics.published()).toBe(1);
    const indexed = await indexedIds(archive);
    for (const receipt of receipts) expect(indexed.has(receipt.ids[0])).toBe(receipt.chain === "1");
  });
});
