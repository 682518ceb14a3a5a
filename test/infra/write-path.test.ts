/** The HTTP API, the functions, their permissions, the reindex schedule, alarms and outputs. */

import { Match, type Template } from "aws-cdk-lib/assertions";
import { Runtime } from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_WATCHED_PATTERNS } from "../../lambda/core/watched-actions";
import {
  DEFAULT_CHAINS,
  DEFAULT_LEASE_SECONDS,
  DEFAULT_SCOPES,
  DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS,
  ENV,
} from "../../lambda/runtime/config";
import {
  asArray,
  flatten,
  functionRole,
  logicalId,
  roleStatements,
  type Statement,
  synthesizeTestStack,
  TEST_CONTEXT,
} from "./helpers";

let template: Template;
let resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
let archive: string;
let table: string;
let archiveKey: string;
const fn = (prefix: string) =>
  resources[logicalId(template, "AWS::Lambda::Function", prefix)]?.Properties ?? {};

beforeAll(() => {
  // Prepare, Act
  ({ template, resources } = synthesizeTestStack());
  archive = logicalId(template, "AWS::S3::Bucket", "SealtrailArchiveBucket");
  table = logicalId(template, "AWS::DynamoDB::Table", "SealtrailIndexTable");
  archiveKey = logicalId(template, "AWS::KMS::Key", "SealtrailArchiveKey");
}, 120_000);

describe("HTTP API", () => {
  it("has a JWT authorizer with the issuer and audiences from context", () => {
    template.resourceCountIs("AWS::ApiGatewayV2::Authorizer", 1);
    template.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: { Issuer: TEST_CONTEXT.issuer, Audience: TEST_CONTEXT.audience.split(",") },
    });
  });

  it("routes POST /v1/events to the ingest function, requiring the write scope", () => {
    const authorizer = logicalId(template, "AWS::ApiGatewayV2::Authorizer", "SealtrailApiJwtAuthorizer");
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
      RouteKey: "POST /v1/events",
      AuthorizationType: "JWT",
      AuthorizerId: { Ref: authorizer },
      AuthorizationScopes: [DEFAULT_SCOPES.write],
    });
    const ingest = logicalId(template, "AWS::Lambda::Function", "SealtrailIngestFunction");
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      IntegrationUri: { "Fn::GetAtt": [ingest, "Arn"] },
      PayloadFormatVersion: "2.0",
    });
  });

  it("has no route without the JWT authorizer", () => {
    for (const route of Object.values(template.findResources("AWS::ApiGatewayV2::Route"))) {
      expect(route.Properties.AuthorizationType).toBe("JWT");
    }
  });

  it("writes JSON access logs with request id, subject, session, route, method, status, time and ip", () => {
    const stage = Object.values(template.findResources("AWS::ApiGatewayV2::Stage"));
    expect(stage).toHaveLength(1);
    const settings = stage[0]?.Properties.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(flatten(settings.DestinationArn)).toMatch(/^<SealtrailApiAccessLogs\w+\.Arn>$/);
    expect(JSON.parse(settings.Format)).toMatchObject({
      requestId: "$context.requestId",
      sub: "$context.authorizer.claims.sub",
      session: "$context.authorizer.claims.sid",
      routeKey: "$context.routeKey",
      httpMethod: "$context.httpMethod",
      status: "$context.status",
      requestTime: "$context.requestTime",
      requestTimeEpoch: "$context.requestTimeEpoch",
      ip: "$context.identity.sourceIp",
    });
  });

  it("is the auto-deployed $default stage with a throttling default", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
  });

  it("keeps the access logs for a year", () => {
    const [stage] = Object.values(template.findResources("AWS::ApiGatewayV2::Stage"));
    const destination = (stage?.Properties.AccessLogSettings as { DestinationArn?: unknown } | undefined)
      ?.DestinationArn;
    const logGroup = flatten(destination).slice(1, -".Arn>".length);
    expect(resources[logGroup]?.Properties.RetentionInDays).toBe(365);
  });
});

