/**
 * The app's context keys (`cdk synth|deploy -c key=value`), defined once: the app parses and checks its
 * context with these definitions, refuses any other key of its own, and the README's table of context
 * keys is rendered from them (test/infra/context.test.ts keeps the two equal).
 */

import { DEFAULT_RETENTION_DAYS } from "../lambda/core/object-lock";
import { MAX_CHAIN_COUNT } from "../lambda/core/paths";
import type { WatchedAction } from "../lambda/core/watched-actions";
import {
  DEFAULT_CHAINS,
  DEFAULT_ERASE_SCOPE,
  DEFAULT_ERASURE_HORIZON_DAYS,
  DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS,
  MAX_SUBJECT_TOKEN_LEEWAY_SECONDS,
  type SubjectIssuer,
} from "../lambda/runtime/config";
import {
  DEFAULT_VERIFIER_MAX_AGE_MINUTES,
  DEFAULT_VERIFIER_PERIOD_MINUTES,
} from "../lambda/verify/scheduled-config";
import type { SealtrailPrivacyOptions } from "./privacy";
import { ROLE_ARN_PATTERN } from "./replica";
import { BUCKET_ARN_PATTERN, KEY_ARN_PATTERN } from "./replication";
import { MAX_VERIFIER_PERIOD_MINUTES, MIN_VERIFIER_PERIOD_MINUTES } from "./scheduled-verifier";
import { DEFAULT_AUTH_FAILURE_ALARM_THRESHOLD, MAX_RETENTION_DAYS } from "./sealtrail";

/** One context key: what the README says about it and how its value is read. */
export interface ContextKey<T> {
  /** The value's form, as the README shows it. */
  readonly type: string;
  /** What happens when the key is not given, as the README shows it. */
  readonly default: string;
  readonly description: string;
  /**
   * Reads a value as `-c` passes it (a string) or cdk.json does (JSON); undefined and "" mean "not
   * given". Throws a message that names the key, what is wrong and the fix.
   */
  parse(key: string, value: unknown): T | undefined;
}

interface Described {
  readonly default: string;
  readonly description: string;
}

