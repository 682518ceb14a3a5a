/**
 * The checkpoint run (runCheckpoint, lambda/checkpoint/signer.ts) against in-memory ports: the bucket
 * (MemoryObjectStore, which shows every version as S3's version listing does) and the signer's state
 * (MemorySignerStateStore). It signs a checkpoint covering every link, chained to the one before; it
 * refuses, signing nothing, whenever the archive does not extend what it signed. The emulator suite
 * (test/integration/checkpoint.test.ts) runs the same job on S3 and KMS.
 */
import type { JWK } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../../lambda/checkpoint/local-key";
import { runCheckpoint, type SignerDeps } from "../../lambda/checkpoint/signer";
import {
  type CheckpointKey,
  chainLeafHash,
  checkpointPayloadHash,
  FIRST_CHECKPOINT_PREV,
  payloadBytesOf,
  verifyCheckpoint,
} from "../../lambda/core/checkpoint";
import { sha256Hex } from "../../lambda/core/hash";
import { type ChainLink, linkHash, serializeLink } from "../../lambda/core/link";
import { merkleRoot } from "../../lambda/core/merkle";
import { checkpointKey, linkKey } from "../../lambda/core/paths";
import { ChainWriter } from "../../lambda/ingest/chain-writer";
import { MemoryLeases, MemoryObjectStore, MemorySignerStateStore } from "../support/memory-archive";

const START = Date.parse("2026-11-22T03:00:00.000Z");

function batchNumber(n: number): ChainLink["batch"] {
  const digest = sha256Hex(`batch ${n}`);
  return {
    key: `events/dt=2026-11-22/hr=03/${digest}.jsonl.gz`,
    sha256: digest,
    root: sha256Hex(`root ${n}`),
    count: 1,
    first_time: "2026-11-22T03:00:00.000Z",
    last_time: "2026-11-22T03:00:00.000Z",
  };
}

let key: CheckpointKey;
let objects: MemoryObjectStore;
let state: MemorySignerStateStore;
let writers: ChainWriter[];
let batches = 0;

/** Appends `count` links to chain `chain` ("0" or "1": each writer leases its own). */
async function append(chain: 0 | 1, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await (writers[chain] as ChainWriter).append(batchNumber(batches++));
}

function deps(overrides: Partial<SignerDeps> = {}): SignerDeps {
  return {
    source: objects,
    putCheckpoint: (objectKey, bytes) => objects.putIfAbsent(objectKey, bytes),
    state,
    key,
    now: () => START + 60_000,
    ...overrides,
  };
}

async function signedPayload(seq: number) {
  const bytes = objects.versions.get(checkpointKey(seq))?.[0] as Buffer;
  const own = { kid: key.kid, jwk: key.publicJwk as JWK };
  return verifyCheckpoint(bytes.toString("ascii"), [own]);
}

/** The hashes of the links of `chain` the bucket holds, in seq order. */
function linkHashes(chain: string): string[] {
  return objects
    .keys(`chains/${chain}/`)
    .map((objectKey) => linkHash(objects.versions.get(objectKey)?.at(-1) as Buffer));
}

beforeEach(async () => {
  key = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
  objects = new MemoryObjectStore();
  state = new MemorySignerStateStore();
  const leases = new MemoryLeases();
  writers = [0, 1].map(
    (i) =>
      new ChainWriter({
        objects,
        leases,
        headHint: async () => undefined,
        chainCount: 2,
        holder: `writer-${i}`,
        leaseMs: 60_000,
        now: () => START,
      }),
  );
  await append(0, 3);
  await append(1, 2);
});

