/**
 * The access-pattern alarms and the dashboard in the synthesized template: each alarm's metric,
 * dimensions, threshold and missing-data rule, the alarm topic, the watched actions from props and
 * context, and a dashboard that shows every alarm of the stack and graphs the new metrics.
 */
import { type CfnElement, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { Alarm, Metric } from "aws-cdk-lib/aws-cloudwatch";
import { beforeAll, describe, expect, it } from "vitest";
import { accessMetricPoints } from "../../lambda/core/metrics";
import { OUTCOMES } from "../../lambda/core/schema";
import { createIngestMetrics } from "../../lambda/handlers/ingest";
import { ENV } from "../../lambda/runtime/config";
import { BufferedAccessMetrics } from "../../lambda/runtime/emf-metrics";
import { configureApp } from "../../lib/app";
import { Sealtrail } from "../../lib/sealtrail";
import { SealtrailStack } from "../../lib/sealtrail-stack";
import { emfDocumentsOf, expectEmfFeedsAlarm } from "../support/emf";
import { flatten, logicalId, newApp, TEST_CONTEXT } from "./helpers";

type Properties = Record<string, unknown>;

let stack: SealtrailStack;
let template: Template;
let topic: string;

const properties = (id: string) => template.toJSON().Resources[id].Properties as Properties;
const alarm = (prefix: string) =>
  properties(logicalId(template, "AWS::CloudWatch::Alarm", `SealtrailAccessAlarms${prefix}`));
const service = (value: string) => ({ Name: "service", Value: value });

beforeAll(() => {
  stack = configureApp(newApp({ ...TEST_CONTEXT }));
  template = Template.fromStack(stack);
  topic = logicalId(template, "AWS::SNS::Topic", "SealtrailAlarmTopic");
}, 120_000);

/** The metric an anomaly detection alarm watches, and its band. */
function anomalyParts(props: Properties) {
  const metrics = props.Metrics as {
    Id: string;
    Expression?: string;
    MetricStat?: { Metric: Properties; Period: number; Stat: string };
    ReturnData?: boolean;
  }[];
  const band = metrics.find((m) => m.Expression !== undefined);
  const watched = metrics.find((m) => m.MetricStat !== undefined);
  return { band, watched, thresholdMetricId: props.ThresholdMetricId };
}

describe("ingested events", () => {
  it("a drop below the anomaly band for 3 periods of 5 minutes, missing data BREACHING, alarms", () => {
    const drop = alarm("IngestDropAlarm");
    expect(drop).toMatchObject({
      ComparisonOperator: "LessThanLowerThreshold",
      EvaluationPeriods: 3,
      TreatMissingData: "breaching",
      AlarmActions: [{ Ref: topic }],
    });
    const { band, watched, thresholdMetricId } = anomalyParts(drop);
    expect(band?.Expression).toBe(`ANOMALY_DETECTION_BAND(${watched?.Id}, 2)`);
    expect(thresholdMetricId).toBe(band?.Id);
    expect(watched?.MetricStat).toEqual({
      Metric: {
        Namespace: "Sealtrail",
        MetricName: "EventsIngested",
        Dimensions: [service("sealtrail-ingest")],
      },
      Period: 300,
      Stat: "Sum",
    });
  });

  it("a spike above the band alarms, missing data not breaching", () => {
    const spike = alarm("IngestSpikeAlarm");
    expect(spike).toMatchObject({
      ComparisonOperator: "GreaterThanUpperThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topic }],
    });
    expect(anomalyParts(spike).watched?.MetricStat?.Metric).toEqual(
      anomalyParts(alarm("IngestDropAlarm")).watched?.MetricStat?.Metric,
    );
  });
});

describe("refused subject tokens", () => {
  it.each([
    { reason: "invalid_subject_token", threshold: 5 },
    { reason: "subject_token_tenant_mismatch", threshold: 1 },
  ])("$reason: SubjectTokensRefused >= $threshold in 5 minutes", ({ reason, threshold }) => {
    expect(alarm(`SubjectTokenRefused${reason.replaceAll("_", "")}`)).toMatchObject({
      Namespace: "Sealtrail",
      MetricName: "SubjectTokensRefused",
      Dimensions: [{ Name: "reason", Value: reason }, service("sealtrail-ingest")],
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: threshold,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topic }],
    });
  });

  it("watch what the ingest function's own metrics publish for a refusal (namespace, name, dimensions)", () => {
    // Prepare: the function's environment as deployed, the handler's Metrics behind the buffer it uses.
    const ingest = properties(logicalId(template, "AWS::Lambda::Function", "SealtrailIngestFunction"));
    const variables = (ingest.Environment as { Variables: Record<string, string> }).Variables;
    // Act: what the ingest service records for a token of another tenant, published as the handler does.
    const documents = emfDocumentsOf(variables, () => {
      const metrics = new BufferedAccessMetrics(createIngestMetrics());
      metrics.record(accessMetricPoints.subjectTokenRefused("subject_token_tenant_mismatch"));
      metrics.publish();
    });
    // Assess: one EMF document, with the alarm's namespace, metric, dimension names and values.
    expect(documents).toHaveLength(1);
    const refused = alarm("SubjectTokenRefusedsubjecttokentenantmismatch");
    expectEmfFeedsAlarm(documents[0], refused);
    expect(documents[0]?._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name)).toEqual([refused.MetricName]);
  });

  it("are alarmed apart from the stage's auth failures, which stay", () => {
    expect(
      properties(logicalId(template, "AWS::CloudWatch::Alarm", "SealtrailApiAuthFailureSpikeAlarm")),
    ).toMatchObject({ MetricName: "4xx", Threshold: 100 });
  });
});

