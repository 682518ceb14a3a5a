/**
 * The local server hands handlers the payload format 2.0 event API Gateway HTTP API sends, and
 * turns their results into responses the way API Gateway does. Fake handlers record what they get.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SCOPES } from "../../lambda/runtime/config";
import { LOCAL_AUDIENCE, type LocalIssuer, loadOrCreateIssuerKey, localIssuer } from "../../local/issuer";
import {
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  type LocalServer,
  type RouteHandler,
  startLocalServer,
} from "../../local/server";

describe("local server: the event a handler receives and the response it sends", () => {
  let stateDir: string;
  let server: LocalServer;
  let issuer: LocalIssuer;
  let token: string;
  const received: APIGatewayProxyEventV2WithJWTAuthorizer[] = [];
  const logged: string[] = [];
  let nextResult: Awaited<ReturnType<RouteHandler>> | Error = { statusCode: 200, body: "" };

  const recorder: RouteHandler = async (event) => {
    received.push(event);
    if (nextResult instanceof Error) throw nextResult;
    return nextResult;
  };

  /** Sends a request with node:http, which can repeat a header where fetch would merge it. */
  function send(method: string, path: string, headers: Array<[string, string]>, body?: string) {
    return new Promise<{
      status: number;
      headers: Record<string, string | string[] | undefined>;
      body: string;
    }>((resolve, reject) => {
      const url = new URL(server.url);
      // An array value goes out as one header line per element.
      const grouped: Record<string, string[]> = {};
      for (const [name, value] of headers) grouped[name] = [...(grouped[name] ?? []), value];
      const req = httpRequest(
        { host: url.hostname, port: url.port, method, path, headers: grouped },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString(),
            }),
          );
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  const bearer = (): [string, string] => ["Authorization", `Bearer ${token}`];

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "sealtrail-server-"));
    const key = await loadOrCreateIssuerKey(stateDir);
    server = await startLocalServer({
      port: 0,
      issuer: { publicJwks: () => key.publicJwks() },
      audience: LOCAL_AUDIENCE,
      apiId: "localapi",
      log: (line) => logged.push(line),
      accountId: "123456789012",
      routes: {
        "POST /v1/events": { scopes: [DEFAULT_SCOPES.write], handler: recorder },
        "GET /v1/events/{id}": { scopes: [DEFAULT_SCOPES.read], handler: recorder },
        "GET /v1/events/{id}/proof": { scopes: [DEFAULT_SCOPES.read], handler: recorder },
        "GET /v1/events/latest": { scopes: [DEFAULT_SCOPES.read], handler: recorder },
      },
    });
    issuer = localIssuer(key, { issuer: server.issuer });
    token = await issuer.signToken({
      scope: [DEFAULT_SCOPES.write, DEFAULT_SCOPES.read],
      sub: "alice",
      extraClaims: { "cognito:groups": ["auditors", "admins"], tenant_id: 7, email_verified: true },
    });
  });

  afterAll(async () => {
    await server?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("builds the payload format 2.0 event with the authorizer's claims and scopes", async () => {
    nextResult = { statusCode: 201, body: "{}" };
    received.length = 0;
    const before = Date.now();

    const response = await send(
      "POST",
      "/v1/events?b=2&a=1&a=x%20y",
      [
        bearer(),
        ["Content-Type", "application/json"],
        ["X-Multi", "one"],
        ["X-Multi", "two"],
        ["Idempotency-Key", "k-1"],
        ["Cookie", "c1=v1; c2=v2"],
        ["User-Agent", "sealtrail-test/1"],
      ],
      '{"events":[]}',
    );

    expect(response.status).toBe(201);
    const [event] = received;
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "POST /v1/events",
      rawPath: "/v1/events",
      rawQueryString: "b=2&a=1&a=x%20y",
      cookies: ["c1=v1", "c2=v2"],
      queryStringParameters: { a: "1,x y", b: "2" },
      body: '{"events":[]}',
      isBase64Encoded: false,
      requestContext: {
        accountId: "123456789012",
        apiId: "localapi",
        authorizer: {
          jwt: {
            claims: {
              iss: server.url,
              aud: LOCAL_AUDIENCE,
              sub: "alice",
              scope: `${DEFAULT_SCOPES.write} ${DEFAULT_SCOPES.read}`,
              "cognito:groups": "[auditors admins]",
              tenant_id: "7",
              email_verified: "true",
            },
            scopes: [DEFAULT_SCOPES.write, DEFAULT_SCOPES.read],
          },
        },
        http: {
          method: "POST",
          path: "/v1/events",
          protocol: "HTTP/1.1",
          sourceIp: "127.0.0.1",
          userAgent: "sealtrail-test/1",
        },
        routeKey: "POST /v1/events",
        stage: "$default",
      },
    });
    expect(event?.headers).toMatchObject({
      "content-type": "application/json",
      "x-multi": "one,two",
      "idempotency-key": "k-1",
      "user-agent": "sealtrail-test/1",
    });
    expect(event?.headers).not.toHaveProperty("cookie");
    for (const name of Object.keys(event?.headers ?? {})) expect(name).toBe(name.toLowerCase());
    expect(event).not.toHaveProperty("pathParameters");
    expect(event?.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(event?.requestContext.timeEpoch).toBeGreaterThanOrEqual(before);
    expect(event?.requestContext.timeEpoch).toBeLessThanOrEqual(Date.now());
    expect(response.headers["apigw-requestid"]).toBe(event?.requestContext.requestId);
  });

  it("gives every request its own request id", async () => {
    nextResult = { statusCode: 200, body: "ok" };
    received.length = 0;

    await Promise.all([1, 2, 3, 4, 5].map(() => send("GET", "/v1/events/x", [bearer()])));

    expect(new Set(received.map((e) => e.requestContext.requestId)).size).toBe(5);
  });

  it("fills path parameters, preferring the most specific route, and omits what a GET does not have", async () => {
    nextResult = { statusCode: 200, body: "ok" };
    received.length = 0;

    await send("GET", "/v1/events/01J%2FX", [bearer()]);
    await send("GET", "/v1/events/01JX/proof", [bearer()]);
    await send("GET", "/v1/events/latest", [bearer()]);

    expect(received.map((e) => [e.routeKey, e.pathParameters])).toEqual([
      ["GET /v1/events/{id}", { id: "01J/X" }],
      ["GET /v1/events/{id}/proof", { id: "01JX" }],
      ["GET /v1/events/latest", undefined],
    ]);
    expect(received[0]).not.toHaveProperty("body");
    expect(received[0]).not.toHaveProperty("queryStringParameters");
    expect(received[0]).not.toHaveProperty("cookies");
    expect(received[0]?.rawQueryString).toBe("");
  });

  it("checks each route's own scopes", async () => {
    const writeOnly = await issuer.signToken({ scope: DEFAULT_SCOPES.write });

    const response = await send("GET", "/v1/events/x", [["Authorization", `Bearer ${writeOnly}`]]);

    expect(response.status).toBe(403);
  });

  it("writes a structured result back: status, headers, cookies, base64 body", async () => {
    nextResult = {
      statusCode: 202,
      headers: { "X-Custom": "yes", "content-type": "text/plain" },
      cookies: ["a=1; Path=/", "b=2"],
      body: Buffer.from("héllo").toString("base64"),
      isBase64Encoded: true,
    };

    const response = await send("POST", "/v1/events", [bearer()], "{}");

    expect(response.status).toBe(202);
    expect(response.headers["x-custom"]).toBe("yes");
    expect(response.headers["content-type"]).toBe("text/plain");
    expect(response.headers["set-cookie"]).toEqual(["a=1; Path=/", "b=2"]);
    expect(response.body).toBe("héllo");
  });

  it("answers a result without a statusCode with 200 and the value as JSON", async () => {
    nextResult = { ids: ["x"] } as unknown as Awaited<ReturnType<RouteHandler>>;

    const response = await send("POST", "/v1/events", [bearer()], "{}");

    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(response.body)).toEqual({ ids: ["x"] });
  });

  it("answers a handler that throws with 500 Internal Server Error", async () => {
    nextResult = new Error("boom");

    const response = await send("POST", "/v1/events", [bearer()], "{}");

    expect(response.status).toBe(500);
    expect(JSON.parse(response.body)).toEqual({ message: "Internal Server Error" });
    expect(logged.join("\n")).toMatch(/POST \/v1\/events failed .*boom/);
  });

  it("serves the issuer's JWKS and discovery document without a token", async () => {
    const jwks = await (await fetch(server.jwksUrl)).json();
    const discovery = await (await fetch(`${server.url}/.well-known/openid-configuration`)).json();

    expect(jwks).toEqual(issuer.publicJwks());
    expect(discovery).toEqual({ issuer: server.url, jwks_uri: server.jwksUrl });
  });

  it("answers a chunked body over the payload limit with 413 without calling the handler", async () => {
    const calls: unknown[] = [];
    const small = await startLocalServer({
      port: 0,
      issuer: { issuer: server.issuer, publicJwks: () => issuer.publicJwks() },
      audience: LOCAL_AUDIENCE,
      maxPayloadBytes: 1024,
      routes: {
        "POST /v1/events": {
          scopes: [DEFAULT_SCOPES.write],
          handler: async (event) => {
            calls.push(event);
            return { statusCode: 201 };
          },
        },
      },
    });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const url = new URL(small.url);
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            method: "POST",
            path: "/v1/events",
            headers: { authorization: `Bearer ${token}`, "transfer-encoding": "chunked" },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on("error", reject);
        req.write(Buffer.alloc(800, 0x20));
        req.write(Buffer.alloc(800, 0x20));
        req.end();
      });

      expect(status).toBe(413);
      expect(calls).toHaveLength(0);
    } finally {
      await small.close();
    }
  });

  it("keeps idle connections open longer than its clients do, with a headers timeout above that", async () => {
    // fetch keeps an idle connection 4 s without a hint and Node's agent 5 s; a server that closes
    // first makes a client's next request on that connection fail with "other side closed".
    const response = await fetch(server.jwksUrl);
    await response.arrayBuffer();

    expect(response.headers.get("keep-alive")).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
    expect(KEEP_ALIVE_TIMEOUT_MS).toBeGreaterThanOrEqual(60_000);
    expect(HEADERS_TIMEOUT_MS).toBeGreaterThan(KEEP_ALIVE_TIMEOUT_MS);
  });

  it("logs a refused token's reason, not the token", async () => {
    const wrongAudience = await issuer.signToken({
      scope: DEFAULT_SCOPES.write,
      extraClaims: { aud: "someone-else" },
    });

    const response = await send("POST", "/v1/events", [["Authorization", `Bearer ${wrongAudience}`]], "{}");

    expect(response.status).toBe(401);
    const requestId = response.headers["apigw-requestid"];
    expect(logged.filter((entry) => entry.includes(`(request ${requestId})`))).toEqual([
      `sealtrail: 401 POST /v1/events refused (request ${requestId}): the token does not have a valid audience`,
    ]);
    for (const part of wrongAudience.split(".")) expect(logged.join("\n")).not.toContain(part);
  });

  it("listens on the loopback interface only", () => {
    expect(new URL(server.url).hostname).toBe("127.0.0.1");
  });

  it.each([
    ["ANY /v1/events", /must be "<METHOD> \/path"/],
    ["GET /v1/files/{path+}", /greedy \{name\+\} segments are not served/],
  ])("refuses the route key %s, which no sealtrail route uses, before it listens", async (routeKey, message) => {
    await expect(
      startLocalServer({
        port: 0,
        issuer: { publicJwks: () => ({ keys: [] }) },
        audience: LOCAL_AUDIENCE,
        routes: { [routeKey]: { scopes: [DEFAULT_SCOPES.read], handler: recorder } },
      }),
    ).rejects.toThrow(message);
  });
});
