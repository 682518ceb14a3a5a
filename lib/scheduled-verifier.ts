/**
 * The scheduled verifier of DESIGN.md ("Resilience and alerts"): `sealtrail verify --state --max-age`
 * run by the stack on a schedule (default hourly) by a function whose role can read the archive (its
 * keys, versions and the index table) and never write or delete there. Its state and a JSON report of
 * every step live in a bucket only its role may write and nobody may delete from. Alarms: any failure
 * or finding, and no successful verification for two periods, to the alarm topic; the verifier also
 * publishes its own short message with the first findings there (alarm messages cannot carry them).
 * Infrastructure only: the run is lambda/handlers/verifier.ts.
 */
import { Duration, Stack, Token, Validations } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  MathExpression,
  Metric,
  type MetricOptions,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement, type Role } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Bucket, IBucket } from "aws-cdk-lib/aws-s3";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import { CHAINS_PREFIX, CHECKPOINTS_PREFIX, EVENTS_PREFIX } from "../lambda/core/paths";
import {
  DEFAULT_VERIFIER_MAX_AGE_MINUTES,
  DEFAULT_VERIFIER_PERIOD_MINUTES,
  VERIFIER_ENV,
  VERIFIER_METRICS,
} from "../lambda/verify/scheduled-config";
import { ownRole, sealtrailFunction, wildcardFinding } from "./function";
import { reserveStateBucket, stateBucket } from "./state-bucket";

/** Archive prefixes the verifier reads; chains/ also by version (a replaced link names its batch). */
const READ_PREFIXES = [EVENTS_PREFIX, CHAINS_PREFIX, CHECKPOINTS_PREFIX] as const;
const VERSIONED_PREFIX = CHAINS_PREFIX;

/** Shortest and longest schedule: a run must end before the next, and two periods fit an alarm's range. */
export const MIN_VERIFIER_PERIOD_MINUTES = 5;
export const MAX_VERIFIER_PERIOD_MINUTES = 1440;
/** Lambda's longest run. */
const MAX_TIMEOUT_MINUTES = 15;

export interface ScheduledVerifierProps {
  /** The archive it verifies (read only). */
  readonly archiveBucket: IBucket;
  /** Key of the archive bucket and the index table; also encrypts the verifier's own bucket. */
  readonly archiveKey: IKey;
  /**
   * The index table it compares with the archive (Scan only).
   * @default - the index is not compared
   */
  readonly table?: ITable;
  /** Destination of the verifier bucket's server access logs (prefix `verifier-state/`). */
  readonly accessLogBucket: IBucket;
  /** The trusted checkpoint public key, base64 DER SubjectPublicKeyInfo (the CheckpointPublicKey output). */
  readonly checkpointPublicKey: string;
  /** Where the alarms and the verifier's own message go. */
  readonly alarmTopic: ITopic;
  /**
   * The alarm topic's key: publishing to an encrypted topic needs kms:GenerateDataKey and kms:Decrypt.
   * @default - the topic's own `masterKey`; none (no KMS permission) for a topic without one
   */
  readonly alarmKey?: IKey;
  /**
   * How often it runs: whole minutes from 5 to 1440. The alarms' period is the same.
   * @default Duration.hours(1)
   */
  readonly period?: Duration;
  /**
   * The newest checkpoint may be at most this old (`verify --max-age`): the signer signs every minute.
   * @default Duration.minutes(15)
   */
  readonly maxAge?: Duration;
  readonly logRetention: RetentionDays;
}

/** The verifier function, its schedule, its own bucket and its alarms. */
export class ScheduledVerifier extends Construct {
  /** The verifier run (reserved concurrency 1). */
  public readonly fn: NodejsFunction;
  /** Its state and reports (`reports/`); only `fn`'s role may write, nobody may delete. */
  public readonly stateBucket: Bucket;
  /** EventBridge rule: rate(period) → `fn`. */
  public readonly schedule: Rule;
  /** VerificationFailedAlarm and VerificationSilentAlarm, both to the alarm topic. */
  public readonly alarms: Alarm[];
  private readonly period: Duration;

