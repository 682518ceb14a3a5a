/**
 * The query API's infrastructure: the read routes (QUERY_ROUTES, JWT authorizer, read scope) on one
 * integration of the query function, its configuration, the cursor MAC key only it may use, its archive
 * permissions (the ingest write path's, plus reading checkpoints/, never writing them), its alarm, and
 * cdk-nag.
 */
import type { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { QUERY_ROUTES } from "../../lambda/handlers/query";
import { DEFAULT_SCOPES, ENV } from "../../lambda/runtime/config";
import { configureApp } from "../../lib/app";
import { QUERY_SERVICE_NAME } from "../../lib/query";
import { SealtrailStack } from "../../lib/sealtrail-stack";
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

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
};

let app: App;
let template: Template;
let resources: Record<string, TemplateResource>;
let archive: string;
let cursorKey: string;
let queryFn: string;
let queryRole: string;
let ingestFn: string;
let ingestRole: string;
let signerRole: string;
let authorizer: string;

const properties = (id: string) => resources[id]?.Properties ?? {};
const resourcesOf = (statements: Statement[]) =>
  statements.flatMap((s) => asArray(s.Resource).map(flatten)).sort();
const queryStatements = () => roleStatements(template, queryRole);
const variablesOf = (fn: string) =>
  (properties(fn).Environment as { Variables: Record<string, unknown> }).Variables;
const keyPolicy = () => (properties(cursorKey).KeyPolicy as { Statement: Statement[] }).Statement;
const routes = () =>
  Object.values(template.findResources("AWS::ApiGatewayV2::Route")) as unknown as Resource[];
const routeKeyOf = (route: Resource) => route.Properties.RouteKey as string;
/** The integration a route targets (`integrations/<Ref>`). */
const integrationOf = (route: Resource) => {
  const target = flatten(route.Properties.Target);
  const match = /^integrations\/<(\w+)>$/.exec(target);
  if (!match?.[1]) throw new Error(`route ${routeKeyOf(route)} has target ${target}`);
  return match[1];
};
/** Whether a statement's resources cover `key` in the archive (e.g. "checkpoints/00000000000000000001.jws"). */
const coversArchiveKey = (s: Statement, key: string) =>
  resourcesOf([s]).some((resource) => matches(resource, `<${archive}.Arn>/${key}`));
const MAC_ACTIONS = ["kms:GenerateMac", "kms:VerifyMac"];
const SAMPLE_KEYS = {
  events: "events/dt=2026-05-01/hr=10/0123abcd.jsonl.gz",
  chains: "chains/03/00000000000000000007.json",
  checkpoints: "checkpoints/00000000000000000001.jws",
};

beforeAll(() => {
  // Prepare, Act
  ({ app, template, resources } = synthesizeTestStack());
  archive = logicalId(template, "AWS::S3::Bucket", "SealtrailArchiveBucket");
  cursorKey = logicalId(template, "AWS::KMS::Key", "SealtrailQueryCursorKey");
  queryFn = logicalId(template, "AWS::Lambda::Function", "SealtrailQueryFunction");
  queryRole = functionRole(template, "SealtrailQueryFunction");
  ingestFn = logicalId(template, "AWS::Lambda::Function", "SealtrailIngestFunction");
  ingestRole = functionRole(template, "SealtrailIngestFunction");
  signerRole = functionRole(template, "SealtrailCheckpointFunction");
  authorizer = logicalId(template, "AWS::ApiGatewayV2::Authorizer", "SealtrailApiJwtAuthorizer");
}, 120_000);

