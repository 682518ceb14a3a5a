/**
 * The `Sealtrail` construct: the tamper-evident audit archive composed of parts with one job each, secure
 * by default: the archive (lib/archive.ts: key, bucket, policy, table), the ingest API
 * (lib/ingest-api.ts: HTTP API, JWT authorizer, stage, access logs, ingest and reindex functions), the
 * query API (lib/query.ts), the checkpoint run (lib/checkpoint.ts), Athena search (lib/search.ts), the
 * alarms (lib/alarms.ts), the dashboard, the scheduled verifier, the optional replication and the
 * optional privacy keys (lib/privacy.ts).
 * Infrastructure only: the business logic lives in lambda/. docs/construct.md documents the props and
 * the public properties.
 */
import { Aspects, CfnOutput, type Duration, Stack, Token, Tokenization } from "aws-cdk-lib";
import type { Alarm } from "aws-cdk-lib/aws-cloudwatch";
import type { IKey, Key } from "aws-cdk-lib/aws-kms";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../lambda/core/metrics";
import { DEFAULT_RETENTION_DAYS } from "../lambda/core/object-lock";
import { MAX_CHAIN_COUNT } from "../lambda/core/paths";
import {
  DEFAULT_WATCHED_ACTIONS,
  type WatchedAction,
  watchedActionProblems,
  watchedPatterns,
} from "../lambda/core/watched-actions";
import {
  DEFAULT_CHAINS,
  DEFAULT_LEASE_SECONDS,
  DEFAULT_SCOPES,
  DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS,
  ENV,
  MAX_SUBJECT_TOKEN_LEEWAY_SECONDS,
  type SubjectIssuer,
} from "../lambda/runtime/config";
import { AccessAlarms, alarmTopic, WritePathAlarms } from "./alarms";
import { SealtrailArchive } from "./archive";
import { BucketPolicyFollowsBucket } from "./bucket-policy-retention";
import { CheckpointSigner } from "./checkpoint";
import { SealtrailDashboard } from "./dashboard";
import { IngestApi } from "./ingest-api";
import { privacyProblems, privacySettings, SealtrailPrivacy, type SealtrailPrivacyOptions } from "./privacy";
import { QueryApi } from "./query";
import {
  ArchiveReplication,
  replicaDestinationProblems,
  type SealtrailReplicaDestination,
} from "./replication";
import { ScheduledVerifier } from "./scheduled-verifier";
import { SealtrailSearch, type SealtrailSearchOptions } from "./search";

export { DEFAULT_AUTH_FAILURE_ALARM_THRESHOLD } from "./alarms";
export { ACCESS_LOG_FIELDS } from "./ingest-api";

/** S3's upper bound for Object Lock retention (aws-cdk-lib enforces the same: less than 100 years). */
export const MAX_RETENTION_DAYS = 36_500;

/** OAuth scopes checked by the HTTP API's JWT authorizer, per route. */
export interface SealtrailScopes {
  /**
   * Scope required to append events (`POST /v1/events`).
   * @default "sealtrail/write"
   */
  readonly write?: string;
  /**
   * Scope required to search events.
   * @default "sealtrail/read"
   */
  readonly read?: string;
  /**
   * Scope required for administrative routes.
   * @default "sealtrail/admin"
   */
  readonly admin?: string;
}

export interface SealtrailProps {
  /**
   * Issuer (`iss`) of the access tokens that call the API, as an https URL, e.g.
   * `https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf`. API Gateway reads its JWKS from the
   * issuer's OpenID discovery document.
   */
  readonly issuer: string;

  /** Accepted audiences: a token must carry one of these in `aud` (or `client_id`, for Cognito access tokens). */
  readonly audience: string[];

  /**
   * Default Object Lock retention, in days, of every archived object (COMPLIANCE mode: nobody, root
   * included, can shorten it or delete a locked version). Changing it on a deployed stack is refused by
   * the bucket policy, which denies s3:PutBucketObjectLockConfiguration to every principal. A whole number
   * from 1 to 36500, known at synthesis (not a Token).
   * @default 2555 (7 years, DEFAULT_RETENTION_DAYS)
   */
  readonly retentionDays?: number;

  /**
   * Number of hash chains K; order is defined within a chain, so more chains allow more parallel writers.
   * @default 16
   */
  readonly chains?: number;

  /**
   * Claim of the caller's token that names its tenant.
   * @default - no tenant claim: every record has tenant "default"
   */
  readonly tenantClaim?: string;

