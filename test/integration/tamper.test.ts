/**
 * The tamper suite of issue 4: an archive built by the real ingest handler and checkpoint run, on a
 * versioned bucket WITHOUT Object Lock, then altered with the raw S3 and DynamoDB clients exactly as an
 * attacker with write access to the bucket and the table (but not the signing key) could. Each
 * tampering must be an error finding with the right code, naming its key (and seq and line where the
 * archive lets them be known), and exit 1; each test first verifies the same archive clean, so every
 * assertion can fail. Where a local copy makes sense, the copy is verified too.
 */
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { DirectorySource } from "../../lambda/archive/source";
import { eventPointers } from "../../lambda/aws/index-reader";
import { documentClient } from "../../lambda/aws/index-store";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../../lambda/checkpoint/local-key";
import type { Receipt } from "../../lambda/core/api-schema";
import { linkBatchOf, sealBatch } from "../../lambda/core/batch";
import { type CheckpointKey, signCheckpoint, verifyCheckpoint } from "../../lambda/core/checkpoint";
import { sha256Hex } from "../../lambda/core/hash";
import { type ChainLink, linkHash, parseLink, serializeLink } from "../../lambda/core/link";
import { leafHash, merkleRoot } from "../../lambda/core/merkle";
import { checkpointKey, dataObjectKey, linkKey } from "../../lambda/core/paths";
import { EventRecordSchema, RECORD_VERSION, RECORD_VERSIONS } from "../../lambda/core/schema";
import { ulid } from "../../lambda/core/ulid";
import { createIngestHandler, type IngestHandler } from "../../lambda/handlers/ingest";
import { type ArchiveSourceSpec, openArchiveSource } from "../../lambda/runtime/archive-sources";
import {
  exitCodeFor,
  type Finding,
  type VerifyOptions,
  type VerifyReport,
  verifyArchive,
} from "../../lambda/verify/verifier";
import { WorkerObjectChecker } from "../../lambda/verify/worker-pool";
import { postEventsEvent } from "../support/api-event";
import { readObject } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { createTestSigner, type TestSigner } from "../support/checkpoint";
import { testConfig } from "../support/config";
import {
  deleteObject,
  downloadArchive,
  linesOf,
  overwriteObject,
  regzipLines,
  removeCopy,
  rewriteLines,
  updateEventPointer,
  versionIdsOf,
} from "../support/tamper";

/**
 * Batches per chain, by phase; a checkpoint is signed after each phase. Every chain ends with six
 * links, signed at sizes 3 (checkpoint 0), 5 (checkpoint 1) and 6 (checkpoint 2). The numbers are
 * events per batch, so seqs 1 and 3 hold three lines, seqs 2 and 5 two.
 */
const PHASES = [[1, 3, 2], [3, 1], [2]] as const;
const LINKS_PER_CHAIN = 6;

interface Built {
  readonly archive: TestArchive;
  readonly signer: TestSigner;
  readonly writers: IngestHandler[];
  /** The two chain ids, in the order the writers leased them. */
  readonly chains: [string, string];
  /** receipts[chain][seq]. */
  readonly receipts: Record<string, Receipt[]>;
}

let eventCounter = 0;

async function send(write: IngestHandler, count: number): Promise<Receipt> {
  const events = Array.from({ length: count }, () => {
    const n = eventCounter++;
    return {
      action: "document.read",
      outcome: "success",
      resource: { type: "document", id: `doc-${n}` },
      details: { n },
    };
  });
  const result = await write(postEventsEvent({ body: { events } }));
  expect(result.statusCode, result.body as string).toBe(201);
  return JSON.parse(result.body as string) as Receipt;
}

/** Ingests PHASES on two chains (one writer each), signing after each phase. */
async function buildArchive(): Promise<Built> {
  const archive = await createTestArchive({ objectLock: false });
  const signer = await createTestSigner(archive);
  const config = testConfig(archive, { chains: 2 });
  const writers = [createIngestHandler(config), createIngestHandler(config)];
  const receipts: Record<string, Receipt[]> = {};
  let checkpoint = 0;
  for (const phase of PHASES) {
    for (const count of phase) {
      for (const write of writers) {
        const receipt = await send(write, count);
        receipts[receipt.chain] ??= [];
        const chain = receipts[receipt.chain] as Receipt[];
        expect(receipt.seq).toBe(chain.length);
        chain.push(receipt);
      }
    }
    expect(await signer.run()).toMatchObject({ status: "signed", seq: checkpoint++ });
  }
  const chains = Object.keys(receipts);
  expect(chains).toHaveLength(2);
  for (const id of chains) expect(receipts[id]).toHaveLength(LINKS_PER_CHAIN);
  return { archive, signer, writers, chains: chains as [string, string], receipts };
}

