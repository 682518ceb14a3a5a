/**
 * The chain link (DESIGN.md "Chain link"): `chains/<chain>/<seq>.json`, whose bytes are hashed into the
 * next link's `prev` and into the chain's Merkle tree.
 *
 * Because the bytes are what is hashed, a link has exactly one byte form: compact JSON with a fixed key
 * order. `parseLink` accepts nothing else, so two different byte strings can never stand for the same
 * link, and a stored link that was re-encoded (whitespace, key order, escapes, a BOM) is reported.
 */
import { isUtf8 } from "node:buffer";
import { isSha256Hex, sha256Hex } from "./hash";
import { ISO_MILLIS } from "./iso-time";
import { isChainId, parseDataObjectKey } from "./paths";

export interface ChainLink {
  v: 1;
  chain: string;
  seq: number;
  /** SHA-256 of the previous link's bytes; GENESIS_PREV for seq 0. */
  prev: string;
  /** When the link was built, ISO-8601 UTC with milliseconds. */
  time: string;
  batch: {
    /** The data object's key (a canonical `events/…` key). */
    key: string;
    /** SHA-256 of the data object's bytes: also the last segment of `key`. */
    sha256: string;
    /** RFC 9162 Merkle root over the batch's record lines. */
    root: string;
    /** Number of records, at least 1. */
    count: number;
    first_time: string;
    last_time: string;
  };
}

/** `prev` of every chain's first link (seq 0). */
export const GENESIS_PREV = "0".repeat(64);

export type LinkFormatErrorCode =
  /** The bytes are not valid UTF-8. */
  | "not_utf8"
  /** The text is not JSON. */
  | "not_json"
  /** Missing, extra or wrongly typed members. */
  | "wrong_shape"
  /** A member has the right type but a value the format forbids. */
  | "invalid_value"
  /** A valid link, but not in its one canonical byte form. */
  | "not_canonical";