describe("functions", () => {
  it("run on ARM64 with the newest Node.js runtime aws-cdk-lib offers", () => {
    const newest = Object.keys(Runtime)
      .map((name) => /^NODEJS_(\d+)_X$/.exec(name)?.[1])
      .filter((major): major is string => major !== undefined)
      .map(Number)
      .sort((a, b) => b - a)[0];
    expect(newest).toBeGreaterThanOrEqual(24);
    for (const prefix of ["SealtrailIngestFunction", "SealtrailReindexFunction"]) {
      expect(fn(prefix), prefix).toMatchObject({
        Architectures: ["arm64"],
        Runtime: `nodejs${newest}.x`,
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
      });
    }
  });

  it("get the configuration lambda/runtime/config.ts reads, by its ENV names", () => {
    for (const [prefix, service] of [
      ["SealtrailIngestFunction", "sealtrail-ingest"],
      ["SealtrailReindexFunction", "sealtrail-reindex"],
    ] as const) {
      const variables = (fn(prefix).Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables, prefix).toEqual({
        [ENV.bucket]: { Ref: archive },
        [ENV.table]: { Ref: table },
        [ENV.chains]: String(DEFAULT_CHAINS),
        [ENV.writeScope]: DEFAULT_SCOPES.write,
        [ENV.readScope]: DEFAULT_SCOPES.read,
        [ENV.adminScope]: DEFAULT_SCOPES.admin,
        [ENV.subjectIssuers]: "[]",
        [ENV.leaseSeconds]: String(DEFAULT_LEASE_SECONDS),
        [ENV.subjectTokenLeewaySeconds]: String(DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS),
        [ENV.watchedActions]: JSON.stringify(DEFAULT_WATCHED_PATTERNS),
        POWERTOOLS_SERVICE_NAME: service,
        POWERTOOLS_METRICS_NAMESPACE: "Sealtrail",
        NODE_OPTIONS: "--enable-source-maps",
      });
    }
  });

  it("log to their own log groups with a retention", () => {
    for (const prefix of ["SealtrailIngestFunction", "SealtrailReindexFunction"]) {
      const logGroup = (fn(prefix).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(resources[logGroup]?.Type).toBe("AWS::Logs::LogGroup");
      expect(resources[logGroup]?.Properties.RetentionInDays).toBe(365);
    }
  });

  it("ingest answers within the HTTP API's 30 s limit", () => {
    expect(fn("SealtrailIngestFunction").Timeout).toBeLessThan(30);
  });
});

describe("IAM (least privilege)", () => {
  const statementsOf = (prefix: string): Statement[] =>
    roleStatements(template, functionRole(template, prefix));
  const actionsOf = (prefix: string) => statementsOf(prefix).flatMap((s) => asArray(s.Action));
  const allows = (prefix: string, action: string) =>
    statementsOf(prefix).filter((s) => s.Effect === "Allow" && asArray(s.Action).includes(action));

  const readWriteIndex = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
  ];
  const common = [
    ...readWriteIndex,
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "s3:GetObject",
    "s3:ListBucket",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
  ];

  it("grants the function roles exactly the listed actions, no managed policies", () => {
    expect([...new Set(actionsOf("SealtrailIngestFunction"))].sort()).toEqual(
      [...common, "s3:PutObject"].sort(),
    );
    expect([...new Set(actionsOf("SealtrailReindexFunction"))].sort()).toEqual([...common].sort());
  });

  it("never allows deletes, retention or legal hold changes, governance bypass or wildcard actions", () => {
    const forbidden =
      /Delete|PutObjectRetention|PutObjectLegalHold|BypassGovernanceRetention|ObjectLockConfiguration|Lifecycle|\*/;
    for (const prefix of ["SealtrailIngestFunction", "SealtrailReindexFunction"]) {
      expect(
        actionsOf(prefix).filter((action) => forbidden.test(action)),
        prefix,
      ).toEqual([]);
    }
  });

  it("lets ingest PutObject only under events/ and chains/, and reindex not at all", () => {
    const puts = allows("SealtrailIngestFunction", "s3:PutObject");
    expect(puts.flatMap((s) => asArray(s.Resource).map(flatten)).sort()).toEqual([
      `<${archive}.Arn>/chains/*`,
      `<${archive}.Arn>/events/*`,
    ]);
    expect(puts.every((s) => asArray(s.Action).length === 1)).toBe(true);
    expect(allows("SealtrailReindexFunction", "s3:PutObject")).toEqual([]);
  });

  it("gives no function any access to checkpoints/", () => {
    for (const prefix of ["SealtrailIngestFunction", "SealtrailReindexFunction"]) {
      expect(JSON.stringify(statementsOf(prefix)), prefix).not.toContain("checkpoints");
    }
  });

  it("reads objects under events/ and chains/ only, and lists only the chains/ prefix", () => {
    for (const prefix of ["SealtrailIngestFunction", "SealtrailReindexFunction"]) {
      expect(
        allows(prefix, "s3:GetObject")
          .flatMap((s) => asArray(s.Resource).map(flatten))
          .sort(),
      ).toEqual([`<${archive}.Arn>/chains/*`, `<${archive}.Arn>/events/*`]);
      const list = allows(prefix, "s3:ListBucket");
      expect(list).toHaveLength(1);
      expect(asArray(list[0]?.Resource).map(flatten)).toEqual([`<${archive}.Arn>`]);
      expect(list[0]?.Condition).toEqual({ StringLike: { "s3:prefix": ["chains/*"] } });
    }
  });

  it("uses the archive key only through S3 and DynamoDB", () => {
    for (const prefix of ["SealtrailIngestFunction", "SealtrailReindexFunction"]) {
      const kms = statementsOf(prefix).filter((s) => asArray(s.Action).some((a) => a.startsWith("kms:")));
      expect(kms).toHaveLength(1);
      expect(asArray(kms[0]?.Resource).map(flatten)).toEqual([`<${archiveKey}.Arn>`]);
      const viaServices = asArray(kms[0]?.Condition?.StringEquals?.["kms:ViaService"]).map(flatten);
      expect(viaServices.sort()).toEqual([
        "dynamodb.<AWS::Region>.<AWS::URLSuffix>",
        "s3.<AWS::Region>.<AWS::URLSuffix>",
      ]);
    }
  });

  it("reads and writes index items on the table and its indexes, without DeleteItem or table administration", () => {
    for (const prefix of ["SealtrailIngestFunction", "SealtrailReindexFunction"]) {
      const dynamo = statementsOf(prefix).filter((s) =>
        asArray(s.Action).some((a) => a.startsWith("dynamodb:")),
      );
      expect(dynamo).toHaveLength(1);
      expect(asArray(dynamo[0]?.Action).sort()).toEqual(readWriteIndex);
      expect(asArray(dynamo[0]?.Resource).map(flatten).sort()).toEqual([
        `<${table}.Arn>`,
        `<${table}.Arn>/index/*`,
      ]);
    }
  });
});