  /**
   * Issuers whose end-user tokens may be forwarded in `X-Sealtrail-Subject-Token`, each with the JWKS URL
   * its keys are fetched from (configuration only, never the token) and the audiences it must carry.
   * @default - none: a forwarded subject token is rejected
   */
  readonly subjectIssuers?: readonly SubjectIssuer[];

  /**
   * How long past its `exp` a per-event `subject_token` is still accepted, so that an event waiting in
   * a client's batch keeps its verified actor; the record keeps `token_exp`. At most 3600.
   * @default 300
   */
  readonly subjectTokenLeewaySeconds?: number;

  /**
   * Days after which DynamoDB deletes index pointer items (the archive stays the source of truth).
   * @default - pointers never expire
   */
  readonly indexTtlDays?: number;

  /**
   * Scopes the JWT authorizer requires, per route.
   * @default - DEFAULT_SCOPES: sealtrail/write, sealtrail/read, sealtrail/admin
   */
  readonly scopes?: SealtrailScopes;

  /**
   * How long a Lambda environment's chain lease lasts before another environment may take it.
   * @default 300
   */
  readonly leaseSeconds?: number;

  /**
   * Email address subscribed to the alarm topic. The recipient must confirm the subscription.
   * @default - no subscription: subscribe to `alarmTopic` yourself
   */
  readonly alarmEmail?: string;

  /**
   * Steady-state request rate limit of the API's default stage, in requests per second.
   * @default 100
   */
  readonly throttleRateLimit?: number;

  /**
   * Burst request limit of the API's default stage.
   * @default 200
   */
  readonly throttleBurstLimit?: number;

  /**
   * Retention of the API access logs and the functions' logs.
   * @default RetentionDays.ONE_YEAR
   */
  readonly logRetention?: RetentionDays;

  /**
   * 4xx responses of the API's stage in 5 minutes that raise the auth-failure alarm. HTTP API metrics do
   * not split 4xx by status, so validation rejects (400/422) count too: set it above your normal rate.
   * @default 100
   */
  readonly authFailureAlarmThreshold?: number;

  /**
   * Actions whose events the write path counts by outcome, each with its own alarm: a pattern (an
   * action name, or a prefix ending in `.*`), an optional outcome the alarm is limited to, and the
   * matching events per 5 minutes that raise it. At most 20 entries, known at synthesis; `[]` watches
   * nothing.
   * @default - DEFAULT_WATCHED_ACTIONS: failed `user.login` (20), `permission.*` (10), `role.*` (10)
   */
  readonly watchedActions?: readonly WatchedAction[];

  /**
   * How often the scheduled verifier runs `verify --state` against the archive: whole minutes from 5 to
   * 1440. Its alarms evaluate the same period (silence: no verified checkpoint in two periods).
   * @default Duration.hours(1)
   */
  readonly verificationPeriod?: Duration;

  /**
   * The scheduled verifier's `--max-age`: the newest checkpoint may be at most this old (the signer signs
   * every minute). At least one minute.
   * @default Duration.minutes(15)
   */
  readonly verificationMaxAge?: Duration;

  /**
   * Replicate every object of the archive (lock metadata included, delete markers never) into a locked
   * bucket in another region and/or account, made by `SealtrailReplica` (lib/replica.ts): its bucket and
   * key ARNs, optional S3 Replication Time Control, the latency alarm's bound and the role's name. Adds
   * the replication role and the replication-failure and latency alarms. docs/operations.md, "Replica".
   * @default - no replica
   */
  readonly replica?: SealtrailReplicaDestination;

  /**
   * A KMS key you already have for the archive bucket, the index table and the signer's and verifier's
   * state buckets (symmetric, ENCRYPT_DECRYPT). Its key policy stays yours: sealtrail grants every role
   * its use in IAM, so the key policy must let this account's IAM policies grant it (the default key
   * policy does). Known at the first deployment: changing it later re-encrypts nothing and replaces no
   * bucket, but new objects use the new key.
   * @default - a new customer managed key with rotation, retained
   */
  readonly archiveKey?: IKey;

  /**
   * An SNS topic you already have for every alarm (and the scheduled verifier's findings). Its policy
   * and key are yours: they must let this account's CloudWatch alarms publish (and, if it is
   * encrypted, use its key). Import it with its key (`Topic.fromTopicAttributes({ topicArn, keyArn })`)
   * so the verifier is granted that key too. `alarmEmail` subscribes to it.
   * @default - a new topic encrypted with a new customer managed key, both admitting this account's alarms
   */
  readonly alarmTopic?: ITopic;

