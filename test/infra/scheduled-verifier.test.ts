/**
 * The scheduled verifier in the synthesized template: the function (one at a time, not retried, ending
 * before the next run), its schedule (hourly unless configured, by prop or context), a role that can
 * read the archive, its versions and the index and never write or delete there, its own bucket (only
 * its role may put, nobody may delete), and its two alarms to the alarm topic.
 */
import { Duration, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { Key } from "aws-cdk-lib/aws-kms";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { Bucket } from "aws-cdk-lib/aws-s3";
import { Topic } from "aws-cdk-lib/aws-sns";
import { beforeAll, describe, expect, it } from "vitest";
import { VERIFIER_ENV, VERIFIER_METRICS } from "../../lambda/verify/scheduled-config";
import { configureApp } from "../../lib/app";
import { ScheduledVerifier } from "../../lib/scheduled-verifier";
import {
  asArray,
  flatten,
  functionRole,
  logicalId,
  matches,
  newApp,
  roleStatements,
  type Statement,
  synthesizeTestStack,
  TEST_CONTEXT,
  type TemplateResource,
} from "./helpers";

type Properties = Record<string, unknown>;

let template: Template;
let resources: Record<string, TemplateResource>;
let fnId: string;
let roleId: string;
let stateBucket: string;
let archiveBucket: string;
let table: string;
let topic: string;

const properties = (id: string) => resources[id]?.Properties ?? {};
const alarm = (prefix: string) =>
  properties(logicalId(template, "AWS::CloudWatch::Alarm", `SealtrailVerifier${prefix}`));

beforeAll(() => {
  // Prepare, Act
  ({ template, resources } = synthesizeTestStack());
  fnId = logicalId(template, "AWS::Lambda::Function", "SealtrailVerifierFunction");
  roleId = functionRole(template, "SealtrailVerifierFunction");
  stateBucket = logicalId(template, "AWS::S3::Bucket", "SealtrailVerifierStateBucket");
  archiveBucket = logicalId(template, "AWS::S3::Bucket", "SealtrailArchiveBucket");
  table = logicalId(template, "AWS::DynamoDB::Table", "SealtrailIndexTable");
  topic = logicalId(template, "AWS::SNS::Topic", "SealtrailAlarmTopic");
}, 120_000);

/** Whether a statement's resources name `logicalId` (its ARN, its objects, its name). */
const names = (statement: Statement, id: string) =>
  asArray(statement.Resource).some((resource) => flatten(resource).includes(`<${id}`));

describe("the verifier function", () => {
  it("runs one at a time, is not retried, ends before the next hourly run, and reads its configuration", () => {
    // Assess
    const fn = properties(fnId);
    expect(fn).toMatchObject({
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      ReservedConcurrentExecutions: 1,
    });
    expect(fn.Timeout).toBe(15 * 60);
    const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toMatchObject({
      [VERIFIER_ENV.bucket]: { Ref: archiveBucket },
      [VERIFIER_ENV.table]: { Ref: table },
      [VERIFIER_ENV.stateBucket]: { Ref: stateBucket },
      [VERIFIER_ENV.maxAgeSeconds]: "900",
      [VERIFIER_ENV.alarmTopicArn]: { Ref: topic },
      POWERTOOLS_SERVICE_NAME: VERIFIER_METRICS.service,
      POWERTOOLS_METRICS_NAMESPACE: VERIFIER_METRICS.namespace,
    });
    // The trusted key is the signing key's public key as the deployment read it back.
    expect(flatten(variables[VERIFIER_ENV.publicKey])).toMatch(
      /^<SealtrailCheckpointPublicKey\w*\.PublicKey>$/,
    );
    const invokeConfig = Object.values(template.findResources("AWS::Lambda::EventInvokeConfig")).find(
      (config) => flatten(config.Properties.FunctionName) === `<${fnId}>`,
    );
    expect(invokeConfig?.Properties).toMatchObject({ MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 });
  });

  it("is scheduled every hour by default, with no retry", () => {
    // Assess
    const rule = Object.values(template.findResources("AWS::Events::Rule")).find((r) =>
      asArray(r.Properties.Targets as { Arn: unknown }[]).some((t) => flatten(t.Arn) === `<${fnId}.Arn>`),
    );
    expect(rule?.Properties).toMatchObject({ ScheduleExpression: "rate(1 hour)", State: "ENABLED" });
    expect(rule?.Properties.Targets).toMatchObject([{ RetryPolicy: { MaximumRetryAttempts: 0 } }]);
  });
});

describe("the verifier role: read only on the archive", () => {
  const WRITES = [
    "s3:PutObject",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:BypassGovernanceRetention",
    "s3:PutBucketPolicy",
    "s3:PutLifecycleConfiguration",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
  ];

  it("may read the archive's objects, its chain link versions and its listing, and scan the index", () => {
    // Prepare
    const statements = roleStatements(template, roleId);
    const on = (id: string) => statements.filter((s) => s.Effect === "Allow" && names(s, id));
    // Assess
    const archive = on(archiveBucket);
    expect(archive.flatMap((s) => asArray(s.Action)).sort()).toEqual([
      "s3:GetObject",
      "s3:GetObjectVersion",
      "s3:ListBucket",
      "s3:ListBucketVersions",
    ]);
    expect(archive.flatMap((s) => asArray(s.Resource).map(flatten)).sort()).toEqual(
      [
        `<${archiveBucket}.Arn>`,
        `<${archiveBucket}.Arn>/chains/*`,
        `<${archiveBucket}.Arn>/chains/*`,
        `<${archiveBucket}.Arn>/checkpoints/*`,
        `<${archiveBucket}.Arn>/events/*`,
      ].sort(),
    );
    expect(on(table).flatMap((s) => asArray(s.Action))).toEqual(["dynamodb:Scan"]);
  });

  it("has no action that writes or deletes anywhere but its own bucket, and publishes only to the alarm topic", () => {
    // Prepare
    const statements = roleStatements(template, roleId).filter((s) => s.Effect === "Allow");
    // Assess
    for (const statement of statements) {
      const writes = asArray(statement.Action).filter((action) =>
        WRITES.some((write) => matches(action, write, true)),
      );
      if (writes.length === 0) continue;
      expect(writes).toEqual(["s3:PutObject"]);
      expect(asArray(statement.Resource).map(flatten)).toEqual([`<${stateBucket}.Arn>/*`]);
    }
    const publish = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith("sns:")));
    expect(publish).toHaveLength(1);
    expect(publish[0]?.Action).toBe("sns:Publish");
    expect(publish[0]?.Resource).toEqual({ Ref: topic });
  });
});

