/**
 * The framework-neutral access-log event: every field from where the issue says it comes from, never a
 * credential, and always an event the server's own schema accepts.
 */
import { describe, expect, it, vi } from "vitest";
import {
  ACCESS_LOG_ACTION,
  accessLogEvent,
  accessLogRecorder,
  actorOf,
  checkedHeaderAllowlist,
  fitText,
  normalizeIp,
  outcomeOf,
  pathWithoutQuery,
  type RequestFacts,
  requestIdOf,
} from "../../../client/src/access-log";
import { EventInputSchema } from "../../../lambda/core/schema";

const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW5vdC1mb3ItbG9ncw";
const STARTED_AT = Date.parse("2026-11-02T10:00:00.123Z");

const CLAIMS = {
  iss: "https://idp.example.com",
  sub: "alice",
  aud: "documents-api",
  sid: "session-7",
  jti: "token-42",
  exp: 1_790_000_600,
  iat: 1_790_000_000,
  azp: "web-app",
  client_id: "web-app",
  roles: ["editor", "viewer"],
  email: "alice@example.com",
};

function facts(overrides: Partial<RequestFacts> = {}): RequestFacts {
  const headers: Record<string, string> = {
    authorization: `Bearer ${TOKEN}`,
    cookie: "session=secret-cookie",
    "x-tenant": "acme",
    "user-agent": "curl/8.5.0",
  };
  return {
    startedAt: STARTED_AT,
    durationMs: 12.3456789,
    requestId: "req-1",
    method: "GET",
    route: "/api/v1/documents/:id",
    path: "/api/v1/documents/42?access_token=secret-query&x=1",
    status: 200,
    aborted: false,
    sourceIp: "::ffff:203.0.113.9",
    userAgent: headers["user-agent"],
    headers,
    claims: CLAIMS,
    ...overrides,
  };
}

describe("outcome from the status", () => {
  it.each([
    [200, "success"],
    [204, "success"],
    [302, "success"],
    [304, "success"],
    [400, "failure"],
    [401, "denied"],
    [403, "denied"],
    [404, "failure"],
    [429, "failure"],
    [500, "error"],
    [503, "error"],
    [undefined, "unknown"],
  ] as const)("%s is %s", (status, outcome) => {
    expect(outcomeOf(status)).toBe(outcome);
  });
});

describe("the access-log event of one request", () => {
  it("records every field from the request and the verified claims, in the server's schema", () => {
    const event = accessLogEvent(facts());

    expect(event).toEqual({
      action: ACCESS_LOG_ACTION,
      outcome: "success",
      occurred_at: "2026-11-02T10:00:00.123Z",
      actor: {
        sub: "alice",
        iss: "https://idp.example.com",
        session_id: "session-7",
        token_id: "token-42",
        token_exp: 1_790_000_600,
        token_iat: 1_790_000_000,
        azp: "web-app",
        client_id: "web-app",
        roles: ["editor", "viewer"],
      },
      http: {
        request_id: "req-1",
        method: "GET",
        route: "/api/v1/documents/:id",
        endpoint: "/api/v1/documents/42",
        status: 200,
        duration_ms: 12.346,
        source_ip: "203.0.113.9",
        user_agent: "curl/8.5.0",
      },
    });
    expect(EventInputSchema.safeParse(event).success).toBe(true);
  });

  it("never carries the token, the cookie, the query string or an unlisted header", () => {
    const encoded = JSON.stringify(accessLogEvent(facts(), { headers: ["x-tenant"] }));

    expect(encoded).not.toContain(TOKEN);
    expect(encoded).not.toContain("secret-cookie");
    expect(encoded).not.toContain("secret-query");
    expect(encoded).not.toContain("alice@example.com");
    expect(JSON.parse(encoded).details).toEqual({ headers: { "x-tenant": "acme" } });
  });

  it("has the anonymous actor when the request carries no verified claims, and forwards no token", () => {
    const event = accessLogEvent(facts({ claims: undefined, status: 401 }), { forwardSubjectToken: true });

    expect(event.actor).toEqual({ sub: "anonymous" });
    expect(event.subject_token).toBeUndefined();
    expect(event.outcome).toBe("denied");
  });

  it("forwards the bearer token as subject_token, instead of the asserted actor, only when asked", () => {
    const forwarded = accessLogEvent(facts(), { forwardSubjectToken: true });

    expect(forwarded.subject_token).toBe(TOKEN);
    // The server refuses an asserted actor next to a subject token: the verified token is the actor.
    expect(forwarded.actor).toBeUndefined();
    expect(EventInputSchema.safeParse(forwarded).success).toBe(true);
    expect(accessLogEvent(facts()).subject_token).toBeUndefined();
  });

  it("does not forward what is not a compact JWT", () => {
    const event = accessLogEvent(facts({ headers: { authorization: "Bearer opaque-token" } }), {
      forwardSubjectToken: true,
    });

    expect(event.subject_token).toBeUndefined();
    expect(event.actor?.sub).toBe("alice");
  });

  it("records an aborted request without a status as unknown, and one that had its status with it", () => {
    const cutOff = accessLogEvent(facts({ status: undefined, aborted: true }));
    const midBody = accessLogEvent(facts({ status: 200, aborted: true }));

    expect(cutOff.outcome).toBe("unknown");
    expect(cutOff.http?.status).toBeUndefined();
    expect(cutOff.details).toEqual({ aborted: true });
    expect(midBody).toMatchObject({ outcome: "success", http: { status: 200 }, details: { aborted: true } });
  });

  it("uses a configured action, session claim and roles claim", () => {
    const event = accessLogEvent(
      facts({ claims: { sub: "bob", session_state: "s-9", permissions: "read write" } }),
      { action: "api.access", sessionClaim: "session_state", rolesClaims: ["permissions"] },
    );

    expect(event.action).toBe("api.access");
    expect(event.actor).toEqual({ sub: "bob", session_id: "s-9", roles: ["read", "write"] });
  });

  it("leaves out the route when none matched", () => {
    const event = accessLogEvent(facts({ route: undefined, status: 404 }));

    expect(event.http).not.toHaveProperty("route");
    expect(event.outcome).toBe("failure");
  });

  it("fits hostile values to the schema instead of losing the event", () => {
    const event = accessLogEvent(
      facts({
        path: `/${"a".repeat(5000)}`,
        userAgent: "evil\u0000agent\n",
        sourceIp: "not-an-ip",
        method: "get",
        claims: { sub: "\ud800x", roles: Array.from({ length: 100 }, (_, i) => `r${i}`), exp: "soon" },
      }),
    );

    const parsed = EventInputSchema.safeParse(event);
    expect(parsed.error?.issues).toBeUndefined();
    expect(event.http?.endpoint).toHaveLength(2048);
    expect(event.http?.user_agent).toBe("evil\uFFFDagent\uFFFD");
    expect(event.http).not.toHaveProperty("source_ip");
    expect(event.http).not.toHaveProperty("method");
    expect(event.actor?.roles).toHaveLength(64);
    expect(event.actor).not.toHaveProperty("token_exp");
  });
});

