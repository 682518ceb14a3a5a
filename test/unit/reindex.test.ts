/**
 * The reindex job against in-memory ports: a link it cannot index is reported and counted, and never
 * stops the rest of its chain or any other chain; the watermark stays before it so later runs retry it.
 * The fake index refuses oversized keys as DynamoDB does.
 */
import { describe, expect, it } from "vitest";
import { linkBatchOf, sealBatch } from "../../lambda/core/batch";
import { linkKey, linkPrefix } from "../../lambda/core/paths";
import { buildRecord } from "../../lambda/core/record";
import type { EventInput } from "../../lambda/core/schema";
import { createUlidGenerator } from "../../lambda/core/ulid";
import { ChainWriter } from "../../lambda/ingest/chain-writer";
import { reindexAllChains } from "../../lambda/ingest/reindex";
import { MemoryIndex, MemoryLeases, MemoryObjectStore } from "../support/memory-archive";
import { testPrincipal } from "../support/principal";

const START = Date.parse("2026-11-22T03:00:00.000Z");

interface Archive {
  readonly objects: MemoryObjectStore;
  /** Event ids of each link, by link key. */
  readonly idsByLink: Map<string, string[]>;
}

/** Writes `chains[c][s]` as the batch of link s of chain c, through the real ChainWriter. */
async function archiveOf(chains: readonly (readonly (readonly EventInput[])[])[]): Promise<Archive> {
  const objects = new MemoryObjectStore();
  const leases = new MemoryLeases();
  const idsByLink = new Map<string, string[]>();
  let clock = START;
  const ulid = createUlidGenerator(() => clock);
  for (const [c, batches] of chains.entries()) {
    // Each writer leases the first free chain: writer c writes chain c.
    const writer = new ChainWriter({
      objects,
      leases,
      headHint: async () => undefined,
      chainCount: chains.length,
      holder: `writer-${c}`,
      leaseMs: 60_000,
      now: () => clock,
    });
    for (const events of batches) {
      clock += 1000;
      const time = new Date(clock).toISOString();
      const records = events.map((event) =>
        buildRecord(event, {
          id: ulid(),
          time,
          reporter: testPrincipal(),
          tenant: "acme",
          ingest: { request_id: "r", source_ip: null, user_agent: null },
        }),
      );
      const batch = sealBatch(records, new Date(clock));
      await objects.putIfAbsent(batch.key, batch.bytes);
      const appended = await writer.append(linkBatchOf(batch));
      expect(appended.link.chain).toBe(String(c));
      idsByLink.set(
        appended.key,
        records.map((record) => record.id),
      );
    }
  }
  return { objects, idsByLink };
}

const event = (id: string): EventInput => ({
  action: "doc.read",
  outcome: "success",
  resource: { type: "doc", id },
});

function reindexWith(archive: Archive, index: MemoryIndex) {
  const problems: Array<{ message: string; detail: Record<string, unknown> }> = [];
  const run = () =>
    reindexAllChains({
      objects: archive.objects,
      index,
      chainCount: 3,
      onProblem: (message, detail) => problems.push({ message, detail }),
    });
  return { run, problems };
}

describe("reindexAllChains", () => {
  it("reports a link the index refuses and indexes every later link on its chain and every later chain", async () => {
    const archive = await archiveOf([
      [[event("0-0")], [event("poison"), event("0-1b")], [event("0-2")]],
      [[event("1-0")], [event("1-1")], [event("1-2")]],
      [[event("2-0")], [event("2-1")], [event("2-2")]],
    ]);
    const index = new MemoryIndex();
    index.refuse = (item) => item.resource_id === "poison";
    const { run, problems } = reindexWith(archive, index);
    const poisoned = linkKey("0", 1);

    const first = await run();

    expect(first).toEqual({ linksIndexed: 8, linksRejected: 0, linksFailed: 1, chainsFailed: [] });
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/could not be indexed/);
    expect(problems[0]?.detail).toMatchObject({ link: poisoned });
    const indexed = index.pointers();
    for (const [key, ids] of archive.idsByLink) {
      for (const id of ids) expect(indexed.has(id), `${key} ${id}`).toBe(key !== poisoned);
    }
    expect(await index.reindexWatermark("0")).toBe(1);
    expect(await index.reindexWatermark("1")).toBe(3);
    expect(await index.reindexWatermark("2")).toBe(3);

    // Every later run tries the link again (and reports it again) until the index takes it.
    const second = await run();
    expect(second).toEqual({ linksIndexed: 0, linksRejected: 0, linksFailed: 1, chainsFailed: [] });
    index.refuse = () => false;
    const third = await run();
    expect(third).toEqual({ linksIndexed: 1, linksRejected: 0, linksFailed: 0, chainsFailed: [] });
    expect(await index.reindexWatermark("0")).toBe(3);
    for (const id of archive.idsByLink.get(poisoned) ?? []) expect(index.pointers().has(id)).toBe(true);
  });

  it("indexes events whose key parts are at the schema's limits (an index that enforces DynamoDB's key limits)", async () => {
    const archive = await archiveOf([[[event("#".repeat(1024)), event("é".repeat(1024))]], [], []]);
    const index = new MemoryIndex();
    const { run, problems } = reindexWith(archive, index);

    const result = await run();

    expect(problems).toEqual([]);
    expect(result).toEqual({ linksIndexed: 1, linksRejected: 0, linksFailed: 0, chainsFailed: [] });
    expect(index.pointers().size).toBe(2);
  });

  it("reports a chain it cannot read and still indexes every other chain", async () => {
    const archive = await archiveOf([[[event("0-0")]], [[event("1-0")]], [[event("2-0")]]]);
    const listKeys = archive.objects.listKeys.bind(archive.objects);
    archive.objects.listKeys = (prefix, startAfter) => {
      if (prefix === linkPrefix("1")) throw new Error("injected: listing failed");
      return listKeys(prefix, startAfter);
    };
    const index = new MemoryIndex();
    const { run, problems } = reindexWith(archive, index);

    const result = await run();

    expect(result).toEqual({ linksIndexed: 2, linksRejected: 0, linksFailed: 0, chainsFailed: ["1"] });
    expect(problems.map((p) => p.detail.chain)).toEqual(["1"]);
    expect(await index.reindexWatermark("2")).toBe(1);
  });
});