/** Context values that are empty count as not given, so `-c tenantClaim=` falls back to the default. */
/** A value from cdk.json as it is; from `-c` (text) parsed as JSON, undefined when it is not JSON. */
function jsonOf(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function given(value: unknown): boolean {
  return !(value === undefined || value === null || (typeof value === "string" && value.trim() === ""));
}

function text(
  options: Described & { readonly type?: string; readonly pattern?: RegExp; readonly example: string },
) {
  return {
    type: options.type ?? "text",
    default: options.default,
    description: options.description,
    parse(key: string, value: unknown): string | undefined {
      if (!given(value)) return undefined;
      const trimmed = typeof value === "string" ? value.trim() : undefined;
      if (trimmed === undefined || (options.pattern !== undefined && !options.pattern.test(trimmed))) {
        throw new Error(
          `context ${key} must be ${options.type ?? "text"}, got ${JSON.stringify(value)}: pass e.g. -c ${key}=${options.example}`,
        );
      }
      return trimmed;
    },
  } satisfies ContextKey<string>;
}

function list(options: Described & { readonly example: string }) {
  return {
    type: "comma-separated list",
    default: options.default,
    description: options.description,
    parse(key: string, value: unknown): string[] | undefined {
      if (!given(value)) return undefined;
      const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
      if (items === undefined || !items.every((item) => typeof item === "string")) {
        throw new Error(
          `context ${key} must be a comma-separated list, got ${JSON.stringify(value)}: pass e.g. -c ${key}=${options.example}`,
        );
      }
      const names = items.map((item) => item.trim()).filter((item) => item !== "");
      return names.length > 0 ? names : undefined;
    },
  } satisfies ContextKey<string[]>;
}

function wholeNumber(
  options: Described & { readonly min: number; readonly max?: number; readonly example: number },
) {
  const range =
    options.max === undefined ? `of at least ${options.min}` : `from ${options.min} to ${options.max}`;
  return {
    type: `whole number ${range}`,
    default: options.default,
    description: options.description,
    parse(key: string, value: unknown): number | undefined {
      if (!given(value)) return undefined;
      const digits = String(value).trim();
      const number = /^\d+$/.test(digits) ? Number(digits) : Number.NaN;
      if (
        !Number.isSafeInteger(number) ||
        number < options.min ||
        (options.max !== undefined && number > options.max)
      ) {
        throw new Error(
          `context ${key} must be a whole number ${range}, got ${JSON.stringify(value)}: pass e.g. -c ${key}=${options.example}`,
        );
      }
      return number;
    },
  } satisfies ContextKey<number>;
}

/** `true` or `false` (`-c key=true`, or a JSON boolean in cdk.json). */
function flag(options: Described) {
  return {
    type: "true or false",
    default: options.default,
    description: options.description,
    parse(key: string, value: unknown): boolean | undefined {
      if (!given(value)) return undefined;
      const text = String(value).trim();
      if (text === "true" || text === "false") return text === "true";
      throw new Error(
        `context ${key} must be true or false, got ${JSON.stringify(value)}: pass e.g. -c ${key}=true`,
      );
    },
  } satisfies ContextKey<boolean>;
}

const SUBJECT_ISSUERS_EXAMPLE =
  '\'subjectIssuers=[{"issuer":"https://idp.example.com","jwksUrl":"https://idp.example.com/jwks.json","audiences":["app"]}]\'';

/** A JSON array of {issuer, jwksUrl, audiences}; the construct checks each field. */
const subjectIssuers = {
  type: "JSON array of {issuer, jwksUrl, audiences}",
  default: "none: a forwarded subject token is refused",
  description: "issuers whose end-user tokens a service may forward in `X-Sealtrail-Subject-Token`",
  parse(key: string, value: unknown): SubjectIssuer[] | undefined {
    if (!given(value)) return undefined;
    const parsed = jsonOf(value);
    if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === "object" && item !== null)) {
      throw new Error(
        `context ${key} must be a JSON array, got ${String(value)}: pass e.g. -c ${SUBJECT_ISSUERS_EXAMPLE}`,
      );
    }
    return parsed as SubjectIssuer[];
  },
} satisfies ContextKey<SubjectIssuer[]>;

const WATCHED_ACTIONS_EXAMPLE =
  '\'watchedActions=[{"pattern":"user.login","outcome":"failure","threshold":20},{"pattern":"role.*","threshold":5}]\'';

/** A JSON array of {pattern, outcome?, threshold}; the construct checks each entry. */
const watchedActions = {
  type: "JSON array of {pattern, outcome?, threshold}",
  default: "failed `user.login` (20), `permission.*` (10), `role.*` (10)",
  description:
    "actions counted by outcome, each with an alarm at `threshold` events per 5 minutes; a pattern is an action or a prefix ending in `.*`; `[]` watches nothing",
  parse(key: string, value: unknown): WatchedAction[] | undefined {
    if (!given(value)) return undefined;
    const parsed = jsonOf(value);
    if (!Array.isArray(parsed)) {
      throw new Error(
        `context ${key} must be a JSON array, got ${String(value)}: pass e.g. -c ${WATCHED_ACTIONS_EXAMPLE}`,
      );
    }
    return parsed as WatchedAction[];
  },
} satisfies ContextKey<WatchedAction[]>;

const PRIVACY_EXAMPLE = '\'privacy={"searchable":["actor.sub"],"erasureHorizonDays":14}\'';

/** `true`, `false` or a JSON object of privacy options; the construct checks each option. */
const privacy = {
  type: "true, false or JSON {personal?, searchable?, eraseScope?, erasureHorizonDays?}",
  default: "off",
  description: `crypto-shredding (docs/privacy.md): personal fields sealed per data subject, \`POST /v1/subjects/erase\` (scope \`${DEFAULT_ERASE_SCOPE}\`) and \`/hold\`; \`true\` is the default policy, erasure complete after the table's ${DEFAULT_ERASURE_HORIZON_DAYS}-day recovery window`,
  parse(key: string, value: unknown): boolean | SealtrailPrivacyOptions | undefined {
    if (!given(value)) return undefined;
    const parsed = jsonOf(value);
    if (typeof parsed === "boolean") return parsed;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new Error(
        `context ${key} must be true, false or a JSON object, got ${String(value)}: pass e.g. -c ${key}=true or -c ${PRIVACY_EXAMPLE}`,
      );
    }
    return parsed as SealtrailPrivacyOptions;
  },
} satisfies ContextKey<boolean | SealtrailPrivacyOptions>;

