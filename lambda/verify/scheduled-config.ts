/**
 * The scheduled verifier's contract with its stack (lib/scheduled-verifier.ts) and local mode: the
 * environment it reads, the metrics it emits, and their defaults. No AWS SDK and no verifier code, so
 * the CDK app can import it.
 */
import * as z from "zod";
import { AWS_TARGET_ENV, type AwsTarget, awsTargetOf } from "../aws/target";
import { METRICS_NAMESPACE } from "../core/metrics";

export const VERIFIER_ENV = {
  /** The archive bucket it verifies (read only). */
  bucket: "SEALTRAIL_BUCKET",
  /** The index table it compares with the archive (read only); unset: the index is not checked. */
  table: "SEALTRAIL_TABLE",
  /** Its own store: the state it continues from and a JSON report of every step. */
  stateBucket: "SEALTRAIL_VERIFIER_STATE_BUCKET",
  /** The trusted checkpoint public key: base64 DER SubjectPublicKeyInfo (the stack's CheckpointPublicKey). */
  publicKey: "SEALTRAIL_VERIFIER_PUBLIC_KEY",
  /** Fail when the newest checkpoint is older than this (`verify --max-age`). */
  maxAgeSeconds: "SEALTRAIL_VERIFIER_MAX_AGE_SECONDS",
  /** The SNS topic its own message with the first findings goes to; unset: no message. */
  alarmTopicArn: "SEALTRAIL_VERIFIER_ALARM_TOPIC_ARN",
} as const;

/** Metric names, namespace and `service` dimension (Powertools adds it) that the alarms watch. */
export const VERIFIER_METRICS = {
  namespace: METRICS_NAMESPACE,
  /** POWERTOOLS_SERVICE_NAME of the verifier function, and so the `service` dimension. */
  service: "sealtrail-verifier",
  /** 1 for a run that did not verify (an integrity finding, or the run could not complete), else 0. */
  failed: "VerificationFailed",
  /** Error findings of a run (0 when clean). */
  findings: "VerificationFindings",
  /** The newest checkpoint seq verified so far; emitted only by a run that verified (or got further). */
  verifiedCheckpoint: "VerifiedCheckpoint",
} as const;

/** How often the stack runs it, unless configured. */
export const DEFAULT_VERIFIER_PERIOD_MINUTES = 60;
/**
 * How old the newest checkpoint may be, unless configured: the signer signs every minute, and its own
 * staleness alarm fires after 15 minutes.
 */
export const DEFAULT_VERIFIER_MAX_AGE_MINUTES = 15;

export interface VerifierConfig {
  readonly bucket: string;
  readonly table?: string;
  readonly stateBucket: string;
  /** base64 DER SPKI; local mode passes its trusted keys directly instead. */
  readonly publicKey?: string;
  readonly maxAgeMs?: number;
  readonly alarmTopicArn?: string;
  readonly aws: AwsTarget;
}

const required = (name: string) => z.string({ error: `${name} is required` }).min(1);
const EnvSchema = z.object({
  [VERIFIER_ENV.bucket]: required(VERIFIER_ENV.bucket),
  [VERIFIER_ENV.table]: z.string().min(1).optional(),
  [VERIFIER_ENV.stateBucket]: required(VERIFIER_ENV.stateBucket),
  [VERIFIER_ENV.publicKey]: z.string().min(1).optional(),
  [VERIFIER_ENV.maxAgeSeconds]: z.coerce
    .number({ error: `${VERIFIER_ENV.maxAgeSeconds} must be a number of seconds` })
    .int()
    .positive()
    .optional(),
  [VERIFIER_ENV.alarmTopicArn]: z.string().min(1).optional(),
  ...AWS_TARGET_ENV,
});

export function verifierConfigFromEnv(env: Record<string, string | undefined> = process.env): VerifierConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `Invalid scheduled verifier configuration: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
    );
  }
  const e = parsed.data;
  const maxAgeSeconds = e[VERIFIER_ENV.maxAgeSeconds];
  return {
    bucket: e[VERIFIER_ENV.bucket],
    table: e[VERIFIER_ENV.table],
    stateBucket: e[VERIFIER_ENV.stateBucket],
    publicKey: e[VERIFIER_ENV.publicKey],
    maxAgeMs: maxAgeSeconds !== undefined ? maxAgeSeconds * 1000 : undefined,
    alarmTopicArn: e[VERIFIER_ENV.alarmTopicArn],
    aws: awsTargetOf(e),
  };
}
