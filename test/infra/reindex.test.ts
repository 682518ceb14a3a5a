import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { createReindexMetrics } from "../../lambda/handlers/reindex";
import { REINDEX_METRICS } from "../../lambda/ingest/reindex";
import { logicalId, synthesizeTestStack, type TemplateResource } from "./helpers";

let template: Template;
let resources: Record<string, TemplateResource>;
let topic: string;
let reindexFn: string;

const properties = (id: string) => resources[id]?.Properties ?? {};
const alarm = (prefix: string) => properties(logicalId(template, "AWS::CloudWatch::Alarm", prefix));

beforeAll(() => {
  // Prepare, Act
  ({ template, resources } = synthesizeTestStack());
  topic = logicalId(template, "AWS::SNS::Topic", "SealtrailAlarmTopic");
  reindexFn = logicalId(template, "AWS::Lambda::Function", "SealtrailReindexFunction");
}, 120_000);

describe("reindex alarms", () => {
  const serviceDimension = [{ Name: "service", Value: REINDEX_METRICS.service }];

  it.each([
    { alarmId: "SealtrailReindexLinksFailedAlarm", metricName: REINDEX_METRICS.linksFailed },
    { alarmId: "SealtrailReindexLinksRejectedAlarm", metricName: REINDEX_METRICS.linksRejected },
  ])("$alarmId fires on $metricName Sum >= 1 in 5 minutes, to the alarm topic", ({ alarmId, metricName }) => {
    // Assess
    expect(alarm(alarmId)).toMatchObject({
      Namespace: REINDEX_METRICS.namespace,
      MetricName: metricName,
      Dimensions: serviceDimension,
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topic }],
    });
    expect(String(alarm(alarmId).AlarmDescription)).toMatch(/reindex/);
  });

  it("watch the metrics the reindex handler emits: namespace, name and the one `service` dimension", () => {
    // Prepare: the environment the function gets.
    const variables = (properties(reindexFn).Environment as { Variables: Record<string, string> }).Variables;
    vi.stubEnv("POWERTOOLS_SERVICE_NAME", variables.POWERTOOLS_SERVICE_NAME);
    const metrics = createReindexMetrics();
    // Act
    metrics.addMetric(REINDEX_METRICS.linksFailed, "Count", 1);
    const emf = metrics.serializeMetrics() as unknown as {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    } & Record<string, unknown>;
    vi.unstubAllEnvs();
    // Assess: the EMF record's namespace, dimension set and values are the alarm's.
    const [directive] = emf._aws.CloudWatchMetrics;
    const failed = alarm("SealtrailReindexLinksFailedAlarm");
    expect(directive?.Namespace).toBe(failed.Namespace);
    expect(directive?.Dimensions).toEqual([(failed.Dimensions as { Name: string }[]).map((d) => d.Name)]);
    for (const { Name, Value } of failed.Dimensions as { Name: string; Value: string }[]) {
      expect(emf[Name]).toBe(Value);
    }
    expect(emf[REINDEX_METRICS.linksFailed]).toBe(1);
  });
});
