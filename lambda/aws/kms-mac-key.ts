/**
 * The cursor MAC key in AWS: a KMS HMAC_256 key (usage GENERATE_VERIFY_MAC). The secret never
 * leaves KMS, every Lambda environment verifies what any other issued, and the query function's
 * role needs only kms:GenerateMac and kms:VerifyMac on that key. Implements the cursor's MacKey port
 * (lambda/core/cursor.ts).
 */
import { GenerateMacCommand, type KMSClient, VerifyMacCommand } from "@aws-sdk/client-kms";
import type { MacKey } from "../core/cursor";

const ALGORITHM = "HMAC_SHA_256";

/** KMS answers a wrong tag with KMSInvalidMacException rather than MacValid: false. */
function isInvalidMac(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === "KMSInvalidMacException";
}

export function kmsMacKey(kms: KMSClient, keyId: string): MacKey {
  return {
    async mac(message) {
      const result = await kms.send(
        new GenerateMacCommand({ KeyId: keyId, MacAlgorithm: ALGORITHM, Message: message }),
      );
      if (!result.Mac) throw new Error("KMS GenerateMac returned no MAC");
      return result.Mac;
    },
    async verify(message, tag) {
      try {
        const result = await kms.send(
          new VerifyMacCommand({ KeyId: keyId, MacAlgorithm: ALGORITHM, Message: message, Mac: tag }),
        );
        return result.MacValid === true;
      } catch (error) {
        if (isInvalidMac(error)) return false;
        throw error;
      }
    },
  };
}
