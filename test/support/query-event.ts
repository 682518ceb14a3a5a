/** API Gateway HTTP API payload v2 events for the read routes, as the JWT authorizer hands them to Lambda. */
import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import type { QueryRouteKey } from "../../lambda/handlers/query";

export const READ_CLAIMS = {
  sub: "auditor-1",
  iss: "https://issuer.test",
  aud: "sealtrail",
  scope: "sealtrail/read",
  jti: "reader-jti-1",
  iat: "1790000000",
  exp: "1790003600",
} as const;

export interface QueryEventOptions {
  /** Query parameters, each once; or a raw query string sent as is (repeats, odd encodings). */
  readonly query?: Readonly<Record<string, string>> | string;
  /** The `{id}` path parameter. */
  readonly id?: string;
  readonly claims?: Record<string, string> | null;
  readonly scopes?: string[] | null;
  readonly requestId?: string;
}

/** API Gateway joins a repeated parameter's values with commas in queryStringParameters. */
function joinedParameters(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === "") return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    parameters[name] = name in parameters ? `${parameters[name]},${value}` : value;
  }
  return parameters;
}

export function queryEvent(
  routeKey: QueryRouteKey,
  options: QueryEventOptions = {},
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const requestId = options.requestId ?? randomUUID();
  const rawQueryString =
    typeof options.query === "string" ? options.query : new URLSearchParams(options.query ?? {}).toString();
  const template = routeKey.slice("GET ".length);
  const rawPath =
    options.id === undefined ? template : template.replace("{id}", encodeURIComponent(options.id));
  const claims = options.claims === undefined ? { ...READ_CLAIMS } : options.claims;
  return {
    version: "2.0",
    routeKey,
    rawPath,
    rawQueryString,
    queryStringParameters: joinedParameters(rawQueryString),
    pathParameters: options.id === undefined ? undefined : { id: options.id },
    headers: { "user-agent": "test-agent/1.0" },
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
        method: "GET",
        path: rawPath,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.9",
        userAgent: "test-agent/1.0",
      },
      requestId,
      routeKey,
      stage: "$default",
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  } as APIGatewayProxyEventV2WithJWTAuthorizer;
}
