/**
 * The `Sealtrail` construct: the write path of the tamper-evident audit archive (HTTP API with a JWT
 * authorizer, ingest and reindex functions, the Object-Locked archive bucket and the DynamoDB index),
 * the query API (lib/query.ts), the checkpoint run (lib/checkpoint.ts) and Athena search
 * (lib/search.ts), secure by default. Infrastructure only: the business logic
 * lives in lambda/.
 */
import {
  Aspects,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Stack,
  Token,
  Tokenization,
  Validations,
} from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { HttpApi, type HttpStage, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Bucket } from "aws-cdk-lib/aws-s3";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import {
  DEFAULT_CHAINS,
  DEFAULT_LEASE_SECONDS,
  DEFAULT_SCOPES,
  DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS,
  ENV,
  MAX_SUBJECT_TOKEN_LEEWAY_SECONDS,
  type SubjectIssuer,
} from "../lambda/config";
import { GLOBAL_INDEXES, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from "../lambda/core/index-table";
import { METRIC_SERVICES, METRICS_NAMESPACE, REINDEX_METRICS } from "../lambda/core/metrics";
import { DEFAULT_RETENTION_DAYS } from "../lambda/core/object-lock";
import { CHAINS_PREFIX, CHECKPOINTS_PREFIX, EVENTS_PREFIX, MAX_CHAIN_COUNT } from "../lambda/core/paths";
import { INGEST_ROUTE } from "../lambda/core/routes";
import {
  DEFAULT_WATCHED_ACTIONS,
  type WatchedAction,
  watchedActionProblems,
  watchedPatterns,
} from "../lambda/core/watched-actions";
import { AccessAlarms } from "./alarms";
import { accessLogBucket, lockedArchiveBucket } from "./archive-bucket";
import { BucketPolicyFollowsBucket } from "./bucket-policy-retention";
import { CheckpointSigner } from "./checkpoint";
import { SealtrailDashboard } from "./dashboard";
import { ownRole, sealtrailFunction, wildcardFinding } from "./function";
import { httpRouteOf, QueryApi } from "./query";
import {
  ArchiveReplication,
  replicaDestinationProblems,
  type SealtrailReplicaDestination,
} from "./replication";
import { ScheduledVerifier } from "./scheduled-verifier";
import { SealtrailSearch } from "./search";

/** Key prefixes of the archive (DESIGN.md, "Stored formats"), as lambda/core/paths.ts defines them. */
export const ARCHIVE_PREFIXES = {
  events: EVENTS_PREFIX,
  chains: CHAINS_PREFIX,
  checkpoints: CHECKPOINTS_PREFIX,
} as const;

/** S3's upper bound for Object Lock retention (aws-cdk-lib enforces the same: less than 100 years). */
export const MAX_RETENTION_DAYS = 36_500;

/** 4xx responses of the API stage per 5 minutes that raise the auth-failure alarm, unless configured. */
export const DEFAULT_AUTH_FAILURE_ALARM_THRESHOLD = 100;

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
}

/**
 * sealtrail: `POST /v1/events` (JWT, write scope) → ingest function → Object-Locked, KMS-encrypted
 * archive bucket and DynamoDB index; the read routes (`QUERY_ROUTES`, JWT, read scope) → query function,
 * whose cursors only it can MAC (KMS HMAC_256); a reindex job every 5 minutes; a checkpoint signer every
 * minute (KMS ECC_NIST_P256, only it may sign); the scheduled verifier (hourly, read only); Athena
 * search; alarms to SNS.
 */