describe("reads", () => {
  it("audit.read volume above the anomaly band alarms", () => {
    const spike = alarm("ReadSpikeAlarm");
    expect(spike).toMatchObject({
      ComparisonOperator: "GreaterThanUpperThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topic }],
    });
    expect(anomalyParts(spike).watched?.MetricStat?.Metric).toEqual({
      Namespace: "Sealtrail",
      MetricName: "AuditReads",
      Dimensions: [service("sealtrail-query")],
    });
  });

  it("any admin read of another tenant alarms", () => {
    expect(alarm("CrossTenantReadAlarm")).toMatchObject({
      Namespace: "Sealtrail",
      MetricName: "CrossTenantReads",
      Dimensions: [service("sealtrail-query")],
      Statistic: "Sum",
      Period: 300,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topic }],
    });
  });
});

describe("watched actions", () => {
  it("by default: failed user.login >= 20, one metric with the pattern and outcome as dimensions", () => {
    expect(alarm("WatchedActionuserloginfailure")).toMatchObject({
      Namespace: "Sealtrail",
      MetricName: "WatchedActions",
      Dimensions: [
        { Name: "outcome", Value: "failure" },
        { Name: "pattern", Value: "user.login" },
        service("sealtrail-ingest"),
      ],
      Statistic: "Sum",
      Period: 300,
      Threshold: 20,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topic }],
    });
  });

  it.each([
    "permission",
    "role",
  ])("by default: %s.* of every outcome >= 10, the sum of one metric per outcome", (prefix) => {
    const props = alarm(`WatchedAction${prefix}any`);
    expect(props).toMatchObject({ Threshold: 10, ComparisonOperator: "GreaterThanOrEqualToThreshold" });
    const metrics = props.Metrics as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: Properties };
    }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe(
      OUTCOMES.map((outcome) => `FILL(${outcome}, 0)`).join(" + "),
    );
    expect(metrics.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat?.Metric])).toEqual(
      OUTCOMES.map((outcome) => [
        outcome,
        {
          Namespace: "Sealtrail",
          MetricName: "WatchedActions",
          Dimensions: [
            { Name: "outcome", Value: outcome },
            { Name: "pattern", Value: `${prefix}.*` },
            service("sealtrail-ingest"),
          ],
        },
      ]),
    );
  });

  it("the ingest function counts the distinct patterns it is given", () => {
    const ingest = properties(logicalId(template, "AWS::Lambda::Function", "SealtrailIngestFunction"));
    const variables = (ingest.Environment as { Variables: Record<string, string> }).Variables;
    expect(JSON.parse(variables[ENV.watchedActions] as string)).toEqual([
      "user.login",
      "permission.*",
      "role.*",
    ]);
  });

  it("come from the watchedActions context as JSON, one alarm each", () => {
    const custom = Template.fromStack(
      configureApp(
        newApp({
          ...TEST_CONTEXT,
          stackName: "Watched",
          watchedActions: JSON.stringify([
            { pattern: "apikey.*", outcome: "success", threshold: 3 },
            { pattern: "tenant/delete", threshold: 1 },
          ]),
        }),
      ),
    );
    const watched = Object.values(custom.findResources("AWS::CloudWatch::Alarm")).filter((a) =>
      String(a.Properties.AlarmDescription).includes("watched action"),
    );
    expect(watched.map((a) => a.Properties.Threshold)).toEqual([3, 1]);
    custom.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "WatchedActions",
      Dimensions: [
        { Name: "outcome", Value: "success" },
        { Name: "pattern", Value: "apikey.*" },
        service("sealtrail-ingest"),
      ],
      Threshold: 3,
    });
  });

  it("an empty list watches nothing", () => {
    const none = new SealtrailStack(newApp(), "None", {
      issuer: TEST_CONTEXT.issuer,
      audience: ["sealtrail"],
      watchedActions: [],
    });
    expect(none.sealtrail.accessAlarms.watchedActions).toEqual([]);
  });

  it("a bad list is refused naming the entry and the fix; a bad context value names the key", () => {
    const build = (watchedActions: unknown) => () =>
      new Sealtrail(new Stack(newApp(), "Bad"), "Sealtrail", {
        issuer: TEST_CONTEXT.issuer,
        audience: ["sealtrail"],
        watchedActions: watchedActions as [],
      });
    expect(build([{ pattern: "role*", threshold: 1 }])).toThrow(
      /watchedActions\[0\]\.pattern "role\*" is not an action name nor a prefix ending in "\.\*"/,
    );
    expect(build([{ pattern: "role.*", threshold: 0 }])).toThrow(
      /watchedActions\[0\]\.threshold must be at least 1/,
    );
    expect(() => configureApp(newApp({ ...TEST_CONTEXT, watchedActions: "role.*" }))).toThrow(
      /context watchedActions must be a JSON array/,
    );
  });
});

