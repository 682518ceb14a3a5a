/** The archive bucket, its access-log bucket, the bucket policy of the threat model, and the index table. */
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import {
  GLOBAL_INDEXES,
  keyAttributeNames,
  PARTITION_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
} from "../../lambda/core/index-table";
import { DEFAULT_RETENTION_DAYS } from "../../lambda/core/object-lock";
import { configureApp } from "../../lib/app";
import { asArray, flatten, logicalId, newApp, type Statement, TEST_CONTEXT } from "./helpers";

let template: Template;
let archive: string;
let accessLogs: string;
let archiveKey: string;

/** Statements of the bucket policy attached to the bucket with this logical id. */
function bucketPolicy(bucket: string): Statement[] {
  const policies = Object.values(template.findResources("AWS::S3::BucketPolicy")).filter(
    (policy) => (policy.Properties.Bucket as { Ref?: string }).Ref === bucket,
  );
  expect(policies).toHaveLength(1);
  return policies[0]?.Properties.PolicyDocument.Statement as Statement[];
}

/** Deny statements for every principal that name `action`. */
function denials(bucket: string, action: string): Statement[] {
  return bucketPolicy(bucket).filter(
    (s) =>
      s.Effect === "Deny" &&
      JSON.stringify(s.Principal) === JSON.stringify({ AWS: "*" }) &&
      asArray(s.Action).includes(action),
  );
}

beforeAll(() => {
  // Prepare
  const app = newApp({ ...TEST_CONTEXT });
  // Act
  const stack = configureApp(app);
  template = Template.fromStack(stack);
  archive = logicalId(template, "AWS::S3::Bucket", "SealtrailArchiveBucket");
  accessLogs = logicalId(template, "AWS::S3::Bucket", "SealtrailAccessLogBucket");
  archiveKey = logicalId(template, "AWS::KMS::Key", "SealtrailArchiveKey");
}, 120_000);

