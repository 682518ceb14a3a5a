/**
 * Checks one data object against the link that names it: the object's hash, its lines, and the
 * batch's Merkle root and count. Pure and synchronous, so it runs the same in a worker thread.
 *
 * Two passes, so that the common case costs little more than inflating and hashing:
 * - `sealedBatchBytes` proves the object is exactly what the link committed to (object hash, line
 *   count, Merkle root over the line bytes) and checks what each line must show on its face (a
 *   record's fixed prefix with `v`, `id` and `time`; ids strictly increasing; times within the
 *   link's range) without parsing it. The verifier runs it only on objects a verified checkpoint
 *   covers, where the signed root fixes every byte.
 * - Anything it does not accept, and every batch when the caller wants records (`--records`, or
 *   the index cross-check), goes through `diagnoseBatch`, which parses every line and names each
 *   problem with its line.
 */
import * as zlib from "node:zlib";
import { splitBatchLines } from "../core/batch";
import { sha256Hex, sha256Into } from "../core/hash";
import { ISO_MILLIS_LENGTH, ISO_MILLIS_PATTERN } from "../core/iso-time";
import type { ChainLink } from "../core/link";
import { foldMerkleLevel, leafHash, levelOffset, merkleLevelFor, merkleRoot } from "../core/merkle";
import { parseDataObjectKey } from "../core/paths";
import { serializeRecord } from "../core/record";
import { EventRecordSchema, RECORD_VERSIONS } from "../core/schema";
import { describeSchemaIssues } from "../core/schema-words";
import { ULID_LENGTH, ULID_PATTERN } from "../core/ulid";

export interface BatchProblem {
  readonly code: "altered_object" | "bad_line" | "duplicate_line" | "line_order" | "batch_mismatch";
  /** 1-based line number, where the problem is in one line. */
  readonly line?: number;
  readonly message: string;
}

/** What the index cross-check needs of each event in the batch. */
export interface BatchEvent {
  readonly id: string;
  readonly leafIndex: number;
  readonly leafHash: string;
  readonly record: Record<string, unknown>;
}

export interface BatchCheck {
  readonly problems: BatchProblem[];
  /** Uncompressed bytes hashed. */
  readonly bytes: number;
  readonly events: BatchEvent[];
}

export interface BatchCheckOptions {
  /** Return each event's id, leaf and record, for the index cross-check (implies `records`). */
  readonly keepEvents: boolean;
  /** Parse every line as a canonical event record, even in a batch whose bytes match its link. */
  readonly records?: boolean;
}

const NEWLINE = 0x0a;
const LEAF_PREFIX = 0x00;
const CLOSING_BRACE = 0x7d;

export function checkBatch(
  objectBytes: Uint8Array,
  batch: ChainLink["batch"],
  options: BatchCheckOptions,
): BatchCheck {
  if (!options.keepEvents && !options.records) {
    const bytes = sealedBatchBytes(objectBytes, batch);
    if (bytes !== undefined) return { problems: [], bytes, events: [] };
  }
  return diagnoseBatch(objectBytes, batch, options.keepEvents);
}

/**
 * How a record line starts (the schema's key order, no whitespace): `v` (any record version), the ULID `id` and the
 * server `time` (UTC, milliseconds) at fixed offsets, then the next key.
 */
export const RECORD_PREFIX = new RegExp(
  `^\\{"v":(?:${RECORD_VERSIONS.join("|")}),"id":"(${ULID_PATTERN})","time":"(${ISO_MILLIS_PATTERN})","action":"`,
);
/** Every version is one digit, so the prefix has one length whatever the version. */
export const RECORD_PREFIX_BYTES =
  '{"v":1,"id":"'.length + ULID_LENGTH + '","time":"'.length + ISO_MILLIS_LENGTH + '","action":"'.length;

/** Output chunk bounds for inflating: zlib's default below, a cap on what one object may ask for above. */
const MIN_INFLATE_CHUNK = 16 * 1024;
const MAX_INFLATE_CHUNK = 16 * 1024 * 1024;

