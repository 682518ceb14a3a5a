/**
 * One personal field, sealed: AES-256-GCM under the data subject's key, a fresh random 96-bit nonce
 * per field, and associated data that binds the ciphertext to where it belongs (tenant, event id,
 * field path), so a ciphertext moved to another field or record fails to open. The plaintext is
 * padded to a multiple of PAD_BYTES first, so a short identifier's length does not show.
 *
 * Always node:crypto (OpenSSL): no cipher is hand-written here.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** Bytes in a data key (AES-256). */
export const DATA_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** The padded plaintext is a multiple of this: every value up to 28 bytes looks the same. */
export const PAD_BYTES = 32;
/** The length prefix of the padded plaintext: a 4-byte unsigned big-endian integer. */
const LENGTH_BYTES = 4;
/** Marks the format of a sealed field, so a later format can be told apart. */
export const SEALED_FIELD_PREFIX = "e1.";

/** A sealed field that does not open under this key and associated data: tampered, moved or another key. */
export class SealedFieldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SealedFieldError";
  }
}

function padded(plaintext: string): Buffer {
  const bytes = Buffer.from(plaintext, "utf8");
  const size = Math.ceil((LENGTH_BYTES + bytes.length) / PAD_BYTES) * PAD_BYTES;
  const out = Buffer.alloc(size);
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, LENGTH_BYTES);
  return out;
}

function unpadded(bytes: Buffer): string {
  if (bytes.length < LENGTH_BYTES) throw new SealedFieldError("a sealed field is too short");
  const length = bytes.readUInt32BE(0);
  if (length > bytes.length - LENGTH_BYTES) throw new SealedFieldError("a sealed field's length is wrong");
  return bytes.subarray(LENGTH_BYTES, LENGTH_BYTES + length).toString("utf8");
}

function checkedKey(key: Uint8Array): Uint8Array {
  if (key.length !== DATA_KEY_BYTES) throw new RangeError(`a data key is ${DATA_KEY_BYTES} bytes`);
  return key;
}

/** `e1.` + base64url(nonce ‖ ciphertext ‖ tag). */
export function sealField(key: Uint8Array, associatedData: Uint8Array, plaintext: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", checkedKey(key), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData);
  const body = Buffer.concat([cipher.update(padded(plaintext)), cipher.final()]);
  return SEALED_FIELD_PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url");
}

export function openField(key: Uint8Array, associatedData: Uint8Array, sealed: string): string {
  if (!sealed.startsWith(SEALED_FIELD_PREFIX)) throw new SealedFieldError("not a sealed field");
  const bytes = Buffer.from(sealed.slice(SEALED_FIELD_PREFIX.length), "base64url");
  if (bytes.length < NONCE_BYTES + TAG_BYTES + PAD_BYTES)
    throw new SealedFieldError("a sealed field is too short");
  const decipher = createDecipheriv("aes-256-gcm", checkedKey(key), bytes.subarray(0, NONCE_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(associatedData);
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([
      decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new SealedFieldError("a sealed field does not open: tampered, moved, or sealed under another key");
  }
  return unpadded(plain);
}

/** A fresh random data key. */
export function newDataKey(): Buffer {
  return randomBytes(DATA_KEY_BYTES);
}