export class Sealtrail extends Construct {
  /** Customer managed key of the archive bucket and the index table. */
  public readonly key: Key;
  /** The archive: Object Lock COMPLIANCE, versioned, SSE-KMS, append-only by bucket policy. */
  public readonly bucket: Bucket;
  /** Destination of the archive bucket's server access logs (SSE-S3: log delivery cannot use SSE-KMS). */
  public readonly accessLogBucket: Bucket;
  /** The index table, built from lambda/core/index-table.ts. */
  public readonly table: Table;
  public readonly api: HttpApi;
  /** The `$default` stage, with JSON access logs and throttling. */
  public readonly stage: HttpStage;
  public readonly apiAccessLogs: LogGroup;
  public readonly ingestFunction: NodejsFunction;
  public readonly reindexFunction: NodejsFunction;
  /** The read routes' function and its cursor key. */
  public readonly query: QueryApi;
  /**
   * Serves `QUERY_ROUTES` (read scope). It archives every read as an `audit.read` event, so it has the
   * ingest function's permissions, plus reads of checkpoints/ (never puts) and its cursor key.
   */
  public readonly queryFunction: NodejsFunction;
  /** KMS HMAC_256 key of the query API's pagination cursors; only `queryFunction`'s role may use it. */
  public readonly cursorKey: Key;
  public readonly reindexSchedule: Rule;
  /** The checkpoint run: signing key, state bucket, function, schedule and public key. */
  public readonly checkpointSigner: CheckpointSigner;
  /** The checkpoint signer function (reserved concurrency 1, every minute). */
  public readonly checkpointFunction: NodejsFunction;
  /** KMS ECC_NIST_P256 key that signs checkpoints; only `checkpointFunction`'s role may kms:Sign. */
  public readonly checkpointKey: Key;
  /** The signer's state; only `checkpointFunction`'s role may write it. */
  public readonly checkpointStateBucket: Bucket;
  public readonly checkpointSchedule: Rule;
  /** Athena over the archive: Glue tables, the linked-events view, the workgroup and named queries. */
  public readonly search: SealtrailSearch;
  /** Alarm notifications; encrypted with `alarmKey`, TLS-only. */
  public readonly alarmTopic: Topic;
  /** Key of the alarm topic: CloudWatch alarms cannot publish to a topic encrypted with an AWS managed key. */
  public readonly alarmKey: Key;
  public readonly alarms: Alarm[];
  /** The alarms on access patterns and silence (lib/alarms.ts), all in `alarms`. */
  public readonly accessAlarms: AccessAlarms;
  /** The CloudWatch dashboard: every alarm in `alarms` and graphs of the access metrics. */
  public readonly dashboard: SealtrailDashboard;
  /** The scheduled verifier: `verify --state --max-age` on a schedule, read only, with its own store and alarms. */
  public readonly verifier: ScheduledVerifier;
  /** With `replica`: the replication rule's role and its two alarms (also in `alarms`). */
  public readonly replication?: ArchiveReplication;

