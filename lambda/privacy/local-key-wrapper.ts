/**
 * The KeyWrapper of local mode and tests: AES-256-GCM under a key held in this process, with the
 * tenant and subject as associated data (as KMS binds its encryption context).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyWrapper, SubjectRef } from "./ports";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function contextOf(ref: SubjectRef): Buffer {
  return Buffer.from(JSON.stringify(["sealtrail-key-wrap-v1", ref.tenant, ref.subject]), "utf8");
}

export function localKeyWrapper(secret: Uint8Array): KeyWrapper {
  if (secret.length !== 32) throw new RangeError("a local wrapping key is 32 bytes");
  const key = Buffer.from(secret);
  return {
    async wrap(plain, ref) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      cipher.setAAD(contextOf(ref));
      return Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    },
    async unwrap(wrapped, ref) {
      const bytes = Buffer.from(wrapped);
      const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, NONCE_BYTES));
      decipher.setAAD(contextOf(ref));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]);
    },
  };
}
