/**
 * Runtime configuration, read from the environment once per Lambda environment (or passed in by
 * local mode and tests). The CDK construct sets exactly these variables.
 */
import * as z from "zod";
import { AWS_TARGET_ENV, type AwsTarget, awsTargetOf } from "../aws/target";
import { MAX_CHAIN_COUNT } from "../core/paths";
import { type PrivacyPolicy, PrivacyPolicySchema } from "../core/privacy/policy";
import { patternProblem } from "../core/watched-actions";

/** An issuer whose end-user tokens may be forwarded in X-Sealtrail-Subject-Token. */
const SubjectIssuerSchema = z.object({
  issuer: z.string().min(1),
  /** Where this issuer's keys are fetched from: configuration only, never the token. */
  jwksUrl: z.string().url(),
  /** A subject token must carry at least one of these in `aud` (or `client_id` for Cognito access tokens). */
  audiences: z.array(z.string().min(1)).min(1),
});
export type SubjectIssuer = z.infer<typeof SubjectIssuerSchema>;

export interface SealtrailConfig {
  readonly bucket: string;
  readonly table: string;
  /** Number of hash chains K; order is defined within a chain. */
  readonly chains: number;
  readonly scopes: { readonly write: string; readonly read: string; readonly admin: string };
  /** Claim of the caller's token that names its tenant; without it every record has tenant "default". */
  readonly tenantClaim?: string;
  readonly subjectIssuers: readonly SubjectIssuer[];
  /**
   * How long past its `exp` a per-event `subject_token` is still accepted, so that a client's
   * batching does not cost verification; the record keeps `token_exp`. Default 300.
   */
  readonly subjectTokenLeewaySeconds?: number;
  /** Days after which index pointer items expire; undefined keeps them forever. */
  readonly indexTtlDays?: number;
  /** How long a Lambda environment's chain lease lasts before another may take it. */
  readonly leaseSeconds: number;
  /**
   * KMS key (id, ARN or alias; key spec HMAC_256, usage GENERATE_VERIFY_MAC) that authenticates the
   * query API's pagination cursors. Without it each process uses a random key of its own, which
   * only suits a single process (local mode, tests).
   */
  readonly cursorKeyId?: string;
  /**
   * Watched-action patterns whose acknowledged events the write path counts by outcome
   * (lambda/core/watched-actions.ts); default: the patterns of DEFAULT_WATCHED_ACTIONS.
   */
  readonly watchedActionPatterns?: readonly string[];
  /** Crypto-shredding (docs/privacy.md); undefined: records are stored as they are sent. */
  readonly privacy?: PrivacyConfig;
  readonly aws: AwsTarget;
}

/** What a deployment with privacy on needs: the policy, its keys, the erase scope and horizon. */
export interface PrivacyConfig {
  readonly policy: PrivacyPolicy;
  /** KMS symmetric key (ENCRYPT_DECRYPT) that wraps data keys; local mode uses a local key instead. */
  readonly wrapKeyId?: string;
  /** KMS HMAC_256 key from which each tenant's pseudonym key is derived; local mode uses a secret file. */
  readonly pseudonymKeyId?: string;
  /** The scope `POST /v1/subjects/erase` requires. */
  readonly eraseScope: string;
  /** Days a destroyed key survives in the table's point-in-time recovery: when erasure is complete. */
  readonly erasureHorizonDays: number;
}

export const ENV = {
  bucket: "SEALTRAIL_BUCKET",
  table: "SEALTRAIL_TABLE",
  chains: "SEALTRAIL_CHAINS",
  writeScope: "SEALTRAIL_WRITE_SCOPE",
  readScope: "SEALTRAIL_READ_SCOPE",
  adminScope: "SEALTRAIL_ADMIN_SCOPE",
  tenantClaim: "SEALTRAIL_TENANT_CLAIM",
  subjectIssuers: "SEALTRAIL_SUBJECT_ISSUERS",
  subjectTokenLeewaySeconds: "SEALTRAIL_SUBJECT_TOKEN_LEEWAY_SECONDS",
  indexTtlDays: "SEALTRAIL_INDEX_TTL_DAYS",
  leaseSeconds: "SEALTRAIL_LEASE_SECONDS",
  cursorKeyId: "SEALTRAIL_CURSOR_KEY_ID",
  watchedActions: "SEALTRAIL_WATCHED_ACTIONS",
  privacy: "SEALTRAIL_PRIVACY",
  privacyWrapKeyId: "SEALTRAIL_PRIVACY_WRAP_KEY_ID",
  privacyPseudonymKeyId: "SEALTRAIL_PRIVACY_PSEUDONYM_KEY_ID",
  eraseScope: "SEALTRAIL_ERASE_SCOPE",
  erasureHorizonDays: "SEALTRAIL_ERASURE_HORIZON_DAYS",
} as const;

export const DEFAULT_ERASE_SCOPE = "sealtrail/erase";
/** The table's point-in-time recovery window when privacy is on (DynamoDB allows 1 to 35 days). */
export const DEFAULT_ERASURE_HORIZON_DAYS = 7;
export const MAX_ERASURE_HORIZON_DAYS = 35;

