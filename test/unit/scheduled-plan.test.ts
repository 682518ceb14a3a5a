/**
 * How the scheduled verifier cuts an archive into steps (lambda/verify/scheduled.ts planStep) and what
 * a step's view shows (lambda/verify/archive-view.ts): tables of cases, no emulator.
 */
import { describe, expect, it } from "vitest";
import type { ArchiveEntry, ArchiveSource } from "../../lambda/archive/source";
import { checkpointKey, linkKey } from "../../lambda/core/paths";
import { isVisible, summarizeListing, type ViewBounds, viewOf } from "../../lambda/verify/archive-view";
import { planStep } from "../../lambda/verify/scheduled";
import type { VerifierState } from "../../lambda/verify/verifier";

/** Checkpoints 0, 1, 2 signing chains "0" and "1" at sizes 3, 5 and 6; six links listed per chain. */
const SIGNED: Record<number, Record<string, number>> = {
  0: { "0": 3, "1": 3 },
  1: { "0": 5, "1": 5 },
  2: { "0": 6, "1": 6 },
};
const SUMMARY = { checkpoints: [0, 1, 2], linkCounts: { "0": 6, "1": 6 } };
const sizesOf = async (seq: number) => SIGNED[seq];

function stateAt(checkpoint: number, sizes: Record<string, number>): VerifierState {
  const chains = Object.fromEntries(
    Object.entries(sizes).map(([id, size]) => [id, { size, head: "h", frontier: { size, nodes: [] } }]),
  );
  return { v: 1, checkpoint: { seq: checkpoint, payload_sha256: "p", time: "t" }, chains } as VerifierState;
}

describe("planStep", () => {
  it.each([
    { name: "everything fits: the whole listing", state: undefined, budget: 12, expected: undefined },
    {
      name: "from scratch, two checkpoints fit: the newest that fits",
      state: undefined,
      budget: 10,
      expected: { checkpoint: 1, links: { "0": 5, "1": 5 } },
    },
    {
      name: "from scratch, not even the first fits: the first checkpoint however large",
      state: undefined,
      budget: 1,
      expected: { checkpoint: 0, links: { "0": 3, "1": 3 } },
    },
    {
      name: "from a state, the rest fits: the whole listing (what verify --state reads)",
      state: stateAt(1, { "0": 5, "1": 5 }),
      budget: 2,
      expected: undefined,
    },
    {
      name: "from a state, the next checkpoint does not fit: a budget's worth of its links, chain by chain",
      state: stateAt(0, { "0": 3, "1": 3 }),
      budget: 3,
      expected: { checkpoint: 0, links: { "0": 5, "1": 4 } },
    },
    {
      name: "a state past a checkpoint's size (unsigned links read before) is never bounded below itself",
      state: stateAt(0, { "0": 6, "1": 3 }),
      budget: 2,
      expected: { checkpoint: 1, links: { "0": 6, "1": 5 } },
    },
  ])("$name", async ({ state, budget, expected }) => {
    // Act
    const bounds = await planStep(SUMMARY, state, budget, sizesOf);
    // Assess
    expect(bounds).toEqual(expected);
  });

  it("past the newest checkpoint, unsigned links are taken a budget at a time at the checkpoint verified", async () => {
    // Prepare: everything signed verified; eight more links on chain 1 than checkpoint 2 signed.
    const summary = { checkpoints: [0, 1, 2], linkCounts: { "0": 6, "1": 14 } };
    // Act
    const bounds = await planStep(summary, stateAt(2, { "0": 6, "1": 6 }), 5, sizesOf);
    // Assess
    expect(bounds).toEqual({ checkpoint: 2, links: { "0": 6, "1": 11 } });
  });

  it("a checkpoint that cannot be read counts no links of its own, so a step reaches it and the verifier reports it", async () => {
    // Act
    const bounds = await planStep(SUMMARY, stateAt(0, { "0": 3, "1": 3 }), 3, async (seq) =>
      seq === 1 ? undefined : SIGNED[seq],
    );
    // Assess
    expect(bounds).toEqual({ checkpoint: 1, links: { "0": 3, "1": 3 } });
  });
});

describe("a step's view", () => {
  const bounds: ViewBounds = { checkpoint: 1, links: { "0": 4 } };

  it.each([
    { key: linkKey("0", 3), visible: true },
    { key: linkKey("0", 4), visible: false },
    { key: linkKey("1", 0), visible: false },
    { key: checkpointKey(1), visible: true },
    { key: checkpointKey(2), visible: false },
    { key: "events/dt=2026-12-01/hr=10/ab.jsonl.gz", visible: true },
    { key: "chains/01/00000000000000000000.json", visible: true },
    { key: "elsewhere/planted", visible: true },
  ])("$key visible: $visible", ({ key, visible }) => {
    expect(isVisible(key, bounds)).toBe(visible);
  });

  it("lists the snapshot without what the bounds hide (every version and delete marker of it), and reads through", async () => {
    // Prepare
    const entries: ArchiveEntry[] = [
      { key: checkpointKey(1), isObject: true, isLatest: true },
      { key: checkpointKey(2), isObject: false, isLatest: true },
      { key: checkpointKey(2), isObject: true, isLatest: false },
      { key: linkKey("0", 3), isObject: true, isLatest: true },
      { key: linkKey("0", 4), isObject: true, isLatest: true },
    ];
    const reads: string[] = [];
    const source: ArchiveSource = {
      description: "memory",
      seesVersions: true,
      list: async function* () {
        yield* [];
      },
      listChildren: async () => [],
      get: async (key) => {
        reads.push(key);
        return Buffer.from(key);
      },
    };
    let expired = false;
    const view = viewOf(source, entries, bounds, () => expired);
    // Act
    const listed: string[] = [];
    for await (const entry of view.list("")) listed.push(entry.key);
    const bytes = await view.get(linkKey("0", 3));
    expired = true;
    // Assess
    expect(listed).toEqual([checkpointKey(1), linkKey("0", 3)]);
    expect(bytes?.toString()).toBe(linkKey("0", 3));
    await expect(view.get(linkKey("0", 2))).rejects.toThrow(/past its deadline/);
    expect(reads).toEqual([linkKey("0", 3)]);
    expect(summarizeListing(entries)).toEqual({ checkpoints: [1], linkCounts: { "0": 5 } });
  });
});