/**
 * The uncompressed size of a data object that is exactly what its link committed to, with every
 * line a record on its face, in written order, within the link's times; undefined for anything
 * else (the caller then diagnoses it). Hashes each line where it lies in the inflated text: the
 * newline before it is overwritten with the RFC 9162 leaf prefix, so no line is copied.
 */
export function sealedBatchBytes(objectBytes: Uint8Array, batch: ChainLink["batch"]): number | undefined {
  if (sha256Hex(objectBytes) !== batch.sha256 || parseDataObjectKey(batch.key)?.sha256 !== batch.sha256) {
    return undefined;
  }
  const text = inflateSealedGzip(objectBytes);
  if (!text) return undefined;
  const count = batch.count;
  // Every line holds at least the prefix, "}" and a newline: a larger count cannot be right, and the
  // level buffer for it is never allocated (a forged count of 2^40 would not fit in memory).
  if (!Number.isSafeInteger(count) || count < 1 || count > text.length / (RECORD_PREFIX_BYTES + 2)) {
    return undefined;
  }
  const level = merkleLevelFor(count);
  let previousId = "";
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = text.indexOf(NEWLINE, start);
    if (end < 0 || end - start < RECORD_PREFIX_BYTES + 1 || text[end - 1] !== CLOSING_BRACE) return undefined;
    const prefix = RECORD_PREFIX.exec(text.toString("latin1", start, start + RECORD_PREFIX_BYTES));
    const id = prefix?.[1] as string;
    const time = prefix?.[2] as string;
    if (!prefix || id <= previousId || time < batch.first_time || time > batch.last_time) return undefined;
    previousId = id;
    if (i === 0) level.set(leafHash(text.subarray(0, end)), levelOffset(0));
    else {
      text[start - 1] = LEAF_PREFIX;
      sha256Into(text.subarray(start - 1, end), level, levelOffset(i));
    }
    start = end + 1;
  }
  if (start !== text.length) return undefined;
  return foldMerkleLevel(level, count).toString("hex") === batch.root ? text.length : undefined;
}

const GZIP_HEADER_BYTES = 10;
const GZIP_TRAILER_BYTES = 8;

/**
 * The inflated text of a gzip object as sealBatch writes it (one member, no optional header fields),
 * or undefined. The deflate stream must end exactly at the trailer, and the trailer's CRC-32 and
 * size must match, so that whatever this accepts, gunzip (and Athena) reads the same. Raw inflate
 * and zlib.crc32 together cost less than gunzipSync's own check of the same.
 */