describe("runCheckpoint signs", () => {
  it("checkpoint 0 covering every link of every chain: size, tree root and head per chain", async () => {
    // Act
    const outcome = await runCheckpoint(deps());
    // Assess
    expect(outcome).toEqual({ status: "signed", seq: 0, newLinks: 5, chains: 2 });
    const { payload } = await signedPayload(0);
    expect(payload.prev).toBe(FIRST_CHECKPOINT_PREV);
    for (const [chain, size] of [
      ["0", 3],
      ["1", 2],
    ] as const) {
      const hashes = linkHashes(chain);
      expect(payload.chains[chain]).toEqual({
        size,
        root: merkleRoot(hashes.map(chainLeafHash)).toString("hex"),
        head: hashes.at(-1),
      });
    }
    expect(state.state).toMatchObject({ seq: 0, chains: { "0": { size: 3 }, "1": { size: 2 } } });
  });

  it("checkpoint 1 chained to checkpoint 0, covering the links written since", async () => {
    // Prepare
    await runCheckpoint(deps());
    await append(1, 4);
    // Act
    const outcome = await runCheckpoint(deps());
    // Assess
    expect(outcome).toEqual({ status: "signed", seq: 1, newLinks: 4, chains: 2 });
    const first = objects.versions.get(checkpointKey(0))?.[0] as Buffer;
    const { payload } = await signedPayload(1);
    expect(payload.prev).toBe(checkpointPayloadHash(payloadBytesOf(first.toString("ascii"))));
    expect(payload.chains["1"]?.size).toBe(6);
    expect(payload.chains["1"]?.head).toBe(linkHashes("1").at(-1));
  });

  it("with nothing new, signs the next checkpoint over the same chains (a fresh time, no new links)", async () => {
    // Prepare: today's signer does not skip a quiet minute; auditors' freshness checks rely on it.
    await runCheckpoint(deps());
    // Act
    const outcome = await runCheckpoint(deps({ now: () => START + 120_000 }));
    // Assess
    expect(outcome).toEqual({ status: "signed", seq: 1, newLinks: 0, chains: 2 });
    const [zero, one] = [await signedPayload(0), await signedPayload(1)];
    expect(one.payload.chains).toEqual(zero.payload.chains);
    expect(one.payload.time > zero.payload.time).toBe(true);
  });

  it("two runs at once: one checkpoint 0, neither refuses, and the next run signs checkpoint 1", async () => {
    // Act
    const outcomes = await Promise.all([runCheckpoint(deps()), runCheckpoint(deps())]);
    const next = await runCheckpoint(deps());
    // Assess
    for (const outcome of outcomes) expect(["signed", "raced"]).toContain(outcome.status);
    expect(objects.versions.get(checkpointKey(0))).toHaveLength(1);
    expect(next).toMatchObject({ status: "signed", seq: 1 });
  });

  it("a 409 on the checkpoint put (another run writing it): raced, no state saved, and the next run signs", async () => {
    // Act
    const raced = await runCheckpoint(deps({ putCheckpoint: async () => "conflict" }));
    const stateAfterRace = await state.load();
    const next = await runCheckpoint(deps());
    // Assess
    expect(raced).toMatchObject({ status: "raced", seq: 0 });
    expect(stateAfterRace).toBeUndefined();
    expect(next).toMatchObject({ status: "signed", seq: 0 });
    expect(objects.versions.get(checkpointKey(0))).toHaveLength(1);
  });
});

describe("runCheckpoint refuses, signs nothing and keeps its state, when", () => {
  const breaks: { name: string; reason: RegExp; act: () => Promise<void> | void }[] = [
    {
      name: "a signed chain's head link was replaced (a second version)",
      reason: /chains\/0\/00000000000000000002\.json has 2 versions/,
      act: () => {
        const head = linkKey("0", 2);
        objects.overwrite(head, Buffer.concat([objects.versions.get(head)?.[0] as Buffer, Buffer.from(" ")]));
      },
    },
    {
      name: "a link after the signed head is missing",
      reason: /chain 1: link 2 is missing/,
      act: async () => {
        await append(1, 3);
        objects.versions.delete(linkKey("1", 2));
      },
    },
    {
      name: "a new link does not name its predecessor's hash",
      reason: /prev does not name/,
      act: async () => {
        const forged: ChainLink = {
          v: 1,
          chain: "0",
          seq: 3,
          prev: sha256Hex("not link 2"),
          time: new Date(START).toISOString(),
          batch: batchNumber(99),
        };
        await objects.putIfAbsent(linkKey("0", 3), serializeLink(forged));
      },
    },
    {
      name: "a signed chain disappeared",
      reason: /link 1, the head signed last, is gone/,
      act: () => {
        for (const objectKey of objects.keys("chains/1/")) objects.versions.delete(objectKey);
      },
    },
    {
      name: "the newest checkpoint it signed was rewritten",
      reason: /rewritten/,
      act: () => objects.overwrite(checkpointKey(0), Buffer.from("forged")),
    },
  ];

  it.each(breaks)("$name", async ({ reason, act }) => {
    // Prepare
    await runCheckpoint(deps());
    const before = await state.load();
    await act();
    const checkpoints = objects.keys("checkpoints/");
    // Act
    const outcome = await runCheckpoint(deps());
    // Assess
    expect(outcome.status).toBe("refused");
    expect(outcome.status === "refused" && outcome.reasons.join("; ")).toMatch(reason);
    expect(objects.keys("checkpoints/")).toEqual(checkpoints);
    expect(await state.load()).toEqual(before);
  });
});