export const DEFAULT_SCOPES = {
  write: "sealtrail/write",
  read: "sealtrail/read",
  admin: "sealtrail/admin",
} as const;
export const DEFAULT_CHAINS = 16;
export const DEFAULT_LEASE_SECONDS = 300;
export const DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS = 300;
/** The most a subject token may be past its `exp`: an hour, so a leaked token stays useless soon. */
export const MAX_SUBJECT_TOKEN_LEEWAY_SECONDS = 3600;

const positiveInt = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int()
    .positive();

const EnvSchema = z.object({
  [ENV.bucket]: z.string({ error: `${ENV.bucket} is required` }).min(1),
  [ENV.table]: z.string({ error: `${ENV.table} is required` }).min(1),
  [ENV.chains]: positiveInt(ENV.chains).max(MAX_CHAIN_COUNT).default(DEFAULT_CHAINS),
  [ENV.writeScope]: z.string().min(1).default(DEFAULT_SCOPES.write),
  [ENV.readScope]: z.string().min(1).default(DEFAULT_SCOPES.read),
  [ENV.adminScope]: z.string().min(1).default(DEFAULT_SCOPES.admin),
  [ENV.tenantClaim]: z.string().min(1).optional(),
  [ENV.subjectIssuers]: z
    .string()
    .default("[]")
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `${ENV.subjectIssuers} must be a JSON array` });
        return z.NEVER;
      }
    })
    .pipe(z.array(SubjectIssuerSchema)),
  [ENV.indexTtlDays]: positiveInt(ENV.indexTtlDays).optional(),
  [ENV.subjectTokenLeewaySeconds]: z.coerce
    .number({ error: `${ENV.subjectTokenLeewaySeconds} must be a number of seconds` })
    .int()
    .min(0)
    .max(
      MAX_SUBJECT_TOKEN_LEEWAY_SECONDS,
      `${ENV.subjectTokenLeewaySeconds} must be at most ${MAX_SUBJECT_TOKEN_LEEWAY_SECONDS} (one hour)`,
    )
    .default(DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS),
  [ENV.leaseSeconds]: positiveInt(ENV.leaseSeconds).default(DEFAULT_LEASE_SECONDS),
  [ENV.cursorKeyId]: z.string().min(1).optional(),
  [ENV.watchedActions]: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      let patterns: unknown;
      try {
        patterns = JSON.parse(text);
      } catch {
        patterns = undefined;
      }
      const problems =
        Array.isArray(patterns) && patterns.every((p) => typeof p === "string")
          ? patterns.flatMap((p) => {
              const problem = patternProblem(p);
              return problem ? [`${ENV.watchedActions}: the pattern ${problem}`] : [];
            })
          : [
              `${ENV.watchedActions} must be a JSON array of watched-action patterns, e.g. ["user.login","role.*"]`,
            ];
      for (const message of problems) ctx.addIssue({ code: "custom", message });
      return problems.length > 0 ? z.NEVER : (patterns as string[]);
    }),
  [ENV.privacy]: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `${ENV.privacy} must be a JSON object such as {}` });
        return z.NEVER;
      }
    })
    .pipe(PrivacyPolicySchema.optional()),
  [ENV.privacyWrapKeyId]: z.string().min(1).optional(),
  [ENV.privacyPseudonymKeyId]: z.string().min(1).optional(),
  [ENV.eraseScope]: z.string().min(1).default(DEFAULT_ERASE_SCOPE),
  [ENV.erasureHorizonDays]: positiveInt(ENV.erasureHorizonDays)
    .max(MAX_ERASURE_HORIZON_DAYS)
    .default(DEFAULT_ERASURE_HORIZON_DAYS),
  ...AWS_TARGET_ENV,
});

export function configFromEnv(env: Record<string, string | undefined> = process.env): SealtrailConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `Invalid sealtrail configuration: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
    );
  }
  const e = parsed.data;
  const policy = e[ENV.privacy];
  return {
    bucket: e[ENV.bucket],
    table: e[ENV.table],
    chains: e[ENV.chains],
    scopes: { write: e[ENV.writeScope], read: e[ENV.readScope], admin: e[ENV.adminScope] },
    tenantClaim: e[ENV.tenantClaim],
    subjectIssuers: e[ENV.subjectIssuers],
    subjectTokenLeewaySeconds: e[ENV.subjectTokenLeewaySeconds],
    indexTtlDays: e[ENV.indexTtlDays],
    leaseSeconds: e[ENV.leaseSeconds],
    cursorKeyId: e[ENV.cursorKeyId],
    watchedActionPatterns: e[ENV.watchedActions],
    privacy: policy && {
      policy,
      wrapKeyId: e[ENV.privacyWrapKeyId],
      pseudonymKeyId: e[ENV.privacyPseudonymKeyId],
      eraseScope: e[ENV.eraseScope],
      erasureHorizonDays: e[ENV.erasureHorizonDays],
    },
    aws: awsTargetOf(e),
  };
}

/** The function's Powertools service name (the `service` metric dimension, the log and trace name). */
export function powertoolsServiceName(): string {
  return process.env.POWERTOOLS_SERVICE_NAME ?? "sealtrail";
}