  constructor(scope: Construct, id: string, props: SealtrailProps) {
    super(scope, id);
    validateProps(props, Stack.of(this).stackName);
    // Every retained bucket keeps its policy after `cdk destroy`: the archive never outlives its append-only policy.
    Aspects.of(this).add(new BucketPolicyFollowsBucket());

    const retentionDays = props.retentionDays ?? DEFAULT_RETENTION_DAYS;
    const scopes = { ...DEFAULT_SCOPES, ...definedOnly(props.scopes ?? {}) };
    const logRetention = props.logRetention ?? RetentionDays.ONE_YEAR;
    const watchedActions = props.watchedActions ?? DEFAULT_WATCHED_ACTIONS;
    const stack = Stack.of(this);

    this.key = new Key(this, "ArchiveKey", {
      description: "sealtrail: archive bucket and index table",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.accessLogBucket = accessLogBucket(this);
    // Not itself logged: cdk-nag's AwsSolutions-S1 recognizes it as the archive bucket's log destination.

    this.bucket = lockedArchiveBucket(this, "ArchiveBucket", {
      retentionDays,
      encryptionKey: this.key,
      accessLogBucket: this.accessLogBucket,
      accessLogPrefix: "archive/",
    });

    this.table = new Table(this, "IndexTable", {
      partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: SORT_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const gsi of Object.values(GLOBAL_INDEXES)) {
      this.table.addGlobalSecondaryIndex({
        indexName: gsi.indexName,
        partitionKey: { name: gsi.partitionKey, type: AttributeType.STRING },
        sortKey: { name: gsi.sortKey, type: AttributeType.STRING },
        // The query path reads whole pointer items from the index.
        projectionType: ProjectionType.ALL,
      });
    }

    // Every function of the API reads the same configuration (lambda/config.ts parses all of it); the
    // query function adds its cursor key.
    const environment: Record<string, string> = {
      [ENV.bucket]: this.bucket.bucketName,
      [ENV.table]: this.table.tableName,
      [ENV.chains]: Tokenization.stringifyNumber(props.chains ?? DEFAULT_CHAINS),
      [ENV.writeScope]: scopes.write,
      [ENV.readScope]: scopes.read,
      [ENV.adminScope]: scopes.admin,
      [ENV.subjectIssuers]: stack.toJsonString(props.subjectIssuers ?? []),
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

    this.ingestFunction = sealtrailFunction(this, "IngestFunction", {
      entry: "../lambda/handlers/ingest.ts",
      description: "sealtrail: POST /v1/events, seals a batch into the archive and indexes it",
      serviceName: METRIC_SERVICES.ingest,
      // HTTP APIs time out after 30 s.
      timeout: Duration.seconds(29),
      memorySize: 1024,
      environment,
      logRetention,
    });
    this.reindexFunction = sealtrailFunction(this, "ReindexFunction", {
      entry: "../lambda/handlers/reindex.ts",
      description: "sealtrail: indexes chain links that have no indexed marker",
      serviceName: REINDEX_METRICS.service,
      // Shorter than the schedule, so runs do not pile up.
      timeout: Duration.minutes(4),
      memorySize: 512,
      environment,
      logRetention,
    });
    this.query = new QueryApi(this, "Query", {
      archiveBucket: this.bucket,
      environment,
      logRetention,
    });
    this.queryFunction = this.query.fn;
    this.cursorKey = this.query.cursorKey;
    this.grantArchiveAccess(this.ingestFunction, { write: true });
    this.grantArchiveAccess(this.reindexFunction, { write: false });
    // Every read is archived as an audit.read event through the ingest write path.
    this.grantArchiveAccess(this.queryFunction, { write: true });

    this.reindexSchedule = new Rule(this, "ReindexSchedule", {
      description: "sealtrail: index links that ingest acknowledged but did not index",
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [new LambdaFunction(this.reindexFunction, { retryAttempts: 2 })],
    });

    this.checkpointSigner = new CheckpointSigner(this, "Checkpoint", {
      archiveBucket: this.bucket,
      archiveKey: this.key,
      accessLogBucket: this.accessLogBucket,
      environment: { [ENV.chains]: environment[ENV.chains] as string },
      logRetention,
    });
    this.checkpointFunction = this.checkpointSigner.fn;
    this.checkpointKey = this.checkpointSigner.key;
    this.checkpointStateBucket = this.checkpointSigner.stateBucket;
    this.checkpointSchedule = this.checkpointSigner.schedule;

    this.search = new SealtrailSearch(this, "Search", {
      bucket: this.bucket,
      key: this.key,
      accessLogBucket: this.accessLogBucket,
    });

    this.apiAccessLogs = new LogGroup(this, "ApiAccessLogs", {
      retention: logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = new HttpApi(this, "Api", {
      description: "sealtrail audit event API",
      // The stage is created below, with access logs and throttling.
      createDefaultStage: false,
    });
    this.stage = this.api.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      throttle: {
        rateLimit: props.throttleRateLimit ?? 100,
        burstLimit: props.throttleBurstLimit ?? 200,
      },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.apiAccessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    const authorizer = new HttpJwtAuthorizer("JwtAuthorizer", props.issuer, {
      jwtAudience: props.audience,
    });
    const ingestRoute = httpRouteOf(INGEST_ROUTE);
    this.api.addRoutes({
      path: ingestRoute.path,
      methods: [ingestRoute.method],
      integration: new HttpLambdaIntegration("IngestIntegration", this.ingestFunction),
      authorizer,
      authorizationScopes: [scopes.write],
    });
    this.query.addRoutes(this.api, authorizer, scopes.read);

    this.alarmKey = new Key(this, "AlarmKey", {
      description: "sealtrail: alarm topic",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch encrypts the message it publishes to the topic with this key.
    this.alarmKey.addToResourcePolicy(
      new PolicyStatement({
        sid: "AllowCloudWatchAlarmsToPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        // Only this account's alarms: the service principal alone would admit any account's (confused deputy).
        conditions: {
          StringEquals: { "aws:SourceAccount": stack.account },
          ArnLike: {
            "aws:SourceArn": stack.formatArn({ service: "cloudwatch", resource: "alarm", resourceName: "*" }),
          },
        },
      }),
    );
    this.alarmTopic = new Topic(this, "AlarmTopic", {
      displayName: "sealtrail alarms",
      masterKey: this.alarmKey,
      enforceSSL: true,
    });
    // The topic policy that enforceSSL creates replaces SNS's default one: allow this account's alarms.
    this.alarmTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: "AllowCloudWatchAlarmsToPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.alarmTopic.topicArn],
        conditions: {
          StringEquals: { "aws:SourceAccount": stack.account },
          ArnLike: {
            "aws:SourceArn": stack.formatArn({ service: "cloudwatch", resource: "alarm", resourceName: "*" }),
          },
        },
      }),
    );
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    }

    const fiveMinuteSum = { period: Duration.minutes(5), statistic: "Sum" } as const;
    // Powertools adds one dimension, `service` (the function's POWERTOOLS_SERVICE_NAME).
    const reindexMetric = (metricName: string) =>
      new Metric({
        namespace: REINDEX_METRICS.namespace,
        metricName,
        dimensionsMap: { service: REINDEX_METRICS.service },
        ...fiveMinuteSum,
      });
    this.alarms = [
      this.alarmOn("IngestErrorsAlarm", this.ingestFunction.metricErrors(fiveMinuteSum), {
        description: "sealtrail ingest function errors: events may not have been acknowledged",
      }),
      this.alarmOn("ReindexErrorsAlarm", this.reindexFunction.metricErrors(fiveMinuteSum), {
        description: "sealtrail reindex job errors: search may miss acknowledged events",
      }),
      // The reindex job goes on past a link it cannot index (the run succeeds): its metrics say so.
      this.alarmOn("ReindexLinksFailedAlarm", reindexMetric(REINDEX_METRICS.linksFailed), {
        description:
          "sealtrail reindex could not index a chain link: its acknowledged events are missing from search " +
          "until a run succeeds; the reindex log names the link and the error",
      }),
      this.alarmOn("ReindexLinksRejectedAlarm", reindexMetric(REINDEX_METRICS.linksRejected), {
        description:
          "sealtrail reindex found a chain link whose batch object is missing or does not match it " +
          "(possible tampering): its events are not indexed; run sealtrail verify",
      }),
      this.alarmOn("QueryErrorsAlarm", this.queryFunction.metricErrors(fiveMinuteSum), {
        description:
          "sealtrail query function errors: reads failed (and were not archived as audit.read events)",
      }),
      this.alarmOn("Api5xxAlarm", this.api.metricServerError(fiveMinuteSum), {
        description: "sealtrail API 5xx responses: writes or reads are failing",
      }),
      this.alarmOn("ApiAuthFailureSpikeAlarm", this.stage.metricClientError(fiveMinuteSum), {
        description:
          "sealtrail API 4xx spike on the stage: rejected tokens or scopes (401/403), or a client " +
          "sending invalid requests (HTTP API metrics do not split 4xx by status)",
        threshold: props.authFailureAlarmThreshold ?? DEFAULT_AUTH_FAILURE_ALARM_THRESHOLD,
      }),
      // The signer's refusal is the in-AWS verification failure: the archive no longer extends the
      // history it signed last (a rewritten, missing or hidden link or checkpoint, a vanished chain).
      this.alarmOn("CheckpointRefusedAlarm", this.checkpointSigner.metricRefused(fiveMinuteSum), {
        description:
          "sealtrail checkpoint signer REFUSED to sign: the archive does not extend the last signed " +
          "checkpoint (possible tampering); see the signer's log for the reasons, run sealtrail verify",
      }),
      // Staleness: no checkpoint for 15 minutes. Missing data is breaching, since a signer that never
      // runs (disabled rule, broken deployment, throttled) emits nothing at all.
      this.alarmOn("CheckpointStaleAlarm", this.checkpointSigner.metricSigned(fiveMinuteSum), {
        description:
          "sealtrail checkpoints are stale: none signed in 15 minutes; auditors' --max-age checks will fail",
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.BREACHING,
      }),
      // A run that throws (KMS, S3 or state errors) signs nothing and emits no CheckpointRefused: it is
      // seen here at once instead of only by the staleness alarm 15 minutes later.
      this.alarmOn("CheckpointErrorsAlarm", this.checkpointFunction.metricErrors(fiveMinuteSum), {
        description: "sealtrail checkpoint run failed (an error, not a refusal): no checkpoint was signed",
      }),
    ];

    this.accessAlarms = new AccessAlarms(this, "AccessAlarms", { topic: this.alarmTopic, watchedActions });
    this.alarms.push(...this.accessAlarms.alarms);
    // Reads `alarms` at synthesis: alarms pushed to it later in this constructor, or by users, appear too.
    this.dashboard = new SealtrailDashboard(this, "Dashboard", { alarms: this.alarms, watchedActions });

    this.verifier = new ScheduledVerifier(this, "Verifier", {
      archiveBucket: this.bucket,
      archiveKey: this.key,
      table: this.table,
      accessLogBucket: this.accessLogBucket,
      checkpointPublicKey: this.checkpointSigner.publicKeyDerBase64,
      alarmTopic: this.alarmTopic,
      alarmKey: this.alarmKey,
      period: props.verificationPeriod,
      maxAge: props.verificationMaxAge,
      logRetention,
    });
    this.alarms.push(...this.verifier.alarms);

    if (props.replica !== undefined) {
      this.replication = new ArchiveReplication(this, "Replication", {
        bucket: this.bucket,
        key: this.key,
        destination: props.replica,
        alarmTopic: this.alarmTopic,
      });
      this.alarms.push(...this.replication.alarms);
    }
  }

  /** The URL of the API's default stage. */
  public get apiUrl(): string {
    return this.stage.url;
  }

  /**
   * Explicit least-privilege statements instead of grantReadWrite (which includes s3:DeleteObject*):
   * no function may delete, change retention or legal hold, bypass governance, or write checkpoints/.
   */
  private grantArchiveAccess(fn: NodejsFunction, access: { readonly write: boolean }): void {
    const role = ownRole(fn);
    const readablePrefixes = [ARCHIVE_PREFIXES.events, ARCHIVE_PREFIXES.chains];
    const prefixArns = readablePrefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`));

    if (access.write) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "AppendDataObjectsAndChainLinks",
          actions: ["s3:PutObject"],
          resources: prefixArns,
        }),
      );
    }
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadDataObjectsAndChainLinks",
        actions: ["s3:GetObject"],
        resources: prefixArns,
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ListChainLinks",
        actions: ["s3:ListBucket"],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${ARCHIVE_PREFIXES.chains}*`] } },
      }),
    );
    const region = Stack.of(this).region;
    const urlSuffix = Stack.of(this).urlSuffix;
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "UseArchiveKeyThroughS3AndDynamoDB",
        // S3 SSE-KMS needs GenerateDataKey (put) and Decrypt (get); DynamoDB with a customer managed key
        // calls KMS with the caller's permissions for Encrypt/Decrypt/GenerateDataKey.
        actions: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: {
            "kms:ViaService": [`s3.${region}.${urlSuffix}`, `dynamodb.${region}.${urlSuffix}`],
          },
        },
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadWriteIndexItems",
        // No DeleteItem and no table administration. BatchWriteItem is one IAM action for puts and
        // deletes alike; the index is a rebuildable cache of the archive, which stays the truth.
        // BatchGetItem: the lease store reads every chain's lease in one request.
        actions: [
          "dynamodb:GetItem",
          "dynamodb:BatchGetItem",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
          "dynamodb:BatchWriteItem",
          "dynamodb:Query",
          "dynamodb:ConditionCheckItem",
        ],
        resources: [this.table.tableArn, `${this.table.tableArn}/index/*`],
      }),
    );

    for (const arn of prefixArns) {
      Validations.of(role).acknowledge({
        id: wildcardFinding(this, arn),
        reason:
          "Objects under this prefix are content-addressed or sequence-numbered, so their keys are not " +
          "known in advance; the wildcard is limited to the one prefix the function reads or appends to.",
      });
    }
    Validations.of(role).acknowledge({
      id: wildcardFinding(this, `${this.table.tableArn}/index/*`),
      reason:
        "Queries go through the index table's global secondary indexes (one per searched attribute); " +
        "the wildcard covers only the indexes of this one table.",
    });
  }

  /** An alarm to the SNS topic; by default it fires on a value of at least 1 in one period. */
  private alarmOn(
    id: string,
    metric: IMetric,
    options: {
      readonly description: string;
      readonly threshold?: number;
      readonly comparisonOperator?: ComparisonOperator;
      readonly evaluationPeriods?: number;
      readonly treatMissingData?: TreatMissingData;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      alarmDescription: options.description,
      threshold: options.threshold ?? 1,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      comparisonOperator: options.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: options.treatMissingData ?? TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.alarmTopic));
    return alarm;
  }
}

