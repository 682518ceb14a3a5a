/** SDK clients configured once for Lambda, local mode, tests and the CLI. */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { SNSClient } from "@aws-sdk/client-sns";
import { type AwsService, type AwsTarget, endpointFor } from "./target";

export type { AwsTarget } from "./target";

/**
 * The dummy credentials sealtrail's clients give an emulator, which accepts any; local mode prints
 * them for tools such as `aws s3 sync`. Letters only: DynamoDB Local 2 refuses an access key id with
 * any other character. Real AWS uses the default provider chain.
 */
export const EMULATOR_CREDENTIALS = {
  accessKeyId: "sealtraillocal",
  secretAccessKey: "sealtraillocal",
} as const;

/**
 * The one retry policy of every SDK client sealtrail makes: the SDK's standard strategy (exponential
 * backoff with full jitter, a retry quota that stops retrying when most calls fail, throttles and
 * 5xx and lost responses retried, 4xx not). No module above the adapters loops on these errors again;
 * the write path adds only what its protocol needs (lambda/ingest/write-exactly.ts), so one put is
 * sent at most SDK_MAX_ATTEMPTS times per protocol round, and throttling is not amplified.
 */
export const SDK_MAX_ATTEMPTS = 3;
const RETRY_POLICY = { maxAttempts: SDK_MAX_ATTEMPTS, retryMode: "standard" } as const;

function emulatorCredentials(endpoint: string | undefined) {
  if (!endpoint || process.env.AWS_ACCESS_KEY_ID) return undefined;
  return EMULATOR_CREDENTIALS;
}

/** What every client shares: region, its service's endpoint, credentials and the retry policy. */
function commonConfig(target: AwsTarget, service: AwsService) {
  const endpoint = endpointFor(target, service);
  return {
    region: target.region,
    endpoint,
    credentials: emulatorCredentials(endpoint),
    ...RETRY_POLICY,
  };
}

type Overrides<Client extends abstract new (...args: never) => unknown> = Partial<
  NonNullable<ConstructorParameters<Client>[0]>
>;

export function s3Client(target: AwsTarget, overrides: Overrides<typeof S3Client> = {}): S3Client {
  // Emulators serve buckets by path, not by virtual host.
  return new S3Client({
    ...commonConfig(target, "s3"),
    forcePathStyle: endpointFor(target, "s3") !== undefined,
    ...overrides,
  });
}

export function dynamoClient(
  target: AwsTarget,
  overrides: Overrides<typeof DynamoDBClient> = {},
): DynamoDBClient {
  return new DynamoDBClient({ ...commonConfig(target, "dynamodb"), ...overrides });
}

export function kmsClient(target: AwsTarget, overrides: Overrides<typeof KMSClient> = {}): KMSClient {
  return new KMSClient({ ...commonConfig(target, "kms"), ...overrides });
}

export function snsClient(target: AwsTarget, overrides: Overrides<typeof SNSClient> = {}): SNSClient {
  return new SNSClient({ ...commonConfig(target, "sns"), ...overrides });
}