describe("routes", () => {
  it("are exactly QUERY_ROUTES plus POST /v1/events", () => {
    expect(QUERY_ROUTES.length).toBeGreaterThan(0);
    expect(routes().map(routeKeyOf).sort()).toEqual([...QUERY_ROUTES, "POST /v1/events"].sort());
  });

  it.each(QUERY_ROUTES)("%s requires a JWT from the authorizer with the read scope", (routeKey) => {
    const route = routes().filter((r) => routeKeyOf(r) === routeKey);
    expect(route).toHaveLength(1);
    expect(route[0]?.Properties).toMatchObject({
      AuthorizationType: "JWT",
      AuthorizerId: { Ref: authorizer },
      AuthorizationScopes: [DEFAULT_SCOPES.read],
    });
  });

  it("keep the write scope on POST /v1/events only", () => {
    const route = routes().find((r) => routeKeyOf(r) === "POST /v1/events");
    expect(route?.Properties).toMatchObject({
      AuthorizationType: "JWT",
      AuthorizerId: { Ref: authorizer },
      AuthorizationScopes: [DEFAULT_SCOPES.write],
    });
    const writeScoped = routes().filter((r) =>
      asArray(r.Properties.AuthorizationScopes).includes(DEFAULT_SCOPES.write),
    );
    expect(writeScoped.map(routeKeyOf)).toEqual(["POST /v1/events"]);
  });

  it("take the read scope from the scopes prop", () => {
    // Prepare
    const custom = newApp({ ...TEST_CONTEXT });
    const stack = new SealtrailStack(custom, "Custom", {
      issuer: TEST_CONTEXT.issuer,
      audience: ["sealtrail"],
      scopes: { read: "audit/read" },
    });
    // Act
    const customRoutes = Object.values(Template.fromStack(stack).findResources("AWS::ApiGatewayV2::Route"));
    // Assess
    for (const route of customRoutes) {
      const key = route.Properties.RouteKey as string;
      const expected = key === "POST /v1/events" ? DEFAULT_SCOPES.write : "audit/read";
      expect(route.Properties.AuthorizationScopes, key).toEqual([expected]);
    }
    expect(customRoutes).toHaveLength(QUERY_ROUTES.length + 1);
  });

  it("all go to one Lambda proxy integration of the query function (payload 2.0)", () => {
    const targets = new Set(
      routes()
        .filter((r) => routeKeyOf(r) !== "POST /v1/events")
        .map(integrationOf),
    );
    expect(targets.size).toBe(1);
    const [integration] = [...targets];
    expect(properties(integration as string)).toMatchObject({
      IntegrationType: "AWS_PROXY",
      IntegrationUri: { "Fn::GetAtt": [queryFn, "Arn"] },
      PayloadFormatVersion: "2.0",
    });
    // And the write route does not go there.
    const write = routes().find((r) => routeKeyOf(r) === "POST /v1/events") as Resource;
    expect(properties(integrationOf(write)).IntegrationUri).toEqual({ "Fn::GetAtt": [ingestFn, "Arn"] });
  });

  it("may invoke the query function, each from its own route path only", () => {
    const permissions = Object.values(template.findResources("AWS::Lambda::Permission")).filter(
      (p) => JSON.stringify(p.Properties.FunctionName) === JSON.stringify({ "Fn::GetAtt": [queryFn, "Arn"] }),
    );
    const sources = permissions.map((p) => {
      expect(p.Properties).toMatchObject({
        Action: "lambda:InvokeFunction",
        Principal: "apigateway.amazonaws.com",
      });
      return flatten(p.Properties.SourceArn).replace(/^.*:<SealtrailApi\w+>/, "");
    });
    expect(sources.sort()).toEqual(QUERY_ROUTES.map((key) => `/*/*${key.split(" ")[1]}`).sort());
  });
});