/** The stack's name unless `-c stackName=…` is given. */
export const DEFAULT_STACK_NAME = "Sealtrail";

/** Every context key the app reads, in the order the README lists them. */
export const CONTEXT_KEYS = {
  issuer: text({
    type: "https URL",
    pattern: /^https:\/\/\S+$/,
    example: "https://idp.example.com/",
    default: "a placeholder that accepts no token (with a warning)",
    description:
      "issuer of the access tokens (their `iss` claim); API Gateway reads its keys from the issuer's `/.well-known/openid-configuration`",
  }),
  audience: list({
    example: "sealtrail,sealtrail-cli",
    default: "a placeholder that accepts no token (with a warning)",
    description:
      "accepted audiences: a token must carry one in `aud` (or `client_id`, as Cognito access tokens do)",
  }),
  retentionDays: wholeNumber({
    min: 1,
    max: MAX_RETENTION_DAYS,
    example: 30,
    default: `${DEFAULT_RETENTION_DAYS} (7 years)`,
    description:
      "Object Lock COMPLIANCE default retention of every archived object; fixed by the first deploy (see above)",
  }),
  chains: wholeNumber({
    min: 1,
    max: MAX_CHAIN_COUNT,
    example: DEFAULT_CHAINS,
    default: String(DEFAULT_CHAINS),
    description: "number of hash chains; more chains allow more parallel writers",
  }),
  tenantClaim: text({
    example: "custom:tenant",
    default: 'none: every record has tenant "default"',
    description: "claim of the caller's token that names its tenant",
  }),
  indexTtlDays: wholeNumber({
    min: 1,
    example: 90,
    default: "pointers never expire",
    description: "days after which DynamoDB deletes index pointers (the archive stays the source of truth)",
  }),
  subjectIssuers,
  subjectTokenLeewaySeconds: wholeNumber({
    min: 0,
    max: MAX_SUBJECT_TOKEN_LEEWAY_SECONDS,
    example: 600,
    default: String(DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS),
    description:
      "seconds past its `exp` a per-event `subject_token` is still accepted, so an event waiting in a client's batch keeps its verified actor",
  }),
  alarmEmail: text({
    type: "email address",
    pattern: /^[^@\s]+@[^@\s]+$/,
    example: "oncall@example.com",
    default: "no subscription",
    description: "subscribed to the alarm topic (the recipient confirms the subscription)",
  }),
  authFailureAlarmThreshold: wholeNumber({
    min: 1,
    example: 500,
    default: String(DEFAULT_AUTH_FAILURE_ALARM_THRESHOLD),
    description:
      "4xx responses of the API per 5 minutes that raise the auth-failure alarm (400 and 422 count too)",
  }),
  verificationPeriodMinutes: wholeNumber({
    min: MIN_VERIFIER_PERIOD_MINUTES,
    max: MAX_VERIFIER_PERIOD_MINUTES,
    example: 30,
    default: `${DEFAULT_VERIFIER_PERIOD_MINUTES} (hourly)`,
    description:
      "minutes between runs of the scheduled verifier (`verify --state` in the stack); its alarms use the same period",
  }),
  verificationMaxAgeMinutes: wholeNumber({
    min: 1,
    example: 60,
    default: String(DEFAULT_VERIFIER_MAX_AGE_MINUTES),
    description: "the scheduled verifier's `--max-age`: how old the newest checkpoint may be before it fails",
  }),
  watchedActions,
  privacy,
  stackName: text({
    type: "CloudFormation stack name",
    pattern: /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
    example: "SealtrailTrial",
    default: DEFAULT_STACK_NAME,
    description: "name of the stack, so one account can hold more than one (a trial beside production)",
  }),
  replicaBucketArn: text({
    type: "S3 bucket ARN",
    pattern: BUCKET_ARN_PATTERN,
    example: "arn:aws:s3:::my-archive-replica",
    default: "no replica",
    description:
      "replicate the archive into this locked bucket in another region or account (the replica stack's `ReplicaBucketArn`; with `replicaKeyArn`); docs/operations.md, Replica",
  }),
  replicaKeyArn: text({
    type: "KMS key ARN",
    pattern: KEY_ARN_PATTERN,
    example: "arn:aws:kms:eu-central-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    default: "no replica",
    description: "the replica bucket's KMS key (the replica stack's `ReplicaKeyArn`)",
  }),
  replicaTimeControl: flag({
    default: "false",
    description:
      "S3 Replication Time Control for the replica: 99.99% of objects within 15 minutes, billed per GB",
  }),
  replicaSourceRoleArn: text({
    type: "IAM role ARN",
    pattern: ROLE_ARN_PATTERN,
    example: "arn:aws:iam::111111111111:role/Sealtrail-replication",
    default: "no replica stack",
    description:
      "also synthesize the replica stack `<stackName>Replica`, which admits this source replication role; deploy it in the replica's account and region",
  }),
} as const;

