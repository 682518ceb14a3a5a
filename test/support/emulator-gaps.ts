/**
 * Behaviours of AWS that sealtrail relies on and that a given emulator is known not to reproduce.
 * A test of such a behaviour is skipped on that emulator with the reason below, never passed.
 * Every other emulator (moto included) must reproduce them all, or the test fails.
 * SEALTRAIL_RUN_KNOWN_GAPS=1 runs the skipped tests anyway, to re-measure a gap or see it closed.
 */
export type ReliedBehaviour =
  | "ifNoneMatchRejectsOverwrite"
  | "atomicCreateUnderConcurrency"
  | "complianceLockBlocksVersionDelete"
  | "defaultRetentionApplied"
  | "lockedPutRequiresChecksum"
  | "dynamoKeySizeLimits";

export const KNOWN_GAPS: Record<string, Partial<Record<ReliedBehaviour, string>>> = {
  moto: {
    atomicCreateUnderConcurrency:
      "moto 5.2.5 checks If-None-Match: * and then stores the object as two steps under no lock: of 600 " +
      "keys each created by 12 concurrent PutObject calls, 2 (1 in 300) were created twice (two 200s, two " +
      "versions). S3 creates a key once. One ChainWriter never sends two creates of a chain's next link at " +
      "once, so one writer (local mode) cannot fork a chain on moto; separate writers racing for one seq can.",
  },
  localstack: {
    lockedPutRequiresChecksum:
      "LocalStack 4.14 stores a PutObject with neither Content-MD5 nor x-amz-checksum-* in a bucket with " +
      "default Object Lock retention (200); S3 answers 400. sealtrail always sends a SHA-256 checksum.",
  },
};

export function knownGap(emulator: string, behaviour: ReliedBehaviour): string | undefined {
  if (process.env.SEALTRAIL_RUN_KNOWN_GAPS === "1") return undefined;
  const reason = KNOWN_GAPS[emulator]?.[behaviour];
  return reason ? `${emulator} does not reproduce this: ${reason}` : undefined;
}
