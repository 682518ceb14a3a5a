/** The checkpoint key in AWS: a KMS ECC_NIST_P256 key whose private half never leaves KMS. */
import { createPublicKey } from "node:crypto";
import { GetPublicKeyCommand, type KMSClient, SignCommand } from "@aws-sdk/client-kms";
import type { JWK } from "jose";
import { type CheckpointKey, ecdsaDerToJose, keyIdOf } from "../core/checkpoint";
import { sha256 } from "../core/hash";

/** The largest message KMS Sign takes as RAW. */
export const KMS_RAW_MESSAGE_LIMIT = 4096;

export async function kmsCheckpointKey(kms: KMSClient, keyId: string): Promise<CheckpointKey> {
  const described = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  // The key material decides: some KMS-compatible services omit KeySpec from this answer.
  const publicJwk = described.PublicKey ? publicJwkFromSpki(described.PublicKey) : undefined;
  const spec = described.KeySpec ?? described.CustomerMasterKeySpec;
  if (publicJwk?.crv !== "P-256" || (spec !== undefined && spec !== "ECC_NIST_P256")) {
    throw new Error(
      `KMS key ${keyId} is ${spec ?? publicJwk?.crv ?? "unknown"}, not an ECC_NIST_P256 signing key`,
    );
  }
  return {
    kid: await keyIdOf(publicJwk),
    publicJwk,
    async sign(signingInput) {
      // Up to KMS's 4096-byte RAW limit KMS hashes the input itself; past it (many chains) we send
      // the SHA-256 digest, which gives the same ECDSA_SHA_256 signature. RAW first also keeps the
      // path testable on emulators that do not implement DIGEST (moto 5.2 hashes a digest again).
      const raw = signingInput.length <= KMS_RAW_MESSAGE_LIMIT;
      const signed = await kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: raw ? signingInput : sha256(signingInput),
          MessageType: raw ? "RAW" : "DIGEST",
          SigningAlgorithm: "ECDSA_SHA_256",
        }),
      );
      if (!signed.Signature) throw new Error("KMS returned no signature");
      return ecdsaDerToJose(signed.Signature);
    },
  };
}

/** A DER SubjectPublicKeyInfo (what KMS GetPublicKey and the stack output give) as a public JWK. */
export function publicJwkFromSpki(der: Uint8Array): JWK {
  const { kty, crv, x, y } = createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" }).export({
    format: "jwk",
  });
  return { kty, crv, x, y };
}