describe("every access alarm", () => {
  it("is in Sealtrail.alarms and notifies the alarm topic", () => {
    const access = stack.sealtrail.accessAlarms.alarms;
    expect(access).toHaveLength(2 + 2 + 2 + 3);
    for (const a of access) expect(stack.sealtrail.alarms).toContain(a);
    const ids = access.map((a) => stack.getLogicalId(a.node.defaultChild as CfnElement));
    for (const id of ids) expect(properties(id).AlarmActions).toEqual([{ Ref: topic }]);
  });
});

describe("the dashboard", () => {
  const body = (t: Template) => {
    const [dashboard] = Object.values(t.findResources("AWS::CloudWatch::Dashboard"));
    return JSON.parse(flatten(dashboard?.Properties.DashboardBody)) as {
      widgets: { type: string; properties: Record<string, unknown> }[];
    };
  };

  it("shows the state of every alarm of the stack", () => {
    const alarmIds = Object.keys(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarmIds.length).toBeGreaterThanOrEqual(stack.sealtrail.alarms.length);
    const status = body(template).widgets.filter((w) => w.type === "alarm");
    const shown = status.flatMap((w) => w.properties.alarms as string[]);
    expect(shown.sort()).toEqual(alarmIds.map((id) => `<${id}.Arn>`).sort());
  });

  it("shows alarms pushed to Sealtrail.alarms after it was made", () => {
    const later = new SealtrailStack(newApp(), "Later", { issuer: TEST_CONTEXT.issuer, audience: ["a"] });
    const extra = new Alarm(later, "ExtraAlarm", {
      metric: new Metric({ namespace: "Sealtrail", metricName: "Extra" }),
      threshold: 1,
      evaluationPeriods: 1,
    });
    later.sealtrail.alarms.push(extra);
    const t = Template.fromStack(later);
    const shown = body(t)
      .widgets.filter((w) => w.type === "alarm")
      .flatMap((w) => w.properties.alarms as string[]);
    expect(shown).toContain(`<${logicalId(t, "AWS::CloudWatch::Alarm", "ExtraAlarm")}.Arn>`);
  });

  it("graphs every access metric, the anomaly bands and each watched pattern by outcome", () => {
    const graphs = body(template).widgets.filter((w) => w.type === "metric");
    const metricsOf = (title: string) => {
      const graph = graphs.find((w) => w.properties.title === title);
      expect(graph, title).toBeDefined();
      return JSON.stringify(graph?.properties.metrics);
    };
    const ingested = metricsOf("Ingested events per 5 minutes");
    expect(ingested).toContain('"Sealtrail","EventsIngested","service","sealtrail-ingest"');
    expect(ingested).toContain("ANOMALY_DETECTION_BAND");
    const reads = metricsOf("Reads per 5 minutes");
    expect(reads).toContain('"Sealtrail","AuditReads","service","sealtrail-query"');
    expect(reads).toContain('"Sealtrail","RecordsRead","service","sealtrail-query"');
    expect(reads).toContain("ANOMALY_DETECTION_BAND");
    const refusals = metricsOf("Cross-tenant admin reads, refused subject tokens");
    expect(refusals).toContain('"CrossTenantReads","service","sealtrail-query"');
    expect(refusals).toContain(
      '"SubjectTokensRefused","reason","invalid_subject_token","service","sealtrail-ingest"',
    );
    expect(refusals).toContain('"reason","subject_token_tenant_mismatch"');
    for (const pattern of ["user.login", "permission.*", "role.*"]) {
      const watched = metricsOf(`Watched: ${pattern}`);
      for (const outcome of OUTCOMES)
        expect(watched).toContain(
          `"outcome","${outcome}","pattern","${pattern}","service","sealtrail-ingest"`,
        );
    }
  });
});

describe("the alarm topic's key", () => {
  it("lets CloudWatch use it only for this account's alarms", () => {
    const key = properties(logicalId(template, "AWS::KMS::Key", "SealtrailAlarmKey"));
    const statements = (key.KeyPolicy as { Statement: Properties[] }).Statement;
    const cloudwatch = statements.filter(
      (statement) => (statement.Principal as Properties | undefined)?.Service === "cloudwatch.amazonaws.com",
    );
    expect(cloudwatch.length).toBeGreaterThan(0);
    for (const statement of cloudwatch) {
      expect(statement.Condition).toMatchObject({
        StringEquals: { "aws:SourceAccount": expect.anything() },
        ArnLike: { "aws:SourceArn": expect.anything() },
      });
    }
  });
});
