/**
 * Each node:http-based adapter (Express, Fastify, plain node:http) behind a real server on a free port,
 * recording into a fake client: route templates, request ids, claims, skip, 404s and aborted requests.
 */
import { createServer, request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { AccessLogOptions, AccessLogSink } from "../../../client/src/access-log";
import { sealtrailAccessLog as expressAccessLog } from "../../../client/src/express";
import { sealtrailAccessLog as fastifyAccessLog } from "../../../client/src/fastify";
import type { AuditEvent } from "../../../client/src/index";
import { sealtrailAccessLog as nodeAccessLog } from "../../../client/src/node";
import { listenOnLoopback } from "../../support/http-server";

/** A fake client that hands out each recorded event as it arrives. */
function fakeClient() {
  const events: AuditEvent[] = [];
  const waiters: Array<() => void> = [];
  const client: AccessLogSink = {
    record(event) {
      events.push(event);
      for (const wake of waiters.splice(0)) wake();
    },
  };
  /** Resolves once `count` events were recorded. */
  const recorded = async (count: number) => {
    while (events.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    return events.slice(0, count);
  };
  return { client, events, recorded };
}

interface RunningApp {
  readonly url: string;
  close(): Promise<void>;
}

type AppOptions = Omit<AccessLogOptions<never>, "client">;

/** Test auth: `x-test-sub` stands in for a verified JWT, set where the framework's JWT plugin sets claims. */
const claimsFromTestHeader = (req: IncomingMessage) => {
  const sub = req.headers["x-test-sub"];
  return typeof sub === "string"
    ? { sub, sid: `session-of-${sub}`, jti: "jti-1", exp: 1_790_000_600 }
    : undefined;
};

const ADAPTERS: Array<{
  name: string;
  start(client: AccessLogSink, options: AppOptions, slowArrived: () => void): Promise<RunningApp>;
}> = [
  {
    name: "express",
    async start(client, options, slowArrived) {
      const app = express();
      app.use(expressAccessLog({ client, ...(options as object), skip: (req) => req.path === "/health" }));
      app.use((req, _res, next) => {
        (req as { auth?: unknown }).auth = claimsFromTestHeader(req);
        next();
      });
      const api = express.Router();
      api.get("/documents/:id", (req, res) => {
        res.json({ id: req.params.id });
      });
      api.get("/slow", () => slowArrived());
      app.use("/api/v1", api);
      app.get("/health", (_req, res) => {
        res.send("ok");
      });
      const server = createServer(app);
      return listenOnLoopback(server);
    },
  },
  {
    name: "fastify",
    async start(client, options, slowArrived) {
      const app = Fastify();
      await app.register(
        fastifyAccessLog({ client, ...(options as object), skip: (request) => request.url === "/health" }),
      );
      app.addHook("onRequest", async (request) => {
        (request as { user?: unknown }).user = claimsFromTestHeader(request.raw);
      });
      await app.register(
        async (api) => {
          api.get<{ Params: { id: string } }>("/documents/:id", async (request) => ({
            id: request.params.id,
          }));
          api.get("/slow", () => {
            slowArrived();
            return new Promise(() => {});
          });
        },
        { prefix: "/api/v1" },
      );
      app.get("/health", async () => "ok");
      await app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = app.server.address() as AddressInfo;
      return {
        url: `http://127.0.0.1:${port}`,
        async close() {
          app.server.closeAllConnections();
          await app.close();
        },
      };
    },
  },
  {
    name: "node:http",
    async start(client, options, slowArrived) {
      const documentRoute = /^\/api\/v1\/documents\/([^/?]+)(\?.*)?$/;
      const withAccessLog = nodeAccessLog({
        client,
        ...(options as object),
        skip: (req) => req.url === "/health",
        route: (req) =>
          documentRoute.test(req.url ?? "")
            ? "/api/v1/documents/:id"
            : req.url === "/api/v1/slow"
              ? "/api/v1/slow"
              : undefined,
        claims: claimsFromTestHeader,
      });
      const server = createServer(
        withAccessLog((req, res) => {
          const match = documentRoute.exec(req.url ?? "");
          if (match) {
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify({ id: match[1] }));
          } else if (req.url === "/health") {
            res.end("ok");
          } else if (req.url === "/api/v1/slow") {
            slowArrived(); // and never answers: the client gives up.
          } else {
            res.statusCode = 404;
            res.end("not found");
          }
        }),
      );
      return listenOnLoopback(server);
    },
  },
];

describe.each(ADAPTERS)("$name access log", (adapter) => {
  let app: RunningApp | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("records the route template, the path without query, status, claims and a new request id it also answers with", async () => {
    const { client, recorded } = fakeClient();
    app = await adapter.start(client, {}, () => {});

    const response = await fetch(`${app.url}/api/v1/documents/42?secret=shh`, {
      headers: { "x-test-sub": "alice", "user-agent": "adapter-test/1" },
    });
    const [event] = await recorded(1);

    expect(response.status).toBe(200);
    const requestId = response.headers.get("x-request-id");
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event).toMatchObject({
      action: "http.request",
      outcome: "success",
      actor: { sub: "alice", session_id: "session-of-alice", token_id: "jti-1", token_exp: 1_790_000_600 },
      http: {
        request_id: requestId,
        method: "GET",
        route: "/api/v1/documents/:id",
        endpoint: "/api/v1/documents/42",
        status: 200,
        source_ip: "127.0.0.1",
        user_agent: "adapter-test/1",
      },
    });
    expect(event?.http?.duration_ms).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(event)).not.toContain("shh");
  });

  it("keeps the caller's x-request-id and does not answer with another", async () => {
    const { client, recorded } = fakeClient();
    app = await adapter.start(client, {}, () => {});

    const response = await fetch(`${app.url}/api/v1/documents/1`, {
      headers: { "x-request-id": "from-the-edge" },
    });
    const [event] = await recorded(1);

    expect(event?.http?.request_id).toBe("from-the-edge");
    expect(response.headers.get("x-request-id")).toBeNull();
  });

  it("records a request that matched no route without a route template", async () => {
    const { client, recorded } = fakeClient();
    app = await adapter.start(client, {}, () => {});

    const response = await fetch(`${app.url}/api/v1/nothing/here`);
    const [event] = await recorded(1);

    expect(response.status).toBe(404);
    expect(event).toMatchObject({
      outcome: "failure",
      http: { status: 404, endpoint: "/api/v1/nothing/here" },
    });
    expect(event?.http).not.toHaveProperty("route");
    expect(event?.actor).toEqual({ sub: "anonymous" });
  });

  it("skips what skip() names, and records the next request", async () => {
    const { client, events, recorded } = fakeClient();
    app = await adapter.start(client, {}, () => {});

    expect((await fetch(`${app.url}/health`)).status).toBe(200);
    await fetch(`${app.url}/api/v1/documents/2`);
    await recorded(1);

    expect(events.map((event) => event.http?.endpoint)).toEqual(["/api/v1/documents/2"]);
  });

  it("records a request the client aborted, as unknown without a status", async () => {
    const { client, recorded } = fakeClient();
    let slowArrived = () => {};
    const arrived = new Promise<void>((resolve) => {
      slowArrived = resolve;
    });
    app = await adapter.start(client, {}, () => slowArrived());

    const url = new URL(`${app.url}/api/v1/slow`);
    // Sent with node:http so the test decides when the connection goes away: once the request is in.
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: { "x-test-sub": "bob" },
    });
    req.on("error", () => {});
    req.end();
    await arrived;
    req.destroy();
    const [event] = await recorded(1);

    expect(event).toMatchObject({
      outcome: "unknown",
      actor: { sub: "bob" },
      http: { route: "/api/v1/slow", endpoint: "/api/v1/slow" },
      details: { aborted: true },
    });
    expect(event?.http).not.toHaveProperty("status");
  });

  it("records allowlisted headers only, and forwards no token it was not asked to", async () => {
    const { client, recorded } = fakeClient();
    app = await adapter.start(client, { headers: ["x-tenant"] }, () => {});

    await fetch(`${app.url}/api/v1/documents/3`, {
      headers: {
        "x-test-sub": "carol",
        "x-tenant": "acme",
        "x-other": "not-listed",
        authorization: "Bearer aaa.bbb.ccc",
        cookie: "sid=cookie-value",
      },
    });
    const [event] = await recorded(1);

    expect(event?.details).toEqual({ headers: { "x-tenant": "acme" } });
    const encoded = JSON.stringify(event);
    for (const secret of ["not-listed", "aaa.bbb.ccc", "cookie-value"]) expect(encoded).not.toContain(secret);
  });
});