describe("query function", () => {
  it("runs on ARM64 Node.js with tracing, 1024 MB, within the HTTP API's 30 s", () => {
    expect(properties(queryFn)).toMatchObject({
      Architectures: ["arm64"],
      Runtime: "nodejs24.x",
      Handler: "index.handler",
      MemorySize: 1024,
      Timeout: 29,
      TracingConfig: { Mode: "Active" },
    });
  });

  it("gets the cursor key's ARN under the name lambda/runtime/config.ts reads", () => {
    expect(ENV.cursorKeyId).toBe("SEALTRAIL_CURSOR_KEY_ID");
    expect(variablesOf(queryFn)[ENV.cursorKeyId]).toEqual({ "Fn::GetAtt": [cursorKey, "Arn"] });
  });

  it("gets exactly the ingest function's configuration besides the cursor key and its service name", () => {
    const { [ENV.cursorKeyId]: _key, POWERTOOLS_SERVICE_NAME: service, ...shared } = variablesOf(queryFn);
    const { POWERTOOLS_SERVICE_NAME: _ingest, ...ingestShared } = variablesOf(ingestFn);
    expect(service).toBe(QUERY_SERVICE_NAME);
    expect(shared).toEqual(ingestShared);
    // The configuration lambda/runtime/config.ts requires is among it.
    expect(Object.keys(shared)).toEqual(expect.arrayContaining([ENV.bucket, ENV.table, ENV.readScope]));
  });

  it("takes the tenant claim and index TTL from context, like ingest", () => {
    // Prepare
    const custom = newApp({ ...TEST_CONTEXT, tenantClaim: "custom:tenant", indexTtlDays: "90" });
    // Act
    const customTemplate = Template.fromStack(configureApp(custom));
    const fn = logicalId(customTemplate, "AWS::Lambda::Function", "SealtrailQueryFunction");
    const variables = (
      customTemplate.toJSON().Resources[fn].Properties.Environment as { Variables: Record<string, unknown> }
    ).Variables;
    // Assess
    expect(variables).toMatchObject({ [ENV.tenantClaim]: "custom:tenant", [ENV.indexTtlDays]: "90" });
  });

  it("logs to its own log group, kept for a year", () => {
    const logGroup = (properties(queryFn).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
    expect(resources[logGroup]?.Type).toBe("AWS::Logs::LogGroup");
    expect(properties(logGroup).RetentionInDays).toBe(365);
    expect(queryStatements().filter((s) => allowsAction(s, "logs:PutLogEvents"))).toHaveLength(1);
  });
});

describe("cursor key", () => {
  it("is an HMAC_256 GENERATE_VERIFY_MAC key, retained, without rotation (KMS rotates no HMAC key)", () => {
    expect(resources[cursorKey]).toMatchObject({
      Properties: { KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", EnableKeyRotation: false },
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
  });

  it("allows GenerateMac and VerifyMac in its key policy to the query role alone", () => {
    for (const action of MAC_ACTIONS) {
      const allowed = keyPolicy().filter((s) => allowsAction(s, action));
      expect(allowed, action).toHaveLength(1);
      expect(allowed[0]?.Principal, action).toEqual({ AWS: { "Fn::GetAtt": [queryRole, "Arn"] } });
    }
  });

  it("denies GenerateMac and VerifyMac to every principal whose ARN is not the query role's", () => {
    for (const action of MAC_ACTIONS) {
      const denials = keyPolicy().filter(
        (s) => s.Effect === "Deny" && asArray(s.Action).some((a) => matches(a, action, true)),
      );
      expect(denials, action).toHaveLength(1);
      expect(denials[0]).toMatchObject({ Principal: { AWS: "*" }, Resource: "*" });
      expect(denials[0]?.Condition).toEqual({
        ArnNotEquals: { "aws:PrincipalArn": { "Fn::GetAtt": [queryRole, "Arn"] } },
      });
    }
  });

  it("lets the account administer the key but neither use it nor create grants", () => {
    const account = keyPolicy().filter(
      (s) => s.Effect === "Allow" && flatten((s.Principal as { AWS?: unknown }).AWS).endsWith(":root"),
    );
    expect(account.length).toBeGreaterThan(0);
    const allowed = (action: string) => account.some((s) => allowsAction(s, action));
    for (const action of [...MAC_ACTIONS, "kms:CreateGrant", "kms:Decrypt", "kms:Encrypt"]) {
      expect(allowed(action), action).toBe(false);
    }
    for (const action of ["kms:PutKeyPolicy", "kms:DescribeKey", "kms:ScheduleKeyDeletion"]) {
      expect(allowed(action), action).toBe(true);
    }
    const grants = keyPolicy().filter(
      (s) =>
        s.Effect === "Deny" && asArray(s.Action).includes("kms:CreateGrant") && s.Condition === undefined,
    );
    expect(grants).toHaveLength(1);
  });

  it("is in the query role's own policy for GenerateMac and VerifyMac, and in no other role's", () => {
    const mac = queryStatements().filter((s) => MAC_ACTIONS.some((a) => allowsAction(s, a)));
    expect(mac).toHaveLength(1);
    expect(asArray(mac[0]?.Action).sort()).toEqual(MAC_ACTIONS);
    expect(asArray(mac[0]?.Resource)).toEqual([{ "Fn::GetAtt": [cursorKey, "Arn"] }]);
    const others = Object.keys(template.findResources("AWS::IAM::Role")).filter((id) => id !== queryRole);
    expect(others.length).toBeGreaterThan(0);
    for (const role of others) {
      expect(
        roleStatements(template, role).filter((s) => MAC_ACTIONS.some((a) => allowsAction(s, a))),
        role,
      ).toEqual([]);
    }
  });
});

describe("query role", () => {
  const actions = () => [...new Set(queryStatements().flatMap((s) => asArray(s.Action)))].sort();

  it("has every permission of the ingest role (it archives audit.read events the same way)", () => {
    // The log statement names each function's own log group; every other statement must be identical.
    const ownLogs = (s: Statement) => asArray(s.Action).some((a) => a.startsWith("logs:"));
    const query = queryStatements().map((s) => JSON.stringify(s));
    const ingest = roleStatements(template, ingestRole).filter((s) => !ownLogs(s));
    expect(ingest.length).toBeGreaterThan(3);
    for (const statement of ingest) {
      expect(query, JSON.stringify(statement)).toContain(JSON.stringify(statement));
    }
  });

  it("has exactly the ingest role's actions plus the cursor key's", () => {
    expect(actions()).toEqual(
      [
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateMac",
        "kms:VerifyMac",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
      ].sort(),
    );
  });

  it("may read objects under checkpoints/, chains/ and events/", () => {
    for (const key of Object.values(SAMPLE_KEYS)) {
      expect(
        queryStatements().some((s) => allowsAction(s, "s3:GetObject") && coversArchiveKey(s, key)),
        key,
      ).toBe(true);
    }
    expect(resourcesOf(queryStatements().filter((s) => allowsAction(s, "s3:GetObject")))).toEqual([
      `<${archive}.Arn>/chains/*`,
      `<${archive}.Arn>/checkpoints/*`,
      `<${archive}.Arn>/events/*`,
    ]);
  });

  it("may put under events/ and chains/ but not under checkpoints/", () => {
    const puts = queryStatements().filter((s) => allowsAction(s, "s3:PutObject"));
    expect(puts.some((s) => coversArchiveKey(s, SAMPLE_KEYS.events))).toBe(true);
    expect(puts.some((s) => coversArchiveKey(s, SAMPLE_KEYS.chains))).toBe(true);
    expect(puts.filter((s) => coversArchiveKey(s, SAMPLE_KEYS.checkpoints))).toEqual([]);
    expect(resourcesOf(puts)).toEqual([`<${archive}.Arn>/chains/*`, `<${archive}.Arn>/events/*`]);
  });

  it("is refused puts under checkpoints/ by the archive bucket policy, which excepts only the signer", () => {
    const policies = Object.values(template.findResources("AWS::S3::BucketPolicy")).filter(
      (policy) => (policy.Properties.Bucket as { Ref?: string }).Ref === archive,
    );
    expect(policies).toHaveLength(1);
    const denials = (policies[0]?.Properties.PolicyDocument.Statement as Statement[]).filter(
      (s) =>
        s.Effect === "Deny" &&
        asArray(s.Action).some((a) => matches(a, "s3:PutObject", true)) &&
        coversArchiveKey(s, SAMPLE_KEYS.checkpoints) &&
        JSON.stringify(s.Condition).includes("aws:PrincipalArn"),
    );
    expect(denials).toHaveLength(1);
    expect(denials[0]?.Principal).toEqual({ AWS: "*" });
    expect(denials[0]?.Condition).toEqual({
      ArnNotEquals: { "aws:PrincipalArn": { "Fn::GetAtt": [signerRole, "Arn"] } },
    });
    expect(JSON.stringify(denials[0])).not.toContain(queryRole);
  });

  it("lists the archive only under chains/, checkpoints/ and events/, without versions", () => {
    const lists = queryStatements().filter((s) => allowsAction(s, "s3:ListBucket"));
    expect(lists.length).toBeGreaterThan(0);
    for (const list of lists) {
      expect(asArray(list.Resource).map(flatten)).toEqual([`<${archive}.Arn>`]);
    }
    const prefixes = lists.flatMap((s) => asArray(s.Condition?.StringLike?.["s3:prefix"]) as string[]);
    expect(lists.every((s) => Object.keys(s.Condition ?? {}).join() === "StringLike")).toBe(true);
    expect(prefixes.sort()).toEqual(["chains/*", "checkpoints/*", "events/*"]);
    expect(queryStatements().filter((s) => allowsAction(s, "s3:ListBucketVersions"))).toEqual([]);
  });

  it("never deletes, changes retention or legal hold, bypasses governance, or uses a wildcard action", () => {
    const forbidden =
      /Delete|PutObjectRetention|PutObjectLegalHold|BypassGovernanceRetention|ObjectLockConfiguration|Lifecycle|\*/;
    expect(actions().filter((action) => forbidden.test(action))).toEqual([]);
    expect(queryStatements().filter((s) => allowsAction(s, "s3:DeleteObject"))).toEqual([]);
    expect(queryStatements().filter((s) => allowsAction(s, "s3:DeleteObjectVersion"))).toEqual([]);
  });
});

describe("alarms", () => {
  it("fire on query function errors: Errors Sum >= 1 in 5 minutes, to the alarm topic", () => {
    const topic = logicalId(template, "AWS::SNS::Topic", "SealtrailAlarmTopic");
    const alarm = properties(logicalId(template, "AWS::CloudWatch::Alarm", "SealtrailQueryErrorsAlarm"));
    expect(alarm).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: queryFn } }],
      Statistic: "Sum",
      Period: 300,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: [{ Ref: topic }],
    });
  });
});

describe("cdk-nag AwsSolutions", () => {
  it("finds nothing unacknowledged in the query API", () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    const findings = report.violations
      .filter((v) => v.violatingResources.some((r) => r.constructPath?.includes("/Query")))
      .map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(", ")}`);
    expect(findings).toEqual([]);
  });

  it("synthesizes the whole app, which fails on any unacknowledged finding", () => {
    expect(() => app.synth()).not.toThrow();
  });
});