describe("the verifier's own bucket", () => {
  it("is versioned, encrypted, logged and retained; only the verifier may put, nobody may delete", () => {
    // Assess
    expect(properties(stateBucket)).toMatchObject({
      VersioningConfiguration: { Status: "Enabled" },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms" } }],
      },
      LoggingConfiguration: { LogFilePrefix: "verifier-state/" },
    });
    expect(resources[stateBucket]).toMatchObject({ DeletionPolicy: "Retain" });
    const policy = Object.values(template.findResources("AWS::S3::BucketPolicy")).find(
      (p) => flatten(p.Properties.Bucket) === `<${stateBucket}>`,
    );
    const statements = (policy?.Properties.PolicyDocument.Statement ?? []) as Statement[];
    const writes = statements.find((s) => s.Sid === "DenyWritesExceptByVerifier");
    expect(writes).toMatchObject({ Effect: "Deny", Principal: { AWS: "*" }, Action: "s3:PutObject" });
    expect(flatten(writes?.Condition?.ArnNotEquals?.["aws:PrincipalArn"])).toBe(`<${roleId}.Arn>`);
    expect(statements.find((s) => s.Sid === "DenyDeletion")).toMatchObject({
      Effect: "Deny",
      Principal: { AWS: "*" },
      Action: ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    });
  });
});

