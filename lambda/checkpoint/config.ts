/** The checkpoint run's configuration, read from the environment the CDK construct sets. */
import * as z from "zod";
// A type only, and configuration rather than a port: where the adapters' clients point (endpoint, region).
import type { AwsTarget } from "../aws/clients";

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
  AWS_ENDPOINT_URL: z.string().url().optional(),
  AWS_REGION: z.string().min(1).default("us-east-1"),
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
    aws: { region: e.AWS_REGION, endpoint: e.AWS_ENDPOINT_URL },
  };
}
