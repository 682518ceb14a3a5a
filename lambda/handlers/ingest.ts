/** POST /v1/events: API Gateway HTTP API (payload v2, JWT authorizer) → the write path. */

import type { Metrics } from "@aws-lambda-powertools/metrics";
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { METRIC_SERVICES } from "../core/metrics";
import type { IngestRequest } from "../ingest/ingest-service";
import { configFromEnv, type SealtrailConfig } from "../runtime/config";
import { BufferedAccessMetrics, type MetricsSink, powertoolsMetrics } from "../runtime/emf-metrics";
import { errorResponse, toProxyResult } from "../runtime/http";
import { createLogger, createWritePath, type RuntimeOverrides } from "../runtime/wiring";

export type IngestHandler = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
) => Promise<APIGatewayProxyStructuredResultV2>;

function header(event: APIGatewayProxyEventV2WithJWTAuthorizer, name: string): string | undefined {
  return event.headers?.[name] ?? undefined;
}

/** Reads only what the write path needs. The raw token (Authorization) is never read or logged. */
export function ingestRequestOf(event: APIGatewayProxyEventV2WithJWTAuthorizer): IngestRequest {
  const context = event.requestContext;
  return {
    body: event.body,
    isBase64Encoded: event.isBase64Encoded ?? false,
    contentType: header(event, "content-type"),
    contentEncoding: header(event, "content-encoding"),
    claims: context.authorizer?.jwt?.claims,
    scopes: context.authorizer?.jwt?.scopes ?? undefined,
    idempotencyKey: header(event, "idempotency-key"),
    subjectToken: header(event, "x-sealtrail-subject-token"),
    requestId: context.requestId,
    sourceIp: context.http?.sourceIp ?? null,
    userAgent: context.http?.userAgent ?? null,
  };
}

/** The ingest function's metrics as the stack's alarms watch them (namespace, `service` dimension). */
export function createIngestMetrics(): Metrics {
  return powertoolsMetrics(METRIC_SERVICES.ingest);
}

export interface IngestHandlerOptions {
  /** Where the access metrics are published (tests capture them); default: createIngestMetrics(). */
  readonly metrics?: MetricsSink;
}

export function createIngestHandler(
  config: SealtrailConfig,
  overrides: RuntimeOverrides = {},
  options: IngestHandlerOptions = {},
): IngestHandler {
  const logger = overrides.logger ?? createLogger();
  const metrics = new BufferedAccessMetrics(options.metrics ?? createIngestMetrics(), (error) =>
    logger.warn("access metrics not published", { error: String(error) }),
  );
  const { service } = createWritePath(config, { ...overrides, logger }, { metrics });
  return async (event) => {
    const request = ingestRequestOf(event);
    logger.appendKeys({ request_id: request.requestId });
    try {
      return toProxyResult(await service.ingest(request), request.requestId);
    } catch (error) {
      logger.error("ingest failed", { error: String(error) });
      return toProxyResult(
        errorResponse(500, "internal_error", "sealtrail failed; nothing was acknowledged"),
        request.requestId,
      );
    } finally {
      logger.resetKeys();
      // Once the answer is decided; a publish that fails is logged, never answered.
      metrics.publish();
    }
  };
}

let cached: IngestHandler | undefined;

/** The Lambda entry point: configuration from the environment, clients reused across invocations. */
export async function handler(
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
): Promise<APIGatewayProxyStructuredResultV2> {
  cached ??= createIngestHandler(configFromEnv());
  return cached(event);
}
