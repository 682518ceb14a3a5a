/**
 * Resources a platform engineer already has: an existing KMS key for the archive (`archiveKey`) and an
 * existing SNS topic for the alarms (`alarmTopic`) are used as given, nothing replaces them, and every
 * role is still granted what it needs, in IAM (their policies are not ours). The `search` prop reaches
 * the Athena construct.
 */
import { App, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { Key } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { beforeAll, describe, expect, it } from "vitest";
import { Sealtrail } from "../../lib/sealtrail";
import {
  allowsAction,
  asArray,
  cdkJsonContext,
  functionRole,
  logicalId,
  roleStatements,
  TEST_CONTEXT,
} from "./helpers";

const KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666";
const TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:platform-alarms";
const TOPIC_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/9f8e7d6c-1111-2222-3333-444455556666";

const props = { issuer: TEST_CONTEXT.issuer, audience: ["sealtrail"] };
const env = { account: "123456789012", region: "eu-west-1" };

/** A stack with one Sealtrail construct; `extra` sees the stack to import resources into it. */
function synth(extra: (stack: Stack) => Record<string, unknown> = () => ({})): Template {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "Embedding", { env });
  new Sealtrail(stack, "Sealtrail", { ...props, ...extra(stack) });
  return Template.fromStack(stack);
}

/** Every role statement that allows `action` on `arn`. */
function grantsOn(template: Template, fnPrefix: string, action: string, arn: string) {
  return roleStatements(template, functionRole(template, fnPrefix)).filter(
    (s) => allowsAction(s, action) && asArray(s.Resource).includes(arn),
  );
}

let own: Template;

beforeAll(() => {
  own = synth();
}, 120_000);

describe("an existing archive key (archiveKey)", () => {
  let template: Template;

  beforeAll(() => {
    template = synth((stack) => ({ archiveKey: Key.fromKeyArn(stack, "PlatformKey", KEY_ARN) }));
  }, 120_000);

  it("creates no archive key: one KMS key fewer than without it", () => {
    expect(
      Object.keys(template.findResources("AWS::KMS::Key")).some((id) => id.startsWith("SealtrailArchiveKey")),
    ).toBe(false);
    expect(Object.keys(template.findResources("AWS::KMS::Key"))).toHaveLength(
      Object.keys(own.findResources("AWS::KMS::Key")).length - 1,
    );
  });

  it("encrypts the archive bucket, the index table and the state buckets with the given key", () => {
    const resources = template.toJSON().Resources;
    const sse = (id: string) =>
      resources[id].Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]
        .ServerSideEncryptionByDefault;
    for (const prefix of [
      "SealtrailArchiveBucket",
      "SealtrailCheckpointStateBucket",
      "SealtrailVerifierStateBucket",
    ]) {
      expect(sse(logicalId(template, "AWS::S3::Bucket", prefix)), prefix).toEqual({
        SSEAlgorithm: "aws:kms",
        KMSMasterKeyID: KEY_ARN,
      });
    }
    const table = resources[logicalId(template, "AWS::DynamoDB::Table", "SealtrailIndexTable")];
    expect(table.Properties.SSESpecification).toMatchObject({ SSEEnabled: true, KMSMasterKeyId: KEY_ARN });
  });

  it("grants each function the key in IAM, as with its own key (the key policy is not the stack's)", () => {
    for (const fn of ["SealtrailIngestFunction", "SealtrailQueryFunction"]) {
      for (const action of ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]) {
        expect(grantsOn(template, fn, action, KEY_ARN), `${fn} ${action}`).toHaveLength(1);
      }
    }
    expect(grantsOn(template, "SealtrailReindexFunction", "kms:Decrypt", KEY_ARN)).toHaveLength(1);
    for (const fn of ["SealtrailCheckpointFunction", "SealtrailVerifierFunction"]) {
      for (const action of ["kms:Decrypt", "kms:GenerateDataKey"]) {
        expect(grantsOn(template, fn, action, KEY_ARN), `${fn} ${action}`).toHaveLength(1);
      }
    }
  });

  it("grants the same KMS actions as with the stack's own key, statement for statement", () => {
    const ownKey = { "Fn::GetAtt": [logicalId(own, "AWS::KMS::Key", "SealtrailArchiveKey"), "Arn"] };
    const kmsOf = (t: Template, fn: string, arn: unknown) =>
      roleStatements(t, functionRole(t, fn))
        .filter((s) => JSON.stringify(asArray(s.Resource)) === JSON.stringify([arn]))
        .map((s) => ({ Sid: s.Sid, Action: s.Action, Condition: s.Condition }));
    for (const fn of ["SealtrailIngestFunction", "SealtrailReindexFunction", "SealtrailQueryFunction"]) {
      expect(kmsOf(template, fn, KEY_ARN), fn).toEqual(kmsOf(own, fn, ownKey));
      expect(kmsOf(template, fn, KEY_ARN).length, fn).toBeGreaterThan(0);
    }
  });
});

