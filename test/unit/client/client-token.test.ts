import { describe, expect, it } from "vitest";
import { clientCredentials, createAuditClient } from "../../../client/src/index";
import { captureLogger, event, FakeClock, FakeSealtrail } from "./client-fakes";

const SECRET = "s3cret-client-secret-value";

function tokenEndpoint(clock: FakeClock, expiresIn = 3600) {
  const calls: Array<{ authorization: string | null; form: URLSearchParams }> = [];
  const fetch: typeof globalThis.fetch = async (_input, init) => {
    const headers = new Headers(init?.headers);
    calls.push({
      authorization: headers.get("authorization"),
      form: new URLSearchParams(String(init?.body)),
    });
    return Response.json({
      access_token: `machine-token-${calls.length}`,
      token_type: "Bearer",
      expires_in: expiresIn,
    });
  };
  const token = clientCredentials({
    tokenUrl: "https://idp.test/oauth2/token",
    clientId: "svc",
    clientSecret: SECRET,
    scope: "sealtrail/write",
    audience: "sealtrail",
    fetch,
    clock,
  });
  return { calls, token };
}

describe("clientCredentials", () => {
  it("fetches once, caches until shortly before expiry, shares one request between concurrent callers", async () => {
    const clock = new FakeClock();
    const { calls, token } = tokenEndpoint(clock, 3600);
    const [a, b] = await Promise.all([token({ refresh: false }), token({ refresh: false })]);
    expect([a, b]).toEqual(["machine-token-1", "machine-token-1"]);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.form.get("grant_type")).toBe("client_credentials");
    expect(calls[0]?.form.get("scope")).toBe("sealtrail/write");
    expect(calls[0]?.form.get("audience")).toBe("sealtrail");
    expect(calls[0]?.authorization).toBe(`Basic ${Buffer.from(`svc:${SECRET}`).toString("base64")}`);

    await clock.advance(3600_000 - 60_001);
    expect(await token({ refresh: false })).toBe("machine-token-1");
    await clock.advance(1);
    expect(await token({ refresh: false })).toBe("machine-token-2");
    expect(await token({ refresh: true })).toBe("machine-token-3");
  });

  it("the client asks for a new token once on a 401, then retries the batch with it", async () => {
    const clock = new FakeClock();
    const { calls, token } = tokenEndpoint(clock);
    const server = new FakeSealtrail({ status: 401, body: { code: "invalid_token", message: "expired" } });
    const client = createAuditClient({ url: "https://s.test", token, fetch: server.fetch, clock });
    await client.recordNow(event(1));
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      "Bearer machine-token-1",
      "Bearer machine-token-2",
    ]);
    expect(calls).toHaveLength(2);
  });

  it("a second 401 fails the batch: one refresh only, and no token or secret in the error or logs", async () => {
    const clock = new FakeClock();
    const { calls, token } = tokenEndpoint(clock);
    const server = new FakeSealtrail(
      { status: 401, body: { code: "invalid_token", message: "no" } },
      { status: 401, body: { code: "invalid_token", message: "machine-token-2 is not valid" } },
    );
    const { lines, logger } = captureLogger();
    const client = createAuditClient({ url: "https://s.test", token, fetch: server.fetch, clock, logger });
    const error = (await client.recordNow(event(1)).catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: "invalid_token", status: 401, attempts: 2 });
    expect(calls).toHaveLength(2);
    const text = JSON.stringify({ error: { ...error, message: error.message }, lines });
    expect(text).not.toContain("machine-token-");
    expect(text).not.toContain(SECRET);
  });

  it("a refused client-credentials request names the fix, never the secret", async () => {
    const fetch: typeof globalThis.fetch = async () =>
      Response.json({ error: "invalid_client", error_description: `bad secret ${SECRET}` }, { status: 401 });
    const token = clientCredentials({
      tokenUrl: "https://idp.test/t",
      clientId: "svc",
      clientSecret: SECRET,
      fetch,
    });
    const error = (await Promise.resolve(token({ refresh: false })).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(
      /refused the client-credentials request with 401 \(invalid_client\); check clientId/,
    );
    expect(JSON.stringify({ ...error, m: error.message, s: error.stack })).not.toContain(SECRET);
  });
});
