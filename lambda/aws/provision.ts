/**
 * Creates sealtrail's bucket and index table on an emulator or test account, from the same
 * definitions the CDK stack uses (lambda/core/index-table.ts, lambda/core/object-lock.ts).
 */
import {
  type AttributeDefinition,
  CreateTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import {
  GLOBAL_INDEXES,
  keyAttributeNames,
  PARTITION_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
} from "../core/index-table";
import { DEFAULT_RETENTION_DAYS } from "../core/object-lock";

export interface BucketOptions {
  /** Object Lock in COMPLIANCE mode with this default retention; `false` for an unlocked bucket (tamper tests only). */
  readonly objectLock?: { readonly retentionDays: number } | false;
}

export async function createArchiveBucket(
  s3: S3Client,
  bucket: string,
  options: BucketOptions = {},
): Promise<void> {
  const lock = options.objectLock ?? { retentionDays: DEFAULT_RETENTION_DAYS };
  await s3.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: lock !== false }));
  await s3.send(
    new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
  );
  if (lock !== false) {
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: bucket,
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: lock.retentionDays } },
        },
      }),
    );
  }
}

/** A plain bucket for a job's own state (the signer's, the scheduled verifier's): local mode and tests. */
export async function createStateBucket(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}

export async function createIndexTable(dynamo: DynamoDBClient, table: string): Promise<void> {
  const attributeDefinitions: AttributeDefinition[] = keyAttributeNames().map((name) => ({
    AttributeName: name,
    AttributeType: "S",
  }));
  await dynamo.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: attributeDefinitions,
      KeySchema: [
        { AttributeName: PARTITION_KEY, KeyType: "HASH" },
        { AttributeName: SORT_KEY, KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: Object.values(GLOBAL_INDEXES).map((gsi) => ({
        IndexName: gsi.indexName,
        KeySchema: [
          { AttributeName: gsi.partitionKey, KeyType: "HASH" },
          { AttributeName: gsi.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      })),
    }),
  );
  await waitUntilTableExists(
    { client: dynamo, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
    { TableName: table },
  );
  await dynamo.send(
    new UpdateTimeToLiveCommand({
      TableName: table,
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
    }),
  );
}
