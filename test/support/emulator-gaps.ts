/**
 * Behaviours of AWS that sealtrail relies on and that a given emulator is known not to reproduce.
 * A test of such a behaviour is skipped on that emulator with the reason below, never passed.
 * Every other emulator (moto included) must reproduce them all, or the test fails.
 */
export type ReliedBehaviour =
  | "ifNoneMatchRejectsOverwrite"
  | "complianceLockBlocksVersionDelete"
  | "defaultRetentionApplied"
  | "lockedPutRequiresChecksum";

export const KNOWN_GAPS: Record<string, Partial<Record<ReliedBehaviour, string>>> = {
  localstack: {
    lockedPutRequiresChecksum:
      "LocalStack 4.14 stores a PutObject with neither Content-MD5 nor x-amz-checksum-* in a bucket with " +
      "default Object Lock retention (200); S3 answers 400. sealtrail always sends a SHA-256 checksum.",
  },
};

export function knownGap(emulator: string, behaviour: ReliedBehaviour): string | undefined {
  const reason = KNOWN_GAPS[emulator]?.[behaviour];
  return reason ? `${emulator} does not reproduce this: ${reason}` : undefined;
}