describe("archive bucket", () => {
  it("has Object Lock in COMPLIANCE mode with the default retention of 2555 days", () => {
    expect(DEFAULT_RETENTION_DAYS).toBe(2555);
    template.hasResource("AWS::S3::Bucket", {
      Properties: Match.objectLike({
        ObjectLockEnabled: true,
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: DEFAULT_RETENTION_DAYS } },
        },
      }),
    });
  });

  it("is versioned", () => {
    expect(template.toJSON().Resources[archive].Properties.VersioningConfiguration).toEqual({
      Status: "Enabled",
    });
  });

  it("is encrypted with SSE-KMS under the customer managed key, with S3 Bucket Keys", () => {
    expect(template.toJSON().Resources[archive].Properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: "aws:kms",
            KMSMasterKeyID: { "Fn::GetAtt": [archiveKey, "Arn"] },
          },
        },
      ],
    });
    template.hasResourceProperties("AWS::KMS::Key", {
      Description: Match.stringLikeRegexp("archive"),
      EnableKeyRotation: true,
    });
  });

  it("blocks all public access", () => {
    expect(template.toJSON().Resources[archive].Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it("accepts TLS requests only", () => {
    const tlsOnly = denials(archive, "s3:*").filter(
      (s) => JSON.stringify(s.Condition) === JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
    );
    expect(tlsOnly).toHaveLength(1);
    expect(asArray(tlsOnly[0]?.Resource).map(flatten).sort()).toEqual([
      `<${archive}.Arn>`,
      `<${archive}.Arn>/*`,
    ]);
  });

  it("writes server access logs to the separate access-log bucket", () => {
    expect(template.toJSON().Resources[archive].Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: accessLogs },
      LogFilePrefix: "archive/",
    });
  });

  it("is retained when the stack is deleted or the bucket replaced", () => {
    template.hasResource("AWS::S3::Bucket", {
      Properties: Match.objectLike({ ObjectLockEnabled: true }),
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
  });
});

describe("archive bucket policy (threat model)", () => {
  it("denies every principal object deletion, retention and legal-hold changes, and governance bypass", () => {
    for (const action of [
      "s3:DeleteObject",
      "s3:DeleteObjectVersion",
      "s3:PutObjectRetention",
      "s3:PutObjectLegalHold",
      "s3:BypassGovernanceRetention",
    ]) {
      const unconditional = denials(archive, action).filter((s) => s.Condition === undefined);
      expect(unconditional, action).toHaveLength(1);
      expect(asArray(unconditional[0]?.Resource).map(flatten), action).toEqual([`<${archive}.Arn>/*`]);
    }
  });

  it("denies every principal changes of the bucket's Object Lock configuration", () => {
    const unconditional = denials(archive, "s3:PutBucketObjectLockConfiguration").filter(
      (s) => s.Condition === undefined,
    );
    expect(unconditional).toHaveLength(1);
    expect(asArray(unconditional[0]?.Resource).map(flatten)).toEqual([`<${archive}.Arn>`]);
  });

  it("denies lifecycle configuration, which could add delete markers", () => {
    const unconditional = denials(archive, "s3:PutLifecycleConfiguration").filter(
      (s) => s.Condition === undefined,
    );
    expect(unconditional).toHaveLength(1);
  });

  it("denies a PutObject without If-None-Match: * (absent header, or any other value), in separate statements", () => {
    const conditions = denials(archive, "s3:PutObject").map((s) => s.Condition);
    // Conditions within one statement are ANDed, so each case must be its own statement.
    expect(conditions).toEqual(
      expect.arrayContaining([
        { Null: { "s3:if-none-match": "true" } },
        { StringNotEquals: { "s3:if-none-match": "*" } },
      ]),
    );
    const ifNoneMatch = denials(archive, "s3:PutObject").filter((s) =>
      JSON.stringify(s.Condition).includes("s3:if-none-match"),
    );
    expect(ifNoneMatch).toHaveLength(2);
    for (const s of ifNoneMatch) {
      expect(asArray(s.Resource).map(flatten)).toEqual([`<${archive}.Arn>/*`]);
    }
  });

  it("allows nothing to anyone: the functions get access through their own roles only", () => {
    expect(bucketPolicy(archive).filter((s) => s.Effect === "Allow")).toEqual([]);
  });

  it("is retained with the bucket, so the archive never survives `cdk destroy` without it", () => {
    const policies = template.findResources("AWS::S3::BucketPolicy", {
      Properties: { Bucket: { Ref: archive } },
    });
    expect(Object.values(policies).map((p) => [p.DeletionPolicy, p.UpdateReplacePolicy])).toEqual([
      ["Retain", "Retain"],
    ]);
  });
});

describe("bucket policies", () => {
  it("each has the DeletionPolicy and UpdateReplacePolicy of its bucket (every bucket here is retained)", () => {
    const resources = template.toJSON().Resources as Record<string, Record<string, unknown>>;
    const policies = Object.values(template.findResources("AWS::S3::BucketPolicy"));
    // The archive, its access logs, the checkpoint state, the Athena results and the verifier's state.
    expect(policies).toHaveLength(5);
    for (const policy of policies) {
      const bucketId = (policy.Properties.Bucket as { Ref: string }).Ref;
      const bucket = resources[bucketId] as Record<string, unknown>;
      expect(bucket.DeletionPolicy, bucketId).toBe("Retain");
      expect([policy.DeletionPolicy, policy.UpdateReplacePolicy], bucketId).toEqual([
        bucket.DeletionPolicy,
        bucket.UpdateReplacePolicy,
      ]);
    }
  });
});

describe("access-log bucket", () => {
  it("uses SSE-S3 (log delivery cannot write with SSE-KMS), versioning, TLS only and no public access", () => {
    const properties = template.toJSON().Resources[accessLogs].Properties;
    expect(properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
    });
    expect(properties.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(
      denials(accessLogs, "s3:*").some(
        (s) => JSON.stringify(s.Condition) === JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
      ),
    ).toBe(true);
  });

  it("lets S3 log delivery write only the logs of the archive, the checkpoint state, the Athena results and the verifier state buckets, each under its prefix", () => {
    const delivery = bucketPolicy(accessLogs).filter((s) => s.Effect === "Allow");
    const state = logicalId(template, "AWS::S3::Bucket", "SealtrailCheckpointStateBucket");
    const results = logicalId(template, "AWS::S3::Bucket", "SealtrailSearchResultsBucket");
    const verifierState = logicalId(template, "AWS::S3::Bucket", "SealtrailVerifierStateBucket");
    expect(delivery).toHaveLength(4);
    for (const [source, prefix] of [
      [archive, "archive/"],
      [state, "checkpoint-state/"],
      [results, "athena-results/"],
      [verifierState, "verifier-state/"],
    ] as const) {
      const statement = delivery.find(
        (s) =>
          JSON.stringify(s.Condition?.ArnLike) ===
          JSON.stringify({ "aws:SourceArn": { "Fn::GetAtt": [source, "Arn"] } }),
      );
      expect(statement, source).toMatchObject({
        Principal: { Service: "logging.s3.amazonaws.com" },
        Action: "s3:PutObject",
      });
      expect(asArray(statement?.Resource).map(flatten), source).toEqual([`<${accessLogs}.Arn>/${prefix}*`]);
    }
  });
});

describe("index table", () => {
  it("has the keys and global indexes defined in lambda/core/index-table.ts, all projecting ALL", () => {
    const table =
      template.toJSON().Resources[logicalId(template, "AWS::DynamoDB::Table", "SealtrailIndexTable")];
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: PARTITION_KEY, KeyType: "HASH" },
      { AttributeName: SORT_KEY, KeyType: "RANGE" },
    ]);
    expect(
      [...table.Properties.AttributeDefinitions].sort((a, b) =>
        a.AttributeName.localeCompare(b.AttributeName),
      ),
    ).toEqual(
      keyAttributeNames()
        .sort()
        .map((name) => ({ AttributeName: name, AttributeType: "S" })),
    );
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(
      Object.values(GLOBAL_INDEXES).map((gsi) => ({
        IndexName: gsi.indexName,
        KeySchema: [
          { AttributeName: gsi.partitionKey, KeyType: "HASH" },
          { AttributeName: gsi.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      })),
    );
  });

  it("bills per request", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", { BillingMode: "PAY_PER_REQUEST" });
  });

  it("has point-in-time recovery", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it("is encrypted with the customer managed key", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      SSESpecification: {
        SSEEnabled: true,
        SSEType: "KMS",
        KMSMasterKeyId: { "Fn::GetAtt": [archiveKey, "Arn"] },
      },
    });
  });

  it("expires pointer items on the TTL attribute", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    });
  });

  it("is retained and protected from deletion", () => {
    template.hasResource("AWS::DynamoDB::Table", {
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
  });
});