export function inflateSealedGzip(objectBytes: Uint8Array): Buffer | undefined {
  const length = objectBytes.length;
  const isPlainGzip =
    length > GZIP_HEADER_BYTES + GZIP_TRAILER_BYTES &&
    objectBytes[0] === 0x1f &&
    objectBytes[1] === 0x8b &&
    objectBytes[2] === 0x08 && // deflate
    objectBytes[3] === 0x00; // no FTEXT, FHCRC, FEXTRA, FNAME or FCOMMENT
  // zlib.crc32 is Node 20.15 on (hence no named import); without it the thorough pass checks the CRC.
  if (!isPlainGzip || typeof zlib.crc32 !== "function") return undefined;
  const trailer = new DataView(objectBytes.buffer, objectBytes.byteOffset + length - GZIP_TRAILER_BYTES);
  const crc = trailer.getUint32(0, true);
  const size = trailer.getUint32(4, true);
  const stream = objectBytes.subarray(GZIP_HEADER_BYTES, length - GZIP_TRAILER_BYTES);
  try {
    // `info` returns the engine too, whose bytesWritten is the input the deflate stream consumed.
    const { buffer, engine } = zlib.inflateRawSync(stream, {
      info: true,
      // The trailer's size, one byte over, inflates in one output chunk; it is a hint, never trusted.
      chunkSize: Math.min(MAX_INFLATE_CHUNK, Math.max(MIN_INFLATE_CHUNK, size + 1)),
    }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    const whole = engine.bytesWritten === stream.length && buffer.length % 2 ** 32 === size;
    return whole && zlib.crc32(buffer) === crc ? buffer : undefined;
  } catch {
    return undefined;
  }
}

/** Every problem of a batch, each named with its line where it is in one; the slow, thorough pass. */
function diagnoseBatch(objectBytes: Uint8Array, batch: ChainLink["batch"], keepEvents: boolean): BatchCheck {
  const problems: BatchProblem[] = [];
  const events: BatchEvent[] = [];
  const digest = sha256Hex(objectBytes);
  if (digest !== batch.sha256 || parseDataObjectKey(batch.key)?.sha256 !== batch.sha256) {
    problems.push({
      code: "altered_object",
      message: `object bytes hash to ${digest}, the link names ${batch.sha256}`,
    });
  }
  let text: Buffer;
  try {
    text = zlib.gunzipSync(objectBytes);
  } catch (error) {
    problems.push({ code: "altered_object", message: `not a gzip stream: ${(error as Error).message}` });
    return { problems, bytes: 0, events };
  }

  const leaves: Buffer[] = [];
  let previousId = "";
  const seen = new Set<string>();
  const { lines, terminated } = splitBatchLines(text);
  for (const [index, line] of lines.entries()) {
    const lineNumber = index + 1;
    if (!terminated && lineNumber === lines.length) {
      problems.push({ code: "bad_line", line: lineNumber, message: "the last line has no newline" });
    }
    const leaf = leafHash(line);
    leaves.push(leaf);
    const record = parseRecordLine(line, lineNumber, problems);
    if (!record) continue;
    const id = record.id as string;
    if (seen.has(id)) {
      problems.push({
        code: "duplicate_line",
        line: lineNumber,
        message: `event ${id} appears twice in the batch`,
      });
    } else if (id <= previousId) {
      problems.push({
        code: "line_order",
        line: lineNumber,
        message: `event ${id} comes after ${previousId}: lines are out of their written order`,
      });
    }
    seen.add(id);
    previousId = id > previousId ? id : previousId;
    if ((record.time as string) < batch.first_time || (record.time as string) > batch.last_time) {
      problems.push({
        code: "bad_line",
        line: lineNumber,
        message: `time ${String(record.time)} is outside the link's ${batch.first_time}..${batch.last_time}`,
      });
    }
    if (keepEvents) {
      events.push({ id, leafIndex: lineNumber - 1, leafHash: leaf.toString("hex"), record });
    }
  }
  if (leaves.length !== batch.count) {
    problems.push({
      code: "batch_mismatch",
      message: `the object holds ${leaves.length} lines, the link says ${batch.count}`,
    });
  }
  const root = merkleRoot(leaves).toString("hex");
  if (root !== batch.root) {
    problems.push({
      code: "batch_mismatch",
      message: `the lines' Merkle root is ${root}, the link says ${batch.root}`,
    });
  }
  return { problems, bytes: text.length, events };
}

function parseRecordLine(
  line: Buffer,
  lineNumber: number,
  problems: BatchProblem[],
): Record<string, unknown> | undefined {
  // Decoded once: the same text is parsed and then compared with its canonical form.
  const text = line.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    problems.push({ code: "bad_line", line: lineNumber, message: "not JSON" });
    return undefined;
  }
  const parsed = EventRecordSchema.safeParse(value);
  if (!parsed.success) {
    problems.push({
      code: "bad_line",
      line: lineNumber,
      message: `not an event record: ${describeSchemaIssues(parsed.error, value, "the line", 1)}`,
    });
    return undefined;
  }
  if (serializeRecord(parsed.data) !== text) {
    problems.push({ code: "bad_line", line: lineNumber, message: "record is not in its canonical form" });
  }
  return value as Record<string, unknown>;
}
