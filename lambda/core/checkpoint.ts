/**
 * The signed checkpoint (DESIGN.md "Checkpoint"): `checkpoints/<seq>.jws`, a compact JWS (ES256 only)
 * over a payload that names, per chain, its link count, its RFC 9162 tree head over the link hashes,
 * and the hash of its newest link; `prev` chains each checkpoint to the previous payload's bytes.
 *
 * The payload has one byte form (compact JSON, fixed key order, chains in ascending id order) and the
 * verifier accepts nothing else, so `prev` is a hash of exactly one possible encoding. `prev` hashes the
 * payload, never the signature: ECDSA signatures are malleable, payload bytes are not.
 *
 * Signing goes through `CheckpointKey`, so the same code signs with a local key file or with KMS.
 */
import { isUtf8 } from "node:buffer";
import {
  calculateJwkThumbprint,
  compactVerify,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWSHeaderParameters,
} from "jose";
import * as z from "zod";
import { isSha256Hex, sha256Hex } from "./hash";
import { ISO_MILLIS } from "./iso-time";
import { leafHash } from "./merkle";
import { isChainId } from "./paths";

export const CHECKPOINT_ALGORITHM = "ES256";
/** The JWS `typ`: a key that signs checkpoints signs nothing else, and a verifier insists on it. */
export const CHECKPOINT_TYPE = "sealtrail-checkpoint+jws";
/** `prev` of checkpoint 0. */
export const FIRST_CHECKPOINT_PREV = "0".repeat(64);

const sha256HexSchema = z.string().refine(isSha256Hex, "expected 64 lowercase hex digits");
const countSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** One chain's signed state: `size` links, tree head `root` over their hashes, newest link `head`. */
export const ChainHeadSchema = z.strictObject({
  size: countSchema.min(1),
  root: sha256HexSchema,
  head: sha256HexSchema,
});
export type ChainHead = z.infer<typeof ChainHeadSchema>;

export const CheckpointPayloadSchema = z.strictObject({
  v: z.literal(1),
  seq: countSchema,
  prev: sha256HexSchema,
  time: z.string().regex(ISO_MILLIS, "expected ISO-8601 UTC with milliseconds"),
  chains: z.record(z.string().refine(isChainId, "not a canonical chain id"), ChainHeadSchema),
});
export type CheckpointPayload = z.infer<typeof CheckpointPayloadSchema>;

/**
 * The canonical payload bytes. Chain ids are canonical decimal integers, which JavaScript objects
 * (and so JSON.stringify) always order numerically: the byte form needs no sorting of its own.
 */
export function serializeCheckpointPayload(payload: CheckpointPayload): Buffer {
  const chains: Record<string, ChainHead> = {};
  for (const id of Object.keys(payload.chains)) {
    const head = payload.chains[id] as ChainHead;
    chains[id] = { size: head.size, root: head.root, head: head.head };
  }
  return Buffer.from(
    JSON.stringify({ v: payload.v, seq: payload.seq, prev: payload.prev, time: payload.time, chains }),
    "utf8",
  );
}

/** What a checkpoint's `prev` names: SHA-256 of the previous payload's bytes, hex. */
export function checkpointPayloadHash(payloadBytes: Uint8Array): string {
  return sha256Hex(payloadBytes);
}

/** The chain tree's leaf for a link: RFC 9162 leaf hash of the link hash's 32 bytes. */
export function chainLeafHash(linkHashHex: string): Buffer {
  return leafHash(Buffer.from(linkHashHex, "hex"));
}

/** A P-256 signing key: a local key file or a KMS key, seen the same way by the signer. */
export interface CheckpointKey {
  /** RFC 7638 thumbprint of the public key: the `kid` of every checkpoint it signs. */
  readonly kid: string;
  readonly publicJwk: JWK;
  /** ECDSA P-256 over SHA-256 of `signingInput`, as JOSE's 64-byte r ‖ s. */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
}

/** The `kid` of a public key: its RFC 7638 thumbprint, which anyone holding the key can recompute. */
export function keyIdOf(publicJwk: JWK): Promise<string> {
  return calculateJwkThumbprint(publicJwk, "sha256");
}

/** Signs a checkpoint: compact JWS with protected header {alg, kid, typ}. */
export async function signCheckpoint(payload: CheckpointPayload, key: CheckpointKey): Promise<string> {
  const header = { alg: CHECKPOINT_ALGORITHM, kid: key.kid, typ: CHECKPOINT_TYPE };
  const signingInput = `${base64url(Buffer.from(JSON.stringify(header)))}.${base64url(serializeCheckpointPayload(payload))}`;
  const signature = await key.sign(Buffer.from(signingInput, "ascii"));
  if (signature.length !== 64) throw new Error(`an ES256 signature is 64 bytes, got ${signature.length}`);
  return `${signingInput}.${base64url(signature)}`;
}

