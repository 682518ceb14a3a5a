/**
 * The middleware writes each access-log event as JSON text directly (access-log.ts, `accessLogJson`):
 * that text must be exactly what `JSON.stringify` writes for the event it denotes, whatever the
 * request held (quotes, backslashes, surrogates, repeated header names), and the client must queue
 * and send those bytes as they are.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accessLogJson, accessLogRecorder, type RequestFacts } from "../../../client/src/access-log";
import { createAuditClient } from "../../../client/src/index";
import { FakeSealtrail } from "./client-fakes";

const awkwardText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.constantFrom(
    'say "hi"',
    "back\\slash",
    "\ud83d\ude00 pair",
    "lone \ud83d",
    "tab\tand\u2028line",
    "</script>",
  ),
);

const anyFacts: fc.Arbitrary<RequestFacts> = fc.record({
  startedAt: fc.integer({ min: 0, max: Date.parse("9999-12-31T00:00:00Z") }),
  durationMs: fc.oneof(fc.double(), fc.integer()),
  requestId: awkwardText,
  method: fc.oneof(fc.constantFrom("GET", "DELETE"), awkwardText),
  route: fc.option(awkwardText, { nil: undefined }),
  path: awkwardText,
  status: fc.option(fc.integer({ min: 0, max: 700 }), { nil: undefined }),
  aborted: fc.boolean(),
  sourceIp: fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), awkwardText), { nil: undefined }),
  userAgent: fc.option(awkwardText, { nil: undefined }),
  headers: fc.record({ "x-tenant": awkwardText, "x-b": awkwardText, authorization: awkwardText }),
  claims: fc.option(
    fc.record(
      {
        sub: awkwardText,
        iss: awkwardText,
        sid: awkwardText,
        jti: awkwardText,
        exp: fc.oneof(fc.integer({ min: 0 }), awkwardText),
        iat: fc.integer({ min: -5 }),
        azp: awkwardText,
        client_id: awkwardText,
        roles: fc.oneof(fc.array(awkwardText, { maxLength: 5 }), awkwardText),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  ),
});

describe("accessLogJson", () => {
  it("writes exactly what JSON.stringify writes for the event it denotes", () => {
    fc.assert(
      fc.property(
        anyFacts,
        fc.subarray(["x-tenant", "x-b", "x-tenant", "__proto__"]),
        fc.boolean(),
        (facts, headers, forwardSubjectToken) => {
          const { json, hasDetails } = accessLogJson(facts, { headers, forwardSubjectToken });
          const event = JSON.parse(json) as Record<string, unknown>;
          expect(JSON.stringify(event)).toBe(json);
          expect(hasDetails).toBe(event.details !== undefined);
          expect(Object.keys(event).slice(0, 4)).toEqual(["action", "outcome", "occurred_at", "http"]);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("the recorder's event is queued as those bytes and sent as they are", async () => {
    const server = new FakeSealtrail();
    const client = createAuditClient({ url: "https://sealtrail.test", token: "t", fetch: server.fetch });
    const recorder = accessLogRecorder({ client }, () => undefined);
    const facts: RequestFacts = {
      startedAt: Date.parse("2026-11-02T10:00:00.123Z"),
      durationMs: 1.5,
      requestId: 'id "quoted"',
      method: "GET",
      path: "/a\\b",
      status: 200,
      aborted: false,
      headers: {},
      claims: { sub: "alice", roles: ["r\ud83d\ude00"] },
    };
    recorder.record(facts);
    await client.flush();
    expect(server.requests).toHaveLength(1);
    expect(JSON.stringify(server.requests[0]?.events[0])).toBe(accessLogJson(facts).json);
    expect(server.requests[0]?.events[0]).toMatchObject({
      http: { request_id: 'id "quoted"', endpoint: "/a\\b" },
      actor: { sub: "alice", roles: ["r\ud83d\ude00"] },
    });
  });
});
