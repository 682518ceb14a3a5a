/** Per-suite AWS resources on the shared emulator: unique names, so suites never share state. */
import { randomBytes } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { inject } from "vitest";
import { type AwsTarget, dynamoClient, s3Client } from "../../lambda/aws/clients";
import { type BucketOptions, createArchiveBucket, createIndexTable } from "../../lambda/aws/provision";

export function emulatorTarget(): AwsTarget {
  return inject("emulator").target;
}

/**
 * Which emulator this run talks to. `SEALTRAIL_EMULATOR` names an external one (for example
 * `localstack`); a moto server started by the run is `moto`.
 */
export function emulatorName(): string {
  const { kind } = inject("emulator");
  return kind === "moto" ? "moto" : (process.env.SEALTRAIL_EMULATOR ?? "external");
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

export interface TestArchive {
  readonly target: AwsTarget;
  readonly bucket: string;
  readonly table: string;
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
}

export async function createTestArchive(options: BucketOptions = {}): Promise<TestArchive> {
  const target = emulatorTarget();
  const s3 = s3Client(target);
  const dynamo = dynamoClient(target);
  const bucket = uniqueName("sealtrail-test");
  const table = uniqueName("sealtrail-test");
  await Promise.all([createArchiveBucket(s3, bucket, options), createIndexTable(dynamo, table)]);
  return { target, bucket, table, s3, dynamo };
}