function receiptAt(built: Built, chain: string, seq: number): Receipt {
  const receipt = built.receipts[chain]?.[seq];
  if (!receipt) throw new Error(`no receipt for chain ${chain} seq ${seq}`);
  return receipt;
}

type Extra = Partial<Omit<VerifyOptions, "source" | "trusted">>;

/**
 * The report of this thread's verifier, after checking that the verifier with worker threads (each
 * reading its own objects from the same source, as `sealtrail verify` runs by default) reports exactly
 * the same: the same findings, notes and counts.
 */
async function inThisThreadAndOnWorkers(
  spec: ArchiveSourceSpec,
  options: Omit<VerifyOptions, "source">,
): Promise<VerifyReport> {
  const inThread = await verifyArchive({ ...options, source: openArchiveSource(spec) });
  const pool = new WorkerObjectChecker(spec, 2);
  try {
    const onWorkers = await verifyArchive({
      ...options,
      source: openArchiveSource(spec),
      checkObject: pool.check,
    });
    // Findings arrive in the order checks finish, which differs between the two.
    const sorted = (report: VerifyReport) => ({
      ...report,
      findings: report.findings.map((finding) => JSON.stringify(finding)).sort(),
    });
    expect(sorted(onWorkers)).toEqual(sorted(inThread));
  } finally {
    await pool.close();
  }
  return inThread;
}

function fromBucket(built: Built, extra: Extra = {}): Promise<VerifyReport> {
  return inThisThreadAndOnWorkers(
    { kind: "s3", bucket: built.archive.bucket, aws: built.archive.target },
    { trusted: built.signer.trusted, ...extra },
  );
}

/** Downloads every current object to a temp dir and verifies that copy. */
async function fromCopy(built: Built, extra: Extra = {}): Promise<VerifyReport> {
  const dir = await downloadArchive(built.archive);
  try {
    return await inThisThreadAndOnWorkers(
      { kind: "directory", root: dir },
      { trusted: built.signer.trusted, ...extra },
    );
  } finally {
    await removeCopy(dir);
  }
}

function withIndex(built: Built): Extra {
  return { index: () => eventPointers(documentClient(built.archive.dynamo), built.archive.table) };
}

function errorsOf(report: VerifyReport): Finding[] {
  return report.findings.filter((finding) => finding.severity === "error");
}

function errorCodes(report: VerifyReport): string[] {
  return [...new Set(errorsOf(report).map((finding) => finding.code))].sort();
}

function expectClean(report: VerifyReport): void {
  expect(errorsOf(report)).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.outcome).toBe("verified");
  expect(exitCodeFor(report)).toBe(0);
}

/** The report fails (exit 1) with an error finding carrying exactly these fields (and maybe more). */
function expectError(report: VerifyReport, expected: Partial<Finding> & { code: string }): void {
  expect(exitCodeFor(report)).toBe(1);
  expect(report.ok).toBe(false);
  expect(report.state).toBeUndefined();
  expect(errorsOf(report)).toContainEqual(expect.objectContaining({ severity: "error", ...expected }));
}

/** A local copy holds one file per key: it can never report versions or delete markers. */
function expectNoVersionFindings(report: VerifyReport): void {
  expect(report.seesVersions).toBe(false);
  const codes = report.findings.map((finding) => finding.code);
  expect(codes).not.toContain("second_version");
  expect(codes).not.toContain("delete_marker");
}

/** Changes the byte at `at` of `text` (ASCII) to `to`; exactly one byte differs afterwards. */
function replaceByte(text: string, at: number, to: string): string {
  expect(to).toHaveLength(1);
  expect(text[at]).not.toBe(to);
  const changed = `${text.slice(0, at)}${to}${text.slice(at + 1)}`;
  const a = Buffer.from(text);
  const b = Buffer.from(changed);
  expect(b.length).toBe(a.length);
  expect(a.reduce((diff, byte, i) => diff + (byte === b[i] ? 0 : 1), 0)).toBe(1);
  return changed;
}

