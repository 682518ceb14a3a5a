/**
 * The checkpoint run's infrastructure: the signing key and who may sign, the signer's state bucket, the
 * function and its schedule, its exact permissions, who else may write checkpoints/, the alarms, and the
 * public key output (the custom resource's code is tested in test/unit/public-key-reader.test.ts), and
 * that the metrics the signer's own code emits are the ones its alarms watch.
 */
import type { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { CHECKPOINT_ENV } from "../../lambda/checkpoint/config";
import { createCheckpointMetrics, publishOutcomeMetrics } from "../../lambda/handlers/checkpoint";
import { DEFAULT_CHAINS, ENV } from "../../lambda/runtime/config";
import { CHECKPOINT_SERVICE_NAME } from "../../lib/checkpoint";
import { SealtrailStack } from "../../lib/sealtrail-stack";
import { emfDocumentsOf, expectEmfFeedsAlarm } from "../support/emf";
import {
  allowsAction,
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

let app: App;
let template: Template;
let resources: Record<string, TemplateResource>;
let archive: string;
let archiveKey: string;
let signingKey: string;
let stateBucket: string;
let accessLogs: string;
let signerFn: string;
let signerRole: string;
let topic: string;

const signerArn = () => ({ "Fn::GetAtt": [signerRole, "Arn"] });
const properties = (id: string) => resources[id]?.Properties ?? {};
const keyPolicy = () => (properties(signingKey).KeyPolicy as { Statement: Statement[] }).Statement;
const bucketPolicy = (bucket: string): Statement[] => {
  const policies = Object.values(template.findResources("AWS::S3::BucketPolicy")).filter(
    (policy) => (policy.Properties.Bucket as { Ref?: string }).Ref === bucket,
  );
  expect(policies).toHaveLength(1);
  return policies[0]?.Properties.PolicyDocument.Statement as Statement[];
};
const roleIds = () => Object.keys(template.findResources("AWS::IAM::Role"));
const signerStatements = () => roleStatements(template, signerRole);
const signerAllows = (action: string) => signerStatements().filter((s) => allowsAction(s, action));
const resourcesOf = (statements: Statement[]) =>
  statements.flatMap((s) => asArray(s.Resource).map(flatten)).sort();
const alarm = (prefix: string) => properties(logicalId(template, "AWS::CloudWatch::Alarm", prefix));

beforeAll(() => {
  // Prepare, Act
  ({ app, template, resources } = synthesizeTestStack());
  archive = logicalId(template, "AWS::S3::Bucket", "SealtrailArchiveBucket");
  archiveKey = logicalId(template, "AWS::KMS::Key", "SealtrailArchiveKey");
  signingKey = logicalId(template, "AWS::KMS::Key", "SealtrailCheckpointSigningKey");
  stateBucket = logicalId(template, "AWS::S3::Bucket", "SealtrailCheckpointStateBucket");
  accessLogs = logicalId(template, "AWS::S3::Bucket", "SealtrailAccessLogBucket");
  signerFn = logicalId(template, "AWS::Lambda::Function", "SealtrailCheckpointFunction");
  signerRole = functionRole(template, "SealtrailCheckpointFunction");
  topic = logicalId(template, "AWS::SNS::Topic", "SealtrailAlarmTopic");
}, 120_000);

describe("signing key", () => {
  it("is an ECC_NIST_P256 SIGN_VERIFY key, retained, without rotation (asymmetric keys cannot rotate)", () => {
    expect(resources[signingKey]).toMatchObject({
      Properties: { KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", EnableKeyRotation: false },
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
  });

  it("allows kms:Sign in its key policy to the signer role alone", () => {
    const signers = keyPolicy().filter((s) => allowsAction(s, "kms:Sign"));
    expect(signers).toHaveLength(1);
    expect(signers[0]?.Principal).toEqual({ AWS: signerArn() });
    expect(signers[0]?.Condition).toBeUndefined();
  });

  it("denies kms:Sign to every principal whose ARN is not the signer role's", () => {
    const denials = keyPolicy().filter(
      (s) => s.Effect === "Deny" && asArray(s.Action).some((a) => matches(a, "kms:Sign", true)),
    );
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({ Principal: { AWS: "*" }, Resource: "*" });
    expect(denials[0]?.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": signerArn() } });
  });

  it("lets the account administer the key and read the public key, but neither sign nor create grants", () => {
    const account = keyPolicy().filter(
      (s) => s.Effect === "Allow" && flatten((s.Principal as { AWS?: unknown }).AWS).endsWith(":root"),
    );
    expect(account.length).toBeGreaterThan(0);
    const allowed = (action: string) => account.some((s) => allowsAction(s, action));
    for (const action of ["kms:Sign", "kms:CreateGrant", "kms:Verify", "kms:Decrypt", "kms:ReEncryptFrom"]) {
      expect(allowed(action), action).toBe(false);
    }
    // PutKeyPolicy keeps the key manageable (and satisfies KMS's lockout safety check for CloudFormation).
    for (const action of [
      "kms:PutKeyPolicy",
      "kms:DescribeKey",
      "kms:GetPublicKey",
      "kms:ScheduleKeyDeletion",
    ]) {
      expect(allowed(action), action).toBe(true);
    }
    const grants = keyPolicy().filter(
      (s) =>
        s.Effect === "Deny" && asArray(s.Action).includes("kms:CreateGrant") && s.Condition === undefined,
    );
    expect(grants).toHaveLength(1);
  });

  it("has kms:Sign and kms:GetPublicKey on the signing key in the signer role's own policy", () => {
    const sign = signerAllows("kms:Sign");
    expect(sign).toHaveLength(1);
    expect(asArray(sign[0]?.Action).sort()).toEqual(["kms:GetPublicKey", "kms:Sign"]);
    expect(asArray(sign[0]?.Resource)).toEqual([{ "Fn::GetAtt": [signingKey, "Arn"] }]);
  });

  it("is signed with by no other role's policy", () => {
    for (const role of roleIds().filter((id) => id !== signerRole)) {
      expect(
        roleStatements(template, role).filter((s) => allowsAction(s, "kms:Sign")),
        role,
      ).toEqual([]);
    }
  });
});

describe("signer function", () => {
  it("runs one at a time on ARM64 Node.js 24, within the minute, with 1024 MB and tracing", () => {
    expect(properties(signerFn)).toMatchObject({
      ReservedConcurrentExecutions: 1,
      Architectures: ["arm64"],
      Runtime: "nodejs24.x",
      Handler: "index.handler",
      MemorySize: 1024,
      TracingConfig: { Mode: "Active" },
    });
    const timeout = properties(signerFn).Timeout as number;
    expect(timeout).toBeGreaterThanOrEqual(30);
    expect(timeout).toBeLessThan(60);
  });

  it("gets exactly the configuration the runtime reads (lambda/checkpoint/config.ts), by name", () => {
    const variables = (properties(signerFn).Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables).toEqual({
      SEALTRAIL_BUCKET: { Ref: archive },
      SEALTRAIL_CHECKPOINT_STATE_BUCKET: { Ref: stateBucket },
      SEALTRAIL_CHECKPOINT_KEY_ID: { "Fn::GetAtt": [signingKey, "Arn"] },
      SEALTRAIL_CHAINS: String(DEFAULT_CHAINS),
      POWERTOOLS_SERVICE_NAME: "sealtrail-checkpoint",
      POWERTOOLS_METRICS_NAMESPACE: "Sealtrail",
      NODE_OPTIONS: "--enable-source-maps",
    });
    // The names are the runtime's own constants, so a rename on either side fails here.
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining([...Object.values(CHECKPOINT_ENV), ENV.chains]),
    );
  });

  it("is not retried by Lambda's asynchronous invocation: the next minute is the retry", () => {
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: signerFn },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it("logs to its own log group, kept for a year", () => {
    const logGroup = (properties(signerFn).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(resources[logGroup]?.Type).toBe("AWS::Logs::LogGroup");
    expect(properties(logGroup).RetentionInDays).toBe(365);
  });
});

describe("schedule", () => {
  it("invokes the signer every minute, with no EventBridge retry", () => {
    const rules = Object.values(template.findResources("AWS::Events::Rule")).filter((rule) =>
      JSON.stringify(rule.Properties.Targets).includes(signerFn),
    );
    expect(rules).toHaveLength(1);
    expect(rules[0]?.Properties).toMatchObject({ ScheduleExpression: "rate(1 minute)", State: "ENABLED" });
    expect(rules[0]?.Properties.Targets).toEqual([
      { Arn: { "Fn::GetAtt": [signerFn, "Arn"] }, Id: "Target0", RetryPolicy: { MaximumRetryAttempts: 0 } },
    ]);
  });

  it("may invoke the function (EventBridge permission scoped to the rule)", () => {
    const rule = logicalId(template, "AWS::Events::Rule", "SealtrailCheckpointSchedule");
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: { "Fn::GetAtt": [signerFn, "Arn"] },
      Principal: "events.amazonaws.com",
      SourceArn: { "Fn::GetAtt": [rule, "Arn"] },
    });
  });
});

describe("state bucket", () => {
  it("is versioned, SSE-KMS under the archive key with Bucket Keys, private, owner-enforced and retained", () => {
    expect(resources[stateBucket]).toMatchObject({
      Properties: {
        VersioningConfiguration: { Status: "Enabled" },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: {
                SSEAlgorithm: "aws:kms",
                KMSMasterKeyID: { "Fn::GetAtt": [archiveKey, "Arn"] },
              },
            },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      },
      DeletionPolicy: "Retain",
    });
  });

  it("logs access to the access-log bucket under its own prefix", () => {
    expect(properties(stateBucket).LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: accessLogs },
      LogFilePrefix: "checkpoint-state/",
    });
  });

  it("expires replaced state versions (the state is rewritten every minute) but never the current one", () => {
    const rules = (properties(stateBucket).LifecycleConfiguration as { Rules: Record<string, unknown>[] })
      .Rules;
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({
      Status: "Enabled",
      NoncurrentVersionExpiration: { NoncurrentDays: 90 },
    });
    expect(rules[0]).not.toHaveProperty("ExpirationInDays");
    expect(rules[0]).not.toHaveProperty("ExpirationDate");
  });

  it("accepts TLS requests only", () => {
    const tls = bucketPolicy(stateBucket).filter(
      (s) =>
        s.Effect === "Deny" &&
        JSON.stringify(s.Condition) === JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
    );
    expect(tls).toHaveLength(1);
    expect(tls[0]?.Action).toBe("s3:*");
  });

  it("denies every put to any principal but the signer role", () => {
    const puts = bucketPolicy(stateBucket).filter(
      (s) => s.Effect === "Deny" && asArray(s.Action).includes("s3:PutObject"),
    );
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ Principal: { AWS: "*" } });
    expect(resourcesOf(puts)).toEqual([`<${stateBucket}.Arn>/*`]);
    expect(puts[0]?.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": signerArn() } });
  });

  it("denies every principal, the signer included, any object deletion", () => {
    const deletes = bucketPolicy(stateBucket).filter(
      (s) =>
        s.Effect === "Deny" && s.Condition === undefined && asArray(s.Action).includes("s3:DeleteObject"),
    );
    expect(deletes).toHaveLength(1);
    expect(asArray(deletes[0]?.Action).sort()).toEqual(["s3:DeleteObject", "s3:DeleteObjectVersion"]);
    expect(deletes[0]).toMatchObject({ Principal: { AWS: "*" } });
    expect(resourcesOf(deletes)).toEqual([`<${stateBucket}.Arn>/*`]);
  });

  it("allows nothing to anyone in its bucket policy", () => {
    expect(bucketPolicy(stateBucket).filter((s) => s.Effect === "Allow")).toEqual([]);
  });
});

describe("signer permissions (least privilege)", () => {
  it("are exactly these actions, none of them a delete or a wildcard", () => {
    const actions = [...new Set(signerStatements().flatMap((s) => asArray(s.Action)))].sort();
    expect(actions).toEqual(
      [
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:GetPublicKey",
        "kms:Sign",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:ListBucketVersions",
        "s3:PutObject",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
      ].sort(),
    );
    expect(signerStatements().every((s) => s.Effect === "Allow")).toBe(true);
  });

  it("put only under checkpoints/ in the archive, and into the state bucket", () => {
    expect(resourcesOf(signerAllows("s3:PutObject"))).toEqual(
      [`<${archive}.Arn>/checkpoints/*`, `<${stateBucket}.Arn>/*`].sort(),
    );
  });

  it("read chains/ and checkpoints/ in the archive, and the state", () => {
    expect(resourcesOf(signerAllows("s3:GetObject"))).toEqual(
      [`<${archive}.Arn>/chains/*`, `<${archive}.Arn>/checkpoints/*`, `<${stateBucket}.Arn>/*`].sort(),
    );
  });

  it("list the archive, with versions, only under chains/ and checkpoints/", () => {
    const archiveLists = signerStatements().filter(
      (s) =>
        (allowsAction(s, "s3:ListBucket") || allowsAction(s, "s3:ListBucketVersions")) &&
        resourcesOf([s]).includes(`<${archive}.Arn>`),
    );
    expect(archiveLists).toHaveLength(1);
    expect(asArray(archiveLists[0]?.Action).sort()).toEqual(["s3:ListBucket", "s3:ListBucketVersions"]);
    expect(resourcesOf(archiveLists)).toEqual([`<${archive}.Arn>`]);
    expect(archiveLists[0]?.Condition).toEqual({
      StringLike: { "s3:prefix": ["chains/*", "checkpoints/*"] },
    });
  });

  it("list the state bucket (so a missing state reads as 404), without versions", () => {
    const stateLists = signerStatements().filter((s) => resourcesOf([s]).includes(`<${stateBucket}.Arn>`));
    expect(stateLists).toHaveLength(1);
    expect(stateLists[0]?.Action).toBe("s3:ListBucket");
  });

  it("use the archive key only through S3, to decrypt and to generate data keys", () => {
    const archiveKeyUse = signerStatements().filter((s) => resourcesOf([s]).includes(`<${archiveKey}.Arn>`));
    expect(archiveKeyUse).toHaveLength(1);
    expect(asArray(archiveKeyUse[0]?.Action).sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
    expect(flatten(archiveKeyUse[0]?.Condition?.StringEquals?.["kms:ViaService"])).toBe(
      "s3.<AWS::Region>.<AWS::URLSuffix>",
    );
  });
});

describe("nobody else writes checkpoints/", () => {
  /** Any Allow of s3:PutObject whose resource covers a key under checkpoints/ in the archive. */
  const checkpointPuts = (role: string) => {
    const sample = `<${archive}.Arn>/checkpoints/00000000000000000001.jws`;
    return roleStatements(template, role).filter(
      (s) => allowsAction(s, "s3:PutObject") && resourcesOf([s]).some((r) => matches(r, sample)),
    );
  };

  it("ingest may put only under events/ and chains/, reindex not at all", () => {
    const ingest = functionRole(template, "SealtrailIngestFunction");
    const reindex = functionRole(template, "SealtrailReindexFunction");
    expect(
      resourcesOf(roleStatements(template, ingest).filter((s) => allowsAction(s, "s3:PutObject"))),
    ).toEqual([`<${archive}.Arn>/chains/*`, `<${archive}.Arn>/events/*`]);
    expect(roleStatements(template, reindex).filter((s) => allowsAction(s, "s3:PutObject"))).toEqual([]);
    expect(checkpointPuts(ingest)).toEqual([]);
    expect(checkpointPuts(reindex)).toEqual([]);
  });

  it("no role but the signer's may put under checkpoints/", () => {
    const writers = roleIds().filter((role) => checkpointPuts(role).length > 0);
    expect(writers).toEqual([signerRole]);
  });

  it("the archive bucket policy denies puts under checkpoints/ to every principal but the signer role", () => {
    const denials = bucketPolicy(archive).filter(
      (s) =>
        s.Effect === "Deny" &&
        asArray(s.Action).includes("s3:PutObject") &&
        JSON.stringify(s.Condition).includes("aws:PrincipalArn"),
    );
    expect(denials).toHaveLength(1);
    expect(denials[0]).toMatchObject({ Principal: { AWS: "*" } });
    expect(resourcesOf(denials)).toEqual([`<${archive}.Arn>/checkpoints/*`]);
    expect(denials[0]?.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": signerArn() } });
  });

  it("the archive keeps its append-only policy, which applies to the signer too", () => {
    const conditions = bucketPolicy(archive)
      .filter((s) => s.Effect === "Deny" && asArray(s.Action).includes("s3:PutObject"))
      .map((s) => s.Condition);
    expect(conditions).toEqual(
      expect.arrayContaining([
        { Null: { "s3:if-none-match": "true" } },
        { StringNotEquals: { "s3:if-none-match": "*" } },
      ]),
    );
    const deletes = bucketPolicy(archive).filter(
      (s) =>
        s.Effect === "Deny" &&
        s.Condition === undefined &&
        asArray(s.Action).includes("s3:DeleteObjectVersion"),
    );
    expect(deletes).toHaveLength(1);
  });
});

describe("alarms", () => {
  const serviceDimension = [{ Name: "service", Value: CHECKPOINT_SERVICE_NAME }];

  it("fire when the signer refuses to sign: CheckpointRefused Sum >= 1 in 5 minutes", () => {
    expect(alarm("SealtrailCheckpointRefusedAlarm")).toMatchObject({
      Namespace: "Sealtrail",
      MetricName: "CheckpointRefused",
      Dimensions: serviceDimension,
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      AlarmActions: [{ Ref: topic }],
    });
  });

  it("fire when checkpoints go stale: CheckpointSigned Sum < 1 for 3 periods of 5 minutes, missing data breaching", () => {
    expect(alarm("SealtrailCheckpointStaleAlarm")).toMatchObject({
      Namespace: "Sealtrail",
      MetricName: "CheckpointSigned",
      Dimensions: serviceDimension,
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 3,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
      AlarmActions: [{ Ref: topic }],
    });
    expect(alarm("SealtrailCheckpointStaleAlarm").DatapointsToAlarm ?? 3).toBe(3);
  });

  it("fire when a checkpoint run fails with an error", () => {
    expect(alarm("SealtrailCheckpointErrorsAlarm")).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: signerFn } }],
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: [{ Ref: topic }],
    });
  });

  it("watch what the signer's own code emits for a refusal: namespace, metric name and the `service` dimension", () => {
    // Prepare: the function's environment as deployed.
    const variables = (properties(signerFn).Environment as { Variables: Record<string, string> }).Variables;
    // Act: the handler's metric recording for a refused run.
    const documents = emfDocumentsOf(variables, () =>
      publishOutcomeMetrics(createCheckpointMetrics(), { status: "refused", reasons: ["chain 0 rewritten"] }),
    );
    // Assess: one EMF document, naming the alarm's namespace, metric and dimensions with their values.
    expect(documents).toHaveLength(1);
    const refused = alarm("SealtrailCheckpointRefusedAlarm");
    expectEmfFeedsAlarm(documents[0], refused);
    expect(documents[0]?.[refused.MetricName as string]).toBe(1);
  });

  it("watch what the signer's own code emits for a signed run (the staleness alarm's metric)", () => {
    const variables = (properties(signerFn).Environment as { Variables: Record<string, string> }).Variables;
    const documents = emfDocumentsOf(variables, () =>
      publishOutcomeMetrics(createCheckpointMetrics(), { status: "signed", seq: 3, newLinks: 2, chains: 16 }),
    );
    expectEmfFeedsAlarm(documents[0], alarm("SealtrailCheckpointStaleAlarm"));
  });

  it("fire on a 4xx spike on the API stage (auth failures), 100 per 5 minutes by default", () => {
    const api = logicalId(template, "AWS::ApiGatewayV2::Api", "SealtrailApi");
    expect(alarm("SealtrailApiAuthFailureSpikeAlarm")).toMatchObject({
      Namespace: "AWS/ApiGateway",
      MetricName: "4xx",
      Dimensions: [
        { Name: "ApiId", Value: { Ref: api } },
        { Name: "Stage", Value: "$default" },
      ],
      Statistic: "Sum",
      Period: 300,
      Threshold: 100,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: [{ Ref: topic }],
    });
  });

  it("take the 4xx threshold from authFailureAlarmThreshold, and refuse one below 1", () => {
    const props = { issuer: TEST_CONTEXT.issuer, audience: ["sealtrail"] };
    const stack = new SealtrailStack(newApp(), "Custom", { ...props, authFailureAlarmThreshold: 7 });
    const custom = Template.fromStack(stack);
    custom.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "4xx", Threshold: 7 });
    expect(() => new SealtrailStack(newApp(), "Bad", { ...props, authFailureAlarmThreshold: 0 })).toThrow(
      /authFailureAlarmThreshold must be a whole number from 1/,
    );
  });
});

