/** The checkpoint run's configuration, read from the environment the CDK construct sets. */
import * as z from "zod";
// Configuration rather than a port: where the adapters' clients point, read from the environment (no SDK).
import { AWS_TARGET_ENV, type AwsTarget, awsTargetOf } from "../aws/target";

export const CHECKPOINT_ENV = {
  bucket: "SEALTRAIL_BUCKET",
  stateBucket: "SEALTRAIL_CHECKPOINT_STATE_BUCKET",
  keyId: "SEALTRAIL_CHECKPOINT_KEY_ID",
} as const;

export interface CheckpointConfig {
  /** The archive bucket. */
  readonly bucket: string;
  /** The bucket only the signer writes, holding its state. */
  readonly stateBucket: string;
  /** The KMS key (id or ARN) that signs checkpoints. */
  readonly keyId: string;
  readonly aws: AwsTarget;
}

const required = (name: string) => z.string({ error: `${name} is required` }).min(1);
const EnvSchema = z.object({
  [CHECKPOINT_ENV.bucket]: required(CHECKPOINT_ENV.bucket),
  [CHECKPOINT_ENV.stateBucket]: required(CHECKPOINT_ENV.stateBucket),
  [CHECKPOINT_ENV.keyId]: required(CHECKPOINT_ENV.keyId),
  ...AWS_TARGET_ENV,
});

export function checkpointConfigFromEnv(
  env: Record<string, string | undefined> = process.env,
): CheckpointConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `Invalid checkpoint configuration: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
    );
  }
  const e = parsed.data;
  return {
    bucket: e[CHECKPOINT_ENV.bucket],
    stateBucket: e[CHECKPOINT_ENV.stateBucket],
    keyId: e[CHECKPOINT_ENV.keyId],
    aws: awsTargetOf(e),
  };
}