export type ContextKeyName = keyof typeof CONTEXT_KEYS;
export const CONTEXT_KEY_NAMES = Object.keys(CONTEXT_KEYS) as ContextKeyName[];

/** What each key parses to. */
export type ContextValues = {
  -readonly [K in ContextKeyName]?: NonNullable<ReturnType<(typeof CONTEXT_KEYS)[K]["parse"]>>;
};

/**
 * Keys that are not sealtrail's but that CDK itself puts in the context: feature flags (`@aws-cdk/...`),
 * the CLI's switches (`aws:cdk:...`), context lookups saved in cdk.context.json (`<provider>:account=…`),
 * all of which contain ":" or start with "@", and the CLI's settings without either (`cdk acknowledge`,
 * `cdk cli-telemetry`). Checked against what CDK CLI 2.1148 passes by test/infra/synth.test.ts.
 */
const CDK_KEYS_WITHOUT_COLON = new Set(["acknowledged-issue-numbers", "cli-telemetry"]);
export function isCdkOwnKey(key: string): boolean {
  return key.includes(":") || key.startsWith("@") || CDK_KEYS_WITHOUT_COLON.has(key);
}

/**
 * Reads and checks the whole context: every sealtrail key is parsed and every other key must be CDK's
 * own, so a misspelt key (`retentionDay`) is an error instead of a silent default. Reports every problem
 * at once.
 */
export function readContext(context: Readonly<Record<string, unknown>>): ContextValues {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(context)) {
    if (Object.hasOwn(CONTEXT_KEYS, key)) {
      try {
        const parsed = CONTEXT_KEYS[key as ContextKeyName].parse(key, value);
        if (parsed !== undefined) values[key] = parsed;
      } catch (error) {
        problems.push((error as Error).message);
      }
    } else if (!isCdkOwnKey(key)) {
      const suggestion = closestKey(key);
      problems.push(
        `context ${key} is not a sealtrail context key${suggestion ? ` (did you mean ${suggestion}?)` : ""}: ` +
          `remove it or use one of ${CONTEXT_KEY_NAMES.join(", ")}`,
      );
    }
  }
  if (problems.length > 0)
    throw new Error(`Invalid context (-c key=value or cdk.json):\n- ${problems.join("\n- ")}`);
  return values as ContextValues;
}

/** The README's table of context keys, rendered from CONTEXT_KEYS. */
export function contextKeysMarkdown(): string {
  const rows = CONTEXT_KEY_NAMES.map((name) => {
    const key = CONTEXT_KEYS[name];
    return `| \`${name}\` | ${key.type} | ${key.default} | ${key.description} |`;
  });
  return ["| key | value | default | what it sets |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The sealtrail key a misspelt one most likely meant: same letters ignoring case, or 2 edits away. */
function closestKey(key: string): ContextKeyName | undefined {
  let best: { name: ContextKeyName; distance: number } | undefined;
  for (const name of CONTEXT_KEY_NAMES) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
