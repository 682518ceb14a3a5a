/**
 * The scheduled verifier (default hourly, reserved concurrency 1; lib/scheduled-verifier.ts). A finding
 * is not a failed invocation (retrying cannot help): it is metrics (VERIFIER_METRICS) and a message to
 * the alarm topic with the first findings. A run that cannot complete is metrics and a message too,
 * and then fails the invocation, so that its log and the function's error metric show it.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { Context } from "aws-lambda";
import { S3ArchiveSource } from "../aws/archive-source";
import { dynamoClient, s3Client, snsClient } from "../aws/clients";
import { eventPointers } from "../aws/index-reader";
import { documentClient } from "../aws/index-store";
import { publicJwkFromSpki } from "../aws/kms-checkpoint-key";
import { S3VerifierStore } from "../aws/verifier-state-store";
import { keyIdOf, parseTrustedKeys, type TrustedKey, trustFileOf } from "../core/checkpoint";
import { createLogger } from "../runtime/logger";
import { traced } from "../runtime/tracing";
import {
  type AlertPublisher,
  errorMessage,
  failureMessage,
  runScheduledVerification,
  type ScheduledRun,
} from "../verify/scheduled";
import {
  VERIFIER_ENV,
  VERIFIER_METRICS,
  type VerifierConfig,
  verifierConfigFromEnv,
} from "../verify/scheduled-config";

/** What the job needs of Powertools' Metrics (tests pass a recorder). */
export interface VerifierMetricsSink {
  addMetric(name: string, unit: Parameters<Metrics["addMetric"]>[1], value: number): unknown;
  publishStoredMetrics(): unknown;
}

export interface VerifierJobOptions {
  /** Local mode trusts its own key file's key instead of the configured public key. */
  readonly trusted?: readonly TrustedKey[];
  /** Local mode prints the message; tests record it. Default: SNS, when a topic is configured. */
  readonly alerts?: AlertPublisher;
  readonly metrics?: VerifierMetricsSink;
  readonly now?: () => number;
}

/** The time one run may take: see ScheduledVerifierOptions. */
export interface RunTime {
  readonly timeLeftMs: () => number;
  readonly budgetMs: number;
}

export type VerifierJob = (time: RunTime) => Promise<ScheduledRun>;

/** The job's metrics as the stack's alarms watch them (VERIFIER_METRICS: namespace, `service` dimension). */
export function createVerifierMetrics(): Metrics {
  return new Metrics({ namespace: VERIFIER_METRICS.namespace, serviceName: VERIFIER_METRICS.service });
}

async function trustedFromPublicKey(publicKey: string | undefined): Promise<TrustedKey[]> {
  if (!publicKey) {
    throw new Error(
      `${VERIFIER_ENV.publicKey} is required: the checkpoint public key (base64 DER), as the stack sets it`,
    );
  }
  const publicJwk = publicJwkFromSpki(Buffer.from(publicKey, "base64"));
  return parseTrustedKeys(trustFileOf({ kid: await keyIdOf(publicJwk), publicJwk }));
}

async function snsAlerts(config: VerifierConfig): Promise<AlertPublisher | undefined> {
  if (!config.alarmTopicArn) return undefined;
  const { SnsAlertPublisher } = await import("../aws/alert-topic");
  return new SnsAlertPublisher(traced(snsClient(config.aws)), config.alarmTopicArn);
}

export function createVerifierJob(config: VerifierConfig, options: VerifierJobOptions = {}): VerifierJob {
  const s3 = traced(s3Client(config.aws));
  const source = new S3ArchiveSource(s3, config.bucket);
  const store = new S3VerifierStore(s3, config.stateBucket);
  const table = config.table;
  const doc = table ? documentClient(traced(dynamoClient(config.aws))) : undefined;
  const index = doc && table ? () => eventPointers(doc, table) : undefined;
  const logger = createLogger();
  const metrics = options.metrics ?? createVerifierMetrics();
  // Made at the first run, so a bad key or a missing SDK is that run's error, not an unhandled one.
  let trusted: Promise<readonly TrustedKey[]> | undefined;
  let alerts: Promise<AlertPublisher | undefined> | undefined;
  const publish = async (alert: { subject: string; message: string }) => {
    try {
      alerts ??= options.alerts ? Promise.resolve(options.alerts) : snsAlerts(config);
      await (await alerts)?.publish(alert.subject, alert.message);
    } catch (error) {
      // The alarm on the metrics still fires; only the message with the findings is lost.
      logger.error("could not publish the verifier's message to the alarm topic", { error });
    }
  };

  return async (time) => {
    let run: ScheduledRun;
    try {
      trusted ??= options.trusted ? Promise.resolve(options.trusted) : trustedFromPublicKey(config.publicKey);
      run = await runScheduledVerification({
        source,
        trusted: await trusted,
        store,
        index,
        maxAgeMs: config.maxAgeMs,
        timeLeftMs: time.timeLeftMs,
        budgetMs: time.budgetMs,
        now: options.now,
      });
    } catch (error) {
      metrics.addMetric(VERIFIER_METRICS.failed, MetricUnit.Count, 1);
      metrics.addMetric(VERIFIER_METRICS.findings, MetricUnit.Count, 0);
      metrics.publishStoredMetrics();
      logger.error("scheduled verification could not complete", { error });
      await publish(errorMessage(source.description, error));
      throw error;
    }
    metrics.addMetric(VERIFIER_METRICS.failed, MetricUnit.Count, run.outcome === "failed" ? 1 : 0);
    metrics.addMetric(VERIFIER_METRICS.findings, MetricUnit.Count, run.findings.length);
    if (run.verifiedThisRun && run.verifiedCheckpoint !== undefined) {
      metrics.addMetric(VERIFIER_METRICS.verifiedCheckpoint, MetricUnit.Count, run.verifiedCheckpoint);
    }
    metrics.publishStoredMetrics();
    const summary = {
      outcome: run.outcome,
      steps: run.steps.length,
      verifiedCheckpoint: run.verifiedCheckpoint,
      reports: run.steps.map((step) => step.report),
    };
    if (run.outcome === "failed") {
      logger.error("scheduled verification FAILED", { ...summary, findings: run.findings.length });
      await publish(failureMessage(run));
    } else {
      logger.info("scheduled verification finished", summary);
    }
    return run;
  };
}

/** Time kept back from a run for writing the stopped step's report, the state and the message. */
const RESERVE_MS = 20_000;

let cached: VerifierJob | undefined;

/** What the invocation returns: a summary (the findings are in the report, and may be many). */
export interface VerifierRunSummary {
  readonly outcome: ScheduledRun["outcome"];
  readonly steps: number;
  readonly findings: number;
  readonly verifiedCheckpoint?: number;
}

export async function handler(_event: unknown, context: Context): Promise<VerifierRunSummary> {
  cached ??= createVerifierJob(verifierConfigFromEnv());
  const reserve = Math.min(RESERVE_MS, context.getRemainingTimeInMillis() / 4);
  const timeLeftMs = () => context.getRemainingTimeInMillis() - reserve;
  const run = await cached({ timeLeftMs, budgetMs: timeLeftMs() });
  return {
    outcome: run.outcome,
    steps: run.steps.length,
    findings: run.findings.length,
    ...(run.verifiedCheckpoint !== undefined ? { verifiedCheckpoint: run.verifiedCheckpoint } : {}),
  };
}