/**
 * KMS returns ECDSA signatures DER-encoded (SEQUENCE of two INTEGERs); JOSE wants r ‖ s, each
 * left-padded to the curve's 32 bytes. Throws on anything that is not exactly such a SEQUENCE.
 *
 * Written here rather than taken from a package: Node's crypto converts only signatures it makes or
 * checks itself (`dsaEncoding: "ieee-p1363"`), and KMS signs; jose exposes no converter; and
 * ecdsa-sig-formatter would be a dependency (with safe-buffer) for this one strict parse, which the
 * checkpoint tests check against Node's own DER and P1363 encodings of the same signatures.
 */
export function ecdsaDerToJose(der: Uint8Array, size = 32): Buffer {
  const fail = (why: string): never => {
    throw new Error(`not a DER ECDSA signature: ${why}`);
  };
  let at = 0;
  const byte = () => (at < der.length ? (der[at++] as number) : fail("truncated"));
  const length = () => {
    const first = byte();
    if (first < 0x80) return first;
    if (first !== 0x81) fail("unsupported length form");
    const value = byte();
    if (value < 0x80) fail("non-minimal length");
    return value;
  };
  if (byte() !== 0x30) fail("expected a SEQUENCE");
  if (length() !== der.length - at) fail("SEQUENCE length does not match");
  const integer = () => {
    if (byte() !== 0x02) fail("expected an INTEGER");
    const n = length();
    if (n === 0 || at + n > der.length) fail("bad INTEGER length");
    let value = Buffer.from(der.subarray(at, at + n));
    at += n;
    // A leading zero only keeps a high bit from reading as a sign.
    while (value.length > 1 && value[0] === 0) value = value.subarray(1);
    if (value.length > size) fail("INTEGER longer than the curve");
    return Buffer.concat([Buffer.alloc(size - value.length), value]);
  };
  const r = integer();
  const s = integer();
  if (at !== der.length) fail("trailing bytes");
  return Buffer.concat([r, s]);
}

/** A trusted checkpoint key: a public JWK, optionally with the window in which it may sign. */
export interface TrustedKey {
  readonly kid: string;
  readonly jwk: JWK;
  /** ISO-8601; a checkpoint whose `time` is before it was not signed by this key. */
  readonly validFrom?: string;
  /** ISO-8601; a checkpoint whose `time` is after it was not signed by this key. */
  readonly validUntil?: string;
}

const TrustedJwkSchema = z.looseObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: z.string().min(1),
  y: z.string().min(1),
  kid: z.string().min(1).optional(),
  alg: z.literal(CHECKPOINT_ALGORITHM).optional(),
  d: z.never({ error: "a trust file holds public keys only: remove the private member d" }).optional(),
  valid_from: z.iso.datetime({ offset: true }).optional(),
  valid_until: z.iso.datetime({ offset: true }).optional(),
});
const TrustFileSchema = z.object({ keys: z.array(TrustedJwkSchema).min(1) });

/**
 * Reads a trust file: a JWKS of P-256 public keys, each optionally with `valid_from`/`valid_until`.
 * A key without `kid` gets its thumbprint; a `kid` that is not its thumbprint is refused, so a trust
 * file cannot make one key answer for another's checkpoints.
 */
export async function parseTrustedKeys(json: unknown): Promise<TrustedKey[]> {
  const parsed = TrustFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      `not a checkpoint trust file (a JWKS of EC P-256 public keys): ${parsed.error.issues
        .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
        .join("; ")}`,
    );
  }
  const keys: TrustedKey[] = [];
  for (const entry of parsed.data.keys) {
    const jwk: JWK = { kty: "EC", crv: "P-256", x: entry.x, y: entry.y };
    const thumbprint = await keyIdOf(jwk);
    if (entry.kid !== undefined && entry.kid !== thumbprint) {
      throw new Error(`trusted key "${entry.kid}" does not match its own thumbprint ${thumbprint}`);
    }
    keys.push({ kid: thumbprint, jwk, validFrom: entry.valid_from, validUntil: entry.valid_until });
  }
  return keys;
}

/** The JWKS a verifier is given: the public key with its `kid`, and its validity window when known. */
export function trustFileOf(key: { kid: string; publicJwk: JWK }, validFrom?: string): { keys: object[] } {
  const { kty, crv, x, y } = key.publicJwk;
  return {
    keys: [
      {
        kty,
        crv,
        x,
        y,
        kid: key.kid,
        alg: CHECKPOINT_ALGORITHM,
        use: "sig",
        ...(validFrom ? { valid_from: validFrom } : {}),
      },
    ],
  };
}

