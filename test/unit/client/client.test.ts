import { describe, expect, it } from "vitest";
import { AuditEventError, createAuditClient, DeliveryError } from "../../../client/src/index";
import { type Answer, captureLogger, event, FakeClock, FakeSealtrail, settle } from "./client-fakes";

const TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2VjcmV0LXNpZ25hdHVyZQ";

function setup(script: Answer[] = [], options: Record<string, unknown> = {}) {
  const clock = new FakeClock();
  const server = new FakeSealtrail(...script);
  const { lines, logger } = captureLogger();
  let keys = 0;
  const client = createAuditClient({
    url: "https://sealtrail.test/",
    token: TOKEN,
    fetch: server.fetch,
    clock,
    random: () => 0.5,
    newIdempotencyKey: () => `key-${++keys}`,
    logger,
    ...options,
  });
  return { clock, server, client, lines };
}

describe("record: validation with the server's own rules", () => {
  it("throws at once for an event the server would refuse, naming the field, and queues nothing", () => {
    const { client } = setup();
    expect(() => client.record({ action: "bad action!", outcome: "success" })).toThrow(AuditEventError);
    try {
      client.record({ action: "ok", outcome: "success", tenant: "x" } as never);
    } catch (error) {
      expect((error as AuditEventError).code).toBe("forbidden_field");
      expect((error as Error).message).toContain("event.tenant");
    }
    expect(client.stats()).toMatchObject({ queued: 0, sent: 0 });
  });
});

describe("batching", () => {
  it("by count: a full batch goes at once, the rest waits for the timer", async () => {
    const { client, server, clock } = setup([], { maxBatchEvents: 3, maxBatchDelayMs: 1000 });
    for (let i = 0; i < 7; i++) client.record(event(i));
    await settle();
    expect(server.requests.map((r) => r.events.length)).toEqual([3, 3]);
    await clock.advance(999);
    expect(server.requests).toHaveLength(2);
    await clock.advance(1);
    expect(server.requests.map((r) => r.events.length)).toEqual([3, 3, 1]);
    expect(client.stats()).toMatchObject({ queued: 0, sent: 7, sealed: 7, dropped: 0 });
  });

  it("by bytes: no body is larger than maxBatchBytes", async () => {
    const { client, server } = setup([], { maxBatchBytes: 1000, maxBatchEvents: 1000 });
    for (let i = 0; i < 40; i++) client.record(event(i, { details: { pad: "x".repeat(100) } }));
    await client.flush();
    expect(server.requests.length).toBeGreaterThan(4);
    for (const request of server.requests) expect(request.bytes).toBeLessThanOrEqual(1000);
    expect(server.requests.flatMap((r) => r.events)).toHaveLength(40);
  });

  it("by time: a lone event is sent after maxBatchDelayMs", async () => {
    const { client, server, clock } = setup([], { maxBatchDelayMs: 250 });
    client.record(event(1));
    await clock.advance(249);
    expect(server.requests).toHaveLength(0);
    await clock.advance(1);
    expect(server.requests).toHaveLength(1);
  });

  it("refuses bounds beyond the server's limits", () => {
    expect(() => setup([], { maxBatchEvents: 1001 })).toThrow(
      /maxBatchEvents must be a whole number from 1 to 1000/,
    );
    expect(() => setup([], { maxBatchBytes: 5 * 1024 * 1024 })).toThrow(/maxBatchBytes/);
  });
});

