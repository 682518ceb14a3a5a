/**
 * The locked replica: the destination stack (`SealtrailReplicaStack`: bucket locked, encrypted,
 * versioned, the archive's own append-only policy, the source role admitted to replicate and nothing
 * else) and the source side (`replica` prop: the replication rule, the least-privilege role, the two
 * alarms), through the app's context too; cdk-nag clean.
 */
import type { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { configureApp } from "../../lib/app";
import { SealtrailReplicaStack } from "../../lib/replica";
import { REPLICATION_RULE_ID, type SealtrailReplicaDestination } from "../../lib/replication";
import { SealtrailStack } from "../../lib/sealtrail-stack";
import { asArray, flatten, logicalId, newApp, roleStatements, type Statement, TEST_CONTEXT } from "./helpers";

const SOURCE_ROLE_ARN = "arn:aws:iam::111111111111:role/Source-replication";
const REPLICA: SealtrailReplicaDestination = {
  bucketArn: "arn:aws:s3:::archive-replica-example",
  keyArn: "arn:aws:kms:eu-central-1:222222222222:key/0b6f2e4c-1d2a-4c8e-9f00-123456789abc",
};
const AUTH = { issuer: "https://issuer.example.com", audience: ["sealtrail"] };

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

function policyOf(template: Template, bucket: string): Statement[] {
  const policies = Object.values(template.findResources("AWS::S3::BucketPolicy")).filter(
    (policy) => (policy.Properties.Bucket as { Ref?: string }).Ref === bucket,
  );
  expect(policies).toHaveLength(1);
  return policies[0]?.Properties.PolicyDocument.Statement as Statement[];
}

/** A statement with its own bucket's references replaced, so two buckets' policies compare. */
const normalized = (statement: Statement, bucket: string) =>
  JSON.parse(JSON.stringify(statement).replaceAll(`"${bucket}"`, '"BUCKET"'));

function synth(replica: SealtrailReplicaDestination | undefined, retentionDays = 3650) {
  const app = newApp();
  const source = new SealtrailStack(app, "Source", { ...AUTH, retentionDays, replica });
  const destination = new SealtrailReplicaStack(app, "Replica", {
    sourceReplicationRoleArn: SOURCE_ROLE_ARN,
    retentionDays,
  });
  return { app, source: Template.fromStack(source), replica: Template.fromStack(destination) };
}

describe("the replica stack (SealtrailReplica)", () => {
  let template: Template;
  let resources: Record<string, Resource>;
  let bucket: string;
  let key: string;
  let source: Template;
  let archive: string;

  beforeAll(() => {
    ({ replica: template, source } = synth(REPLICA));
    resources = template.toJSON().Resources;
    bucket = logicalId(template, "AWS::S3::Bucket", "ReplicaReplicaBucket");
    key = logicalId(template, "AWS::KMS::Key", "ReplicaReplicaKey");
    archive = logicalId(source, "AWS::S3::Bucket", "SealtrailArchiveBucket");
  }, 120_000);

  it("is Object Lock COMPLIANCE with the given default retention, versioned and retained", () => {
    const props = resources[bucket]?.Properties ?? {};
    expect(props.ObjectLockEnabled).toBe(true);
    expect(props.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: "Enabled",
      Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 3650 } },
    });
    expect(props.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(resources[bucket]?.DeletionPolicy).toBe("Retain");
  });

  it("is SSE-KMS under its own rotated key with S3 Bucket Keys, TLS only, private, logged", () => {
    const props = resources[bucket]?.Properties ?? {};
    expect(props.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: "aws:kms",
            KMSMasterKeyID: { "Fn::GetAtt": [key, "Arn"] },
          },
        },
      ],
    });
    expect(resources[key]?.Properties.EnableKeyRotation).toBe(true);
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(props.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] });
    expect(
      flatten((props.LoggingConfiguration as { DestinationBucketName: unknown }).DestinationBucketName),
    ).toBe(`<${logicalId(template, "AWS::S3::Bucket", "ReplicaAccessLogBucket")}>`);
    const tlsOnly = policyOf(template, bucket).filter(
      (s) =>
        s.Effect === "Deny" &&
        JSON.stringify(s.Condition) === JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
    );
    expect(tlsOnly).toHaveLength(1);
  });

  it("has the source archive's append-only statements, word for word", () => {
    const sids = [
      "DenyObjectDeletionAndLockChanges",
      "DenyLockAndLifecycleChanges",
      "DenyPutWithoutIfNoneMatch",
      "DenyPutWithOtherIfNoneMatch",
    ];
    const pick = (statements: Statement[], logical: string) =>
      sids.map((sid) => normalized(statements.find((s) => s.Sid === sid) as Statement, logical));
    const replicaStatements = pick(policyOf(template, bucket), bucket);
    expect(replicaStatements.every((s) => s !== undefined)).toBe(true);
    expect(replicaStatements).toEqual(pick(policyOf(source, archive), archive));
    // Delete markers cannot arrive by replication either.
    const deletes = policyOf(template, bucket).find((s) => s.Sid === "DenyObjectDeletionAndLockChanges");
    expect(asArray(deletes?.Action)).toEqual(
      expect.arrayContaining(["s3:DeleteObjectVersion", "s3:ReplicateDelete"]),
    );
  });

  it("admits only the source's replication role, only to replicate objects and read versioning", () => {
    const allows = policyOf(template, bucket).filter((s) => s.Effect === "Allow");
    expect(allows.map((s) => [s.Sid, asArray(s.Action).sort(), flatten(asArray(s.Resource)[0])])).toEqual([
      ["AllowSourceReplicationToReplicate", ["s3:ReplicateObject", "s3:ReplicateTags"], `<${bucket}.Arn>/*`],
      ["AllowSourceReplicationToReadVersioning", ["s3:GetBucketVersioning"], `<${bucket}.Arn>`],
    ]);
    for (const statement of allows) {
      expect(flatten((statement.Principal as { AWS: unknown }).AWS)).toMatch(/:iam::111111111111:root$/);
      expect(statement.Condition).toEqual({ ArnEquals: { "aws:PrincipalArn": SOURCE_ROLE_ARN } });
    }
  });

  it("lets the source's role encrypt replicas with the key, through S3 only, and nothing else", () => {
    const statements = (resources[key]?.Properties.KeyPolicy as { Statement: Statement[] }).Statement;
    const forSource = statements.filter((s) => JSON.stringify(s.Principal).includes("111111111111"));
    expect(forSource).toHaveLength(1);
    expect(forSource[0]?.Action).toEqual(["kms:Encrypt", "kms:GenerateDataKey"]);
    expect(forSource[0]?.Condition?.ArnEquals).toEqual({ "aws:PrincipalArn": SOURCE_ROLE_ARN });
    expect(flatten(forSource[0]?.Condition?.StringEquals?.["kms:ViaService"])).toBe(
      "s3.<AWS::Region>.<AWS::URLSuffix>",
    );
  });

  it("outputs the bucket and key ARNs the source side takes", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(flatten(outputs.ReplicaBucketArn?.Value)).toBe(`<${bucket}.Arn>`);
    expect(flatten(outputs.ReplicaKeyArn?.Value)).toBe(`<${key}.Arn>`);
    expect(flatten(outputs.ReplicaBucketName?.Value)).toBe(`<${bucket}>`);
  });

  it("refuses a source role that is not a role ARN, and a retention out of range, naming both", () => {
    const app = newApp();
    expect(
      () =>
        new SealtrailReplicaStack(app, "Bad", {
          sourceReplicationRoleArn: "Source-replication",
          retentionDays: 0,
        }),
    ).toThrow(
      /sourceReplicationRoleArn must be an IAM role ARN[\s\S]*retentionDays must be a whole number from 1 to 36500/,
    );
  });
});

