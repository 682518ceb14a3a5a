/**
 * Many Lambda environments writing to one chain at once: S3's If-None-Match must sequence them so
 * that every seq exists exactly once, every `prev` is the hash of the previous link's bytes, and
 * every event of every 201 receipt is in the archive and in the index.
 */
import { describe, expect, it } from "vitest";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import type { Receipt } from "../../lambda/ingest/ingest-service";
import { postEventsEvent } from "../support/api-event";
import { createTestArchive } from "../support/aws";
import { expectChainIntact, expectReceiptsKept } from "../support/chain-checks";
import { testConfig } from "../support/config";

const WRITERS = 32;
const BATCHES = 2000;

describe("concurrent writers on one chain", () => {
  it(`${WRITERS} writers, ${BATCHES} batches: one link per seq, an unbroken chain, nothing acknowledged lost`, {
    timeout: 600_000,
  }, async () => {
    const archive = await createTestArchive();
    // One chain: every writer after the first finds the only lease taken and shares it.
    const config = testConfig(archive, { chains: 1 });
    const writers = Array.from({ length: WRITERS }, () => createIngestHandler(config));
    const receipts: Receipt[] = [];
    let next = 0;

    await Promise.all(
      writers.map(async (write, writer) => {
        for (let batch = next++; batch < BATCHES; batch = next++) {
          const events = Array.from({ length: 1 + (batch % 3) }, (_, i) => ({
            action: "load.test",
            outcome: "success",
            resource: { type: "batch", id: `${writer}-${batch}-${i}` },
          }));
          const result = await write(postEventsEvent({ body: { events } }));
          expect(result.statusCode, result.body as string).toBe(201);
          receipts.push(JSON.parse(result.body as string) as Receipt);
        }
      }),
    );

    expect(receipts).toHaveLength(BATCHES);
    const hashes = await expectChainIntact(archive, "0");
    expect(hashes.size).toBe(BATCHES);
    expect(new Set(receipts.map((r) => r.seq)).size).toBe(BATCHES);
    await expectReceiptsKept(archive, receipts, hashes);
  });
});