/**
 * Stage access log fields. `$context.requestTime` is API Gateway's CLF time (`dd/MMM/yyyy:HH:mm:ss +0000`);
 * `requestTimeEpoch` is the same instant in epoch milliseconds, which Logs Insights turns into ISO-8601
 * with `fromMillis(requestTimeEpoch)`. Every value is quoted so a missing one ("-") keeps the line valid JSON.
 */
export const ACCESS_LOG_FIELDS = {
  requestId: "$context.requestId",
  requestTime: "$context.requestTime",
  requestTimeEpoch: "$context.requestTimeEpoch",
  ip: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
  httpMethod: "$context.httpMethod",
  path: "$context.path",
  routeKey: "$context.routeKey",
  protocol: "$context.protocol",
  status: "$context.status",
  responseLength: "$context.responseLength",
  sub: "$context.authorizer.claims.sub",
  clientId: "$context.authorizer.claims.client_id",
  session: "$context.authorizer.claims.sid",
  tokenId: "$context.authorizer.claims.jti",
  authorizerError: "$context.authorizer.error",
  integrationError: "$context.integrationErrorMessage",
  integrationLatency: "$context.integrationLatency",
} as const;

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Checks every prop, skipping unresolved Tokens, and reports all problems at once. */
function validateProps(props: SealtrailProps, stackName: string): void {
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

  if (problems.length > 0) {
    throw new Error(`Invalid Sealtrail props:\n- ${problems.join("\n- ")}`);
  }
}

