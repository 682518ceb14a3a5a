/**
 * The read routes of the HTTP API (payload v2, JWT authorizer) → the query service:
 * `GET /v1/events`, `GET /v1/events/{id}`, `GET /v1/events/{id}/proof`, `GET /v1/checkpoints/latest`.
 */
import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { S3ArchiveSource } from "../aws/archive-source";
import { kmsClient, s3Client } from "../aws/clients";
import { kmsMacKey } from "../aws/kms-mac-key";
import { type MacKey, randomMacKey } from "../core/cursor";
import { METRIC_SERVICES } from "../core/metrics";
import { type QueryRouteKey, SUBJECT_ROUTES, type SubjectRouteKey } from "../core/routes";
import { type SubjectRequest, SubjectService } from "../privacy/subject-service";
import { composeQueryService } from "../query/compose";
import { IntegrityError } from "../query/pointers";
import type { ProofProvider, QueryRequest, QueryService } from "../query/query-service";
import { configFromEnv, type SealtrailConfig } from "../runtime/config";
import { BufferedAccessMetrics, type MetricsSink, powertoolsMetrics } from "../runtime/emf-metrics";
import { type ApiResponse, errorResponse, toProxyResult } from "../runtime/http";
import { traced } from "../runtime/tracing";
import { createLogger, createWritePath, type RuntimeOverrides, serviceLogger } from "../runtime/wiring";

export type QueryHandler = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface QueryOverrides extends RuntimeOverrides {
  /** The cursor MAC key; default: KMS key `config.cursorKeyId`, else a random key of this process. */
  readonly cursorKey?: MacKey;
  /** Builds `GET /v1/events/{id}/proof` bundles; default: from the archive at the newest checkpoint. */
  readonly proof?: ProofProvider;
}

// The route keys this handler serves are defined with the stack's (lambda/core/routes.ts); re-exported
// for the callers that build a query handler and its routes together.
export { QUERY_ROUTES, type QueryRouteKey } from "../core/routes";

/** Reads only what the read path needs. The raw token (Authorization) is never read or logged. */
export function queryRequestOf(event: APIGatewayProxyEventV2WithJWTAuthorizer): QueryRequest {
  const context = event.requestContext;
  return {
    claims: context.authorizer?.jwt?.claims,
    scopes: context.authorizer?.jwt?.scopes ?? undefined,
    rawQueryString: event.rawQueryString,
    queryStringParameters: event.queryStringParameters,
    requestId: context.requestId,
    sourceIp: context.http?.sourceIp ?? null,
    userAgent: context.http?.userAgent ?? null,
  };
}

type Route = (service: QueryService, request: QueryRequest, id: string | undefined) => Promise<ApiResponse>;

const ROUTES: Record<QueryRouteKey, Route> = {
  "GET /v1/events": (service, request) => service.listEvents(request),
  "GET /v1/events/{id}": (service, request, id) => service.getEvent(request, id),
  "GET /v1/events/{id}/proof": (service, request, id) => service.eventProof(request, id),
  "GET /v1/checkpoints/latest": (service, request) => service.latestCheckpoint(request),
};

function isRouteKey(key: string): key is QueryRouteKey {
  return Object.hasOwn(ROUTES, key);
}

const SUBJECT_ROUTE_HANDLERS: Record<
  SubjectRouteKey,
  (service: SubjectService, request: SubjectRequest) => Promise<ApiResponse>
> = {
  [SUBJECT_ROUTES.erase]: (service, request) => service.erase(request),
  [SUBJECT_ROUTES.hold]: (service, request) => service.hold(request),
};

function isSubjectRouteKey(key: string): key is SubjectRouteKey {
  return Object.hasOwn(SUBJECT_ROUTE_HANDLERS, key);
}

/** The data-subject routes read the body too; the raw token is never read. */
export function subjectRequestOf(event: APIGatewayProxyEventV2WithJWTAuthorizer): SubjectRequest {
  const context = event.requestContext;
  return {
    claims: context.authorizer?.jwt?.claims,
    scopes: context.authorizer?.jwt?.scopes ?? undefined,
    body: event.body,
    isBase64Encoded: event.isBase64Encoded,
    requestId: context.requestId,
    sourceIp: context.http?.sourceIp ?? null,
    userAgent: context.http?.userAgent ?? null,
  };
}