  /**
   * Options of the Athena search (lib/search.ts): Glue database and workgroup names, the per-query scan
   * cutoff (`bytesScannedCutoffPerQuery`), results retention, the first projected day, the results
   * bucket's removal policy.
   * @default - SealtrailSearch's defaults
   */
  readonly search?: SealtrailSearchOptions;

  /**
   * Crypto-shredding (docs/privacy.md): personal fields sealed under a key per data subject, searchable
   * identifiers as keyed pseudonyms, `POST /v1/subjects/erase` (its own scope) and `POST
   * /v1/subjects/hold` (admin scope). `true` is the default policy; an object sets `personal`,
   * `searchable`, `eraseScope` and `erasureHorizonDays` (the index table's point-in-time recovery
   * window, after which an erasure is complete). Adds the wrapping and pseudonym keys (`privacy`).
   * @default - off: records are stored as they are sent
   */
  readonly privacy?: boolean | SealtrailPrivacyOptions;
}

/**
 * sealtrail: `POST /v1/events` (JWT, write scope) → ingest function → Object-Locked, KMS-encrypted
 * archive bucket and DynamoDB index; the read routes (`QUERY_ROUTES`, JWT, read scope) → query function,
 * whose cursors only it can MAC (KMS HMAC_256); a reindex job every 5 minutes; a checkpoint signer every
 * minute (KMS ECC_NIST_P256, only it may sign); the scheduled verifier (hourly, read only); Athena
 * search; alarms to SNS. Each resource is reachable by one path (docs/construct.md lists them).
 */
export class Sealtrail extends Construct {
  /** The archive: its key, the locked bucket, the access-log bucket and the index table. */
  public readonly archive: SealtrailArchive;
  /** The HTTP API, its stage and access logs, the JWT authorizer, the ingest and reindex functions. */
  public readonly ingestApi: IngestApi;
  /**
   * The read routes' function (`query.fn`) and its cursor key (`query.cursorKey`). The function archives
   * every read as an `audit.read` event, so it has the ingest function's permissions too.
   */
  public readonly query: QueryApi;
  /** The checkpoint run: signing key, state bucket, function, schedule and public key. */
  public readonly checkpointSigner: CheckpointSigner;
  /** Athena over the archive: Glue tables, the linked-events view, the workgroup and named queries. */
  public readonly search: SealtrailSearch;
  /** Where every alarm notifies: `alarmTopic` if given, else a topic encrypted with `alarmKey`, TLS-only. */
  public readonly alarmTopic: ITopic;
  /**
   * Key of the topic sealtrail made (CloudWatch alarms cannot publish to a topic encrypted with an AWS
   * managed key); absent with an existing `alarmTopic`.
   */
  public readonly alarmKey?: Key;
  /** Every alarm of the construct (write path, access, verifier, replication), the dashboard's list. */
  public readonly alarms: Alarm[];
  /** The alarms on the write path, the query function and the checkpoint run (lib/alarms.ts), all in `alarms`. */
  public readonly writePathAlarms: WritePathAlarms;
  /** The alarms on access patterns and silence (lib/alarms.ts), all in `alarms`. */
  public readonly accessAlarms: AccessAlarms;
  /** The CloudWatch dashboard: every alarm in `alarms` and graphs of the access metrics. */
  public readonly dashboard: SealtrailDashboard;
  /** The scheduled verifier: `verify --state --max-age` on a schedule, read only, with its own store and alarms. */
  public readonly verifier: ScheduledVerifier;
  /** With `replica`: the replication rule's role and its two alarms (also in `alarms`). */
  public readonly replication?: ArchiveReplication;
  /** With `privacy`: the wrapping key and the pseudonym key, reserved to the ingest and query functions. */
  public readonly privacy?: SealtrailPrivacy;

