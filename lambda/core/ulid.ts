/**
 * ULIDs (https://github.com/ulid/spec) for event ids: 26 characters of Crockford base32, a 48-bit
 * millisecond time then 80 random bits, so ids sort by the time the server assigned them and the index
 * can use them as a sort-key tie-break.
 *
 * Written here rather than taken from the `ulid` package: its factories draw each random character
 * from a float PRNG (`Math.floor(prng() * 32)`), where these 80 bits are crypto bytes taken whole, and
 * tests inject the clock and the random bytes, where its monotonic factory takes floats and a seed time.
 * The encoding is a few dozen lines; test/unit/ulid.test.ts holds it to the specification's example.
 */
import { randomBytes } from "node:crypto";

export type UlidGenerator = () => string;

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const RANDOM_BYTES = 10;
const MAX_TIME = 2 ** 48 - 1;
/**
 * A canonical ULID as a pattern to embed in a larger one (no anchors, no groups): upper case, and a
 * first character of at most 7 (the time is 48 of 50 bits).
 */
export const ULID_PATTERN = "[0-7][0-9A-HJKMNP-TV-Z]{25}";
/** Characters in a ULID. */
export const ULID_LENGTH = 26;

/**
 * A ULID source that is strictly increasing for its own lifetime: within one millisecond (or if the
 * clock steps back) it keeps the last time and adds one to the last randomness, as the spec's
 * monotonic factory does. `now` returns epoch milliseconds; `random(n)` returns n random bytes.
 */
export function createUlidGenerator(
  now: () => number = Date.now,
  random: (n: number) => Uint8Array = randomBytes,
): UlidGenerator {
  let lastTime = -1;
  const lastRandom = new Uint8Array(RANDOM_BYTES);
  return () => {
    const time = Math.floor(now());
    if (!Number.isSafeInteger(time) || time < 0 || time > MAX_TIME) {
      throw new RangeError(`ULID time ${time} is not a millisecond timestamp between 0 and 2^48 - 1`);
    }
    if (time > lastTime) {
      const fresh = random(RANDOM_BYTES);
      if (!(fresh instanceof Uint8Array) || fresh.length !== RANDOM_BYTES) {
        throw new RangeError(`the random source must return ${RANDOM_BYTES} bytes`);
      }
      lastRandom.set(fresh);
      lastTime = time;
    } else if (!increment(lastRandom)) {
      throw new Error("ULID randomness overflowed within one millisecond; retry in the next millisecond");
    }
    return encodeTime(lastTime) + encodeRandom(lastRandom);
  };
}

/** The process-wide generator, on the system clock and crypto-strength randomness. */
export const ulid: UlidGenerator = createUlidGenerator();

function encodeTime(time: number): string {
  let out = "";
  let rest = time;
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[rest % 32] + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

/** 80 bits, 5 at a time, most significant first: exactly 16 characters. */
function encodeRandom(bytes: Uint8Array): string {
  let out = "";
  let buffered = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffered = (buffered << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffered >>> bits) & 31];
    }
    buffered &= (1 << bits) - 1;
  }
  return out;
}

/** Adds one to a big-endian number in place; false, leaving it unchanged, if it is already all ones. */
function increment(bytes: Uint8Array): boolean {
  const last = bytes.findLastIndex((byte) => byte !== 0xff);
  if (last < 0) return false;
  bytes[last] = (bytes[last] as number) + 1;
  bytes.fill(0, last + 1);
  return true;
}
