/**
 * rebuild-index against in-memory ports: it claims only an empty table, resumes only its own unfinished
 * rebuild of the same bucket (same TTL), reports links the archive does not back and goes on, counts
 * progress, and maps what it found to the CLI's exit codes. Every refusal writes nothing.
 */
import { describe, expect, it } from "vitest";
import { linkBatchOf, sealBatch } from "../../lambda/core/batch";
import { linkKey } from "../../lambda/core/paths";
import { buildRecord } from "../../lambda/core/record";
import { createUlidGenerator } from "../../lambda/core/ulid";
import { ChainWriter } from "../../lambda/ingest/chain-writer";
import {
  type RebuildIndexDeps,
  type RebuildProgress,
  RebuildRefusedError,
  type RebuildState,
  type RebuildStateStore,
  rebuildExitCode,
  rebuildIndex,
} from "../../lambda/ingest/rebuild-index";
import { MemoryIndex, MemoryLeases, MemoryObjectStore } from "../support/memory-archive";
import { testPrincipal } from "../support/principal";

const START = Date.parse("2026-11-22T03:00:00.000Z");
const BUCKET = "archive-bucket";

/** `links[c]` batches of two events on chain c, written through the real ChainWriter. */
async function archiveOf(links: readonly number[]): Promise<MemoryObjectStore> {
  const objects = new MemoryObjectStore();
  const leases = new MemoryLeases();
  let clock = START;
  const ulid = createUlidGenerator(() => clock);
  for (const [c, count] of links.entries()) {
    const writer = new ChainWriter({
      objects,
      leases,
      headHint: async () => undefined,
      chainCount: links.length,
      holder: `writer-${c}`,
      leaseMs: 60_000,
      now: () => clock,
    });
    for (let s = 0; s < count; s++) {
      clock += 1000;
      const records = [0, 1].map((n) =>
        buildRecord(
          { action: "doc.read", outcome: "success", resource: { type: "doc", id: `${c}-${s}-${n}` } },
          {
            id: ulid(),
            time: new Date(clock).toISOString(),
            reporter: testPrincipal(),
            tenant: "acme",
            ingest: { request_id: "r", source_ip: null, user_agent: null },
          },
        ),
      );
      const batch = sealBatch(records, new Date(clock));
      await objects.putIfAbsent(batch.key, batch.bytes);
      await writer.append(linkBatchOf(batch));
    }
  }
  return objects;
}

/** The state item beside a MemoryIndex: "empty" means no item at all, the state item included. */
class MemoryState implements RebuildStateStore {
  state: (RebuildState & { summary?: Record<string, number> }) | undefined;
  constructor(private readonly index: MemoryIndex) {}
  async isEmpty() {
    return this.state === undefined && this.index.items.size === 0;
  }
  async read() {
    return this.state;
  }
  async claim(state: RebuildState) {
    if (this.state) return false;
    this.state = { ...state };
    return true;
  }
  async finish(finishedAt: string, summary: Readonly<Record<string, number>>) {
    if (this.state) this.state = { ...this.state, finishedAt, summary: { ...summary } };
  }
}

function depsOf(
  objects: MemoryObjectStore,
  index = new MemoryIndex(),
  overrides: Partial<RebuildIndexDeps> = {},
): RebuildIndexDeps & { index: MemoryIndex; state: MemoryState; problems: string[] } {
  const problems: string[] = [];
  const chainNames = () => {
    const names = new Set<string>();
    for (const key of objects.versions.keys()) {
      const match = /^chains\/([^/]+)\//.exec(key);
      if (match) names.add(match[1] as string);
    }
    return [...names];
  };
  return {
    objects,
    index,
    state: new MemoryState(index),
    bucket: BUCKET,
    listChains: async () => chainNames(),
    concurrency: 2,
    now: () => new Date("2026-12-01T00:00:00.000Z"),
    onProblem: (message) => problems.push(message),
    problems,
    ...overrides,
  } as RebuildIndexDeps & { index: MemoryIndex; state: MemoryState; problems: string[] };
}