describe("the source side (replica prop)", () => {
  let template: Template;
  let archive: string;
  let role: string;

  beforeAll(() => {
    ({ source: template } = synth(REPLICA));
    archive = logicalId(template, "AWS::S3::Bucket", "SealtrailArchiveBucket");
    role = logicalId(template, "AWS::IAM::Role", "SealtrailReplicationRole");
  }, 120_000);

  const replication = () =>
    template.toJSON().Resources[archive].Properties.ReplicationConfiguration as {
      Role: unknown;
      Rules: Record<string, unknown>[];
    };

  it("replicates every object, SSE-KMS included, into the replica under the replica's key", () => {
    expect(flatten(replication().Role)).toBe(`<${role}.Arn>`);
    expect(replication().Rules).toEqual([
      {
        Id: REPLICATION_RULE_ID,
        Status: "Enabled",
        Priority: 0,
        Filter: { Prefix: "" },
        DeleteMarkerReplication: { Status: "Disabled" },
        SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: "Enabled" } },
        Destination: {
          Bucket: REPLICA.bucketArn,
          EncryptionConfiguration: { ReplicaKmsKeyID: REPLICA.keyArn },
          Metrics: { Status: "Enabled" },
        },
      },
    ]);
  });

  it("with timeControl, turns on S3 Replication Time Control and its 15-minute event threshold", () => {
    const { source } = synth({ ...REPLICA, timeControl: true });
    const rules = source.toJSON().Resources[archive].Properties.ReplicationConfiguration.Rules;
    expect(rules[0].Destination).toMatchObject({
      ReplicationTime: { Status: "Enabled", Time: { Minutes: 15 } },
      Metrics: { Status: "Enabled", EventThreshold: { Minutes: 15 } },
    });
  });

  it("has a named role S3 assumes, with exactly the replication actions: no delete, no put", () => {
    const props = template.toJSON().Resources[role].Properties;
    expect(props.RoleName).toBe("Source-replication");
    expect(props.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "s3.amazonaws.com" } },
    ]);
    const statements = roleStatements(template, role);
    expect(statements.every((s) => s.Effect === "Allow")).toBe(true);
    const summary = statements.map((s) => [
      s.Sid,
      asArray(s.Action).sort(),
      asArray(s.Resource).map(flatten),
    ]);
    expect(summary).toEqual([
      [
        "ReadReplicationConfiguration",
        ["s3:GetReplicationConfiguration", "s3:ListBucket"],
        [`<${archive}.Arn>`],
      ],
      [
        "ReadArchiveVersionsForReplication",
        [
          "s3:GetObjectLegalHold",
          "s3:GetObjectRetention",
          "s3:GetObjectVersionAcl",
          "s3:GetObjectVersionForReplication",
          "s3:GetObjectVersionTagging",
        ],
        [`<${archive}.Arn>/*`],
      ],
      ["ReadReplicaVersioning", ["s3:GetBucketVersioning"], [REPLICA.bucketArn]],
      ["ReplicateIntoReplica", ["s3:ReplicateObject", "s3:ReplicateTags"], [`${REPLICA.bucketArn}/*`]],
      [
        "DecryptArchiveThroughS3",
        ["kms:Decrypt"],
        [`<${logicalId(template, "AWS::KMS::Key", "SealtrailArchiveKey")}.Arn>`],
      ],
      ["EncryptReplicasThroughS3", ["kms:Encrypt", "kms:GenerateDataKey"], [REPLICA.keyArn]],
    ]);
    const via = (sid: string) =>
      flatten(statements.find((s) => s.Sid === sid)?.Condition?.StringEquals?.["kms:ViaService"]);
    expect(via("DecryptArchiveThroughS3")).toBe("s3.<AWS::Region>.<AWS::URLSuffix>");
    // The replica's key is used in the replica's region, read from its ARN.
    expect(via("EncryptReplicasThroughS3")).toBe("s3.eu-central-1.<AWS::URLSuffix>");
  });

  it("alarms on failed replication and on latency, on S3's own metrics, to the alarm topic", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")).filter(
      (alarm) => alarm.Properties.Namespace === "AWS/S3",
    );
    const topic = logicalId(template, "AWS::SNS::Topic", "SealtrailAlarmTopic");
    const byName: Record<string, Record<string, unknown>> = Object.fromEntries(
      alarms.map((alarm) => [alarm.Properties.MetricName, alarm.Properties]),
    );
    expect(Object.keys(byName).sort()).toEqual(["OperationsFailedReplication", "ReplicationLatency"]);
    for (const props of Object.values(byName)) {
      const dimensions = props.Dimensions as { Name: string; Value: unknown }[];
      expect(dimensions.map((d) => [d.Name, flatten(d.Value)])).toEqual([
        ["DestinationBucket", "archive-replica-example"],
        ["RuleId", REPLICATION_RULE_ID],
        ["SourceBucket", `<${archive}>`],
      ]);
      expect(props.AlarmActions).toEqual([{ Ref: topic }]);
    }
    expect(byName.OperationsFailedReplication).toMatchObject({
      Statistic: "Sum",
      Period: 300,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
    });
    expect(byName.ReplicationLatency).toMatchObject({
      Statistic: "Maximum",
      Threshold: 900,
      EvaluationPeriods: 3,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("puts both alarms in Sealtrail.alarms, which the dashboard shows", () => {
    const app = newApp();
    const stack = new SealtrailStack(app, "Source", { ...AUTH, replica: REPLICA });
    const names = stack.sealtrail.alarms.map((alarm) => alarm.node.path);
    expect(names).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/Replication\/FailedAlarm$/),
        expect.stringMatching(/Replication\/LatencyAlarm$/),
      ]),
    );
  });

  it("outputs the replication role's ARN, which the replica stack admits", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(flatten(outputs.ReplicationRoleArn?.Value)).toBe(`<${role}.Arn>`);
  });

  it("without the prop, no replication at all", () => {
    const app = newApp();
    const plain = Template.fromStack(new SealtrailStack(app, "Plain", AUTH));
    const bucket = logicalId(plain, "AWS::S3::Bucket", "SealtrailArchiveBucket");
    expect(plain.toJSON().Resources[bucket].Properties.ReplicationConfiguration).toBeUndefined();
    expect(
      Object.keys(plain.findResources("AWS::CloudWatch::Alarm", { Properties: { Namespace: "AWS/S3" } })),
    ).toEqual([]);
  });

  it("refuses a bucket ARN, a key alias and a latency that are not what they must be, naming each", () => {
    const app = newApp();
    expect(
      () =>
        new SealtrailStack(app, "Bad", {
          ...AUTH,
          replica: {
            bucketArn: "archive-replica",
            keyArn: "arn:aws:kms:eu-central-1:222222222222:alias/replica",
            latencyAlarmMinutes: 0,
          },
        }),
    ).toThrow(
      /replica\.bucketArn must be an S3 bucket ARN[\s\S]*replica\.keyArn must be a KMS key ARN \(not an alias\)[\s\S]*replica\.latencyAlarmMinutes/,
    );
  });
});