  constructor(scope: Construct, id: string, props: ScheduledVerifierProps) {
    super(scope, id);
    this.period = props.period ?? Duration.minutes(DEFAULT_VERIFIER_PERIOD_MINUTES);
    const maxAge = props.maxAge ?? Duration.minutes(DEFAULT_VERIFIER_MAX_AGE_MINUTES);
    validate(this.period, maxAge);
    const periodMinutes = Token.isUnresolved(this.period.toMinutes())
      ? DEFAULT_VERIFIER_PERIOD_MINUTES
      : this.period.toMinutes();

    // As the signer's state bucket (lib/state-bucket.ts): integrity, not secrecy, is what matters here
    // (the state holds hashes of archive objects, the reports what verify prints).
    this.stateBucket = stateBucket(this, {
      archiveKey: props.archiveKey,
      accessLogBucket: props.accessLogBucket,
      accessLogPrefix: "verifier-state/",
    });

    this.fn = sealtrailFunction(this, "Function", {
      entry: "../lambda/handlers/verifier.ts",
      description: "sealtrail: verifies the archive on a schedule (verify --state --max-age), read only",
      serviceName: VERIFIER_METRICS.service,
      // Ends before the next scheduled run; a long archive is verified over several runs.
      timeout: Duration.minutes(Math.min(MAX_TIMEOUT_MINUTES, periodMinutes - 1)),
      // Memory is CPU in Lambda: the batch checks hash and parse every data object.
      memorySize: 2048,
      // One run at a time (the state's If-Match is the second line of defence).
      reservedConcurrentExecutions: 1,
      // Not retried: the next scheduled run continues from the saved state.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
      environment: {
        [VERIFIER_ENV.bucket]: props.archiveBucket.bucketName,
        ...(props.table ? { [VERIFIER_ENV.table]: props.table.tableName } : {}),
        [VERIFIER_ENV.stateBucket]: this.stateBucket.bucketName,
        [VERIFIER_ENV.publicKey]: props.checkpointPublicKey,
        [VERIFIER_ENV.maxAgeSeconds]: String(maxAge.toSeconds()),
        [VERIFIER_ENV.alarmTopicArn]: props.alarmTopic.topicArn,
        POWERTOOLS_METRICS_NAMESPACE: VERIFIER_METRICS.namespace,
      },
      logRetention: props.logRetention,
    });
    const role = ownRole(this.fn);
    // A deleted state would make the verifier start over and forget what it verified (and with it the
    // rollback check); a deleted report is a gap in the audit trail.
    reserveStateBucket(this.stateBucket, role, {
      denyWrites: "DenyWritesExceptByVerifier",
      denyDeletion: "DenyDeletion",
    });
    this.grantReadOnlyArchiveAccess(role, props);

    this.schedule = new Rule(this, "Schedule", {
      description: "sealtrail: verify the archive (incremental, from the verifier's saved state)",
      schedule: Schedule.rate(this.period),
      targets: [new LambdaFunction(this.fn, { retryAttempts: 0 })],
    });

    const action = new SnsAction(props.alarmTopic);
    const failed = new Alarm(this, "VerificationFailedAlarm", {
      metric: new MathExpression({
        expression: "failed + findings",
        usingMetrics: { failed: this.metricFailed(), findings: this.metricFindings() },
        label: "failed runs + error findings",
        period: this.period,
      }),
      alarmDescription:
        "sealtrail scheduled verification FAILED: integrity findings in the archive (possible tampering), " +
        "or a run that could not complete. The verifier's own message on the alarm topic has the first " +
        "findings and the report's location; see docs/operations.md (the scheduled verifier's alarms)",
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    // Missing data breaches: a verifier that never runs (disabled rule, broken deployment) emits nothing.
    const silent = new Alarm(this, "VerificationSilentAlarm", {
      metric: this.metricVerifiedCheckpoint({ statistic: "SampleCount" }),
      alarmDescription:
        `sealtrail scheduled verification is silent: no run verified anything in two periods ` +
        `(${periodMinutes} minutes each); see docs/operations.md (the scheduled verifier's alarms)`,
      threshold: 1,
      evaluationPeriods: 2,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.BREACHING,
    });
    for (const alarm of [failed, silent]) alarm.addAlarmAction(action);
    this.alarms = [failed, silent];
  }

  /** VerificationFailed: 1 per run that did not verify (findings, or it could not complete). */
  public metricFailed(options: MetricOptions = {}): Metric {
    return this.metric(VERIFIER_METRICS.failed, options);
  }

  /** VerificationFindings: error findings per run. */
  public metricFindings(options: MetricOptions = {}): Metric {
    return this.metric(VERIFIER_METRICS.findings, options);
  }

  /** VerifiedCheckpoint: the newest checkpoint seq verified, one data point per run that verified. */
  public metricVerifiedCheckpoint(options: MetricOptions = {}): Metric {
    return this.metric(VERIFIER_METRICS.verifiedCheckpoint, { statistic: "Maximum", ...options });
  }

  private metric(metricName: string, options: MetricOptions): Metric {
    return new Metric({
      namespace: VERIFIER_METRICS.namespace,
      metricName,
      // Powertools adds one dimension, `service` (the function's POWERTOOLS_SERVICE_NAME).
      dimensionsMap: { service: VERIFIER_METRICS.service },
      statistic: "Sum",
      period: this.period,
      ...options,
    });
  }

  /** Reads and lists only: no PutObject, DeleteObject or any table write is granted on the archive. */
  private grantReadOnlyArchiveAccess(role: Role, props: ScheduledVerifierProps): void {
    const archive = props.archiveBucket;
    const readable = READ_PREFIXES.map((prefix) => archive.arnForObjects(`${prefix}*`));
    const versioned = archive.arnForObjects(`${VERSIONED_PREFIX}*`);
    role.addToPrincipalPolicy(
      new PolicyStatement({ sid: "ReadArchiveObjects", actions: ["s3:GetObject"], resources: readable }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadReplacedLinkVersions",
        actions: ["s3:GetObjectVersion"],
        resources: [versioned],
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ListArchiveWithVersions",
        // The whole bucket, not by prefix: a key planted outside the archive's prefixes is a finding.
        actions: ["s3:ListBucket", "s3:ListBucketVersions"],
        resources: [archive.bucketArn],
      }),
    );
    if (props.table) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "ScanIndexPointers",
          actions: ["dynamodb:Scan"],
          resources: [props.table.tableArn],
        }),
      );
    }
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadAndReplaceVerifierState",
        actions: ["s3:GetObject", "s3:PutObject"],
        resources: [this.stateBucket.arnForObjects("*")],
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ListVerifierState",
        // Without it a missing state object reads as 403 instead of 404.
        actions: ["s3:ListBucket"],
        resources: [this.stateBucket.bucketArn],
      }),
    );
    const stack = Stack.of(this);
    const via = (service: string) => `${service}.${stack.region}.${stack.urlSuffix}`;
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "UseArchiveKeyThroughS3AndDynamoDB",
        // Decrypt to read the archive and the table; GenerateDataKey for its own bucket's puts (it shares
        // the archive key, as the signer's state bucket does). No S3 put on the archive is granted.
        actions: ["kms:Decrypt", "kms:GenerateDataKey"],
        resources: [props.archiveKey.keyArn],
        conditions: { StringEquals: { "kms:ViaService": [via("s3"), via("dynamodb")] } },
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "PublishFindingsToAlarmTopic",
        actions: ["sns:Publish"],
        resources: [props.alarmTopic.topicArn],
      }),
    );
    const alarmKey = props.alarmKey ?? props.alarmTopic.masterKey;
    if (alarmKey !== undefined) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "EncryptForAlarmTopic",
          actions: ["kms:Decrypt", "kms:GenerateDataKey"],
          resources: [alarmKey.keyArn],
          conditions: { StringEquals: { "kms:ViaService": via("sns") } },
        }),
      );
    }

    // chains/* is both read and read by version: one finding.
    for (const id of new Set([...readable, versioned].map((arn) => wildcardFinding(this, arn)))) {
      Validations.of(role).acknowledge({
        id,
        reason:
          "Archive objects are content-addressed or sequence-numbered, so their keys are not known in " +
          "advance; the wildcard is limited to one archive prefix, for reads only.",
      });
    }
    Validations.of(role).acknowledge({
      id: wildcardFinding(this, this.stateBucket.arnForObjects("*")),
      reason:
        "The verifier's bucket is its own, for its state and one report per step (named by run), and its " +
        "bucket policy denies every other principal any put and everyone any delete.",
    });
  }
}

