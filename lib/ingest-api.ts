/**
 * The ingest API of DESIGN.md ("Write path"): the HTTP API with its JWT authorizer, the `$default` stage
 * with JSON access logs and throttling, `POST /v1/events` to the ingest function, and the reindex job
 * every 5 minutes. The read routes (lib/query.ts) are added to the same API and authorizer.
 * Infrastructure only: the handlers are lambda/handlers/ingest.ts and reindex.ts.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import { HttpApi, type HttpStage, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpJwtAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, type RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { METRIC_SERVICES, REINDEX_METRICS } from "../lambda/core/metrics";
import { INGEST_ROUTE } from "../lambda/core/routes";
import type { SealtrailArchive } from "./archive";
import { sealtrailFunction } from "./function";
import { httpRouteOf } from "./query";

/** Steady-state request rate of the stage, in requests per second, unless configured. */
export const DEFAULT_THROTTLE_RATE_LIMIT = 100;
/** Burst request limit of the stage, unless configured. */
export const DEFAULT_THROTTLE_BURST_LIMIT = 200;

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

export interface IngestApiProps {
  /** The archive the functions append to and read (bound with `SealtrailArchive.bindWritePath`). */
  readonly archive: SealtrailArchive;
  /** The configuration every function of the API reads (lambda/runtime/config.ts), bucket and table aside. */
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
  /** Issuer and accepted audiences of the JWT authorizer. */
  readonly issuer: string;
  readonly audience: string[];
  /** Scope `POST /v1/events` requires. */
  readonly writeScope: string;
  /** @default DEFAULT_THROTTLE_RATE_LIMIT */
  readonly throttleRateLimit?: number;
  /** @default DEFAULT_THROTTLE_BURST_LIMIT */
  readonly throttleBurstLimit?: number;
}

/**
 * The HTTP API, its stage, access logs and JWT authorizer, the ingest function behind
 * `POST /v1/events`, and the reindex function with its schedule.
 *
 * A part of `Sealtrail`, not a construct of its own: it builds in the scope it is given, under the
 * construct IDs (and so the logical IDs) deployed stacks already have.
 */
export class IngestApi {
  public readonly api: HttpApi;
  /** The `$default` stage, with JSON access logs and throttling. */
  public readonly stage: HttpStage;
  /** The stage's access logs (`ACCESS_LOG_FIELDS`, one JSON line per request). */
  public readonly accessLogs: LogGroup;
  /** Checks issuer, audience and expiry of every route's token; each route adds its scope. */
  public readonly authorizer: HttpJwtAuthorizer;
  /** `POST /v1/events` (write scope): seals a batch into the archive and indexes it. */
  public readonly ingestFunction: NodejsFunction;
  /** Indexes chain links that have no indexed marker. */
  public readonly reindexFunction: NodejsFunction;
  /** rate(5 minutes) → `reindexFunction`. */
  public readonly reindexSchedule: Rule;

  constructor(scope: Construct, props: IngestApiProps) {
    this.ingestFunction = sealtrailFunction(scope, "IngestFunction", {
      entry: "../lambda/handlers/ingest.ts",
      description: "sealtrail: POST /v1/events, seals a batch into the archive and indexes it",
      serviceName: METRIC_SERVICES.ingest,
      // HTTP APIs time out after 30 s.
      timeout: Duration.seconds(29),
      memorySize: 1024,
      environment: props.environment,
      logRetention: props.logRetention,
    });
    this.reindexFunction = sealtrailFunction(scope, "ReindexFunction", {
      entry: "../lambda/handlers/reindex.ts",
      description: "sealtrail: indexes chain links that have no indexed marker",
      serviceName: REINDEX_METRICS.service,
      // Shorter than the schedule, so runs do not pile up.
      timeout: Duration.minutes(4),
      memorySize: 512,
      environment: props.environment,
      logRetention: props.logRetention,
    });
    props.archive.bindWritePath(this.ingestFunction, { write: true });
    props.archive.bindWritePath(this.reindexFunction, { write: false });

    this.reindexSchedule = new Rule(scope, "ReindexSchedule", {
      description: "sealtrail: index links that ingest acknowledged but did not index",
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [new LambdaFunction(this.reindexFunction, { retryAttempts: 2 })],
    });

    this.accessLogs = new LogGroup(scope, "ApiAccessLogs", {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.api = new HttpApi(scope, "Api", {
      description: "sealtrail audit event API",
      // The stage is created below, with access logs and throttling.
      createDefaultStage: false,
    });
    this.stage = this.api.addStage("DefaultStage", {
      stageName: "$default",
      autoDeploy: true,
      throttle: {
        rateLimit: props.throttleRateLimit ?? DEFAULT_THROTTLE_RATE_LIMIT,
        burstLimit: props.throttleBurstLimit ?? DEFAULT_THROTTLE_BURST_LIMIT,
      },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.authorizer = new HttpJwtAuthorizer("JwtAuthorizer", props.issuer, {
      jwtAudience: props.audience,
    });
    const ingestRoute = httpRouteOf(INGEST_ROUTE);
    this.api.addRoutes({
      path: ingestRoute.path,
      methods: [ingestRoute.method],
      integration: new HttpLambdaIntegration("IngestIntegration", this.ingestFunction),
      authorizer: this.authorizer,
      authorizationScopes: [props.writeScope],
    });
  }
}
