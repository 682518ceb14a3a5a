/** API Gateway HTTP API payload v2 events as the JWT authorizer hands them to Lambda. */
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";

export const WRITE_CLAIMS = {
  sub: "svc-billing",
  iss: "https://issuer.test",
  aud: "sealtrail",
  scope: "sealtrail/write",
  jti: "reporter-jti-1",
  iat: "1790000000",
  exp: "1790003600",
  client_id: "billing-service",
} as const;

export interface EventOptions {
  readonly body?: unknown;
  /** Sent as is when a string (for malformed bodies). */
  readonly rawBody?: string;
  readonly isBase64Encoded?: boolean;
  readonly claims?: Record<string, string> | null;
  readonly scopes?: string[] | null;
  readonly headers?: Record<string, string>;
}

export function postEventsEvent(options: EventOptions = {}): APIGatewayProxyEventV2WithJWTAuthorizer {
  const requestId = randomUUID();
  const body =
    options.rawBody ??
    JSON.stringify(options.body ?? { events: [{ action: "document.read", outcome: "success" }] });
  const claims = options.claims === undefined ? { ...WRITE_CLAIMS } : options.claims;
  return {
    version: "2.0",
    routeKey: "POST /v1/events",
    rawPath: "/v1/events",
    rawQueryString: "",
    headers: { "content-type": "application/json", "user-agent": "test-agent/1.0", ...options.headers },
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      authorizer: {
        principalId: "",
        integrationLatency: 0,
        jwt: { claims: claims ?? {}, scopes: options.scopes === undefined ? null : options.scopes },
      },
      domainName: "localhost",
      domainPrefix: "localhost",
      http: {
        method: "POST",
        path: "/v1/events",
        protocol: "HTTP/1.1",
        sourceIp: "198.51.100.7",
        userAgent: "test-agent/1.0",
      },
      requestId,
      routeKey: "POST /v1/events",
      stage: "$default",
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body,
    isBase64Encoded: options.isBase64Encoded ?? false,
  } as APIGatewayProxyEventV2WithJWTAuthorizer;
}
