/**
 * Data keys wrapped by a KMS symmetric key, as the privacy layer's KeyWrapper port. The tenant and the
 * subject's pseudonym are the encryption context: KMS refuses to unwrap a key presented for another
 * subject, and CloudTrail logs which subject each Decrypt was for (a pseudonym, never a name).
 */
import { DecryptCommand, EncryptCommand, type KMSClient } from "@aws-sdk/client-kms";
import type { KeyWrapper, SubjectRef } from "../privacy/ports";

function contextOf(ref: SubjectRef): Record<string, string> {
  return { "sealtrail:tenant": ref.tenant, "sealtrail:subject": ref.subject };
}

export function kmsKeyWrapper(kms: KMSClient, keyId: string): KeyWrapper {
  return {
    async wrap(key, ref) {
      const result = await kms.send(
        new EncryptCommand({ KeyId: keyId, Plaintext: key, EncryptionContext: contextOf(ref) }),
      );
      if (!result.CiphertextBlob) throw new Error("KMS Encrypt returned no ciphertext");
      return result.CiphertextBlob;
    },
    async unwrap(wrapped, ref) {
      const result = await kms.send(
        new DecryptCommand({ KeyId: keyId, CiphertextBlob: wrapped, EncryptionContext: contextOf(ref) }),
      );
      if (!result.Plaintext) throw new Error("KMS Decrypt returned no plaintext");
      return result.Plaintext;
    },
  };
}
