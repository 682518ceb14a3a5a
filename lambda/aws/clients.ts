/** SDK clients configured once for Lambda, local mode, tests and the CLI. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";

export interface AwsTarget {
  /** Endpoint of an emulator or compatible service; omit for real AWS. */
  readonly endpoint?: string;
  readonly region: string;
}

/**
 * The dummy credentials sealtrail's clients give an emulator, which accepts any; local mode prints
 * them for tools such as `aws s3 sync`. Real AWS uses the default provider chain.
 */
export const EMULATOR_CREDENTIALS = {
  accessKeyId: "sealtrail-local",
  secretAccessKey: "sealtrail-local",
} as const;

function emulatorCredentials(target: AwsTarget) {
  if (!target.endpoint || process.env.AWS_ACCESS_KEY_ID) return undefined;
  return EMULATOR_CREDENTIALS;
}

export function s3Client(
  target: AwsTarget,
  overrides: Partial<ConstructorParameters<typeof S3Client>[0]> = {},
): S3Client {
  return new S3Client({
    region: target.region,
    endpoint: target.endpoint,
    // Emulators serve buckets by path, not by virtual host.
    forcePathStyle: target.endpoint !== undefined,
    credentials: emulatorCredentials(target),
    ...overrides,
  });
}

export function dynamoClient(target: AwsTarget): DynamoDBClient {
  return new DynamoDBClient({
    region: target.region,
    endpoint: target.endpoint,
    credentials: emulatorCredentials(target),
  });
}

export function kmsClient(target: AwsTarget): KMSClient {
  return new KMSClient({
    region: target.region,
    endpoint: target.endpoint,
    credentials: emulatorCredentials(target),
  });
}

export function snsClient(target: AwsTarget): SNSClient {
  return new SNSClient({
    region: target.region,
    endpoint: target.endpoint,
    credentials: emulatorCredentials(target),
  });
}