describe("tamper suite: every tampering is an error finding naming its key, and exit 1", () => {
  it("a clean archive verifies with exit 0 from the bucket, from a local copy, and with the index", async () => {
    const built = await buildArchive();
    const bucket = await fromBucket(built);
    expectClean(bucket);
    expect(bucket.findings).toEqual([]);
    expect(bucket.seesVersions).toBe(true);
    expect(bucket.stats).toMatchObject({ checkpoints: 3, chains: 2, links: 12, objects: 12, events: 24 });
    expect(bucket.newestCheckpoint).toMatchObject({ seq: 2, kid: built.signer.key.kid });
    expect(bucket.state?.checkpoint.seq).toBe(2);

    const copy = await fromCopy(built);
    expectClean(copy);
    expect(copy.findings).toEqual([]);
    expect(copy.seesVersions).toBe(false);
    expect(copy.notes.join("\n")).toMatch(/second versions and delete markers\s+cannot be seen/);
    expect(copy.stats).toEqual(bucket.stats);

    const indexed = await fromBucket(built, withIndex(built));
    expectClean(indexed);
    expect(indexed.findings).toEqual([]);
  });

  it("1. one byte of a record changed in a data object: altered_object and batch_mismatch; the index names the line", async () => {
    const built = await buildArchive();
    const chain = built.chains[0];
    const { batch } = receiptAt(built, chain, 1);
    expectClean(await fromBucket(built, withIndex(built)));

    // Line 2 of 3: "document.read" becomes "document.reax", still a valid, canonical record.
    await rewriteLines(built.archive, batch.key, (lines) => {
      const line = lines[1] as string;
      const at = line.indexOf('"action":"document.read"') + '"action":"document.rea'.length;
      lines[1] = replaceByte(line, at, "x");
      return lines;
    });

    const report = await fromBucket(built, withIndex(built));
    expectError(report, { code: "second_version", key: batch.key });
    expectError(report, { code: "altered_object", key: batch.key, chain, seq: 1 });
    expectError(report, { code: "batch_mismatch", key: batch.key, chain, seq: 1 });
    // The link holds only the batch's Merkle root, so the archive alone cannot say which line of an
    // otherwise valid batch changed; the index's leaf hash (and here its action) can.
    expectError(report, { code: "index_mismatch", key: batch.key, chain, seq: 1, line: 2 });
    expect(errorCodes(report)).toEqual([
      "altered_object",
      "batch_mismatch",
      "index_mismatch",
      "second_version",
    ]);

    const copy = await fromCopy(built, withIndex(built));
    expectNoVersionFindings(copy);
    expectError(copy, { code: "altered_object", key: batch.key, chain, seq: 1 });
    expectError(copy, { code: "batch_mismatch", key: batch.key, chain, seq: 1 });
    expectError(copy, { code: "index_mismatch", key: batch.key, chain, seq: 1, line: 2 });

    const withoutIndex = await fromCopy(built);
    expectError(withoutIndex, { code: "altered_object", key: batch.key, chain, seq: 1 });
    expectError(withoutIndex, { code: "batch_mismatch", key: batch.key, chain, seq: 1 });
  });

  it("1b. one byte that leaves a line no longer a record: bad_line names the line", async () => {
    const built = await buildArchive();
    const chain = built.chains[1];
    const { batch } = receiptAt(built, chain, 3);
    expectClean(await fromBucket(built));

    // Line 3 of 3: `"v":<the current version>` becomes `"v":9`, a record version that does not exist.
    expect(RECORD_VERSIONS).not.toContain(9);
    await rewriteLines(built.archive, batch.key, (lines) => {
      const line = lines[2] as string;
      expect(line.startsWith(`{"v":${RECORD_VERSION},`)).toBe(true);
      lines[2] = replaceByte(line, '{"v":'.length, "9");
      return lines;
    });

    for (const report of [await fromBucket(built), await fromCopy(built)]) {
      expectError(report, { code: "altered_object", key: batch.key, chain, seq: 3 });
      expectError(report, { code: "bad_line", key: batch.key, chain, seq: 3, line: 3 });
      expectError(report, { code: "batch_mismatch", key: batch.key, chain, seq: 3 });
    }
  });

  it("2. a data object deleted: missing_object naming key and seq, and its delete marker", async () => {
    const built = await buildArchive();
    const chain = built.chains[1];
    const { batch } = receiptAt(built, chain, 2);
    expectClean(await fromBucket(built));

    await deleteObject(built.archive, batch.key);

    const report = await fromBucket(built);
    expectError(report, { code: "delete_marker", key: batch.key });
    expectError(report, { code: "missing_object", key: batch.key, chain, seq: 2 });
    expect(errorCodes(report)).toEqual(["delete_marker", "missing_object"]);

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "missing_object", key: batch.key, chain, seq: 2 });
  });

  it("3. a link deleted: missing_link naming key and seq, and its delete marker", async () => {
    const built = await buildArchive();
    const chain = built.chains[0];
    const key = linkKey(chain, 2);
    expectClean(await fromBucket(built));

    await deleteObject(built.archive, key);

    const report = await fromBucket(built);
    expectError(report, { code: "delete_marker", key });
    expectError(report, { code: "missing_link", key, chain, seq: 2 });
    // The deleted version acknowledged a batch that is now in no chain.
    const [version] = await versionIdsOf(built.archive, key);
    const { batch } = receiptAt(built, chain, 2);
    expectError(report, { code: "overwritten_link", key, chain, seq: 2, version, batch: batch.key });
    expect(report.findings.map((finding) => finding.key)).not.toContain(batch.key);
    // Every checkpoint that signed link 2 no longer matches: without it the links give another tree,
    // one leaf short of the newest checkpoint's size.
    for (const seq of [0, 1]) {
      expectError(report, { code: "chain_mismatch", key: checkpointKey(seq), chain, seq });
    }
    expectError(report, { code: "truncated_chain", key: checkpointKey(2), chain, seq: 2 });

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "missing_link", key, chain, seq: 2 });
  });

  it("4. two links swapped: reordered_link naming each key and seq, and their second versions", async () => {
    const built = await buildArchive();
    const chain = built.chains[1];
    const [k, k1] = [linkKey(chain, 3), linkKey(chain, 4)];
    expectClean(await fromBucket(built));
    expectClean(await fromCopy(built));

    const [bytesK, bytesK1] = [await readObject(built.archive, k), await readObject(built.archive, k1)];
    await overwriteObject(built.archive, k, bytesK1);
    await overwriteObject(built.archive, k1, bytesK);

    const report = await fromBucket(built);
    expectError(report, { code: "second_version", key: k });
    expectError(report, { code: "second_version", key: k1 });
    expectError(report, { code: "reordered_link", key: k, chain, seq: 3 });
    expectError(report, { code: "reordered_link", key: k1, chain, seq: 4 });
    expectError(report, { code: "chain_mismatch", key: checkpointKey(1), chain, seq: 1 });

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "reordered_link", key: k, chain, seq: 3 });
    expectError(copy, { code: "reordered_link", key: k1, chain, seq: 4 });
    expectError(copy, { code: "chain_mismatch", key: checkpointKey(1), chain, seq: 1 });
  });

  it("5. a forged link inserted with correct prev hashes and a valid batch: the signed tree heads catch it", async () => {
    const built = await buildArchive();
    const { archive } = built;
    const chain = built.chains[0];
    expectClean(await fromBucket(built));
    expectClean(await fromCopy(built));

    // A planted batch: a real record line with a fresh id and another action, sealed like ingest does.
    const donor = receiptAt(built, chain, 3);
    const donorLine = linesOf(await readObject(archive, donor.batch.key))[0] as string;
    const record = EventRecordSchema.parse({
      ...JSON.parse(donorLine),
      id: ulid(),
      action: "document.delete",
    });
    const planted = sealBatch([record], new Date(record.time));
    await archive.s3.send(
      new PutObjectCommand({ Bucket: archive.bucket, Key: planted.key, Body: planted.bytes }),
    );

    // Links 0..3 stay; the forgery becomes link 4; old links 4 and 5 move to 5 and 6, re-chained.
    const old = await Promise.all(
      [3, 4, 5].map(async (seq) => parseLink(await readObject(archive, linkKey(chain, seq)))),
    );
    const [link3, link4, link5] = old as [ChainLink, ChainLink, ChainLink];
    let prev = linkHash(serializeLink(link3));
    const rewritten: ChainLink[] = [
      { v: 1, chain, seq: 4, prev: "", time: link3.time, batch: linkBatchOf(planted) },
      { ...link4, seq: 5, prev: "" },
      { ...link5, seq: 6, prev: "" },
    ];
    for (const link of rewritten) {
      const bytes = serializeLink({ ...link, prev });
      await overwriteObject(archive, linkKey(chain, link.seq), bytes);
      prev = linkHash(bytes);
    }

    const report = await fromBucket(built);
    // Prev-chaining, key order and batches all hold: nothing but the signed roots can tell.
    for (const code of [
      "broken_prev",
      "reordered_link",
      "missing_link",
      "altered_object",
      "batch_mismatch",
    ]) {
      expect(report.findings.map((finding) => finding.code)).not.toContain(code);
    }
    expectError(report, { code: "second_version", key: linkKey(chain, 4) });
    expectError(report, { code: "second_version", key: linkKey(chain, 5) });
    expectError(report, { code: "chain_mismatch", key: checkpointKey(1), chain, seq: 1 });
    expectError(report, { code: "chain_mismatch", key: checkpointKey(2), chain, seq: 2 });
    // Checkpoint 0 signed links 0..2, which are untouched.
    expect(errorsOf(report)).not.toContainEqual(expect.objectContaining({ key: checkpointKey(0) }));

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "chain_mismatch", key: checkpointKey(1), chain, seq: 1 });
    expectError(copy, { code: "chain_mismatch", key: checkpointKey(2), chain, seq: 2 });
    // In a copy, the signed tree heads are all that catch it (consistency included).
    expect(errorCodes(copy)).toEqual(["chain_mismatch", "inconsistent_checkpoints"]);

    // And the signer will not sign over it either.
    expect(await built.signer.run()).toMatchObject({ status: "refused" });
  });

  it("6. a chain truncated behind a checkpoint: truncated_chain naming each checkpoint that signed more", async () => {
    const built = await buildArchive();
    const chain = built.chains[1];
    expectClean(await fromBucket(built));

    // Links 4 and 5: signed by checkpoint 1 (size 5) and checkpoint 2 (size 6).
    await deleteObject(built.archive, linkKey(chain, 5));
    await deleteObject(built.archive, linkKey(chain, 4));

    const report = await fromBucket(built);
    expectError(report, { code: "delete_marker", key: linkKey(chain, 4) });
    expectError(report, { code: "delete_marker", key: linkKey(chain, 5) });
    expectError(report, { code: "truncated_chain", key: checkpointKey(1), chain, seq: 1 });
    expectError(report, { code: "truncated_chain", key: checkpointKey(2), chain, seq: 2 });
    expect(errorsOf(report)).not.toContainEqual(expect.objectContaining({ key: checkpointKey(0) }));

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "truncated_chain", key: checkpointKey(1), chain, seq: 1 });
    expectError(copy, { code: "truncated_chain", key: checkpointKey(2), chain, seq: 2 });
    expect(errorCodes(copy)).toEqual(["truncated_chain"]);
  });

  it("7. a checkpoint replaced by one signed with another key: checkpoint_unknown_key naming key and seq", async () => {
    const built = await buildArchive();
    const key = checkpointKey(1);
    expectClean(await fromBucket(built));
    expectClean(await fromCopy(built));

    const original = await verifyCheckpoint(await readObject(built.archive, key), built.signer.trusted);
    const attacker = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
    expect(attacker.kid).not.toBe(built.signer.key.kid);
    await overwriteObject(built.archive, key, Buffer.from(await signCheckpoint(original.payload, attacker)));

    const report = await fromBucket(built);
    expectError(report, { code: "second_version", key });
    expectError(report, { code: "checkpoint_unknown_key", key, seq: 1 });
    expect(errorCodes(report)).toEqual(["checkpoint_unknown_key", "second_version"]);

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "checkpoint_unknown_key", key, seq: 1 });
  });

  it("7b. a checkpoint signed with another key under the trusted kid: checkpoint_bad_signature", async () => {
    const built = await buildArchive();
    const key = checkpointKey(2);
    expectClean(await fromBucket(built));

    const original = await verifyCheckpoint(await readObject(built.archive, key), built.signer.trusted);
    const attacker = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
    const impostor: CheckpointKey = { ...attacker, kid: built.signer.key.kid };
    await overwriteObject(built.archive, key, Buffer.from(await signCheckpoint(original.payload, impostor)));

    const report = await fromBucket(built);
    expectError(report, { code: "second_version", key });
    expectError(report, { code: "checkpoint_bad_signature", key, seq: 2 });

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "checkpoint_bad_signature", key, seq: 2 });
  });

  it("8. a middle checkpoint deleted: missing_checkpoint naming key and seq, and its delete marker", async () => {
    const built = await buildArchive();
    const key = checkpointKey(1);
    expectClean(await fromBucket(built));

    await deleteObject(built.archive, key);

    const report = await fromBucket(built);
    expectError(report, { code: "delete_marker", key });
    expectError(report, { code: "missing_checkpoint", key, seq: 1 });
    expect(errorCodes(report)).toEqual(["delete_marker", "missing_checkpoint"]);

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "missing_checkpoint", key, seq: 1 });
  });

  it("9. index items altered: index_mismatch naming the data object, seq and line", async () => {
    const built = await buildArchive();
    const chain = built.chains[1];
    const first = receiptAt(built, chain, 1);
    const second = receiptAt(built, chain, 3);
    expectClean(await fromBucket(built, withIndex(built)));

    // The third event of seq 1 gets another actor; the second event of seq 3 points at another leaf.
    await updateEventPointer(built.archive, first.ids[2] as string, { actor_sub: "someone-else" });
    await updateEventPointer(built.archive, second.ids[1] as string, { leaf_index: 0 });

    const report = await fromBucket(built, withIndex(built));
    expectError(report, { code: "index_mismatch", key: first.batch.key, chain, seq: 1, line: 3 });
    expectError(report, { code: "index_mismatch", key: second.batch.key, chain, seq: 3, line: 2 });
    expect(errorCodes(report)).toEqual(["index_mismatch"]);
    expect(errorsOf(report)).toHaveLength(2);
    // Without the index option the archive itself is untouched.
    expectClean(await fromBucket(built));
  });

  it("10. bytes appended after the gzip stream: altered_object naming key and seq", async () => {
    const built = await buildArchive();
    const chain = built.chains[0];
    const { batch } = receiptAt(built, chain, 5);
    expectClean(await fromBucket(built));

    const bytes = await readObject(built.archive, batch.key);
    await overwriteObject(built.archive, batch.key, Buffer.concat([bytes, randomBytes(16)]));

    const report = await fromBucket(built);
    expectError(report, { code: "second_version", key: batch.key });
    expectError(report, { code: "altered_object", key: batch.key, chain, seq: 5 });

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "altered_object", key: batch.key, chain, seq: 5 });
  });

  it("11. two lines of a batch swapped: line_order naming the line, and batch_mismatch", async () => {
    const built = await buildArchive();
    const chain = built.chains[1];
    const { batch } = receiptAt(built, chain, 1);
    expectClean(await fromBucket(built));
    expectClean(await fromCopy(built));

    await rewriteLines(built.archive, batch.key, ([a, b, c]) => [b, a, c] as string[]);

    const report = await fromBucket(built);
    expectError(report, { code: "second_version", key: batch.key });
    expectError(report, { code: "altered_object", key: batch.key, chain, seq: 1 });
    expectError(report, { code: "line_order", key: batch.key, chain, seq: 1, line: 2 });
    expectError(report, { code: "batch_mismatch", key: batch.key, chain, seq: 1 });

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "line_order", key: batch.key, chain, seq: 1, line: 2 });
    expectError(copy, { code: "batch_mismatch", key: batch.key, chain, seq: 1 });
  });

  it("12. a line duplicated: duplicate_line naming the line", async () => {
    const built = await buildArchive();
    const chain = built.chains[0];
    const { batch } = receiptAt(built, chain, 3);
    expectClean(await fromBucket(built));

    await rewriteLines(built.archive, batch.key, ([a, b, c]) => [a, b, b, c] as string[]);

    const report = await fromBucket(built);
    expectError(report, { code: "second_version", key: batch.key });
    expectError(report, { code: "duplicate_line", key: batch.key, chain, seq: 3, line: 3 });
    expectError(report, { code: "batch_mismatch", key: batch.key, chain, seq: 3 });

    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expectError(copy, { code: "duplicate_line", key: batch.key, chain, seq: 3, line: 3 });
  });

  it("13. a link appended after the newest checkpoint: its batch is parsed line by line, as nothing signed fixes it", async () => {
    const built = await buildArchive();
    const { archive } = built;
    const chain = built.chains[0];
    expectClean(await fromBucket(built));

    // A line with a record's prefix that is not a record, committed exactly as ingest would commit it.
    const donor = linesOf(await readObject(archive, receiptAt(built, chain, 5).batch.key))[0] as string;
    const line = `${donor.slice(0, donor.indexOf('"action":'))}"action":"x"}`;
    const bytes = regzipLines([line]);
    const digest = sha256Hex(bytes);
    const time = (JSON.parse(line) as { time: string }).time;
    const batch: ChainLink["batch"] = {
      key: dataObjectKey(new Date(time), digest),
      sha256: digest,
      root: merkleRoot([leafHash(Buffer.from(line))]).toString("hex"),
      count: 1,
      first_time: time,
      last_time: time,
    };
    const head = await readObject(archive, linkKey(chain, LINKS_PER_CHAIN - 1));
    const planted = serializeLink({ v: 1, chain, seq: LINKS_PER_CHAIN, prev: linkHash(head), time, batch });
    for (const [key, body] of [
      [batch.key, bytes],
      [linkKey(chain, LINKS_PER_CHAIN), planted],
    ] as const) {
      await archive.s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: key, Body: body }));
    }

    for (const report of [await fromBucket(built), await fromCopy(built)]) {
      expect(report.findings).toContainEqual(
        expect.objectContaining({ severity: "warning", code: "unsigned_links", chain, seq: LINKS_PER_CHAIN }),
      );
      expectError(report, { code: "bad_line", key: batch.key, chain, seq: LINKS_PER_CHAIN, line: 1 });
    }
  });

  it("14. a link overwritten after it was acknowledged: overwritten_link names key, version and batch; a never acknowledged object stays a warning", async () => {
    const built = await buildArchive();
    const { archive } = built;
    expectClean(await fromBucket(built));

    // A second writer racing the first for the same seq, as moto's non-atomic If-None-Match let
    // happen: the first link is acknowledged, then replaced by one naming another batch.
    const acknowledged = await send(built.writers[0] as IngestHandler, 2);
    const { chain, seq } = acknowledged;
    const key = linkKey(chain, seq);
    const first = parseLink(await readObject(archive, key));
    const donor = linesOf(await readObject(archive, acknowledged.batch.key))[0] as string;
    const sealOne = () => {
      const record = EventRecordSchema.parse({ ...JSON.parse(donor), id: ulid() });
      return sealBatch([record], new Date(record.time));
    };
    const racer = sealOne();
    await overwriteObject(archive, racer.key, racer.bytes);
    await overwriteObject(archive, key, serializeLink({ ...first, batch: linkBatchOf(racer) }));
    // And a data object no link ever named: a request that failed before its link was written.
    const orphan = sealOne();
    await overwriteObject(archive, orphan.key, orphan.bytes);

    const [version] = await versionIdsOf(archive, key);
    const report = await fromBucket(built);
    expectError(report, { code: "second_version", key });
    expectError(report, {
      code: "overwritten_link",
      key,
      chain,
      seq,
      version,
      batch: acknowledged.batch.key,
    });
    const overwritten = report.findings.find((finding) => finding.code === "overwritten_link");
    expect(overwritten?.message).toContain(`replaced by a version naming ${racer.key}`);
    expect(overwritten?.message).toMatch(/acknowledged .* is in no chain now/);
    expect(errorCodes(report)).toEqual(["overwritten_link", "second_version"]);
    // The acknowledged batch is an error, not also a harmless unlinked object; the orphan is one.
    const unlinked = report.findings.filter((finding) => finding.code === "unlinked_object");
    expect(unlinked).toEqual([
      expect.objectContaining({
        severity: "warning",
        key: orphan.key,
        message: expect.stringMatching(/never acknowledged/),
      }),
    ]);

    // A copy holds only the current link: it cannot tell the two apart, and says so.
    const copy = await fromCopy(built);
    expectNoVersionFindings(copy);
    expect(copy.findings.map((finding) => finding.code)).not.toContain("overwritten_link");
    expect(copy.notes.join("\n")).toMatch(
      /a batch whose link was overwritten after it was acknowledged looks like\s+an unlinked data object/,
    );
    const copyUnlinked = copy.findings.filter((finding) => finding.code === "unlinked_object");
    expect(copyUnlinked.map((finding) => finding.key).sort()).toEqual(
      [acknowledged.batch.key, orphan.key].sort(),
    );
    for (const finding of copyUnlinked) expect(finding.message).toMatch(/only --bucket can tell/);
  });

  it("a second version of a link and of a checkpoint, even with identical bytes, is reported from the bucket", async () => {
    const built = await buildArchive();
    const link = linkKey(built.chains[1], 2);
    const checkpoint = checkpointKey(0);
    expectClean(await fromBucket(built));

    for (const key of [link, checkpoint]) {
      await overwriteObject(built.archive, key, await readObject(built.archive, key));
    }

    const report = await fromBucket(built);
    expectError(report, { code: "second_version", key: link });
    expectError(report, { code: "second_version", key: checkpoint });
    expect(errorCodes(report)).toEqual(["second_version"]);
    expect(errorsOf(report)).toHaveLength(2);

    // A local copy cannot see versions, and says so.
    const copy = await fromCopy(built);
    expectClean(copy);
    expect(copy.notes.join("\n")).toMatch(/cannot be seen here/);
  });
});

