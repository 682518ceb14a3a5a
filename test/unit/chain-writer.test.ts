/**
 * One ChainWriter under concurrent appends (local mode sends every request through one). The object
 * store's create-only put is not atomic here, as moto's is not: only the writer's own discipline (one
 * append in flight per chain) keeps each seq created once. No timing: the fake yields event-loop turns.
 */
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../lambda/core/hash";
import { type ChainLink, GENESIS_PREV, parseLink } from "../../lambda/core/link";
import { linkKey } from "../../lambda/core/paths";
import { type AppendedLink, ChainWriter } from "../../lambda/ingest/chain-writer";
import { MemoryLeases, MemoryObjectStore } from "../support/memory-archive";

const APPENDS = 40;

function batchNumber(n: number): ChainLink["batch"] {
  const digest = sha256Hex(`batch ${n}`);
  return {
    key: `events/dt=2026-01-01/hr=00/${digest}.jsonl.gz`,
    sha256: digest,
    root: sha256Hex(`root ${n}`),
    count: 1,
    first_time: "2026-01-01T00:00:00.000Z",
    last_time: "2026-01-01T00:00:00.000Z",
  };
}

function writerOn(
  objects: MemoryObjectStore,
  leases = new MemoryLeases(),
  chainCount = 1,
  holder = "writer-1",
): ChainWriter {
  return new ChainWriter({
    objects,
    leases,
    headHint: async () => undefined,
    chainCount,
    holder,
    leaseMs: 60_000,
  });
}

/** One version per seq from 0, each `prev` the previous link's hash, each stored link some caller's own bytes. */
function expectChainOnce(objects: MemoryObjectStore, appended: readonly AppendedLink[], count: number): void {
  expect(appended.map((a) => a.link.seq).sort((x, y) => x - y)).toEqual(
    Array.from({ length: count }, (_, seq) => seq),
  );
  let prev = GENESIS_PREV;
  for (let seq = 0; seq < count; seq++) {
    const versions = objects.versions.get(linkKey("0", seq)) ?? [];
    expect(versions, `seq ${seq}`).toHaveLength(1);
    const stored = versions[0] as Buffer;
    const mine = appended.find((a) => a.link.seq === seq);
    expect(mine?.bytes.equals(stored), `seq ${seq} is the caller's bytes`).toBe(true);
    expect(parseLink(stored).prev).toBe(prev);
    prev = sha256Hex(stored);
  }
  expect(objects.versions.size).toBe(count);
}

describe("the fake object store", () => {
  it("lets two concurrent creates of one key both succeed when not atomic (the race the writer must avoid)", async () => {
    const objects = new MemoryObjectStore({ atomicCreate: false });

    const outcomes = await Promise.all([
      objects.putIfAbsent("k", Buffer.from("a")),
      objects.putIfAbsent("k", Buffer.from("b")),
    ]);

    expect(outcomes).toEqual(["created", "created"]);
    expect(objects.versions.get("k")).toHaveLength(2);
  });
});

describe("ChainWriter under concurrent appends through one writer", () => {
  it(`${APPENDS} concurrent appends never create the same seq twice, and each caller gets its own seq`, async () => {
    const objects = new MemoryObjectStore({ atomicCreate: false });
    const writer = writerOn(objects);

    const appended = await Promise.all(
      Array.from({ length: APPENDS }, (_, n) => writer.append(batchNumber(n))),
    );

    // Each caller its own seq and its own batch under it; one version per key, an unbroken chain.
    for (const [n, a] of appended.entries()) expect(a.link.batch).toEqual(batchNumber(n));
    expectChainOnce(objects, appended, APPENDS);
  });

  it("separate writers sharing one chain are sequenced by an atomic create-only put: every seq once", async () => {
    const objects = new MemoryObjectStore({ atomicCreate: true });
    const leases = new MemoryLeases();
    const writers = Array.from({ length: 6 }, (_, w) => writerOn(objects, leases, 1, `writer-${w}`));

    const appended = (
      await Promise.all(
        writers.map(async (writer, w) => {
          const mine: AppendedLink[] = [];
          for (let n = 0; n < 20; n++) mine.push(await writer.append(batchNumber(w * 100 + n)));
          return mine;
        }),
      )
    ).flat();

    expectChainOnce(objects, appended, 120);
  });

  it("concurrent first appends take one lease between them, not one each", async () => {
    const objects = new MemoryObjectStore({ atomicCreate: false });
    const leases = new MemoryLeases();
    const writer = writerOn(objects, leases, 4);

    const appended = await Promise.all(Array.from({ length: 8 }, (_, n) => writer.append(batchNumber(n))));

    expect(leases.acquireCalls).toBe(1);
    expect([...leases.holders.keys()]).toEqual(["0"]);
    expect(new Set(appended.map((a) => a.link.chain))).toEqual(new Set(["0"]));
  });

  it("an append that fails does not hold up the appends queued behind it", async () => {
    const objects = new MemoryObjectStore({ atomicCreate: false });
    const failing: MemoryObjectStore = Object.create(objects);
    let failures = 1;
    failing.putIfAbsent = async (key, bytes) => {
      if (failures-- > 0) throw Object.assign(new Error("injected: access denied"), { name: "AccessDenied" });
      return objects.putIfAbsent(key, bytes);
    };
    const writer = writerOn(failing);

    const outcomes = await Promise.allSettled(
      Array.from({ length: 3 }, (_, n) => writer.append(batchNumber(n))),
    );

    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    expect([...objects.versions.keys()].sort()).toEqual([linkKey("0", 0), linkKey("0", 1)]);
  });
});
