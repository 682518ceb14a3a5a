/**
 * Alarms on access patterns and on silence (DESIGN.md, "Resilience and alerts"): a drop or a spike in
 * ingested events, refused subject tokens, read volume, cross-tenant admin reads and watched actions,
 * each to the alarm topic. Their metrics are built from the same points the handlers emit
 * (lambda/core/metrics.ts), so an alarm cannot watch a metric nothing sends. What each alarm means and
 * what to do is in docs/operations.md, "When an alarm fires".
 */
import { Duration } from "aws-cdk-lib";
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
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import {
  accessMetricPoints,
  METRICS_NAMESPACE,
  type MetricPoint,
  SERVICE_DIMENSION,
  SUBJECT_TOKEN_REFUSALS,
  type SubjectTokenRefusal,
} from "../lambda/core/metrics";
import { OUTCOMES } from "../lambda/core/schema";
import type { WatchedAction } from "../lambda/core/watched-actions";

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