  constructor(scope: Construct, id: string, props: SealtrailProps) {
    super(scope, id);
    const scopes = { ...DEFAULT_SCOPES, ...definedOnly(props.scopes ?? {}) };
    validateProps(props, Stack.of(this).stackName, scopes);
    // Every retained bucket keeps its policy after `cdk destroy`: the archive never outlives its append-only policy.
    Aspects.of(this).add(new BucketPolicyFollowsBucket());

    const logRetention = props.logRetention ?? RetentionDays.ONE_YEAR;
    const watchedActions = props.watchedActions ?? DEFAULT_WATCHED_ACTIONS;
    const privacy = privacySettings(props.privacy);

    // The parts build in this construct's scope, so every resource keeps the logical ID deployed stacks have.
    this.archive = new SealtrailArchive(this, {
      retentionDays: props.retentionDays ?? DEFAULT_RETENTION_DAYS,
      key: props.archiveKey,
      // The data keys live in the table: a destroyed one is restorable for the recovery window.
      recoveryPeriodDays: privacy?.erasureHorizonDays,
    });
    const { key, bucket, accessLogBucket, table } = this.archive;

    const environment = apiEnvironment(this, props, scopes, watchedActions);
    this.ingestApi = new IngestApi(this, {
      archive: this.archive,
      environment,
      logRetention,
      issuer: props.issuer,
      audience: props.audience,
      writeScope: scopes.write,
      throttleRateLimit: props.throttleRateLimit,
      throttleBurstLimit: props.throttleBurstLimit,
    });
    this.query = new QueryApi(this, "Query", { archiveBucket: bucket, environment, logRetention });
    // Every read is archived as an audit.read event through the ingest write path.
    this.archive.bindWritePath(this.query.fn, { write: true });
    this.query.addRoutes(
      this.ingestApi.api,
      this.ingestApi.authorizer,
      scopes.read,
      privacy && { erase: privacy.eraseScope, hold: scopes.admin },
    );
    if (privacy !== undefined) {
      this.privacy = new SealtrailPrivacy(this, "Privacy", {
        settings: privacy,
        ingestFunction: this.ingestApi.ingestFunction,
        queryFunction: this.query.fn,
        reindexFunction: this.ingestApi.reindexFunction,
        table,
      });
    }

    this.checkpointSigner = new CheckpointSigner(this, "Checkpoint", {
      archiveBucket: bucket,
      archiveKey: key,
      accessLogBucket,
      environment: { [ENV.chains]: environment[ENV.chains] as string },
      logRetention,
    });

    this.search = new SealtrailSearch(this, "Search", { ...props.search, bucket, key, accessLogBucket });

    const alarms = alarmTopic(this, { existing: props.alarmTopic, email: props.alarmEmail });
    this.alarmTopic = alarms.topic;
    this.alarmKey = alarms.key;

    this.writePathAlarms = new WritePathAlarms(this, {
      topic: this.alarmTopic,
      ingestFunction: this.ingestApi.ingestFunction,
      reindexFunction: this.ingestApi.reindexFunction,
      queryFunction: this.query.fn,
      api: this.ingestApi.api,
      stage: this.ingestApi.stage,
      checkpointSigner: this.checkpointSigner,
      authFailureAlarmThreshold: props.authFailureAlarmThreshold,
    });
    this.alarms = [...this.writePathAlarms.alarms];

    this.accessAlarms = new AccessAlarms(this, "AccessAlarms", { topic: this.alarmTopic, watchedActions });
    this.alarms.push(...this.accessAlarms.alarms);
    // Reads `alarms` at synthesis: alarms pushed to it later in this constructor, or by users, appear too.
    this.dashboard = new SealtrailDashboard(this, "Dashboard", { alarms: this.alarms, watchedActions });

    this.verifier = new ScheduledVerifier(this, "Verifier", {
      archiveBucket: bucket,
      archiveKey: key,
      table,
      accessLogBucket,
      checkpointPublicKey: this.checkpointSigner.publicKeyDerBase64,
      alarmTopic: this.alarmTopic,
      period: props.verificationPeriod,
      maxAge: props.verificationMaxAge,
      logRetention,
    });
    this.alarms.push(...this.verifier.alarms);

    if (props.replica !== undefined) {
      this.replication = new ArchiveReplication(this, "Replication", {
        bucket,
        key,
        destination: props.replica,
        alarmTopic: this.alarmTopic,
      });
      this.alarms.push(...this.replication.alarms);
    }
  }

  /** The URL of the API's default stage (`ingestApi.stage.url`). */
  public get apiUrl(): string {
    return this.ingestApi.stage.url;
  }
}

/**
 * The configuration every function of the API reads (lambda/runtime/config.ts parses all of it), except the
 * archive's bucket and table, which `SealtrailArchive.bindWritePath` sets with the grants; the query
 * function adds its cursor key.
 */