describe("reindex schedule", () => {
  it("runs the reindex function every 5 minutes", () => {
    const reindex = logicalId(template, "AWS::Lambda::Function", "SealtrailReindexFunction");
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [reindex, "Arn"] } })],
    });
  });
});

describe("alarms", () => {
  it("publish to a KMS-encrypted topic that accepts TLS only", () => {
    const alarmKey = logicalId(template, "AWS::KMS::Key", "SealtrailAlarmKey");
    template.hasResourceProperties("AWS::SNS::Topic", {
      KmsMasterKeyId: { "Fn::GetAtt": [alarmKey, "Arn"] },
    });
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "sns:Publish",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });

  it("fire on ingest errors and API 5xx responses", () => {
    const topic = logicalId(template, "AWS::SNS::Topic", "SealtrailAlarmTopic");
    const ingest = logicalId(template, "AWS::Lambda::Function", "SealtrailIngestFunction");
    const api = logicalId(template, "AWS::ApiGatewayV2::Api", "SealtrailApi");
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: ingest } }],
      AlarmActions: [{ Ref: topic }],
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Namespace: "AWS/ApiGateway",
      MetricName: "5xx",
      Dimensions: [{ Name: "ApiId", Value: { Ref: api } }],
      AlarmActions: [{ Ref: topic }],
    });
  });

  it("have no email subscription unless alarmEmail is given", () => {
    template.resourceCountIs("AWS::SNS::Subscription", 0);
  });
});

describe("outputs", () => {
  it("are ApiUrl, BucketName, TableName and the checkpoint key's ARN and public key", () => {
    const outputs = template.toJSON().Outputs;
    expect(Object.keys(outputs).sort()).toEqual([
      "ApiUrl",
      "BucketName",
      "CheckpointKeyArn",
      "CheckpointPublicKey",
      "TableName",
    ]);
    expect(outputs.BucketName.Value).toEqual({ Ref: archive });
    expect(outputs.TableName.Value).toEqual({ Ref: table });
    expect(flatten(outputs.ApiUrl.Value)).toMatch(/^https:\/\/<SealtrailApi\w+>\.execute-api\./);
  });
});
