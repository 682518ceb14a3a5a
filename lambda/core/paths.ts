/**
 * Object keys of the archive, as pure functions (after transparency-dev/tessera api/layout/paths.go).
 *
 * Each key has exactly one spelling. Builders throw on input that has no canonical key; parsers return
 * undefined for any key that is not exactly what a builder produces, which is how the verifier finds
 * objects an attacker added beside the real ones (`chains/01/…`, upper-case hex, a 21-digit seq).
 */

// The prefixes are lowercase words and a slash, characters that stand for themselves in a regular
// expression, so the key patterns below (and Athena's in lambda/core/athena.ts) are built from them.
export const EVENTS_PREFIX = "events/";
export const CHAINS_PREFIX = "chains/";
export const CHECKPOINTS_PREFIX = "checkpoints/";

/**
 * The partition names of a data object's key (`events/dt=YYYY-MM-DD/hr=HH/…`), which Athena's events
 * table reads as its partition columns and projection (lambda/core/athena.ts, lib/search.ts).
 */
export const EVENTS_PARTITIONS = { date: "dt", hour: "hr" } as const;
const { date: DT, hour: HR } = EVENTS_PARTITIONS;

/** Chain ids are "0" … "1023": a deployment has at most this many chains. */
export const MAX_CHAIN_COUNT = 1024;
/** Digits of a seq in a key: zero-padded so that keys list in seq order. */
export const SEQ_DIGITS = 20;

/**
 * A chain id as it appears in a key, as regular expression source with one capture group: decimal, no
 * sign, no leading zero, at most 4 digits (isChainId also bounds the value by MAX_CHAIN_COUNT).
 */
export const CHAIN_ID_PATTERN = "(0|[1-9][0-9]{0,3})";

const CHAIN_ID = new RegExp(`^${CHAIN_ID_PATTERN}$`);
const SHA256_HEX = /^[0-9a-f]{64}$/;
const DATA_OBJECT_KEY = new RegExp(
  `^${EVENTS_PREFIX}${DT}=([0-9]{4})-([0-9]{2})-([0-9]{2})/${HR}=([0-9]{2})/([0-9a-f]{64})\\.jsonl\\.gz$`,
);
const LINK_KEY = new RegExp(`^${CHAINS_PREFIX}${CHAIN_ID_PATTERN}/([0-9]{${SEQ_DIGITS}})\\.json$`);
const CHECKPOINT_KEY = new RegExp(`^${CHECKPOINTS_PREFIX}([0-9]{${SEQ_DIGITS}})\\.jws$`);

/** True for the canonical spelling of a chain id: decimal 0..1023, no sign, no leading zero. */
export function isChainId(value: unknown): value is string {
  return typeof value === "string" && CHAIN_ID.test(value) && Number(value) < MAX_CHAIN_COUNT;
}

/** `events/dt=YYYY-MM-DD/hr=HH/<sha256>.jsonl.gz`, partitioned by the UTC date and hour of `time`. */
export function dataObjectKey(time: Date, sha256Hex: string): string {
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
    throw new RangeError("data object time is not a valid Date");
  }
  const iso = time.toISOString();
  if (!/^[0-9]{4}-/.test(iso)) {
    throw new RangeError(`data object time ${iso} is outside the years 0000-9999 a key can hold`);
  }
  if (!SHA256_HEX.test(sha256Hex)) {
    throw new RangeError(`data object hash "${sha256Hex}" is not 64 lowercase hex digits`);
  }
  return `${EVENTS_PREFIX}${DT}=${iso.slice(0, 10)}/${HR}=${iso.slice(11, 13)}/${sha256Hex}.jsonl.gz`;
}

export interface DataObjectKeyParts {
  /** YYYY-MM-DD */
  readonly date: string;
  /** HH, 00..23 */
  readonly hour: string;
  /** The object's SHA-256, 64 lowercase hex digits. */
  readonly sha256: string;
}

/** The parts of a canonical data object key; undefined for anything else, including impossible dates. */
export function parseDataObjectKey(key: string): DataObjectKeyParts | undefined {
  const match = typeof key === "string" ? DATA_OBJECT_KEY.exec(key) : null;
  if (!match) return undefined;
  const [, year = "", month = "", day = "", hour = "", sha256 = ""] = match;
  if (!isCalendarDate(Number(year), Number(month), Number(day)) || Number(hour) > 23) return undefined;
  return { date: `${year}-${month}-${day}`, hour, sha256 };
}

/** `chains/<chain>/<seq, 20 digits>.json` */
export function linkKey(chain: string, seq: number): string {
  return `${linkPrefix(chain)}${formatSeq(seq)}.json`;
}

/** `chains/<chain>/`: lists one chain's links, in seq order. */
export function linkPrefix(chain: string): string {
  if (!isChainId(chain)) {
    throw new RangeError(
      `chain id "${chain}" is not canonical: expected a decimal integer 0..${MAX_CHAIN_COUNT - 1} without leading zeros`,
    );
  }
  return `${CHAINS_PREFIX}${chain}/`;
}

/** The chain and seq of a canonical link key; undefined for anything else. */
export function parseLinkKey(key: string): { chain: string; seq: number } | undefined {
  const match = typeof key === "string" ? LINK_KEY.exec(key) : null;
  if (!match) return undefined;
  const [, chain = "", digits = ""] = match;
  const seq = parseSeq(digits);
  return isChainId(chain) && seq !== undefined ? { chain, seq } : undefined;
}

/** `checkpoints/<seq, 20 digits>.jws` */
export function checkpointKey(seq: number): string {
  return `${CHECKPOINTS_PREFIX}${formatSeq(seq)}.jws`;
}

/** The seq of a canonical checkpoint key; undefined for anything else. */
export function parseCheckpointKey(key: string): { seq: number } | undefined {
  const match = typeof key === "string" ? CHECKPOINT_KEY.exec(key) : null;
  const seq = match ? parseSeq(match[1] as string) : undefined;
  return seq === undefined ? undefined : { seq };
}

function formatSeq(seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new RangeError(`seq ${seq} is not a non-negative safe integer`);
  }
  return String(seq).padStart(SEQ_DIGITS, "0");
}

/** 20 digits to a seq; undefined past Number.MAX_SAFE_INTEGER, where a seq could not be exact. */
function parseSeq(digits: string): number | undefined {
  const seq = Number(digits);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

function isCalendarDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
  return day <= days;
}
