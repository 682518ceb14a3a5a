/**
 * Scheduled every minute, reserved concurrency 1: signs the next checkpoint, or refuses and says why.
 * A refusal is an alarm (metric CheckpointRefused), not a failed invocation: retrying cannot help, and
 * the next minute's run looks again.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { S3ArchiveSource } from "../aws/archive-source";
import { kmsClient, s3Client } from "../aws/clients";
import { kmsCheckpointKey } from "../aws/kms-checkpoint-key";
import { S3ObjectStore } from "../aws/object-store";
import { S3SignerStateStore } from "../aws/signer-state-store";
import { type CheckpointConfig, checkpointConfigFromEnv } from "../checkpoint/config";
import { runCheckpoint, type SignerOutcome } from "../checkpoint/signer";
import type { CheckpointKey } from "../core/checkpoint";
import { CHECKPOINT_METRICS } from "../core/metrics";
import { createLogger } from "../runtime/logger";
import { traced } from "../runtime/tracing";

export type CheckpointJob = () => Promise<SignerOutcome>;

export interface CheckpointJobOptions {
  /** Local mode signs with a key file instead of KMS. */
  readonly key?: CheckpointKey;
  readonly metrics?: Metrics;
  readonly now?: () => number;
}

const CONTENT_TYPE = "application/jose";

export function createCheckpointJob(
  config: CheckpointConfig,
  options: CheckpointJobOptions = {},
): CheckpointJob {
  const s3 = traced(s3Client(config.aws));
  const archive = new S3ObjectStore(s3, config.bucket);
  const source = new S3ArchiveSource(s3, config.bucket);
  const state = new S3SignerStateStore(s3, config.stateBucket);
  const logger = createLogger();
  const metrics = options.metrics ?? createCheckpointMetrics();
  let key: Promise<CheckpointKey> | undefined = options.key ? Promise.resolve(options.key) : undefined;
  return async () => {
    key ??= kmsCheckpointKey(traced(kmsClient(config.aws)), config.keyId).catch((error) => {
      key = undefined;
      throw error;
    });
    const outcome = await runCheckpoint({
      source,
      putCheckpoint: (objectKey, bytes) => archive.putIfAbsent(objectKey, bytes, CONTENT_TYPE),
      state,
      key: await key,
      now: options.now ?? Date.now,
    });
    if (outcome.status === "signed") {
      logger.info("checkpoint signed", { ...outcome });
    } else if (outcome.status === "raced") {
      logger.warn("checkpoint run raced another run", { ...outcome });
    } else {
      logger.error("checkpoint refused: the archive does not extend the last signed checkpoint", {
        reasons: outcome.reasons,
      });
    }
    publishOutcomeMetrics(metrics, outcome);
    return outcome;
  };
}

/** The signer's Metrics as the stack's alarms watch them: the namespace and the `service` dimension. */
export function createCheckpointMetrics(): Metrics {
  return new Metrics({ namespace: CHECKPOINT_METRICS.namespace, serviceName: CHECKPOINT_METRICS.service });
}

/**
 * One run's data points, published at once (one EMF line): CheckpointSigned and CheckpointNewLinks, or
 * CheckpointRaced, or CheckpointRefused, which the stack's alarms watch (test/infra/checkpoint.test.ts
 * runs this against them).
 */
export function publishOutcomeMetrics(metrics: Metrics, outcome: SignerOutcome): void {
  if (outcome.status === "signed") {
    metrics.addMetric(CHECKPOINT_METRICS.signed, MetricUnit.Count, 1);
    metrics.addMetric(CHECKPOINT_METRICS.newLinks, MetricUnit.Count, outcome.newLinks);
  } else if (outcome.status === "raced") {
    metrics.addMetric(CHECKPOINT_METRICS.raced, MetricUnit.Count, 1);
  } else {
    metrics.addMetric(CHECKPOINT_METRICS.refused, MetricUnit.Count, 1);
  }
  metrics.publishStoredMetrics();
}

let cached: CheckpointJob | undefined;

export async function handler(): Promise<SignerOutcome> {
  cached ??= createCheckpointJob(checkpointConfigFromEnv());
  return cached();
}
