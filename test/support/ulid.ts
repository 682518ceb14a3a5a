/**
 * Reading ULIDs back, for tests only: the server makes ids (lambda/core/ulid.ts) and never parses
 * them. The alphabet is written again on purpose, so the tests check the generator against the spec
 * rather than against itself.
 */
import { ULID_PATTERN } from "../../lambda/core/ulid";

const CROCKFORD_BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const ULID = new RegExp(`^${ULID_PATTERN}$`);

/** True for a ULID in canonical (upper-case) form. */
export function isUlid(value: unknown): value is string {
  return typeof value === "string" && ULID.test(value);
}

/** The millisecond timestamp a ULID carries. Throws for anything that is not a canonical ULID. */
export function ulidTime(id: string): number {
  if (!isUlid(id)) throw new RangeError(`"${id}" is not a ULID`);
  let time = 0;
  for (let i = 0; i < TIME_CHARS; i++) time = time * 32 + CROCKFORD_BASE32.indexOf(id[i] as string);
  return time;
}