describe("the app's context", () => {
  let app: App;

  beforeAll(() => {
    app = newApp({
      ...TEST_CONTEXT,
      replicaBucketArn: REPLICA.bucketArn,
      replicaKeyArn: REPLICA.keyArn,
      replicaTimeControl: "true",
      replicaSourceRoleArn: "arn:aws:iam::111111111111:role/Sealtrail-replication",
    });
    configureApp(app);
  }, 120_000);

  it("builds the source with replication and the replica stack beside it", () => {
    const stacks = app.node.children.map((child) => child.node.id);
    expect(stacks).toEqual(["Sealtrail", "SealtrailReplica"]);
    const source = Template.fromStack(app.node.findChild("Sealtrail") as SealtrailStack);
    const bucket = logicalId(source, "AWS::S3::Bucket", "SealtrailArchiveBucket");
    const config = source.toJSON().Resources[bucket].Properties.ReplicationConfiguration;
    expect(config.Rules[0].Destination).toMatchObject({
      Bucket: REPLICA.bucketArn,
      ReplicationTime: { Status: "Enabled" },
    });
    const replica = Template.fromStack(app.node.findChild("SealtrailReplica") as SealtrailReplicaStack);
    expect(JSON.stringify(replica.toJSON())).toContain(
      "arn:aws:iam::111111111111:role/Sealtrail-replication",
    );
  });

  it("refuses a replica bucket without its key, naming the missing key", () => {
    const partial = newApp({ ...TEST_CONTEXT, replicaBucketArn: REPLICA.bucketArn });
    expect(() => configureApp(partial)).toThrow(/replicaKeyArn/);
  });

  it("passes cdk-nag AwsSolutions with nothing unacknowledged in either stack", () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
    );
    expect(findings).toEqual([]);
    expect(() => app.synth()).not.toThrow();
  });
});
