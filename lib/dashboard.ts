/**
 * One CloudWatch dashboard for the archive: the state of every alarm of the stack, then graphs of the
 * access metrics (ingested events and reads against their anomaly bands, cross-tenant reads, refused
 * subject tokens, each watched pattern by outcome).
 */
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type IAlarm,
  Metric,
  TextWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import { Construct } from "constructs";
import { accessMetricPoints, SUBJECT_TOKEN_REFUSALS } from "../lambda/core/metrics";
import { OUTCOMES } from "../lambda/core/schema";
import { type WatchedAction, watchedPatterns } from "../lambda/core/watched-actions";
import { ANOMALY_BAND_STANDARD_DEVIATIONS, accessMetric } from "./alarms";

export interface SealtrailDashboardProps {
  /**
   * The alarms shown (`Sealtrail.alarms`). The list is read when the stack is synthesized, so alarms
   * pushed to it after the dashboard was made are shown too.
   */
  readonly alarms: readonly IAlarm[];
  /** Each distinct pattern gets a graph of its events by outcome. */
  readonly watchedActions: readonly WatchedAction[];
}

const FULL_WIDTH = 24;
const GRAPH = { width: 8, height: 6 } as const;

export class SealtrailDashboard extends Construct {
  public readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: SealtrailDashboardProps) {
    super(scope, id);
    this.dashboard = new Dashboard(this, "Resource");

    const band = (metric: Metric) =>
      Metric.anomalyDetectionFor({
        metric,
        stdDevs: ANOMALY_BAND_STANDARD_DEVIATIONS,
        label: "expected band",
      });
    const ingested = accessMetric(accessMetricPoints.eventsIngested(0), { label: "events ingested" });
    const reads = accessMetric(accessMetricPoints.read(), { label: "reads (audit.read)" });

    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          "# sealtrail\nWhat each alarm means and what to do: docs/operations.md, *When an alarm fires*.",
        width: FULL_WIDTH,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new AlarmStatusWidget({
        title: "Every sealtrail alarm",
        // The live list: alarms added after this construct still appear (see the props).
        alarms: props.alarms as IAlarm[],
        width: FULL_WIDTH,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: "Ingested events per 5 minutes", left: [ingested, band(ingested)], ...GRAPH }),
      new GraphWidget({
        title: "Reads per 5 minutes",
        left: [reads, band(reads)],
        right: [accessMetric(accessMetricPoints.recordsRead(0), { label: "records returned" })],
        ...GRAPH,
      }),
      new GraphWidget({
        title: "Cross-tenant admin reads, refused subject tokens",
        left: [
          accessMetric(accessMetricPoints.crossTenantRead(), { label: "cross-tenant reads" }),
          ...SUBJECT_TOKEN_REFUSALS.map((reason) =>
            accessMetric(accessMetricPoints.subjectTokenRefused(reason), { label: reason }),
          ),
        ],
        ...GRAPH,
      }),
    );
    const patternGraphs = watchedPatterns(props.watchedActions).map(
      (pattern) =>
        new GraphWidget({
          title: `Watched: ${pattern}`,
          left: OUTCOMES.map((outcome) =>
            accessMetric(accessMetricPoints.watchedAction(pattern, outcome, 0), { label: outcome }),
          ),
          stacked: true,
          ...GRAPH,
        }),
    );
    for (let i = 0; i < patternGraphs.length; i += 3)
      this.dashboard.addWidgets(...patternGraphs.slice(i, i + 3));
  }
}