describe("the verifier's alarms", () => {
  const dimensions = [{ Name: "service", Value: VERIFIER_METRICS.service }];

  it("VerificationFailedAlarm: any failed run or finding in one period, to the alarm topic", () => {
    // Assess
    const failed = alarm("VerificationFailedAlarm");
    expect(failed).toMatchObject({
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topic }],
    });
    const metrics = failed.Metrics as { Id: string; Expression?: string; MetricStat?: Properties }[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe("failed + findings");
    for (const [id, name] of [
      ["failed", VERIFIER_METRICS.failed],
      ["findings", VERIFIER_METRICS.findings],
    ]) {
      expect(metrics.find((m) => m.Id === id)?.MetricStat).toEqual({
        Metric: { Namespace: VERIFIER_METRICS.namespace, MetricName: name, Dimensions: dimensions },
        Period: 3600,
        Stat: "Sum",
      });
    }
  });

  it("VerificationSilentAlarm: no verified checkpoint in two periods, missing data BREACHING", () => {
    // Assess
    expect(alarm("VerificationSilentAlarm")).toMatchObject({
      Namespace: VERIFIER_METRICS.namespace,
      MetricName: VERIFIER_METRICS.verifiedCheckpoint,
      Dimensions: dimensions,
      Statistic: "SampleCount",
      Period: 3600,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
      AlarmActions: [{ Ref: topic }],
    });
  });
});

describe("the verifier's schedule and maximum age, by context", () => {
  it("verificationPeriodMinutes and verificationMaxAgeMinutes set the schedule, the alarms' period, the timeout and --max-age", () => {
    // Prepare
    const app = newApp({ ...TEST_CONTEXT, verificationPeriodMinutes: "10", verificationMaxAgeMinutes: "30" });
    // Act
    const configured = Template.fromStack(configureApp(app));
    // Assess
    const fn =
      configured.toJSON().Resources[
        logicalId(configured, "AWS::Lambda::Function", "SealtrailVerifierFunction")
      ];
    expect(fn.Properties.Timeout).toBe(9 * 60);
    expect(fn.Properties.Environment.Variables[VERIFIER_ENV.maxAgeSeconds]).toBe("1800");
    configured.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(10 minutes)" });
    const silent =
      configured.toJSON().Resources[
        logicalId(configured, "AWS::CloudWatch::Alarm", "SealtrailVerifierVerificationSilentAlarm")
      ];
    expect(silent.Properties.Period).toBe(600);
  });
});

describe("the construct's props", () => {
  function build(props: { period?: Duration; maxAge?: Duration }): () => void {
    return () => {
      const stack = new Stack(newApp());
      const key = new Key(stack, "Key");
      const topicKey = new Key(stack, "TopicKey");
      new ScheduledVerifier(stack, "Verifier", {
        archiveBucket: new Bucket(stack, "Archive"),
        archiveKey: key,
        accessLogBucket: new Bucket(stack, "Logs"),
        checkpointPublicKey: "MFkw",
        alarmTopic: new Topic(stack, "Topic", { masterKey: topicKey }),
        alarmKey: topicKey,
        logRetention: RetentionDays.ONE_DAY,
        ...props,
      });
    };
  }

  it("refuses a period that is not whole minutes from 5 to 1440 and a maximum age under a minute, naming each", () => {
    // Act, Assess
    expect(build({ period: Duration.minutes(2), maxAge: Duration.seconds(30) })).toThrow(
      /verificationPeriod must be whole minutes from 5 to 1440, got 2 minutes[\s\S]*verificationMaxAge must be whole seconds and at least one minute, got 30 seconds/,
    );
    expect(build({ period: Duration.days(2) })).toThrow(/verificationPeriod must be whole minutes/);
    expect(build({ period: Duration.seconds(90) })).toThrow(/verificationPeriod must be whole minutes/);
    expect(build({ period: Duration.minutes(5), maxAge: Duration.minutes(1) })).not.toThrow();
  });
});