export interface VerifiedCheckpoint {
  readonly payload: CheckpointPayload;
  /** The exact payload bytes that were signed; the next checkpoint's `prev` hashes these. */
  readonly payloadBytes: Buffer;
  readonly payloadHash: string;
  readonly kid: string;
}

/** Why a checkpoint does not verify; `code` is stable for reports. */
export class CheckpointError extends Error {
  override readonly name = "CheckpointError";
  constructor(
    readonly code:
      | "not_jws"
      | "bad_header"
      | "unknown_key"
      | "key_not_valid"
      | "bad_signature"
      | "bad_payload"
      | "not_canonical",
    message: string,
  ) {
    super(message);
  }
}

/**
 * Verifies a checkpoint against trusted keys only (never a key found beside it): ES256, the checkpoint
 * `typ`, a trusted `kid` valid at the payload's `time`, the signature, and a canonical payload.
 */
export async function verifyCheckpoint(
  jws: string | Uint8Array,
  trusted: readonly TrustedKey[],
): Promise<VerifiedCheckpoint> {
  const text = typeof jws === "string" ? jws : isUtf8(jws) ? Buffer.from(jws).toString("utf8") : "";
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text)) {
    throw new CheckpointError("not_jws", "not a compact JWS (three base64url parts, nothing else)");
  }
  // Base64url has spare bits in a last character; a second spelling of the same bytes is refused, so
  // a checkpoint (or a proof bundle carrying one) changes in no byte without failing.
  for (const part of text.split(".")) {
    if (Buffer.from(part, "base64url").toString("base64url") !== part) {
      throw new CheckpointError("not_jws", "a JWS part is not in canonical base64url");
    }
  }
  let header: JWSHeaderParameters;
  try {
    header = decodeProtectedHeader(text);
  } catch (error) {
    throw new CheckpointError("bad_header", `unreadable JWS header: ${(error as Error).message}`);
  }
  if (
    header.alg !== CHECKPOINT_ALGORITHM ||
    header.typ !== CHECKPOINT_TYPE ||
    typeof header.kid !== "string"
  ) {
    throw new CheckpointError(
      "bad_header",
      `expected alg ${CHECKPOINT_ALGORITHM}, typ ${CHECKPOINT_TYPE} and a kid; got ${JSON.stringify(header)}`,
    );
  }
  const key = trusted.find((candidate) => candidate.kid === header.kid);
  if (!key) throw new CheckpointError("unknown_key", `signed by key ${header.kid}, which is not trusted`);
  let payloadBytes: Buffer;
  try {
    const result = await compactVerify(text, await importJWK(key.jwk, CHECKPOINT_ALGORITHM), {
      algorithms: [CHECKPOINT_ALGORITHM],
    });
    payloadBytes = Buffer.from(result.payload);
  } catch (error) {
    throw new CheckpointError("bad_signature", `signature does not verify: ${(error as Error).message}`);
  }
  const payload = parseCheckpointPayload(payloadBytes);
  const time = Date.parse(payload.time);
  if (
    (key.validFrom !== undefined && time < Date.parse(key.validFrom)) ||
    (key.validUntil !== undefined && time > Date.parse(key.validUntil))
  ) {
    throw new CheckpointError(
      "key_not_valid",
      `checkpoint time ${payload.time} is outside key ${key.kid}'s validity (${key.validFrom ?? "…"} to ${key.validUntil ?? "…"})`,
    );
  }
  return { payload, payloadBytes, payloadHash: checkpointPayloadHash(payloadBytes), kid: key.kid };
}

/** Parses payload bytes, accepting only a valid payload in its canonical byte form. */
export function parseCheckpointPayload(bytes: Uint8Array): CheckpointPayload {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new CheckpointError("bad_payload", "checkpoint payload is not JSON");
  }
  const parsed = CheckpointPayloadSchema.safeParse(value);
  if (!parsed.success) {
    throw new CheckpointError(
      "bad_payload",
      `checkpoint payload: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  if (Buffer.compare(serializeCheckpointPayload(parsed.data), bytes) !== 0) {
    throw new CheckpointError("not_canonical", "checkpoint payload is not in canonical form");
  }
  return parsed.data;
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64url");
}

/** The payload bytes of a compact JWS (its middle part), without verifying anything. */
export function payloadBytesOf(jws: string): Buffer {
  return Buffer.from(jws.split(".")[1] ?? "", "base64url");
}