function apiEnvironment(
  scope: Construct,
  props: SealtrailProps,
  scopes: Required<SealtrailScopes>,
  watchedActions: readonly WatchedAction[],
): Record<string, string> {
  return {
    [ENV.chains]: Tokenization.stringifyNumber(props.chains ?? DEFAULT_CHAINS),
    [ENV.writeScope]: scopes.write,
    [ENV.readScope]: scopes.read,
    [ENV.adminScope]: scopes.admin,
    [ENV.subjectIssuers]: Stack.of(scope).toJsonString(props.subjectIssuers ?? []),
    [ENV.leaseSeconds]: Tokenization.stringifyNumber(props.leaseSeconds ?? DEFAULT_LEASE_SECONDS),
    [ENV.subjectTokenLeewaySeconds]: Tokenization.stringifyNumber(
      props.subjectTokenLeewaySeconds ?? DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS,
    ),
    ...(props.tenantClaim !== undefined ? { [ENV.tenantClaim]: props.tenantClaim } : {}),
    ...(props.indexTtlDays !== undefined
      ? { [ENV.indexTtlDays]: Tokenization.stringifyNumber(props.indexTtlDays) }
      : {}),
    [ENV.watchedActions]: JSON.stringify(watchedPatterns(watchedActions)),
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Checks every prop, skipping unresolved Tokens, and reports all problems at once. */
function validateProps(props: SealtrailProps, stackName: string, scopes: Required<SealtrailScopes>): void {
  const problems: string[] = [];
  const known = (value: unknown) => !Token.isUnresolved(value);
  const integerIn = (name: string, value: number | undefined, min: number, max: number, fix: string) => {
    if (value === undefined || !known(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got ${value}: ${fix}`);
    }
  };

  if (known(props.issuer) && !/^https:\/\/[^\s/]+/.test(props.issuer)) {
    problems.push(
      `issuer must be the https URL of the token issuer (its "iss" claim), got "${props.issuer}": ` +
        "pass e.g. https://cognito-idp.<region>.amazonaws.com/<user pool id>",
    );
  }
  if (known(props.audience)) {
    if (props.audience.length === 0) {
      problems.push("audience must list at least one accepted token audience: pass e.g. ['sealtrail']");
    }
    for (const aud of props.audience) {
      if (known(aud) && aud.trim() === "") {
        problems.push("audience contains an empty string: remove it or name the accepted audience");
      }
    }
  }
  if (props.retentionDays !== undefined && !known(props.retentionDays)) {
    // aws-cdk-lib checks the Object Lock duration at synthesis, so it cannot be a CloudFormation value.
    problems.push("retentionDays must be a plain number, not a Token: pass the number of days itself");
  }
  integerIn(
    "retentionDays",
    props.retentionDays,
    1,
    MAX_RETENTION_DAYS,
    `pass the Object Lock retention in days (default ${DEFAULT_RETENTION_DAYS}, 7 years)`,
  );
  if (props.watchedActions !== undefined) {
    if (!known(props.watchedActions)) {
      problems.push("watchedActions must be a plain list, not a Token: each entry names an alarm");
    } else {
      problems.push(...watchedActionProblems("watchedActions", props.watchedActions));
    }
  }
  integerIn(
    "chains",
    props.chains,
    1,
    MAX_CHAIN_COUNT,
    `pass the number of hash chains (default ${DEFAULT_CHAINS})`,
  );
  integerIn(
    "indexTtlDays",
    props.indexTtlDays,
    1,
    Number.MAX_SAFE_INTEGER,
    "pass a positive number of days, or omit it to keep index pointers forever",
  );
  integerIn(
    "leaseSeconds",
    props.leaseSeconds,
    1,
    Number.MAX_SAFE_INTEGER,
    `pass a positive number of seconds (default ${DEFAULT_LEASE_SECONDS})`,
  );
  integerIn(
    "subjectTokenLeewaySeconds",
    props.subjectTokenLeewaySeconds,
    0,
    MAX_SUBJECT_TOKEN_LEEWAY_SECONDS,
    `pass seconds past a subject token's exp (default ${DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS})`,
  );
  integerIn(
    "throttleRateLimit",
    props.throttleRateLimit,
    1,
    Number.MAX_SAFE_INTEGER,
    "pass requests per second",
  );
  integerIn(
    "authFailureAlarmThreshold",
    props.authFailureAlarmThreshold,
    1,
    Number.MAX_SAFE_INTEGER,
    "pass a count of 4xx responses per 5 minutes",
  );
  integerIn(
    "throttleBurstLimit",
    props.throttleBurstLimit,
    1,
    Number.MAX_SAFE_INTEGER,
    "pass a request count",
  );
  if (props.tenantClaim !== undefined && known(props.tenantClaim) && props.tenantClaim.trim() === "") {
    problems.push('tenantClaim is empty: name the claim (e.g. "custom:tenant") or omit it');
  }
  for (const [name, scope] of Object.entries(props.scopes ?? {})) {
    if (scope !== undefined && known(scope) && (scope.trim() === "" || /\s/.test(scope))) {
      problems.push(`scopes.${name} must be one non-empty scope without spaces, got "${scope}"`);
    }
  }
  (props.subjectIssuers ?? []).forEach((subject, index) => {
    const { issuer, jwksUrl, audiences } = subject;
    if (known(issuer) && (typeof issuer !== "string" || issuer.trim() === "")) {
      problems.push(`subjectIssuers[${index}].issuer is missing: pass the issuer's "iss" value`);
    }
    if (known(jwksUrl) && (typeof jwksUrl !== "string" || !/^https:\/\/\S+$/.test(jwksUrl))) {
      problems.push(
        `subjectIssuers[${index}].jwksUrl must be an https URL, got ${JSON.stringify(jwksUrl)}: pass the issuer's JWKS URL`,
      );
    }
    if (known(audiences) && (!Array.isArray(audiences) || audiences.length === 0)) {
      problems.push(`subjectIssuers[${index}].audiences is empty: list the audiences its tokens must carry`);
    }
  });
  if (
    props.alarmEmail !== undefined &&
    known(props.alarmEmail) &&
    !/^[^@\s]+@[^@\s]+$/.test(props.alarmEmail)
  ) {
    problems.push(`alarmEmail must be an email address, got "${props.alarmEmail}"`);
  }

  problems.push(...replicaDestinationProblems(props.replica, stackName));
  problems.push(...privacyProblems(props.privacy, Object.values(scopes)));

  if (problems.length > 0) {
    throw new Error(`Invalid Sealtrail props:\n- ${problems.join("\n- ")}`);
  }
}

/**
 * Stack outputs of one Sealtrail construct, with the stable names ApiUrl, BucketName, TableName,
 * CheckpointKeyArn and CheckpointPublicKey, ReplicationRoleArn with a replica, and PrivacyWrapKeyArn
 * and PrivacyPseudonymKeyArn with privacy.
 *
 * CheckpointPublicKey is the signing key's public key as base64 of its DER SubjectPublicKeyInfo (what
 * KMS GetPublicKey returns; `openssl pkey -pubin -inform DER` reads it after base64 decoding). Verifiers
 * take a JWKS file, not this value: how an auditor turns it into the JWKS, with the key's `kid` and
 * validity window, is in docs/verify.md. Auditors should fetch it themselves (`aws kms get-public-key
 * --key-id <CheckpointKeyArn>`) or compare it with this output, and keep their own copy.
 */
export function addSealtrailOutputs(scope: Construct, sealtrail: Sealtrail): void {
  new CfnOutput(scope, "ApiUrl", { value: sealtrail.apiUrl, description: "Base URL of the sealtrail API" });
  new CfnOutput(scope, "BucketName", {
    value: sealtrail.archive.bucket.bucketName,
    description: "Archive bucket",
  });
  new CfnOutput(scope, "TableName", { value: sealtrail.archive.table.tableName, description: "Index table" });
  new CfnOutput(scope, "CheckpointKeyArn", {
    value: sealtrail.checkpointSigner.key.keyArn,
    description: "KMS key (ECC_NIST_P256) that signs checkpoints; only the checkpoint signer may sign",
  });
  new CfnOutput(scope, "CheckpointPublicKey", {
    value: sealtrail.checkpointSigner.publicKeyDerBase64,
    description: "Checkpoint public key: base64 DER SubjectPublicKeyInfo (to JWKS: see docs/verify.md)",
  });
  if (sealtrail.replication !== undefined) {
    new CfnOutput(scope, "ReplicationRoleArn", {
      value: sealtrail.replication.role.roleArn,
      description: "Role of the archive's replication: the replica stack's -c replicaSourceRoleArn",
    });
  }
  if (sealtrail.privacy !== undefined) {
    new CfnOutput(scope, "PrivacyWrapKeyArn", {
      value: sealtrail.privacy.wrapKey.keyArn,
      description:
        "KMS key that wraps each data subject's key; only the ingest and query functions may use it",
    });
    new CfnOutput(scope, "PrivacyPseudonymKeyArn", {
      value: sealtrail.privacy.pseudonymKey.keyArn,
      description:
        "KMS key (HMAC_256) the pseudonyms derive from; only the ingest and query functions may use it",
    });
  }
}
