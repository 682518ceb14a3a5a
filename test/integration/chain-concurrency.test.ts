/**
 * Many Lambda environments writing to one chain at once: S3's If-None-Match must sequence them so
 * that every seq exists exactly once, every `prev` is the hash of the previous link's bytes, and
 * every event of every 201 receipt is in the archive and in the index. And many concurrent requests
 * through one writer (local mode's shape): the writer never races itself, so even on an emulator whose
 * create-only put is not atomic (moto, see test/support/emulator-gaps.ts) no seq is created twice.
 */
import { describe, expect, it } from "vitest";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import type { Receipt } from "../../lambda/ingest/ingest-service";
import { postEventsEvent } from "../support/api-event";
import { createTestArchive, emulatorName } from "../support/aws";
import { expectChainIntact, expectReceiptsKept } from "../support/chain-checks";
import { testConfig } from "../support/config";
import { knownGap } from "../support/emulator-gaps";

const WRITERS = 32;
const BATCHES = 2000;
/** Concurrent requests through one handler, and the batches they send. */
const CLIENTS = 16;
const SHARED_BATCHES = 400;

describe("concurrent writers on one chain", () => {
  it(`${WRITERS} writers, ${BATCHES} batches: one link per seq, an unbroken chain, nothing acknowledged lost`, {
    timeout: 600_000,
  }, async (ctx) => {
    // Separate writers racing for one seq are sequenced by S3's atomic create alone (unit-tested
    // against an atomic fake in test/unit/chain-writer.test.ts); an emulator without it forks here.
    const gap = knownGap(emulatorName(), "atomicCreateUnderConcurrency");
    if (gap) ctx.skip(gap);
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

  it(`${CLIENTS} concurrent clients through one writer, ${SHARED_BATCHES} batches: one link per seq, each receipt its own seq`, {
    timeout: 600_000,
  }, async () => {
    const archive = await createTestArchive();
    const write = createIngestHandler(testConfig(archive, { chains: 1 }));
    const receipts: Receipt[] = [];
    let next = 0;

    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, client) => {
        for (let batch = next++; batch < SHARED_BATCHES; batch = next++) {
          const events = [
            {
              action: "load.test",
              outcome: "success",
              resource: { type: "batch", id: `${client}-${batch}` },
            },
          ];
          const result = await write(postEventsEvent({ body: { events } }));
          expect(result.statusCode, result.body as string).toBe(201);
          receipts.push(JSON.parse(result.body as string) as Receipt);
        }
      }),
    );

    expect(new Set(receipts.map((r) => r.link_key)).size).toBe(SHARED_BATCHES);
    const hashes = await expectChainIntact(archive, "0");
    expect(hashes.size).toBe(SHARED_BATCHES);
    await expectReceiptsKept(archive, receipts, hashes);
  });
});
