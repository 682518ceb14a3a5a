/**
 * The client's own transport (node:http with a keep-alive agent, used when no `fetch` is passed),
 * against a real server on loopback: the same contract the fetch path keeps, and one connection for
 * many batches.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createAuditClient, DeliveryError } from "../../../client/src/index";
import { nodePost } from "../../../client/src/transport";
import { captureLogger, event } from "./client-fakes";

const TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2VjcmV0LXNpZ25hdHVyZQ";

interface Seen {
  readonly headers: IncomingMessage["headers"];
  readonly events: unknown[];
}

type Handler = (seen: Seen, res: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

function receipt(count: number) {
  return {
    ids: Array.from({ length: count }, (_, i) => `01J0000000000000000000000${i % 10}`),
    chain: "00",
    seq: 0,
    link_key: "chains/00/00000000000000000000.json",
    link_hash: "a".repeat(64),
    batch: { key: "events/k", root: "b".repeat(64), count },
    leaf_indexes: Array.from({ length: count }, (_, i) => i),
  };
}

const sealAll: Handler = (seen, res) => {
  res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify(receipt(seen.events.length)));
};

/** A sealtrail stand-in answering each request with the next handler (then receipts). */
async function start(...handlers: Handler[]) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = {
        headers: req.headers,
        events: (JSON.parse(Buffer.concat(chunks).toString()) as { events: unknown[] }).events,
      };
      seen.push(request);
      (handlers.shift() ?? sealAll)(request, res);
    });
  });
  server.on("connection", () => connections++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, connections: () => connections };
}

describe("the node:http transport", () => {
  it("posts each batch with the token, the JSON type and its idempotency key, over one kept-alive connection", async () => {
    const sealtrail = await start();
    const client = createAuditClient({ url: sealtrail.url, token: TOKEN, maxBatchEvents: 2 });
    for (let i = 0; i < 6; i++) client.record(event(i));
    await client.flush();
    await client.flush();
    expect(sealtrail.seen.map((s) => s.events.length)).toEqual([2, 2, 2]);
    for (const { headers } of sealtrail.seen) {
      expect(headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(headers["content-type"]).toBe("application/json");
      expect(headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(new Set(sealtrail.seen.map((s) => s.headers["idempotency-key"])).size).toBe(3);
    expect(client.stats()).toMatchObject({ sent: 6, sealed: 6, dropped: 0 });
    // The two slots may open a second connection; never one per batch.
    expect(sealtrail.connections()).toBeLessThanOrEqual(2);
    await client.shutdown();
  });

  it("reads Retry-After and the body of a refusal", async () => {
    const sealtrail = await start((_seen, res) => {
      res
        .writeHead(429, { "content-type": "application/json", "retry-after": "7" })
        .end(JSON.stringify({ code: "throttled", message: "slow down" }));
    });
    const post = nodePost(`${sealtrail.url}/v1/events`, 1);
    const answer = await post(`${sealtrail.url}/v1/events`, {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ events: [event(1)] }),
      signal: new AbortController().signal,
    });
    expect(answer).toEqual({
      status: 429,
      retryAfter: "7",
      text: JSON.stringify({ code: "throttled", message: "slow down" }),
    });
  });

  it("a retried batch carries the same idempotency key, and is sealed once", async () => {
    const busy: Handler = (_seen, res) => {
      res
        .writeHead(503, { "content-type": "application/json", "retry-after": "0" })
        .end(JSON.stringify({ code: "unavailable", message: "try again" }));
    };
    const sealtrail = await start(busy, (_seen, res) => res.socket?.destroy());
    const client = createAuditClient({ url: sealtrail.url, token: TOKEN, random: () => 0 });
    const sealed = await client.recordNow(event(1));
    expect(sealed.batch.count).toBe(1);
    expect(sealtrail.seen).toHaveLength(3);
    expect(new Set(sealtrail.seen.map((s) => s.headers["idempotency-key"])).size).toBe(1);
    expect(client.stats()).toMatchObject({ retried: 2, sealed: 1 });
  });

  it("gives up on a request without an answer at requestTimeoutMs, and says so without the token", async () => {
    const sealtrail = await start(() => {});
    const { lines, logger } = captureLogger();
    const client = createAuditClient({
      url: sealtrail.url,
      token: TOKEN,
      requestTimeoutMs: 50,
      retry: { maxAttempts: 1 },
      logger,
    });
    const error = await client.recordNow(event(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ code: "timeout", attempts: 1 });
    expect(JSON.stringify({ ...(error as object), message: (error as Error).message })).not.toContain(TOKEN);
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("a connection cut before the answer is a network error, retried, and never names the token", async () => {
    const cut: Handler = (_seen, res) => res.socket?.destroy();
    const sealtrail = await start(cut, cut);
    const client = createAuditClient({
      url: sealtrail.url,
      token: TOKEN,
      random: () => 0,
      retry: { maxAttempts: 2 },
    });
    const error = await client.recordNow(event(1)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "network_error", attempts: 2 });
    expect((error as Error).message).toMatch(/ECONNRESET|socket hang up/);
    expect((error as Error).message).not.toContain(TOKEN);
    expect(sealtrail.seen).toHaveLength(2);
  });
});