describe("--state and --max-age at library level", () => {
  it("a rolled-back copy fails against the saved state; an archive that moved on verifies incrementally", async () => {
    const built = await buildArchive();
    const first = await fromBucket(built);
    expectClean(first);
    const state = first.state;
    if (!state) throw new Error("a clean report carries the state to continue from");
    expect(state.checkpoint.seq).toBe(2);
    expect(Object.keys(state.chains).sort()).toEqual([...built.chains].sort());

    // A copy of the bucket with its newest checkpoints removed, as a restore from an old backup.
    const dir = await downloadArchive(built.archive);
    try {
      expectClean(
        await verifyArchive({ source: new DirectorySource(dir), trusted: built.signer.trusted, state }),
      );
      // The bucket as it was at checkpoint 0: checkpoints 1 and 2 and the links they signed are gone.
      const path = (key: string) => join(dir, ...key.split("/"));
      for (const seq of [2, 1]) await rm(path(checkpointKey(seq)));
      for (const chain of built.chains) for (const seq of [3, 4, 5]) await rm(path(linkKey(chain, seq)));
      const rolledBackCopy = await verifyArchive({
        source: new DirectorySource(dir),
        trusted: built.signer.trusted,
      });
      // On its own, the rolled-back copy is a consistent (older) archive: only the state can tell.
      expectClean(rolledBackCopy);
      expect(rolledBackCopy.newestCheckpoint?.seq).toBe(0);
      const rolledBack = await verifyArchive({
        source: new DirectorySource(dir),
        trusted: built.signer.trusted,
        state,
      });
      expectError(rolledBack, { code: "rollback", seq: 2 });
      // ...and the links checkpoints 1 and 2 signed, verified before, are gone from every chain.
      for (const chain of built.chains) {
        expectError(rolledBack, { code: "truncated_chain", key: checkpointKey(2), chain, seq: 2 });
      }
      expect(errorCodes(rolledBack)).toEqual(["rollback", "truncated_chain"]);
    } finally {
      await removeCopy(dir);
    }

    // The archive moves on: more batches, another checkpoint; only the new links are read.
    for (const write of built.writers) await send(write, 2);
    expect(await built.signer.run()).toMatchObject({ status: "signed", seq: 3, newLinks: 2 });
    const next = await fromBucket(built, { state });
    expectClean(next);
    expect(next.stats.links).toBe(2);
    expect(next.stats.events).toBe(4);
    expect(next.state?.checkpoint.seq).toBe(3);
    for (const id of built.chains) expect(next.state?.chains[id]?.size).toBe(LINKS_PER_CHAIN + 1);

    // And from that state, a copy taken now verifies too.
    const from3 = await fromCopy(built, { state: next.state });
    expectClean(from3);
  });

  it("a newest checkpoint older than maxAgeMs is stale", async () => {
    const built = await buildArchive();
    const newest = await verifyCheckpoint(
      await readObject(built.archive, checkpointKey(2)),
      built.signer.trusted,
    );
    const signedAt = Date.parse(newest.payload.time);
    const hour = 3_600_000;

    expectClean(await fromBucket(built, { maxAgeMs: hour, now: () => signedAt + hour / 2 }));
    const report = await fromBucket(built, { maxAgeMs: hour, now: () => signedAt + 365 * 24 * hour });
    expectError(report, { code: "stale", key: checkpointKey(2), seq: 2 });
    expect(errorCodes(report)).toEqual(["stale"]);

    const copy = await fromCopy(built, { maxAgeMs: hour, now: () => signedAt + 365 * 24 * hour });
    expectError(copy, { code: "stale", key: checkpointKey(2), seq: 2 });

    // A copy with every checkpoint removed has no newest checkpoint at all: the stalest there is.
    const dir = await downloadArchive(built.archive);
    try {
      const source = new DirectorySource(dir);
      const trusted = built.signer.trusted;
      for (const seq of [0, 1, 2]) await rm(join(dir, ...checkpointKey(seq).split("/")));
      // Nothing is wrong with what is left, but nothing signed it either: never "verified".
      const noCheckpoint = await verifyArchive({ source, trusted });
      expect(errorsOf(noCheckpoint)).toEqual([]);
      expect(noCheckpoint).toMatchObject({ ok: false, outcome: "unsigned", checkpointsFound: 0 });
      expect(noCheckpoint.state).toBeUndefined();
      expect(exitCodeFor(noCheckpoint)).toBe(2);
      expect(exitCodeFor(noCheckpoint, { allowEmpty: true })).toBe(0);
      const unsigned = await verifyArchive({ source, trusted, maxAgeMs: hour, now: () => signedAt });
      expectError(unsigned, { code: "stale" });
      expect(errorCodes(unsigned)).toEqual(["stale"]);
    } finally {
      await removeCopy(dir);
    }
  });
});

