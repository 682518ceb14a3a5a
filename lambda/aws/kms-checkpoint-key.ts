/** The checkpoint key in AWS: a KMS ECC_NIST_P256 key whose private half never leaves KMS. */
import { createPublicKey } from "node:crypto";
import { GetPublicKeyCommand, type KMSClient, SignCommand } from "@aws-sdk/client-kms";
import type { JWK } from "jose";
import { type CheckpointKey, ecdsaDerToJose, keyIdOf } from "../core/checkpoint";
import { sha256 } from "../core/hash";

export async function kmsCheckpointKey(kms: KMSClient, keyId: string): Promise<CheckpointKey> {
  const described = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  if (described.KeySpec !== "ECC_NIST_P256" || !described.PublicKey) {
    throw new Error(
      `KMS key ${keyId} is ${described.KeySpec ?? "unknown"}, not an ECC_NIST_P256 signing key`,
    );
  }
  const publicJwk = publicJwkFromSpki(described.PublicKey);
  return {
    kid: await keyIdOf(publicJwk),
    publicJwk,
    async sign(signingInput) {
      // KMS signs a digest we send, so the signing input never leaves this process.
      const signed = await kms.send(
        new SignCommand({
          KeyId: keyId,
          Message: sha256(signingInput),
          MessageType: "DIGEST",
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
