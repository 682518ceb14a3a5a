/**
 * The Lambda wrapper around an API Gateway HTTP API handler: the event it records, the request id,
 * a handler that throws, and the flush that must happen before Lambda freezes the environment.
 */
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { describe, expect, it, vi } from "vitest";
import type { AuditEvent } from "../../../client/src/index";
import { routeOfRouteKey, sealtrailAccessLog } from "../../../client/src/lambda";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.bGFtYmRhLXNpZ25hdHVyZQ";

function httpApiEvent(overrides: { headers?: Record<string, string>; routeKey?: string } = {}) {
  return {
    version: "2.0",
    routeKey: overrides.routeKey ?? "GET /documents/{id}",
    rawPath: "/documents/42",
    rawQueryString: "download=1",
    headers: { authorization: `Bearer ${TOKEN}`, "user-agent": "lambda-test/1", ...overrides.headers },
    cookies: ["session=cookie-secret"],
    isBase64Encoded: false,
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.com",
      domainPrefix: "api",
      requestId: "apigw-request-1",
      routeKey: overrides.routeKey ?? "GET /documents/{id}",
      stage: "$default",
      time: "02/Nov/2026:10:00:00 +0000",
      timeEpoch: 1_793_613_600_000,
      http: {
        method: "GET",
        path: "/documents/42",
        protocol: "HTTP/1.1",
        sourceIp: "198.51.100.7",
        userAgent: "lambda-test/1",
      },
      authorizer: {
        principalId: "",
        integrationLatency: 0,
        jwt: {
          claims: {
            sub: "alice",
            iss: "https://idp.example.com",
            sid: "s-1",
            jti: "j-1",
            exp: "1790000600",
            iat: "1790000000",
            "cognito:groups": "[editors]",
          },
          scopes: [],
        },
      },
    },
  } satisfies APIGatewayProxyEventV2WithJWTAuthorizer;
}

function fakeClient(flush: () => Promise<void> = async () => {}) {
  const events: AuditEvent[] = [];
  const steps: string[] = [];
  return {
    events,
    steps,
    client: {
      record: (event: AuditEvent) => {
        steps.push("record");
        events.push(event);
      },
      flush: async () => {
        steps.push("flush");
        await flush();
      },
    },
  };
}

describe("sealtrailAccessLog for API Gateway HTTP API handlers", () => {
  it("records the route key's template, API Gateway's request id, the authorizer's claims, then flushes before returning", async () => {
    const { client, events, steps } = fakeClient();
    const handler = sealtrailAccessLog({ client })(async (): Promise<APIGatewayProxyStructuredResultV2> => {
      steps.push("handler");
      return { statusCode: 200, body: "{}" };
    });

    const result = await handler(httpApiEvent(), {});
    steps.push("returned");

    expect(result).toEqual({ statusCode: 200, body: "{}" });
    expect(steps).toEqual(["handler", "record", "flush", "returned"]);
    expect(events).toEqual([
      {
        action: "http.request",
        outcome: "success",
        occurred_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        actor: {
          sub: "alice",
          iss: "https://idp.example.com",
          session_id: "s-1",
          token_id: "j-1",
          token_exp: 1_790_000_600,
          token_iat: 1_790_000_000,
          roles: ["editors"],
        },
        http: {
          request_id: "apigw-request-1",
          method: "GET",
          route: "/documents/{id}",
          endpoint: "/documents/42",
          status: 200,
          duration_ms: expect.any(Number),
          source_ip: "198.51.100.7",
          user_agent: "lambda-test/1",
        },
      },
    ]);
    const encoded = JSON.stringify(events);
    for (const secret of [TOKEN, "cookie-secret", "download"]) expect(encoded).not.toContain(secret);
  });

  it("prefers x-request-id, and forwards the bearer token as subject_token when asked", async () => {
    const { client, events } = fakeClient();
    const handler = sealtrailAccessLog({ client, forwardSubjectToken: true })(async () => ({
      statusCode: 204,
    }));

    await handler(httpApiEvent({ headers: { "x-request-id": "edge-7" } }), {});

    expect(events[0]?.http?.request_id).toBe("edge-7");
    expect(events[0]?.subject_token).toBe(TOKEN);
    expect(events[0]?.actor).toBeUndefined();
  });

  it("records a handler that throws as a 500 error, rethrows, and still flushes", async () => {
    const { client, events, steps } = fakeClient();
    const handler = sealtrailAccessLog({ client })(async () => {
      throw new Error("database down");
    });

    await expect(handler(httpApiEvent(), {})).rejects.toThrowError("database down");

    expect(events[0]).toMatchObject({ outcome: "error", http: { status: 500 } });
    expect(steps).toEqual(["record", "flush"]);
  });

  it("answers as the handler did when the flush fails, and reports the failure to onError", async () => {
    const onError = vi.fn();
    const { client } = fakeClient(async () => {
      throw new Error("sealtrail unreachable");
    });
    const handler = sealtrailAccessLog({ client, onError })(async () => ({ statusCode: 403 }));

    expect(await handler(httpApiEvent(), {})).toEqual({ statusCode: 403 });
    expect(onError).toHaveBeenCalledWith(expect.objectContaining({ message: "sealtrail unreachable" }));
  });

  it("does not flush with flush: false, and a plain result counts as 200", async () => {
    const { client, events, steps } = fakeClient();
    const handler = sealtrailAccessLog({ client, flush: false })(async () => ({ ok: true }));

    expect(await handler(httpApiEvent(), {})).toEqual({ ok: true });
    expect(steps).toEqual(["record"]);
    expect(events[0]?.http?.status).toBe(200);
  });

  it("skips what skip() names: no event, no flush", async () => {
    const { client, steps } = fakeClient();
    const handler = sealtrailAccessLog({ client, skip: (event) => event.rawPath === "/health" })(
      async () => ({
        statusCode: 200,
      }),
    );

    await handler({ ...httpApiEvent(), rawPath: "/health" }, {});

    expect(steps).toEqual([]);
  });

  it("sets a new request id on the response when neither the header nor API Gateway gave one", async () => {
    const { client, events } = fakeClient();
    const handler = sealtrailAccessLog({ client })(async () => ({ statusCode: 200, headers: { a: "b" } }));
    const event = httpApiEvent();

    const result = (await handler(
      { ...event, requestContext: { ...event.requestContext, requestId: "" } },
      {},
    )) as APIGatewayProxyStructuredResultV2;

    expect(result.headers?.a).toBe("b");
    expect(result.headers?.["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(events[0]?.http?.request_id).toBe(result.headers?.["x-request-id"]);
  });

  it.each([
    ["GET /documents/{id}", "/documents/{id}"],
    ["ANY /{proxy+}", "/{proxy+}"],
    ["$default", undefined],
    [undefined, undefined],
  ])("route of route key %s is %s", (routeKey, route) => {
    expect(routeOfRouteKey(routeKey)).toBe(route);
  });
});