/** Checks the schedule and the maximum age, reporting every problem at once. */
function validate(period: Duration, maxAge: Duration): void {
  const problems: string[] = [];
  const minutes = period.toMinutes({ integral: false });
  if (
    !Token.isUnresolved(minutes) &&
    (!Number.isInteger(minutes) ||
      minutes < MIN_VERIFIER_PERIOD_MINUTES ||
      minutes > MAX_VERIFIER_PERIOD_MINUTES)
  ) {
    problems.push(
      `verificationPeriod must be whole minutes from ${MIN_VERIFIER_PERIOD_MINUTES} to ${MAX_VERIFIER_PERIOD_MINUTES}, ` +
        `got ${period.toHumanString()}: pass e.g. Duration.hours(1) (the default)`,
    );
  }
  const seconds = maxAge.toSeconds({ integral: false });
  if (!Token.isUnresolved(seconds) && (!Number.isInteger(seconds) || seconds < 60)) {
    problems.push(
      `verificationMaxAge must be whole seconds and at least one minute, got ${maxAge.toHumanString()}: ` +
        `the signer signs every minute; pass e.g. Duration.minutes(${DEFAULT_VERIFIER_MAX_AGE_MINUTES}) (the default)`,
    );
  }
  if (problems.length > 0) throw new Error(`Invalid scheduled verifier props:\n- ${problems.join("\n- ")}`);
}
