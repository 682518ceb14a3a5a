/**
 * The alarms of DESIGN.md ("Resilience and alerts") and the topic they notify: the write path's alarms
 * (function errors, reindex failures, API 5xx and 4xx spikes, checkpoint refusals, staleness and errors)
 * and the alarms on access patterns and on silence (a drop or a spike in ingested events, refused
 * subject tokens, read volume, cross-tenant admin reads and watched actions), each to the alarm topic. Their metrics are built from the same points the handlers emit
 * (lambda/core/metrics.ts), so an alarm cannot watch a metric nothing sends. What each alarm means and
 * what to do is in docs/operations.md, "When an alarm fires".
 */
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type { HttpApi, HttpStage } from "aws-cdk-lib/aws-apigatewayv2";
import {
  Alarm,
  AnomalyDetectionAlarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  type MetricOptions,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { type ITopic, Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import {
  accessMetricPoints,
  METRICS_NAMESPACE,
  type MetricPoint,
  REINDEX_METRICS,
  SERVICE_DIMENSION,
  SUBJECT_TOKEN_REFUSALS,
  type SubjectTokenRefusal,
} from "../lambda/core/metrics";
import { OUTCOMES } from "../lambda/core/schema";
import type { WatchedAction } from "../lambda/core/watched-actions";
import type { CheckpointSigner } from "./checkpoint";

/** The period every access alarm sums over. */
export const ACCESS_ALARM_PERIOD = Duration.minutes(5);

/** Width of the anomaly detection bands, in standard deviations of the learned model. */
export const ANOMALY_BAND_STANDARD_DEVIATIONS = 2;

/**
 * Refused subject tokens per 5 minutes that raise each refusal's alarm. A token of another tenant is
 * never an accident of a well-behaved caller; an invalid one can be (a token expired in a slow batch).
 */
export const SUBJECT_TOKEN_ALARM_THRESHOLDS: Readonly<Record<SubjectTokenRefusal, number>> = {
  invalid_subject_token: 5,
  subject_token_tenant_mismatch: 1,
};

/** The CloudWatch metric of a point the handlers emit: namespace, name, `service` and its dimensions. */
export function accessMetric(point: MetricPoint, options: MetricOptions = {}): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: point.metric.name,
    dimensionsMap: { [SERVICE_DIMENSION]: point.metric.service, ...point.dimensions },
    statistic: "Sum",
    period: ACCESS_ALARM_PERIOD,
    ...options,
  });
}

/**
 * The matching events of a watched action per period: one metric for one outcome, else the sum over
 * every outcome (each filled with 0, since a period without one outcome has no data point for it).
 */
export function watchedActionMetric(watched: WatchedAction): IMetric {
  if (watched.outcome !== undefined) {
    return accessMetric(accessMetricPoints.watchedAction(watched.pattern, watched.outcome, 0));
  }
  const usingMetrics = Object.fromEntries(
    OUTCOMES.map((outcome) => [
      outcome,
      accessMetric(accessMetricPoints.watchedAction(watched.pattern, outcome, 0)),
    ]),
  );
  return new MathExpression({
    expression: OUTCOMES.map((outcome) => `FILL(${outcome}, 0)`).join(" + "),
    usingMetrics,
    period: ACCESS_ALARM_PERIOD,
    label: `${watched.pattern} (every outcome)`,
  });
}

export interface AccessAlarmsProps {
  /** Every alarm notifies this topic (`Sealtrail.alarmTopic`). */
  readonly topic: ITopic;
  /** One alarm each, at its threshold. */
  readonly watchedActions: readonly WatchedAction[];
}