describe("an existing alarm topic (alarmTopic)", () => {
  let template: Template;

  beforeAll(() => {
    template = synth((stack) => ({
      alarmTopic: Topic.fromTopicAttributes(stack, "PlatformTopic", {
        topicArn: TOPIC_ARN,
        keyArn: TOPIC_KEY_ARN,
      }),
      alarmEmail: "ops@example.com",
    }));
  }, 120_000);

  it("creates no topic and no alarm key", () => {
    expect(template.findResources("AWS::SNS::Topic")).toEqual({});
    expect(template.findResources("AWS::SNS::TopicPolicy")).toEqual({});
    expect(
      Object.keys(template.findResources("AWS::KMS::Key")).some((id) => id.startsWith("SealtrailAlarmKey")),
    ).toBe(false);
  });

  it("sends every alarm to the given topic", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.length).toBe(Object.keys(own.findResources("AWS::CloudWatch::Alarm")).length);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([TOPIC_ARN]);
  });

  it("lets the scheduled verifier publish to it and use its key, and subscribes alarmEmail to it", () => {
    expect(grantsOn(template, "SealtrailVerifierFunction", "sns:Publish", TOPIC_ARN)).toHaveLength(1);
    for (const action of ["kms:GenerateDataKey", "kms:Decrypt"]) {
      expect(grantsOn(template, "SealtrailVerifierFunction", action, TOPIC_KEY_ARN), action).toHaveLength(1);
    }
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.com",
      TopicArn: TOPIC_ARN,
    });
  });

  it("grants the verifier no topic key when the given topic has none", () => {
    const plain = synth((stack) => ({ alarmTopic: Topic.fromTopicArn(stack, "PlainTopic", TOPIC_ARN) }));
    const statements = roleStatements(plain, functionRole(plain, "SealtrailVerifierFunction"));
    expect(statements.filter((s) => s.Sid === "EncryptForAlarmTopic")).toEqual([]);
    expect(grantsOn(plain, "SealtrailVerifierFunction", "sns:Publish", TOPIC_ARN)).toHaveLength(1);
  });
});

describe("search options (search)", () => {
  it("reach the Athena workgroup, database and results bucket", () => {
    // Prepare / Act
    const template = synth(() => ({
      search: {
        databaseName: "platform_audit",
        workGroupName: "platform-audit",
        bytesScannedCutoffPerQuery: 123_000_000,
        resultsRetentionDays: 7,
        removalPolicy: RemovalPolicy.DESTROY,
      },
    }));
    // Assess
    template.hasResourceProperties("AWS::Athena::WorkGroup", {
      Name: "platform-audit",
      WorkGroupConfiguration: { BytesScannedCutoffPerQuery: 123_000_000 },
    });
    template.hasResourceProperties("AWS::Glue::Database", { DatabaseInput: { Name: "platform_audit" } });
    const results =
      template.toJSON().Resources[logicalId(template, "AWS::S3::Bucket", "SealtrailSearchResults")];
    expect(results.DeletionPolicy).toBe("Delete");
    expect(JSON.stringify(results.Properties.LifecycleConfiguration)).toContain('"ExpirationInDays":7');
  });

  it("are checked like SealtrailSearch's own props", () => {
    expect(() => synth(() => ({ search: { bytesScannedCutoffPerQuery: 1 } }))).toThrow(
      /bytesScannedCutoffPerQuery/,
    );
  });
});
