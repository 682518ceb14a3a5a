/**
 * Pagination cursors of the query API: opaque to clients, and tamper-proof.
 *
 * A cursor is base64url(version ‖ MAC ‖ position), where the position is a small JSON object (the
 * sort key of the last event returned) and the MAC is HMAC-SHA256 over a domain tag, the
 * binding (tenant and normalized filters, canonical JSON) and the position bytes. The binding
 * is not carried in the cursor: it is recomputed from the request that presents the cursor, so a
 * modified cursor, a cursor of another query or of another tenant all fail the same MAC check.
 *
 * The MAC key is behind MacKey: a KMS HMAC key in AWS (lambda/aws/kms-mac-key.ts), a random
 * in-process key in local mode and tests (randomMacKey).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import * as z from "zod";

/** Computes and checks HMAC-SHA256 tags; the key never leaves the implementation. */
export interface MacKey {
  mac(message: Uint8Array): Promise<Uint8Array>;
  /** False for a wrong tag; throws only when the check itself could not be made. */
  verify(message: Uint8Array, tag: Uint8Array): Promise<boolean>;
}

/** HMAC-SHA256 with a secret held in this process. */
export function hmacSha256Key(secret: Uint8Array): MacKey {
  if (secret.length < 32) throw new RangeError("a cursor key needs at least 32 bytes of secret");
  const key = Buffer.from(secret);
  const compute = (message: Uint8Array) => createHmac("sha256", key).update(message).digest();
  return {
    mac: async (message) => compute(message),
    verify: async (message, tag) => {
      const expected = compute(message);
      return tag.length === expected.length && timingSafeEqual(expected, tag);
    },
  };
}

/** A fresh random key: cursors are valid only within this process (local mode, tests). */
export function randomMacKey(): MacKey {
  return hmacSha256Key(randomBytes(32));
}

/** What a cursor is valid for: the tenant read and the normalized filters (not the page size). */
export interface CursorBinding {
  readonly tenant: string;
  readonly filters: Readonly<Record<string, unknown>>;
}

/** Where the next page starts: after the event whose index sort key (`<time>#<id>`) is `after`. */
export const CursorPositionSchema = z.strictObject({ after: z.string().min(1).max(512) });
export type CursorPosition = z.infer<typeof CursorPositionSchema>;

export class InvalidCursorError extends Error {
  constructor(message = "the cursor is not one this API issued for this query") {
    super(message);
    this.name = "InvalidCursorError";
  }
}

const VERSION = 1;
const TAG_BYTES = 32;
const DOMAIN = Buffer.from("sealtrail/cursor/v1\n");
const SEPARATOR = Buffer.from("\n");
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** JSON with object keys sorted and undefined members dropped: one encoding per binding. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, member]) => `${JSON.stringify(key)}:${canonicalJson(member)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function signedMessage(binding: CursorBinding, position: Uint8Array): Buffer {
  const bound = Buffer.from(canonicalJson({ tenant: binding.tenant, filters: binding.filters }), "utf8");
  return Buffer.concat([DOMAIN, bound, SEPARATOR, position]);
}

export async function encodeCursor(
  key: MacKey,
  binding: CursorBinding,
  position: CursorPosition,
): Promise<string> {
  const payload = Buffer.from(JSON.stringify(CursorPositionSchema.parse(position)), "utf8");
  const tag = await key.mac(signedMessage(binding, payload));
  if (tag.length !== TAG_BYTES) throw new Error(`the cursor key returned a ${tag.length}-byte tag`);
  return Buffer.concat([Buffer.of(VERSION), tag, payload]).toString("base64url");
}

/**
 * The position of a cursor issued for this binding. Throws InvalidCursorError for anything
 * else: malformed, modified, or issued for other filters or another tenant.
 */
export async function decodeCursor(
  key: MacKey,
  binding: CursorBinding,
  cursor: string,
): Promise<CursorPosition> {
  if (!BASE64URL.test(cursor)) throw new InvalidCursorError("the cursor is not base64url");
  const bytes = Buffer.from(cursor, "base64url");
  // Node's decoder ignores a stray final character; re-encoding catches every non-canonical form.
  if (bytes.toString("base64url") !== cursor) throw new InvalidCursorError("the cursor is not canonical");
  if (bytes.length <= 1 + TAG_BYTES || bytes[0] !== VERSION) {
    throw new InvalidCursorError("the cursor has an unknown format");
  }
  const tag = bytes.subarray(1, 1 + TAG_BYTES);
  const payload = bytes.subarray(1 + TAG_BYTES);
  if (!(await key.verify(signedMessage(binding, payload), tag))) throw new InvalidCursorError();
  // Authenticated, so the payload is ours; parsing is still strict in case the format changes.
  let position: unknown;
  try {
    position = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new InvalidCursorError("the cursor's position is unreadable");
  }
  const parsed = CursorPositionSchema.safeParse(position);
  if (!parsed.success) throw new InvalidCursorError("the cursor's position is unreadable");
  return parsed.data;
}