/** The access-pattern alarms, each with the SNS action of the alarm topic. */
export class AccessAlarms extends Construct {
  /** Fewer events than the learned band for 15 minutes, or none at all: a source stopped sending. */
  public readonly ingestDrop: AnomalyDetectionAlarm;
  /** More events than the learned band. */
  public readonly ingestSpike: AnomalyDetectionAlarm;
  /** One alarm per refusal reason (SUBJECT_TOKEN_REFUSALS). */
  public readonly subjectTokenRefused: Readonly<Record<SubjectTokenRefusal, Alarm>>;
  /** More reads (`audit.read` events) than the learned band. */
  public readonly readSpike: AnomalyDetectionAlarm;
  /** Any read of another tenant with the admin scope. */
  public readonly crossTenantRead: Alarm;
  /** One alarm per watched action, in the order given. */
  public readonly watchedActions: readonly Alarm[];
  /** Every alarm above. */
  public readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: AccessAlarmsProps) {
    super(scope, id);
    const notify = new SnsAction(props.topic);
    const withTopic = <T extends Alarm>(alarm: T): T => {
      alarm.addAlarmAction(notify);
      return alarm;
    };

    const ingested = accessMetric(accessMetricPoints.eventsIngested(0));
    // Missing data is breaching: a pipeline that died sends nothing, and nothing must not look normal.
    this.ingestDrop = withTopic(
      new AnomalyDetectionAlarm(this, "IngestDropAlarm", {
        metric: ingested,
        stdDevs: ANOMALY_BAND_STANDARD_DEVIATIONS,
        comparisonOperator: ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.BREACHING,
        alarmDescription:
          "sealtrail ingested events DROPPED below the expected band for 15 minutes, or stopped: a source " +
          "may have stopped sending audit events (docs/operations.md, IngestDropAlarm)",
      }),
    );
    this.ingestSpike = withTopic(
      new AnomalyDetectionAlarm(this, "IngestSpikeAlarm", {
        metric: ingested,
        stdDevs: ANOMALY_BAND_STANDARD_DEVIATIONS,
        comparisonOperator: ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription:
          "sealtrail ingested events SPIKED above the expected band: a flood from one source, a retry " +
          "storm or noise hiding an attack (docs/operations.md, IngestSpikeAlarm)",
      }),
    );

    const refusalAlarm = (reason: SubjectTokenRefusal): Alarm =>
      withTopic(
        new Alarm(this, `SubjectTokenRefused-${reason}`, {
          metric: accessMetric(accessMetricPoints.subjectTokenRefused(reason)),
          threshold: SUBJECT_TOKEN_ALARM_THRESHOLDS[reason],
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
          alarmDescription:
            `sealtrail refused forwarded subject tokens (${reason}): a service forwards end-user tokens ` +
            `that do not verify${reason === "subject_token_tenant_mismatch" ? " or belong to another tenant" : ""} ` +
            "(docs/operations.md, SubjectTokenRefused)",
        }),
      );
    this.subjectTokenRefused = Object.fromEntries(
      SUBJECT_TOKEN_REFUSALS.map((reason) => [reason, refusalAlarm(reason)]),
    ) as Record<SubjectTokenRefusal, Alarm>;

    this.readSpike = withTopic(
      new AnomalyDetectionAlarm(this, "ReadSpikeAlarm", {
        metric: accessMetric(accessMetricPoints.read()),
        stdDevs: ANOMALY_BAND_STANDARD_DEVIATIONS,
        comparisonOperator: ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription:
          "sealtrail reads (audit.read events) SPIKED above the expected band: someone may be exporting " +
          "the archive; search audit.read events for the reader (docs/operations.md, ReadSpikeAlarm)",
      }),
    );
    this.crossTenantRead = withTopic(
      new Alarm(this, "CrossTenantReadAlarm", {
        metric: accessMetric(accessMetricPoints.crossTenantRead()),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription:
          "sealtrail admin-scope read of ANOTHER tenant's events: confirm who read what and why " +
          "(docs/operations.md, CrossTenantReadAlarm)",
      }),
    );

    this.watchedActions = props.watchedActions.map((watched) =>
      withTopic(
        new Alarm(this, watchedActionAlarmId(watched), {
          metric: watchedActionMetric(watched),
          threshold: watched.threshold,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
          alarmDescription:
            `sealtrail watched action ${watched.pattern} (${watched.outcome ?? "every outcome"}): at least ` +
            `${watched.threshold} events in 5 minutes (docs/operations.md, WatchedActionAlarm)`,
        }),
      ),
    );

    this.alarms = [
      this.ingestDrop,
      this.ingestSpike,
      ...Object.values(this.subjectTokenRefused),
      this.readSpike,
      this.crossTenantRead,
      ...this.watchedActions,
    ];
  }
}

/**
 * A stable construct id per watched action, from its pattern and outcome (not its place in the list,
 * so reordering the list replaces no alarm). "/" separates construct ids, so it is spelled out.
 */