/**
 * Stack outputs of one Sealtrail construct, with the stable names ApiUrl, BucketName, TableName,
 * CheckpointKeyArn and CheckpointPublicKey, and ReplicationRoleArn with a replica.
 *
 * CheckpointPublicKey is the signing key's public key as base64 of its DER SubjectPublicKeyInfo (what
 * KMS GetPublicKey returns; `openssl pkey -pubin -inform DER` reads it after base64 decoding). Verifiers
 * take a JWKS file, not this value: how an auditor turns it into the JWKS, with the key's `kid` and
 * validity window, is in docs/verify.md. Auditors should fetch it themselves (`aws kms get-public-key
 * --key-id <CheckpointKeyArn>`) or compare it with this output, and keep their own copy.
 */
export function addSealtrailOutputs(scope: Construct, sealtrail: Sealtrail): void {
  new CfnOutput(scope, "ApiUrl", { value: sealtrail.apiUrl, description: "Base URL of the sealtrail API" });
  new CfnOutput(scope, "BucketName", { value: sealtrail.bucket.bucketName, description: "Archive bucket" });
  new CfnOutput(scope, "TableName", { value: sealtrail.table.tableName, description: "Index table" });
  new CfnOutput(scope, "CheckpointKeyArn", {
    value: sealtrail.checkpointKey.keyArn,
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
}