describe("retries", () => {
  it("honours Retry-After and sends the same Idempotency-Key on every retry", async () => {
    const { client, server, clock } = setup([
      { status: 429, body: { code: "throttled", message: "slow down" }, headers: { "retry-after": "7" } },
      { status: 503, body: { code: "storage_unavailable", message: "retry" } },
      "network_error",
      {
        status: 409,
        body: { code: "idempotency_in_progress", message: "later" },
        headers: { "retry-after": "2" },
      },
    ]);
    client.record(event(1));
    const flushed = client.flush();
    await settle();
    expect(server.requests).toHaveLength(1);
    await clock.advance(6999);
    expect(server.requests).toHaveLength(1);
    await clock.advance(1);
    expect(server.requests).toHaveLength(2);
    await clock.runUntil(flushed);
    expect(server.requests).toHaveLength(5);
    expect(new Set(server.requests.map((r) => r.headers["idempotency-key"]))).toEqual(new Set(["key-1"]));
    expect(client.stats()).toMatchObject({ sent: 1, sealed: 1, retried: 4, dropped: 0 });
  });

  it("backs off exponentially with full jitter", async () => {
    const clock = new FakeClock();
    const server = new FakeSealtrail({ status: 500 }, { status: 500 }, { status: 500 });
    const times: number[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => {
      times.push(clock.now());
      return server.fetch(input, init);
    };
    const client = createAuditClient({
      url: "https://s.test",
      token: TOKEN,
      fetch,
      clock,
      random: () => 0.5,
      retry: { baseDelayMs: 100, maxDelayMs: 300 },
    });
    await clock.runUntil(client.recordNow(event(1)));
    // Half (random 0.5) of min(300, 100·2^n): 50, 100, then 150 (capped at 300).
    expect(times.map((t) => t - (times[0] as number))).toEqual([0, 50, 150, 300]);
  });

  it("gives up after maxAttempts: the events are dropped, counted and reported without the token", async () => {
    const drops: unknown[] = [];
    const { client, clock, lines } = setup(
      Array.from({ length: 3 }, () => ({
        status: 502,
        body: { code: "bad_gateway", message: `upstream saw ${TOKEN}` },
      })),
      { retry: { maxAttempts: 3 }, onDrop: (d: unknown) => drops.push(d) },
    );
    client.record(event(1));
    await clock.runUntil(client.flush());
    expect(client.stats()).toMatchObject({ sent: 1, sealed: 0, retried: 2, dropped: 1, queued: 0 });
    expect(drops).toHaveLength(1);
    const error = (drops[0] as { error: DeliveryError }).error;
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error.attempts).toBe(3);
    expect(JSON.stringify({ ...error, message: error.message, lines })).not.toContain(TOKEN);
  });

  it("stops retrying when the next wait would pass maxElapsedMs", async () => {
    const { client, server, clock } = setup(
      [{ status: 503, body: { code: "x", message: "y" }, headers: { "retry-after": "120" } }],
      { retry: { maxElapsedMs: 60_000 } },
    );
    await expect(clock.runUntil(client.recordNow(event(1)))).rejects.toThrow(/gave up/);
    expect(server.requests).toHaveLength(1);
  });
});

describe("a refused batch is split to isolate the bad events", () => {
  it("uses the indexes the server names, seals the rest in a new batch with a new key", async () => {
    const rejected: unknown[] = [];
    const { client, server } = setup(
      [
        {
          status: 400,
          body: {
            code: "invalid_field",
            message: "2 problems",
            errors: [
              { index: 1, path: "events[1].details", code: "too_deep", message: "nested too deeply" },
              { index: 3, path: "events[3].action", code: "invalid_field", message: "bad" },
            ],
          },
        },
      ],
      { onReject: (r: unknown) => rejected.push(r) },
    );
    for (let i = 0; i < 5; i++) client.record(event(i));
    await client.flush();
    expect(server.requests.map((r) => r.events.length)).toEqual([5, 3]);
    expect(server.requests[1]?.headers["idempotency-key"]).not.toBe(
      server.requests[0]?.headers["idempotency-key"],
    );
    expect(server.requests[1]?.events.map((e) => (e.resource as { id: string }).id)).toEqual(["0", "2", "4"]);
    expect(rejected).toMatchObject([
      { event: event(1), status: 400, code: "too_deep", path: "event.details" },
      { event: event(3), status: 400, code: "invalid_field", path: "event.action" },
    ]);
    expect(client.stats()).toMatchObject({ sealed: 3, rejected: 2, dropped: 0 });
  });

  it("halves a batch refused as a whole until the bad event stands alone", async () => {
    const rejected: unknown[] = [];
    const badId = "5";
    const refuseBad: Answer = (request) =>
      request.events.some((e) => (e.resource as { id: string }).id === badId)
        ? { status: 413, body: { code: "body_too_large", message: "too large" } }
        : { status: 201 };
    const { client, server } = setup(
      Array.from({ length: 20 }, () => refuseBad),
      {
        onReject: (r: unknown) => rejected.push(r),
      },
    );
    for (let i = 0; i < 8; i++) client.record(event(i));
    await client.flush();
    expect(rejected).toMatchObject([{ event: event(5), code: "body_too_large" }]);
    expect(client.stats()).toMatchObject({ sealed: 7, rejected: 1 });
    expect(server.requests.length).toBeLessThanOrEqual(2 * 8);
  });
});