export function watchedActionAlarmId(watched: WatchedAction): string {
  return `WatchedAction-${watched.pattern.replaceAll("/", "%2F")}-${watched.outcome ?? "any"}`;
}

/** 4xx responses of the API stage per 5 minutes that raise the auth-failure alarm, unless configured. */
export const DEFAULT_AUTH_FAILURE_ALARM_THRESHOLD = 100;

export interface AlarmTopicProps {
  /**
   * A topic the caller already has: used as it is (its policy and key are the caller's).
   * @default - a new topic under a new customer managed key, both admitting this account's alarms only
   */
  readonly existing?: ITopic;
  /** @default - no subscription */
  readonly email?: string;
}

/** The topic every alarm notifies and, when sealtrail made the topic, the key that encrypts it. */
export interface AlarmTopic {
  readonly topic: ITopic;
  /** Absent for an existing topic. */
  readonly key?: Key;
}

/**
 * `AlarmKey` and `AlarmTopic` of `scope` (the Sealtrail construct's IDs), or the existing topic. A
 * customer managed key, because CloudWatch alarms cannot publish to a topic encrypted with an AWS
 * managed key; both policies admit this account's CloudWatch alarms only (no confused deputy).
 */
export function alarmTopic(scope: Construct, props: AlarmTopicProps = {}): AlarmTopic {
  const { topic, key } = props.existing !== undefined ? { topic: props.existing } : newAlarmTopic(scope);
  if (props.email !== undefined) topic.addSubscription(new EmailSubscription(props.email));
  return { topic, key };
}