describe("public key output", () => {
  const reader = () => logicalId(template, "AWS::Lambda::Function", "SealtrailCheckpointPublicKeyReader");
  const customResource = () =>
    logicalId(template, "Custom::SealtrailCheckpointPublicKey", "SealtrailCheckpoint");

  it("outputs CheckpointKeyArn and CheckpointPublicKey, read from the signing key at deployment", () => {
    const outputs = template.toJSON().Outputs;
    expect(outputs.CheckpointKeyArn.Value).toEqual({ "Fn::GetAtt": [signingKey, "Arn"] });
    expect(outputs.CheckpointPublicKey.Value).toEqual({ "Fn::GetAtt": [customResource(), "PublicKey"] });
    expect(properties(customResource())).toEqual({
      ServiceToken: { "Fn::GetAtt": [reader(), "Arn"] },
      KeyId: { "Fn::GetAtt": [signingKey, "Arn"] },
    });
  });

  it("is read by a function whose role may only GetPublicKey on the signing key (and write its logs)", () => {
    const role = functionRole(template, "SealtrailCheckpointPublicKeyReader");
    const statements = roleStatements(template, role);
    const kms = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith("kms:")));
    expect(kms).toHaveLength(1);
    expect(kms[0]?.Action).toBe("kms:GetPublicKey");
    expect(asArray(kms[0]?.Resource)).toEqual([{ "Fn::GetAtt": [signingKey, "Arn"] }]);
    expect(statements.flatMap((s) => asArray(s.Action)).filter((a) => !a.startsWith("logs:"))).toEqual([
      "kms:GetPublicKey",
    ]);
    expect(properties(reader())).toMatchObject({ Runtime: "nodejs24.x", Handler: "index.handler" });
  });
});

describe("cdk-nag AwsSolutions", () => {
  it("finds nothing unacknowledged in the checkpoint signer", () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    const findings = report.violations
      .filter((v) => v.violatingResources.some((r) => r.constructPath?.includes("/Checkpoint")))
      .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(", ")}`);
    expect(findings).toEqual([]);
  });
});