describe("a refused forwarded subject token", () => {
  const claims = { sub: "alice", iss: "https://idp.test/", sid: "s-1", jti: "t-1", exp: 1000, iat: 900 };
  const subjectToken = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`;

  it("does not lose the event: it is sealed again without the token, its actor asserted from the claims", async () => {
    const rejected: unknown[] = [];
    const { client, server, lines } = setup(
      [
        {
          status: 401,
          body: {
            code: "invalid_subject_token",
            message: "expired",
            errors: [
              { index: 1, path: "events[1].subject_token", code: "invalid_subject_token", message: "x" },
            ],
          },
        },
      ],
      { onReject: (r: unknown) => rejected.push(r) },
    );
    client.record(event(0));
    client.record(event(1, { subject_token: subjectToken }));
    await client.flush();

    expect(server.requests.map((r) => r.events.length)).toEqual([2, 2]);
    const resent = server.requests[1]?.events[1];
    expect(resent?.subject_token).toBeUndefined();
    expect(resent?.actor).toEqual({
      sub: "alice",
      iss: "https://idp.test/",
      session_id: "s-1",
      token_id: "t-1",
      token_exp: 1000,
      token_iat: 900,
    });
    expect(rejected).toEqual([]);
    expect(client.stats()).toMatchObject({ sealed: 2, rejected: 0, dropped: 0 });
    expect(lines.join("\n")).not.toContain(subjectToken);
  });

  it("hands no subject token to onDrop or onReject", async () => {
    const seen: unknown[] = [];
    const { client } = setup(
      [
        { status: 401, body: { code: "invalid_subject_token", message: "forged" } },
        { status: 400, body: { code: "invalid_body", message: "no" } },
      ],
      { onReject: (r: unknown) => seen.push(r), onDrop: (d: unknown) => seen.push(d), maxBatchEvents: 1 },
    );
    const anonymous = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from("{}").toString("base64url")}.c2ln`;
    client.record(event(0, { subject_token: anonymous }));
    await client.flush();
    client.record(event(1, { subject_token: subjectToken }));
    await client.flush();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBe(2);
    for (const token of [anonymous, subjectToken])
      expect(JSON.stringify(seen)).not.toContain(token.split(".")[1]);
    expect(JSON.stringify(seen)).not.toContain('"subject_token":');
  });

  it("rejects an event whose token names no subject, as before", async () => {
    const rejected: unknown[] = [];
    const anonymous = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from("{}").toString("base64url")}.c2ln`;
    const { client, server } = setup(
      [{ status: 401, body: { code: "invalid_subject_token", message: "forged" } }],
      { onReject: (r: unknown) => rejected.push(r) },
    );
    client.record(event(0, { subject_token: anonymous }));
    await client.flush();
    expect(server.requests).toHaveLength(1);
    expect(rejected).toMatchObject([{ code: "invalid_subject_token" }]);
  });
});

describe("the bounded queue", () => {
  it("drops beyond maxQueueEvents: counted in stats, onDrop, and one warning with the count", async () => {
    const drops: number[] = [];
    const { client, lines } = setup([], {
      maxQueueEvents: 5,
      maxBatchEvents: 100,
      onDrop: (d: { events: unknown[] }) => drops.push(d.events.length),
    });
    for (let i = 0; i < 12; i++) client.record(event(i));
    expect(client.stats()).toMatchObject({ queued: 5, dropped: 7 });
    expect(drops).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(lines.filter((l) => l.includes("queue full"))).toEqual([
      expect.stringContaining("dropped 1 events; 1 dropped in all"),
    ]);
    await client.flush();
    expect(client.stats()).toMatchObject({ queued: 0, sealed: 5, dropped: 7 });
  });
});

describe("shutdown", () => {
  it("flushes what is queued when sealtrail answers in time", async () => {
    const { client, server, clock } = setup([{ status: 503, body: { code: "x", message: "y" } }]);
    for (let i = 0; i < 3; i++) client.record(event(i));
    await clock.runUntil(client.shutdown({ timeoutMs: 5000 }));
    expect(server.requests.at(-1)?.events).toHaveLength(3);
    expect(client.stats()).toMatchObject({ queued: 0, sealed: 3, dropped: 0 });
  });

  it("gives up at its deadline: what is unsealed is dropped and counted, and it resolves then", async () => {
    const drops: string[] = [];
    const { client, clock } = setup(
      Array.from({ length: 100 }, () => ({
        status: 503,
        body: { code: "x", message: "y" },
        headers: { "retry-after": "1" },
      })),
      { onDrop: (d: { reason: string }) => drops.push(d.reason) },
    );
    for (let i = 0; i < 3; i++) client.record(event(i));
    const started = clock.now();
    await clock.runUntil(client.shutdown({ timeoutMs: 2500 }));
    expect(clock.now() - started).toBe(2500);
    expect(client.stats()).toMatchObject({ queued: 0, sealed: 0, dropped: 3 });
    expect(drops).toEqual(["shutdown_timeout"]);
    client.record(event(9));
    expect(client.stats().dropped).toBe(4);
    await expect(client.recordNow(event(10))).rejects.toMatchObject({ code: "closed" });
  });
});

describe("recordNow", () => {
  it("resolves with the receipt once sealed, and rejects with the server's reason when refused", async () => {
    const { client, server } = setup([
      { status: 201 },
      {
        status: 400,
        body: {
          code: "x",
          message: "m",
          errors: [{ index: 0, path: "events[0].action", code: "invalid_field", message: "bad" }],
        },
      },
    ]);
    const receipt = await client.recordNow(event(1));
    expect(receipt.batch.count).toBe(1);
    await expect(client.recordNow(event(2))).rejects.toThrow(/400 invalid_field at event.action: bad/);
    expect(server.requests[0]?.url).toBe("https://sealtrail.test/v1/events");
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });
});

describe("tokens never leave the client in text", () => {
  it("no log line, error message or error field holds the token, whatever the server echoes", async () => {
    const echo = `Bearer ${TOKEN}`;
    const { client, clock, lines } = setup(
      [
        { status: 403, body: { code: "missing_scope", message: `token ${echo} lacks scope` } },
        { status: 400, body: { code: "invalid_field", message: `saw ${TOKEN}` } },
        "network_error",
        { status: 500, body: { code: "boom", message: TOKEN } },
      ],
      { retry: { maxAttempts: 2 } },
    );
    client.record(event(1));
    await clock.runUntil(client.flush());
    client.record(event(2));
    await clock.runUntil(client.flush());
    const errors: unknown[] = [];
    await clock.runUntil(client.recordNow(event(3))).catch((e: unknown) => errors.push(e));
    const fields = errors.map((e) => ({
      ...(e as object),
      message: (e as Error).message,
      stack: (e as Error).stack,
    }));
    const text = JSON.stringify({ lines, fields });
    expect(lines.length).toBeGreaterThan(0);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(TOKEN.split(".")[2]);
  });
});