function newAlarmTopic(scope: Construct): { topic: Topic; key: Key } {
  const stack = Stack.of(scope);
  const thisAccountsAlarms = {
    StringEquals: { "aws:SourceAccount": stack.account },
    ArnLike: {
      "aws:SourceArn": stack.formatArn({ service: "cloudwatch", resource: "alarm", resourceName: "*" }),
    },
  };
  const key = new Key(scope, "AlarmKey", {
    description: "sealtrail: alarm topic",
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  // CloudWatch encrypts the message it publishes to the topic with this key.
  key.addToResourcePolicy(
    new PolicyStatement({
      sid: "AllowCloudWatchAlarmsToPublish",
      principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
      actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
      resources: ["*"],
      conditions: thisAccountsAlarms,
    }),
  );
  const topic = new Topic(scope, "AlarmTopic", {
    displayName: "sealtrail alarms",
    masterKey: key,
    enforceSSL: true,
  });
  // The topic policy that enforceSSL creates replaces SNS's default one: allow this account's alarms.
  topic.addToResourcePolicy(
    new PolicyStatement({
      sid: "AllowCloudWatchAlarmsToPublish",
      principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
      actions: ["sns:Publish"],
      resources: [topic.topicArn],
      conditions: thisAccountsAlarms,
    }),
  );
  return { topic, key };
}

export interface WritePathAlarmsProps {
  readonly topic: ITopic;
  readonly ingestFunction: NodejsFunction;
  readonly reindexFunction: NodejsFunction;
  readonly queryFunction: NodejsFunction;
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly checkpointSigner: CheckpointSigner;
  /** @default DEFAULT_AUTH_FAILURE_ALARM_THRESHOLD */
  readonly authFailureAlarmThreshold?: number;
}

/**
 * The alarms on the write path, the query function and the checkpoint run, each to the topic.
 *
 * A part of `Sealtrail`, not a construct of its own: it builds in the scope it is given, under the
 * construct IDs (and so the logical IDs) deployed stacks already have (`IngestErrorsAlarm`, …).
 */
export class WritePathAlarms {
  /** In this order: ingest, reindex, reindex links failed and rejected, query, API 5xx and 4xx, checkpoint refused, stale, errors. */
  public readonly alarms: readonly Alarm[];

  constructor(scope: Construct, props: WritePathAlarmsProps) {
    const notify = new SnsAction(props.topic);
    const alarmOn = (id: string, metric: IMetric, options: AlarmOnOptions): Alarm => {
      const alarm = new Alarm(scope, id, {
        metric,
        alarmDescription: options.description,
        threshold: options.threshold ?? 1,
        evaluationPeriods: options.evaluationPeriods ?? 1,
        comparisonOperator:
          options.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: options.treatMissingData ?? TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(notify);
      return alarm;
    };

    const fiveMinuteSum = { period: Duration.minutes(5), statistic: "Sum" } as const;
    // Powertools adds one dimension, `service` (the function's POWERTOOLS_SERVICE_NAME).
    const reindexMetric = (metricName: string) =>
      new Metric({
        namespace: REINDEX_METRICS.namespace,
        metricName,
        dimensionsMap: { service: REINDEX_METRICS.service },
        ...fiveMinuteSum,
      });
    const signer = props.checkpointSigner;
    this.alarms = [
      alarmOn("IngestErrorsAlarm", props.ingestFunction.metricErrors(fiveMinuteSum), {
        description: "sealtrail ingest function errors: events may not have been acknowledged",
      }),
      alarmOn("ReindexErrorsAlarm", props.reindexFunction.metricErrors(fiveMinuteSum), {
        description: "sealtrail reindex job errors: search may miss acknowledged events",
      }),
      // The reindex job goes on past a link it cannot index (the run succeeds): its metrics say so.
      alarmOn("ReindexLinksFailedAlarm", reindexMetric(REINDEX_METRICS.linksFailed), {
        description:
          "sealtrail reindex could not index a chain link: its acknowledged events are missing from search " +
          "until a run succeeds; the reindex log names the link and the error",
      }),
      alarmOn("ReindexLinksRejectedAlarm", reindexMetric(REINDEX_METRICS.linksRejected), {
        description:
          "sealtrail reindex found a chain link whose batch object is missing or does not match it " +
          "(possible tampering): its events are not indexed; run sealtrail verify",
      }),
      alarmOn("QueryErrorsAlarm", props.queryFunction.metricErrors(fiveMinuteSum), {
        description:
          "sealtrail query function errors: reads failed (and were not archived as audit.read events)",
      }),
      alarmOn("Api5xxAlarm", props.api.metricServerError(fiveMinuteSum), {
        description: "sealtrail API 5xx responses: writes or reads are failing",
      }),
      alarmOn("ApiAuthFailureSpikeAlarm", props.stage.metricClientError(fiveMinuteSum), {
        description:
          "sealtrail API 4xx spike on the stage: rejected tokens or scopes (401/403), or a client " +
          "sending invalid requests (HTTP API metrics do not split 4xx by status)",
        threshold: props.authFailureAlarmThreshold ?? DEFAULT_AUTH_FAILURE_ALARM_THRESHOLD,
      }),
      // The signer's refusal is the in-AWS verification failure: the archive no longer extends the
      // history it signed last (a rewritten, missing or hidden link or checkpoint, a vanished chain).
      alarmOn("CheckpointRefusedAlarm", signer.metricRefused(fiveMinuteSum), {
        description:
          "sealtrail checkpoint signer REFUSED to sign: the archive does not extend the last signed " +
          "checkpoint (possible tampering); see the signer's log for the reasons, run sealtrail verify",
      }),
      // Staleness: no checkpoint for 15 minutes. Missing data is breaching, since a signer that never
      // runs (disabled rule, broken deployment, throttled) emits nothing at all.
      alarmOn("CheckpointStaleAlarm", signer.metricSigned(fiveMinuteSum), {
        description:
          "sealtrail checkpoints are stale: none signed in 15 minutes; auditors' --max-age checks will fail",
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.BREACHING,
      }),
      // A run that throws (KMS, S3 or state errors) signs nothing and emits no CheckpointRefused: it is
      // seen here at once instead of only by the staleness alarm 15 minutes later.
      alarmOn("CheckpointErrorsAlarm", signer.fn.metricErrors(fiveMinuteSum), {
        description: "sealtrail checkpoint run failed (an error, not a refusal): no checkpoint was signed",
      }),
    ];
  }
}

/** An alarm of `WritePathAlarms`; by default it fires on a value of at least 1 in one period. */
interface AlarmOnOptions {
  readonly description: string;
  readonly threshold?: number;
  readonly comparisonOperator?: ComparisonOperator;
  readonly evaluationPeriods?: number;
  readonly treatMissingData?: TreatMissingData;
}