/** The query function's metrics as the stack's alarms watch them (namespace, `service` dimension). */
export function createQueryMetrics(): Metrics {
  return powertoolsMetrics(METRIC_SERVICES.query);
}

export interface QueryHandlerOptions {
  /** Where the read metrics are published (tests capture them); default: createQueryMetrics(). */
  readonly metrics?: MetricsSink;
}

export function createQueryHandler(
  config: SealtrailConfig,
  overrides: QueryOverrides = {},
  options: QueryHandlerOptions = {},
): QueryHandler {
  const logger = overrides.logger ?? createLogger();
  const metrics = new BufferedAccessMetrics(options.metrics ?? createQueryMetrics(), (error) =>
    logger.warn("read metrics not published", { error: String(error) }),
  );
  const { service: ingest, objects, index, privacy } = createWritePath(config, { ...overrides, logger });
  let cursorKey = overrides.cursorKey;
  if (!cursorKey && config.cursorKeyId) {
    cursorKey = kmsMacKey(overrides.kms ?? traced(kmsClient(config.aws)), config.cursorKeyId);
  }
  if (!cursorKey) {
    logger.warn("no cursor key configured (SEALTRAIL_CURSOR_KEY_ID): cursors are valid in this process only");
    cursorKey = randomMacKey();
  }
  const service = composeQueryService({
    config,
    objects,
    index,
    source: new S3ArchiveSource(overrides.s3 ?? traced(s3Client(config.aws)), config.bucket),
    markers: index,
    ingest,
    proof: overrides.proof,
    cursorKey,
    metrics,
    logger: serviceLogger(logger),
    privacy: privacy?.records,
  });
  const subjects =
    privacy && config.privacy
      ? new SubjectService({
          config: { ...config, privacy: config.privacy },
          privacy: privacy.records,
          keys: privacy.keys,
          archive: (caller, events) => ingest.archiveServerEvents(caller, events),
          now: overrides.now ?? Date.now,
          logger: serviceLogger(logger),
        })
      : undefined;

  return async (event) => {
    const request = queryRequestOf(event);
    logger.appendKeys({ request_id: request.requestId });
    try {
      const routeKey = event.routeKey;
      if (subjects && isSubjectRouteKey(routeKey)) {
        return toProxyResult(
          await SUBJECT_ROUTE_HANDLERS[routeKey](subjects, subjectRequestOf(event)),
          request.requestId,
        );
      }
      if (!isRouteKey(routeKey)) {
        return toProxyResult(
          errorResponse(404, "unknown_route", `no route ${routeKey} in the query API`),
          request.requestId,
        );
      }
      const route = ROUTES[routeKey];
      return toProxyResult(await route(service, request, event.pathParameters?.id), request.requestId);
    } catch (error) {
      if (error instanceof IntegrityError) {
        // The index and the archive disagree: an operator must look. Nothing unverified is served.
        logger.error("INTEGRITY: the index disagrees with the archive", {
          error: error.message,
          ...error.detail,
        });
        return toProxyResult(
          errorResponse(
            500,
            "integrity_error",
            "the index disagrees with the archive; nothing was returned and the operators were alerted",
          ),
          request.requestId,
        );
      }
      logger.error("query failed", { error: String(error) });
      return toProxyResult(
        errorResponse(500, "internal_error", "sealtrail failed to answer"),
        request.requestId,
      );
    } finally {
      logger.resetKeys();
      // Once the answer is decided; a publish that fails is logged, never answered.
      metrics.publish();
    }
  };
}

let cached: QueryHandler | undefined;

/** The Lambda entry point: configuration from the environment, clients reused across invocations. */
export async function handler(
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
): Promise<APIGatewayProxyStructuredResultV2> {
  cached ??= createQueryHandler(configFromEnv());
  return cached(event);
}
