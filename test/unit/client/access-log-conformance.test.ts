/**
 * The access-log middleware's events skip the client's validator (it would cost tens of microseconds
 * on every request of the app), so the builder itself is held to the server: whatever a request and
 * its claims hold, the event built from them is one the server's own validator accepts, and the
 * bytes the client sends for it are exactly `JSON.stringify` of the event.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accessLogEvent, accessLogRecorder, type RequestFacts } from "../../../client/src/access-log";
import { createAuditClient } from "../../../client/src/index";
import { encodeConformingEvent, encodeEvent, RECORD_CONFORMING } from "../../../client/src/schema";
import { LIMITS } from "../../../lambda/core/schema";
import { validateIngestBody } from "../../../lambda/core/validation";
import { FakeSealtrail } from "./client-fakes";

/** Any text, lone surrogates and control characters included, sometimes far past every limit. */
const anyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", minLength: 200, maxLength: 5000 }),
);
const anyNumber = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.double(),
  fc.double({ min: 0, max: 1000 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 53, 1e300, 604_800_001),
);
const anyClaim = fc.oneof(anyText, anyNumber, fc.array(anyText, { maxLength: 80 }), fc.anything());
const anyAddress = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4Extended(),
  fc.ipV6().map((ip) => `${ip}%eth0`),
  fc.ipV4().map((ip) => `::ffff:${ip}`),
  anyText,
);
const anyClaims = fc.option(
  fc.record(
    {
      sub: anyClaim,
      iss: anyClaim,
      sid: anyClaim,
      jti: anyClaim,
      exp: anyClaim,
      iat: anyClaim,
      azp: anyClaim,
      client_id: anyClaim,
      roles: anyClaim,
      groups: anyClaim,
    },
    { requiredKeys: [] },
  ),
  { nil: undefined },
);
const compactJwt = fc
  .array(fc.base64String({ minLength: 4, maxLength: 40 }), { minLength: 3, maxLength: 3 })
  .map((parts) => parts.map((part) => part.replace(/[+/=]/g, "A")).join("."));

const anyFacts: fc.Arbitrary<RequestFacts> = fc.record({
  startedAt: fc.integer({ min: Date.parse("1970-01-01T00:00:00Z"), max: Date.parse("9999-12-31T00:00:00Z") }),
  durationMs: anyNumber,
  requestId: anyText,
  method: fc.oneof(fc.constantFrom("GET", "POST", "PROPFIND", "get"), anyText),
  route: fc.option(anyText, { nil: undefined }),
  path: anyText,
  status: fc.option(
    fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.double({ min: 99, max: 600 }), anyNumber),
    {
      nil: undefined,
    },
  ),
  aborted: fc.boolean(),
  sourceIp: fc.option(anyAddress, { nil: undefined }),
  userAgent: fc.option(anyText, { nil: undefined }),
  headers: fc.record({ authorization: fc.oneof(compactJwt, anyText).map((token) => `Bearer ${token}`) }),
  claims: anyClaims,
});

describe("the access-log builder conforms to the server's schema by construction", () => {
  it("every event it builds, from any request, is one the server's validator accepts", () => {
    fc.assert(
      fc.property(anyFacts, fc.boolean(), (facts, forwardSubjectToken) => {
        const event = accessLogEvent(facts, { forwardSubjectToken });
        const { json } = encodeConformingEvent(event);
        const result = validateIngestBody(`{"events":[${json}]}`);
        expect(result.ok ? [] : result.errors).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it("encodes an event exactly as the validating path does", () => {
    fc.assert(
      fc.property(anyFacts, (facts) => {
        const event = accessLogEvent(facts);
        expect(encodeConformingEvent(event)).toEqual(encodeEvent(event));
      }),
      { numRuns: 300 },
    );
  });
});

describe("what the builder does not bound still meets the validator", () => {
  it("an event with details goes through it: allowlisted headers past the details limit are refused", () => {
    const value = "v".repeat(1000);
    const headers = Array.from({ length: 20 }, (_, i) => `x-h${i}`);
    const event = accessLogEvent(
      {
        startedAt: Date.now(),
        durationMs: 1,
        requestId: "r",
        method: "GET",
        path: "/",
        status: 200,
        aborted: false,
        headers: Object.fromEntries(headers.map((name) => [name, value])),
      },
      { headers },
    );
    expect(() => encodeConformingEvent(event)).toThrowError(/details/);
  });

  it("an event past the event size limit is refused with the server's code", () => {
    // Every field at the builder's largest: still under the limit, so the fast path takes it as it is.
    const largest = {
      action: "http.request",
      outcome: "success" as const,
      actor: { sub: "a", roles: Array.from({ length: 64 }, (_, i) => `${i}`.padEnd(128, "r")) },
      http: { endpoint: "/".padEnd(2048, "e"), route: "/".padEnd(2048, "r"), user_agent: "u".repeat(1024) },
      resource: { type: "t", id: "i".repeat(1024) },
    };
    expect(encodeConformingEvent(largest).bytes).toBeLessThan(LIMITS.maxEventBytes);
    const tooLarge = { ...largest, actor: { ...largest.actor, iss: "i".repeat(LIMITS.maxEventBytes) } };
    expect(() => encodeConformingEvent(tooLarge)).toThrowError(
      expect.objectContaining({ code: "event_too_large" }),
    );
  });
});

describe("the recorder's way into the client", () => {
  it("the middleware's events reach the client through its conforming entry, and are sent", async () => {
    const server = new FakeSealtrail();
    const client = createAuditClient({ url: "https://sealtrail.test", token: "t", fetch: server.fetch });
    let conforming = 0;
    const entry = client[RECORD_CONFORMING];
    const counted = Object.assign(Object.create(client), {
      [RECORD_CONFORMING]: (event: never) => {
        conforming++;
        entry?.(event);
      },
      record: () => {
        throw new Error("record is the app's path, not the middleware's");
      },
    });
    const recorder = accessLogRecorder(
      {
        client: counted,
        onError: (error) => {
          throw error;
        },
      },
      () => undefined,
    );
    recorder.record({
      startedAt: Date.now(),
      durationMs: 2,
      requestId: "req-1",
      method: "GET",
      path: "/a",
      status: 200,
      aborted: false,
      headers: {},
    });
    await client.flush();
    expect(conforming).toBe(1);
    expect(server.requests.flatMap((request) => request.events)).toMatchObject([
      { action: "http.request", http: { request_id: "req-1", status: 200 } },
    ]);
  });

  it("a sink of the app's own, with only record, gets every event through record", () => {
    const recorded: unknown[] = [];
    const recorder = accessLogRecorder({ client: { record: (e) => recorded.push(e) } }, () => undefined);
    recorder.record({
      startedAt: Date.now(),
      durationMs: 2,
      requestId: "req-2",
      method: "GET",
      path: "/b",
      status: 404,
      aborted: false,
      headers: {},
    });
    expect(recorded).toMatchObject([{ outcome: "failure", http: { request_id: "req-2" } }]);
  });

  it("a configured action the server would refuse is refused at setup, not on every request", () => {
    const sink = { record: () => {} };
    expect(() => accessLogRecorder({ client: sink, action: "bad action!" }, () => undefined)).toThrowError(
      /action option "bad action!" is not a valid action/,
    );
    expect(() => accessLogRecorder({ client: sink, action: "api.call" }, () => undefined)).not.toThrow();
  });
});
