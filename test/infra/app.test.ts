/** The app as bin/app.ts builds it: cdk-nag AwsSolutions, context handling, placeholders. */
import { type App, Validations } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../lambda/runtime/config";
import { configureApp, PLACEHOLDER_AUDIENCE, PLACEHOLDER_ISSUER } from "../../lib/app";
import type { SealtrailStack } from "../../lib/sealtrail-stack";
import { newApp, TEST_CONTEXT } from "./helpers";

describe("cdk-nag AwsSolutions", () => {
  let app: App;
  let stack: SealtrailStack;

  beforeAll(() => {
    // Prepare
    app = newApp({ ...TEST_CONTEXT });
    stack = configureApp(app);
    // Act: synthesis runs the AwsSolutionsChecks plugin configureApp registered, and throws on
    // unacknowledged errors, as `cdk synth` fails.
    app.synth();
  }, 120_000);

  it("finds no unacknowledged error or warning", () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    const findings = report.violations.map(
      (v) => `${v.severity} ${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(", ")}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  // cdk-nag 3 reports through Validations, not annotations (checked above); this catches CDK's own.
  it("leaves no error or warning annotation on the stack", () => {
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findError("*", Match.anyValue())).toEqual([]);
    expect(annotations.findWarning("*", Match.anyValue())).toEqual([]);
  });

  it("acknowledges only these findings, each with a specific reason", () => {
    const acknowledged: string[] = [];
    for (const construct of app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          expect(reason.length, id).toBeGreaterThan(60);
          acknowledged.push(`${construct.node.path.replace(/^Sealtrail\/Sealtrail\//, "")} ${id}`);
        }
      }
    }
    const bucket = "<SealtrailArchiveBucketD7D4FAE2.Arn>";
    const table = "<SealtrailIndexTableB168C13F.Arn>";
    const state = "<SealtrailCheckpointStateBucket005F0F6B.Arn>";
    const perRole = (role: string) => [
      `${role} Annotation::AwsSolutions-IAM5[Resource::*]`,
      `${role} Annotation::AwsSolutions-IAM5[Resource::${bucket}/events/*]`,
      `${role} Annotation::AwsSolutions-IAM5[Resource::${bucket}/chains/*]`,
      `${role} Annotation::AwsSolutions-IAM5[Resource::${table}/index/*]`,
    ];
    const signer = "Checkpoint/FunctionRole";
    const query = "Query/FunctionRole";
    const verifier = "Verifier/FunctionRole";
    const verifierState = "<SealtrailVerifierStateBucketF890E413.Arn>";
    expect(acknowledged.sort()).toEqual(
      [
        ...perRole("IngestFunctionRole"),
        ...perRole("ReindexFunctionRole"),
        ...perRole(query),
        `${query} Annotation::AwsSolutions-IAM5[Resource::${bucket}/checkpoints/*]`,
        `${signer} Annotation::AwsSolutions-IAM5[Resource::*]`,
        `${signer} Annotation::AwsSolutions-IAM5[Resource::${bucket}/chains/*]`,
        `${signer} Annotation::AwsSolutions-IAM5[Resource::${bucket}/checkpoints/*]`,
        `${signer} Annotation::AwsSolutions-IAM5[Resource::${state}/*]`,
        `${verifier} Annotation::AwsSolutions-IAM5[Resource::*]`,
        `${verifier} Annotation::AwsSolutions-IAM5[Resource::${bucket}/events/*]`,
        `${verifier} Annotation::AwsSolutions-IAM5[Resource::${bucket}/chains/*]`,
        `${verifier} Annotation::AwsSolutions-IAM5[Resource::${bucket}/checkpoints/*]`,
        `${verifier} Annotation::AwsSolutions-IAM5[Resource::${verifierState}/*]`,
      ].sort(),
    );
  });
});

describe("context", () => {
  it("sets retention, chains, tenant claim, index TTL and the alarm email from -c values", () => {
    // Prepare
    const app = newApp({
      ...TEST_CONTEXT,
      retentionDays: "3650",
      chains: "32",
      tenantClaim: "custom:tenant",
      indexTtlDays: "90",
      alarmEmail: "oncall@example.com",
    });
    // Act
    const template = Template.fromStack(configureApp(app));
    // Assess
    template.hasResourceProperties("AWS::S3::Bucket", {
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 3650 } },
      },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          [ENV.chains]: "32",
          [ENV.tenantClaim]: "custom:tenant",
          [ENV.indexTtlDays]: "90",
        }),
      },
    });
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "oncall@example.com",
    });
  });

  it("without issuer and audience, synthesizes with placeholders that fail closed, and warns", () => {
    // Prepare
    const app = newApp();
    // Act
    const stack = configureApp(app);
    const template = Template.fromStack(stack);
    // Assess
    template.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      JwtConfiguration: { Issuer: PLACEHOLDER_ISSUER, Audience: [PLACEHOLDER_AUDIENCE] },
    });
    const warnings = Annotations.fromStack(stack).findWarning(
      "/Sealtrail",
      Match.stringLikeRegexp("placeholder"),
    );
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings[0]?.entry.data)).toMatch(/-c issuer=.*-c audience=/);
  });
});
