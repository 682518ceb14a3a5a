/**
 * The batch data object's one writer and one reader. Sealing: gzip of the record lines, each ended
 * by "\n", content-addressed by the SHA-256 of the object bytes, with an RFC 9162 Merkle root over
 * the lines. Reading: the same lines back, as the bytes that were hashed.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { sha256, sha256Hex } from "./hash";
import type { ChainLink } from "./link";
import { leafHash, merkleRoot } from "./merkle";
import { dataObjectKey } from "./paths";
import { serializeRecord } from "./record";
import type { EventRecord } from "./schema";

export interface SealedBatch {
  readonly key: string;
  /** The gzip object as stored. */
  readonly bytes: Buffer;
  /** SHA-256 of `bytes`, hex (also the last segment of the key). */
  readonly sha256: string;
  readonly root: string;
  readonly count: number;
  readonly firstTime: string;
  readonly lastTime: string;
  /** One per record, in line order: the Merkle leaf hashes, hex. */
  readonly leafHashes: readonly string[];
}

export function sealBatch(records: readonly EventRecord[], receivedAt: Date): SealedBatch {
  if (records.length === 0) throw new Error("a batch holds at least one record");
  const lines = records.map((record) => Buffer.from(serializeRecord(record), "utf8"));
  const leaves = lines.map((line) => leafHash(line));
  const bytes = gzipSync(Buffer.concat(lines.flatMap((line) => [line, NEWLINE])));
  const digest = sha256Hex(bytes);
  // ISO-8601 UTC strings order as text: one pass for the first and last time.
  let firstTime = (records[0] as EventRecord).time;
  let lastTime = firstTime;
  for (const { time } of records) {
    if (time < firstTime) firstTime = time;
    if (time > lastTime) lastTime = time;
  }
  return {
    key: dataObjectKey(receivedAt, digest),
    bytes,
    sha256: digest,
    root: merkleRoot(leaves).toString("hex"),
    count: records.length,
    firstTime,
    lastTime,
    leafHashes: leaves.map((leaf) => leaf.toString("hex")),
  };
}

const NEWLINE = Buffer.from("\n");

/** The `batch` member of a chain link for a sealed batch. */
export function linkBatchOf(batch: SealedBatch): ChainLink["batch"] {
  return {
    key: batch.key,
    sha256: batch.sha256,
    root: batch.root,
    count: batch.count,
    first_time: batch.firstTime,
    last_time: batch.lastTime,
  };
}

/** SHA-256 of bytes in the base64 form S3's x-amz-checksum-sha256 header takes. */
export function checksumSha256Base64(bytes: Uint8Array): string {
  return sha256(bytes).toString("base64");
}

/** A batch object's lines as stored. */
export interface BatchLines {
  /** Each line's bytes without its newline, in order: the Merkle leaves are hashed over exactly these. */
  readonly lines: Buffer[];
  /**
   * False when the last line has no newline. sealBatch ends every line with one, so such an object
   * was not written by it: a reader that trusts its input refuses it, the verifier reports it.
   */
  readonly terminated: boolean;
}

/**
 * The lines of an inflated batch object: split on "\n", the empty piece after the final newline not
 * a line. Bytes, never decoded and re-encoded: a line that is not valid UTF-8 must still hash to what
 * was sealed, so that it is found as altered rather than silently changed.
 */
export function splitBatchLines(text: Buffer): BatchLines {
  const lines: Buffer[] = [];
  let start = 0;
  for (let end = text.indexOf(NEWLINE_BYTE); end >= 0; end = text.indexOf(NEWLINE_BYTE, start)) {
    lines.push(text.subarray(start, end));
    start = end + 1;
  }
  if (start < text.length) lines.push(text.subarray(start));
  return { lines, terminated: start === text.length };
}

/** The lines of a gzip batch object as stored; throws when the object is not gzip. */
export function readBatchLines(gzipped: Uint8Array): BatchLines {
  return splitBatchLines(gunzipSync(gzipped));
}

const NEWLINE_BYTE = 0x0a;