/** Why bytes are not a chain link; `code` is stable for programs, the message names the field. */
export class LinkFormatError extends Error {
  override readonly name = "LinkFormatError";
  constructor(
    readonly code: LinkFormatErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const LINK_KEYS = ["v", "chain", "seq", "prev", "time", "batch"] as const;
const BATCH_KEYS = ["key", "sha256", "root", "count", "first_time", "last_time"] as const;

/** The canonical bytes of a link: compact JSON, keys in interface order. Throws if the link is invalid. */
export function serializeLink(link: ChainLink): Buffer {
  checkLink(link);
  return canonicalBytes(link);
}

/**
 * Parses stored link bytes, accepting only a valid link in canonical form (the bytes serializeLink
 * would write). Throws LinkFormatError otherwise.
 */
export function parseLink(bytes: Uint8Array): ChainLink {
  if (!(bytes instanceof Uint8Array) || !isUtf8(bytes)) {
    throw new LinkFormatError("not_utf8", "link bytes are not valid UTF-8");
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  if (text.startsWith("\uFEFF")) {
    throw new LinkFormatError("not_canonical", "link starts with a byte order mark");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new LinkFormatError("not_json", `link is not JSON: ${(error as Error).message}`);
  }
  checkShape(value, LINK_KEYS, "link");
  checkShape((value as Record<string, unknown>).batch, BATCH_KEYS, "batch");
  const link = value as ChainLink;
  checkLink(link);
  // Rebuild in canonical order: also drops anything JSON.parse kept of a duplicated key.
  const canonical = canonicalBytes(link);
  if (Buffer.compare(canonical, bytes) !== 0) {
    throw new LinkFormatError(
      "not_canonical",
      "link is not in canonical form (compact JSON, keys in format order, no duplicate keys, escapes or trailing bytes)",
    );
  }
  return {
    v: link.v,
    chain: link.chain,
    seq: link.seq,
    prev: link.prev,
    time: link.time,
    batch: { ...link.batch },
  };
}

/** The link's hash as the next link's `prev` and the chain tree's leaf use it: SHA-256 hex of the bytes. */
export function linkHash(bytes: Uint8Array): string {
  return sha256Hex(bytes);
}

function canonicalBytes(link: ChainLink): Buffer {
  const { batch } = link;
  return Buffer.from(
    JSON.stringify({
      v: link.v,
      chain: link.chain,
      seq: link.seq,
      prev: link.prev,
      time: link.time,
      batch: {
        key: batch.key,
        sha256: batch.sha256,
        root: batch.root,
        count: batch.count,
        first_time: batch.first_time,
        last_time: batch.last_time,
      },
    }),
    "utf8",
  );
}

function checkShape(value: unknown, keys: readonly string[], what: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new LinkFormatError("wrong_shape", `${what} is not a JSON object`);
  }
  const present = Object.keys(value);
  const missing = keys.filter((key) => !Object.hasOwn(value, key));
  const extra = present.filter((key) => !keys.includes(key));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [
      missing.length > 0 ? `missing ${missing.join(", ")}` : "",
      extra.length > 0 ? `unexpected ${extra.join(", ")}` : "",
    ];
    throw new LinkFormatError("wrong_shape", `${what}: ${parts.filter(Boolean).join("; ")}`);
  }
}

/** Checks every field's type and value; the caller has checked (or the type system guarantees) the keys. */
function checkLink(link: ChainLink): void {
  if (typeof link !== "object" || link === null || typeof link.batch !== "object" || link.batch === null) {
    throw new LinkFormatError("wrong_shape", "link and link.batch must be objects");
  }
  const { batch } = link;
  expectType(link.v, "number", "v");
  expectType(link.chain, "string", "chain");
  expectType(link.seq, "number", "seq");
  expectType(link.prev, "string", "prev");
  expectType(link.time, "string", "time");
  expectType(batch.key, "string", "batch.key");
  expectType(batch.sha256, "string", "batch.sha256");
  expectType(batch.root, "string", "batch.root");
  expectType(batch.count, "number", "batch.count");
  expectType(batch.first_time, "string", "batch.first_time");
  expectType(batch.last_time, "string", "batch.last_time");

  if (link.v !== 1) invalid("v", `version ${link.v} is not supported (expected 1)`);
  if (!isChainId(link.chain)) invalid("chain", `"${link.chain}" is not a canonical chain id (0..1023)`);
  if (!Number.isSafeInteger(link.seq) || link.seq < 0) {
    invalid("seq", `${link.seq} is not a non-negative safe integer`);
  }
  if (!isSha256Hex(link.prev)) invalid("prev", "is not 64 lowercase hex digits");
  if (link.seq === 0 && link.prev !== GENESIS_PREV) invalid("prev", "of seq 0 must be 64 zeros");
  if (link.seq !== 0 && link.prev === GENESIS_PREV) invalid("prev", "of a seq above 0 cannot be 64 zeros");
  expectTime(link.time, "time");

  const key = parseDataObjectKey(batch.key);
  if (!key) invalid("batch.key", `"${batch.key}" is not a canonical data object key`);
  if (!isSha256Hex(batch.sha256)) invalid("batch.sha256", "is not 64 lowercase hex digits");
  if (key.sha256 !== batch.sha256) invalid("batch.sha256", "differs from the hash named in batch.key");
  if (!isSha256Hex(batch.root)) invalid("batch.root", "is not 64 lowercase hex digits");
  if (!Number.isSafeInteger(batch.count) || batch.count < 1) {
    invalid("batch.count", `${batch.count} is not a positive safe integer`);
  }
  expectTime(batch.first_time, "batch.first_time");
  expectTime(batch.last_time, "batch.last_time");
  if (batch.first_time > batch.last_time) invalid("batch.first_time", "is later than batch.last_time");
}

function expectType(value: unknown, type: "string" | "number", field: string): void {
  if (typeof value !== type) throw new LinkFormatError("wrong_shape", `${field} is not a ${type}`);
}

/** Times must read back identically through Date: `toISOString()` form, a real instant. */
function expectTime(value: string, field: string): void {
  const millis = ISO_MILLIS.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(millis) || new Date(millis).toISOString() !== value) {
    invalid(
      field,
      `"${value}" is not an ISO-8601 UTC time with milliseconds (like 2026-11-22T03:04:05.678Z)`,
    );
  }
}

function invalid(field: string, why: string): never {
  throw new LinkFormatError("invalid_value", `${field} ${why}`);
}
