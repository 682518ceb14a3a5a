/**
 * Where the adapters' clients point: a region, and an endpoint for an emulator or a compatible
 * service, for all services or per service. Per-service endpoints are what the SDK itself reads from
 * AWS_ENDPOINT_URL_<SERVICE>, so DynamoDB Local can serve the index while moto serves S3. Pure: no SDK.
 */
import * as z from "zod";

export const AWS_SERVICES = ["s3", "dynamodb", "kms", "sns"] as const;
export type AwsService = (typeof AWS_SERVICES)[number];

export interface AwsTarget {
  /** Endpoint of an emulator or compatible service for every service; omit for real AWS. */
  readonly endpoint?: string;
  readonly region: string;
  /** A service's own endpoint, over `endpoint` for that service. */
  readonly endpoints?: Readonly<Partial<Record<AwsService, string>>>;
}

/** The endpoint a service's client is given: its own, else the shared one, else none (real AWS). */
export function endpointFor(target: AwsTarget, service: AwsService): string | undefined {
  return target.endpoints?.[service] ?? target.endpoint;
}

/** AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB, …: the SDK's names for a service's endpoint. */
export const serviceEndpointVariable = (service: AwsService) => `AWS_ENDPOINT_URL_${service.toUpperCase()}`;

const url = z.string().url().optional();

/** The environment variables a target is read from, as a zod shape each config schema spreads in. */
export const AWS_TARGET_ENV = {
  AWS_ENDPOINT_URL: url,
  AWS_ENDPOINT_URL_S3: url,
  AWS_ENDPOINT_URL_DYNAMODB: url,
  AWS_ENDPOINT_URL_KMS: url,
  AWS_ENDPOINT_URL_SNS: url,
  AWS_REGION: z.string().min(1).default("us-east-1"),
};

type TargetEnv = z.infer<z.ZodObject<typeof AWS_TARGET_ENV>>;

/** The target of parsed AWS_TARGET_ENV variables. */
export function awsTargetOf(env: TargetEnv): AwsTarget {
  const endpoints: Partial<Record<AwsService, string>> = {};
  for (const service of AWS_SERVICES) {
    const endpoint = env[serviceEndpointVariable(service) as keyof TargetEnv];
    if (endpoint) endpoints[service] = endpoint;
  }
  return {
    region: env.AWS_REGION,
    ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}),
    ...(Object.keys(endpoints).length > 0 ? { endpoints } : {}),
  };
}

/**
 * The target the environment names, for the CLI and local mode; `overrides` (command-line flags) win:
 * an endpoint over AWS_ENDPOINT_URL and every AWS_ENDPOINT_URL_<SERVICE>, a region over AWS_REGION.
 * Throws naming the variable that is not a URL.
 */
export function awsTargetFromEnv(
  env: Record<string, string | undefined> = process.env,
  overrides: { readonly endpoint?: string | undefined; readonly region?: string | undefined } = {},
): AwsTarget {
  const parsed = z.object(AWS_TARGET_ENV).safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => issue.path.join(".")).join(", ");
    throw new Error(`${names} must be a URL (an emulator or compatible endpoint)`);
  }
  const target = awsTargetOf(parsed.data);
  const region = overrides.region ?? target.region;
  // An endpoint given on the command line is meant for every service, over the per-service variables.
  return overrides.endpoint ? { region, endpoint: overrides.endpoint } : { ...target, region };
}