describe("incremental runs still see history verified before", () => {
  it("a verified link removed from a copy, or a chain cut short, fails the next --state run", async () => {
    const built = await buildArchive();
    const state = (await fromBucket(built)).state;
    if (!state) throw new Error("a clean report carries the state to continue from");
    for (const write of built.writers) await send(write, 2);
    expect(await built.signer.run()).toMatchObject({ status: "signed", seq: 3 });
    const [chain, other] = built.chains;

    const dir = await downloadArchive(built.archive);
    try {
      const source = new DirectorySource(dir);
      const trusted = built.signer.trusted;
      const clean = await verifyArchive({ source, trusted, state });
      expectClean(clean);
      expect(clean.stats.links).toBe(2);

      // Link 2 of one chain: read by no incremental run again, but the listing shows it gone.
      await rm(join(dir, ...linkKey(chain, 2).split("/")));
      const report = await verifyArchive({ source, trusted, state });
      expectError(report, { code: "missing_link", key: linkKey(chain, 2), chain, seq: 2 });
      expect(errorCodes(report)).toEqual(["missing_link"]);

      // The other chain cut back below what the state verified, its newer link removed with it.
      for (const seq of [6, 5, 4]) await rm(join(dir, ...linkKey(other, seq).split("/")));
      const cut = await verifyArchive({ source, trusted, state });
      expectError(cut, { code: "truncated_chain", key: checkpointKey(2), chain: other, seq: 2 });
      expectError(cut, { code: "truncated_chain", key: checkpointKey(3), chain: other, seq: 3 });
    } finally {
      await removeCopy(dir);
    }
  });
});
