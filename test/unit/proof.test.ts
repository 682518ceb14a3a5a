/** Proof bundles: built from a batch, a chain and a checkpoint; verified with nothing but the key. */
import { beforeAll, describe, expect, it } from "vitest";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../../lambda/checkpoint/local-key";
import {
  type CheckpointKey,
  chainLeafHash,
  FIRST_CHECKPOINT_PREV,
  parseTrustedKeys,
  signCheckpoint,
  type TrustedKey,
  trustFileOf,
} from "../../lambda/core/checkpoint";
import { GENESIS_PREV, linkHash, serializeLink } from "../../lambda/core/link";
import { merkleRoot } from "../../lambda/core/merkle";
import { buildProofBundle, type ProofBundle, verifyProofBundle } from "../../lambda/core/proof";

const BATCH_KEY = `events/dt=2026-11-22/hr=06/${"c".repeat(64)}.jsonl.gz`;

function recordLine(id: string): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, id, time: "2026-11-22T06:00:00.000Z", action: "document.read" }));
}

/** A chain of `size` links whose link `target` names a batch of `lines`. */
async function fixture(key: CheckpointKey, size: number, target: number, lines: Buffer[]) {
  const { leafHash } = await import("../../lambda/core/merkle");
  const batchRoot = merkleRoot(lines.map((line) => leafHash(line))).toString("hex");
  const links: Buffer[] = [];
  let prev = GENESIS_PREV;
  for (let seq = 0; seq < size; seq++) {
    const bytes = serializeLink({
      v: 1,
      chain: "3",
      seq,
      prev,
      time: "2026-11-22T06:00:00.000Z",
      batch: {
        key: BATCH_KEY,
        sha256: "c".repeat(64),
        root: seq === target ? batchRoot : "d".repeat(64),
        count: seq === target ? lines.length : 1,
        first_time: "2026-11-22T06:00:00.000Z",
        last_time: "2026-11-22T06:00:00.000Z",
      },
    });
    links.push(bytes);
    prev = linkHash(bytes);
  }
  const hashes = links.map((bytes) => linkHash(bytes));
  const checkpoint = await signCheckpoint(
    {
      v: 1,
      seq: 7,
      prev: FIRST_CHECKPOINT_PREV,
      time: "2026-11-22T06:01:00.000Z",
      chains: { "3": { size, root: merkleRoot(hashes.map(chainLeafHash)).toString("hex"), head: prev } },
    },
    key,
  );
  return { links, hashes, checkpoint };
}

describe("proof bundles", () => {
  let key: CheckpointKey;
  let trusted: TrustedKey[];
  let bundle: ProofBundle;
  const lines = Array.from({ length: 13 }, (_, i) => recordLine(`01JEVENT${String(i).padStart(18, "0")}`));

  beforeAll(async () => {
    key = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
    trusted = await parseTrustedKeys(trustFileOf(key));
    const { links, hashes, checkpoint } = await fixture(key, 1000, 617, lines);
    bundle = buildProofBundle({
      eventId: "01JEVENT000000000000000005",
      batchLines: lines,
      lineIndex: 5,
      linkBytes: links[617] as Buffer,
      chainLinkHashes: hashes,
      checkpointJws: checkpoint,
    });
  });

  it("verify offline, and say which event, link and checkpoint they prove", async () => {
    const verdict = await verifyProofBundle(bundle, trusted);
    expect(verdict).toMatchObject({
      ok: true,
      facts: { event: "01JEVENT000000000000000005", chain: "3", seq: 617, checkpointSeq: 7, kid: key.kid },
    });
  });

  it("grow with log(size): 1000 links and 13 lines take 10 + 4 hashes", () => {
    expect(bundle.chain_proof.audit_path).toHaveLength(10);
    expect(bundle.batch.audit_path).toHaveLength(4);
  });

  it("fail under another key", async () => {
    const other = await parseTrustedKeys(
      trustFileOf(await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk())),
    );
    expect(await verifyProofBundle(bundle, other)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/not trusted/),
    });
  });

  it("fail with any single byte of the bundle changed", async () => {
    const text = JSON.stringify(bundle);
    const survivors: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const changed = text.slice(0, i) + String.fromCharCode(text.charCodeAt(i) ^ 1) + text.slice(i + 1);
      let parsed: unknown;
      try {
        parsed = JSON.parse(changed);
      } catch {
        continue; // not JSON any more: refused before any check
      }
      if ((await verifyProofBundle(parsed, trusted)).ok) survivors.push(i);
    }
    expect(survivors).toEqual([]);
  });

  it("fail for a link newer than the checkpoint, whatever size the bundle claims", async () => {
    const { links, hashes, checkpoint } = await fixture(key, 8, 7, lines);
    const stale = await signCheckpoint(
      {
        v: 1,
        seq: 1,
        prev: FIRST_CHECKPOINT_PREV,
        time: "2026-11-22T06:01:00.000Z",
        chains: {
          "3": {
            size: 4,
            root: merkleRoot(hashes.slice(0, 4).map(chainLeafHash)).toString("hex"),
            head: hashes[3] as string,
          },
        },
      },
      key,
    );
    const built = buildProofBundle({
      eventId: "01JEVENT000000000000000000",
      batchLines: lines,
      lineIndex: 0,
      linkBytes: links[7] as Buffer,
      chainLinkHashes: hashes,
      checkpointJws: checkpoint,
    });
    expect((await verifyProofBundle(built, trusted)).ok).toBe(true);
    expect(await verifyProofBundle({ ...built, checkpoint: stale }, trusted)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/newer than checkpoint/),
    });
  });
});