describe("rebuildIndex", () => {
  it("rebuilds every chain the bucket holds into an empty table and records the finished rebuild", async () => {
    const objects = await archiveOf([2, 3, 1]);
    const deps = depsOf(objects);

    const result = await rebuildIndex(deps);

    expect(result).toMatchObject({
      chains: ["0", "1", "2"],
      linksIndexed: 6,
      linksAlreadyIndexed: 0,
      eventsIndexed: 12,
      linksRejected: 0,
      resumed: false,
      complete: true,
    });
    expect(deps.index.pointers().size).toBe(12);
    expect(deps.state.state).toMatchObject({
      bucket: BUCKET,
      finishedAt: "2026-12-01T00:00:00.000Z",
      indexTtlDays: null,
      summary: { chains: 3, links: 6, links_rejected: 0 },
    });
    expect(rebuildExitCode(result)).toBe(0);
  });

  it("reports progress up to every link of the bucket", async () => {
    const objects = await archiveOf([2, 3]);
    const seen: RebuildProgress[] = [];

    await rebuildIndex(depsOf(objects, new MemoryIndex(), { onProgress: (p) => seen.push(p) }));

    expect(seen.at(-1)).toEqual({ linksDone: 5, linksTotal: 5, eventsIndexed: 10 });
    expect(seen.every((p) => p.linksTotal === 5 && p.linksDone <= 5)).toBe(true);
  });

  it("refuses a table that holds items no rebuild wrote, and writes nothing", async () => {
    const objects = await archiveOf([1]);
    const index = new MemoryIndex();
    await index.putItems([{ pk: "event#someone-else", sk: "event" }]);
    const deps = depsOf(objects, index);

    await expect(rebuildIndex(deps)).rejects.toThrow(
      /not empty and no rebuild-index run started it.*nothing was written/,
    );
    expect([...index.items.keys()]).toEqual([JSON.stringify(["event#someone-else", "event"])]);
    expect(deps.state.state).toBeUndefined();
  });

  it.each([
    ["another bucket's rebuild", { bucket: "other-bucket" }, /rebuild of s3:\/\/other-bucket/],
    ["a finished rebuild", { finishedAt: "2026-11-30T00:00:00.000Z" }, /rebuilt from .* already/],
    ["a rebuild with another TTL", { indexTtlDays: 30 }, /started with --index-ttl-days 30/],
  ])("refuses to continue %s, and writes nothing", async (_name, state, message) => {
    const objects = await archiveOf([1]);
    const deps = depsOf(objects);
    deps.state.state = {
      bucket: BUCKET,
      startedAt: "2026-11-30T00:00:00.000Z",
      indexTtlDays: null,
      ...state,
    };
    const before = structuredClone(deps.state.state);

    const run = rebuildIndex(deps);

    await expect(run).rejects.toBeInstanceOf(RebuildRefusedError);
    await expect(run).rejects.toThrow(message);
    expect(deps.index.items.size).toBe(0);
    expect(deps.state.state).toEqual(before);
  });

  it("refuses a bucket that is no archive before it claims the table", async () => {
    const deps = depsOf(new MemoryObjectStore());

    await expect(rebuildIndex(deps)).rejects.toThrow(/not a sealtrail archive.*nothing was written/);
    expect(deps.state.state).toBeUndefined();
  });

  it("continues an interrupted rebuild of the same bucket to the same index", async () => {
    const objects = await archiveOf([3, 3]);
    const straight = depsOf(objects);
    await rebuildIndex(straight);

    // The first run: chain 1's index writes fail, so it stops there (incomplete, exit 2).
    const index = new MemoryIndex();
    index.refuse = (item) => item.chain === "1";
    const first = depsOf(objects, index);
    const interrupted = await rebuildIndex(first);
    expect(interrupted).toMatchObject({ complete: false, linksIndexed: 3, linksFailed: 3 });
    expect(rebuildExitCode(interrupted)).toBe(2);
    expect(first.state.state?.finishedAt).toBeUndefined();

    index.refuse = () => false;
    const again = depsOf(objects, index, { state: first.state });
    const resumed = await rebuildIndex(again);

    expect(resumed).toMatchObject({
      resumed: true,
      complete: true,
      linksAlreadyIndexed: 3,
      linksIndexed: 3,
      eventsIndexed: 6,
      startedAt: first.state.state?.startedAt,
    });
    expect(rebuildExitCode(resumed)).toBe(0);
    expect(index.items).toEqual(straight.index.items);
  });

  it("reports a link whose batch does not match, indexes the rest, and exits 1", async () => {
    const objects = await archiveOf([2, 2]);
    // Seq 2 of chain 0 names a batch the bucket does not hold.
    const link = JSON.parse((await objects.get(linkKey("0", 1)))?.toString("utf8") ?? "{}");
    const forged = {
      ...link,
      seq: 2,
      batch: { ...link.batch, key: "events/dt=2026-11-22/hr=03/missing.jsonl.gz" },
    };
    await objects.putIfAbsent(linkKey("0", 2), Buffer.from(JSON.stringify(forged)));
    const deps = depsOf(objects);

    const result = await rebuildIndex(deps);

    expect(result).toMatchObject({ complete: true, linksIndexed: 4, linksRejected: 1, eventsIndexed: 8 });
    expect(rebuildExitCode(result)).toBe(1);
    expect(deps.problems.some((message) => /run sealtrail verify/.test(message))).toBe(true);
  });

  it("reports a name under chains/ that is no chain id, never reads it, and exits 1", async () => {
    const objects = await archiveOf([1]);
    await objects.putIfAbsent("chains/01/00000000000000000000.json", Buffer.from("{}"));
    const deps = depsOf(objects);

    const result = await rebuildIndex(deps);

    expect(result).toMatchObject({ chains: ["0"], nonCanonicalChains: ["01"], linksIndexed: 1 });
    expect(rebuildExitCode(result)).toBe(1);
  });
});