describe("the pieces", () => {
  it.each([
    ["/a/b?c=d", "/a/b"],
    ["/a#frag", "/a"],
    ["/", "/"],
    ["/x?", "/x"],
  ])("path of %s is %s", (target, path) => {
    expect(pathWithoutQuery(target)).toBe(path);
  });

  it.each([
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::1", "::1"],
    ["fe80::1%eth0", "fe80::1"],
    ["10.0.0.1", "10.0.0.1"],
    ["unknown", undefined],
    [undefined, undefined],
  ])("address %s is %s", (address, ip) => {
    expect(normalizeIp(address)).toBe(ip);
  });

  it("keeps a usable x-request-id and replaces a missing or unusable one with a UUID", () => {
    expect(requestIdOf("abc-123")).toEqual({ id: "abc-123", generated: false });
    for (const bad of [undefined, "", "x\ny", "z".repeat(300)]) {
      const { id, generated } = requestIdOf(bad);
      expect(generated).toBe(true);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("reads API Gateway's string claims: numbers and [a b] lists", () => {
    expect(
      actorOf({ sub: "carol", exp: "1790000600", iat: "1790000000", "cognito:groups": "[admins auditors]" }),
    ).toEqual({
      sub: "carol",
      token_exp: 1_790_000_600,
      token_iat: 1_790_000_000,
      roles: ["admins", "auditors"],
    });
  });

  it("clips to the schema's UTF-16 length, never splitting a surrogate pair", () => {
    expect(fitText("😀😀😀", 3)).toBe("😀");
    expect(fitText("😀😀😀", 4)).toBe("😀😀");
    expect(fitText("", 3)).toBeUndefined();
    expect(fitText(42, 3)).toBeUndefined();
  });

  it("refuses an allowlist that names a credential header, at setup", () => {
    expect(() => checkedHeaderAllowlist(["X-Tenant", "Authorization", "cookie"])).toThrowError(
      /must not list authorization, cookie/,
    );
    expect(checkedHeaderAllowlist(["X-Tenant"])).toEqual(["x-tenant"]);
  });
});

describe("the recorder every adapter shares", () => {
  it("requires a client, naming what to pass", () => {
    expect(() => accessLogRecorder({} as never, () => undefined)).toThrowError(/client option is required/);
  });

  it("reports a refused event to onError and never throws into the app", () => {
    const onError = vi.fn();
    const refusing = {
      record: () => {
        throw new Error("events[0].action: must be letters");
      },
    };
    const recorder = accessLogRecorder({ client: refusing, onError }, () => undefined);

    expect(() => recorder.record(facts())).not.toThrow();
    expect(onError).toHaveBeenCalledWith(
      expect.objectContaining({ message: "events[0].action: must be letters" }),
    );
  });

  it("warns without the token when no onError is given", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const refusing = {
        record: () => {
          throw new Error("queue closed");
        },
      };
      accessLogRecorder({ client: refusing, forwardSubjectToken: true }, () => undefined).record(facts());

      expect(warn).toHaveBeenCalledOnce();
      expect(String(warn.mock.calls[0]?.[0])).toMatch(/not recorded: queue closed/);
      expect(JSON.stringify(warn.mock.calls)).not.toContain(TOKEN);
    } finally {
      warn.mockRestore();
    }
  });
});
