/**
 * The ingest body validator (lambda/core/validation.ts) and its JSON text scanner
 * (lambda/core/json-text.ts): a body is refused wherever its parsed form would differ from its
 * text, every refusal has a code from INGEST_ERRORS and a message in sealtrail's words, and no
 * body makes it throw.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INGEST_ERRORS } from "../../lambda/core/ingest-errors";
import { findJsonTextProblems, formatJsonPath, isExactNumber } from "../../lambda/core/json-text";
import { LIMITS } from "../../lambda/core/schema";
import { type ValidationResult, validateIngestBody } from "../../lambda/core/validation";

const BASE = '"action":"document.read","outcome":"success"';
const withEvent = (members: string) => `{"events":[{${BASE}${members}}]}`;

function refused(result: ValidationResult) {
  if (result.ok) throw new Error("expected a refusal, got ok");
  return result;
}

describe("validateIngestBody refuses what it would otherwise store altered", () => {
  const cases: Array<{
    name: string;
    body: string;
    base64?: boolean;
    status: number;
    code: string;
    path: string;
  }> = [
    {
      name: "invalid UTF-8 bytes (base64 body)",
      body: Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]).toString("base64"),
      base64: true,
      status: 400,
      code: "invalid_utf8",
      path: "",
    },
    {
      name: "a text body that cannot have been UTF-8 (raw unpaired surrogate)",
      body: `{"events":[{${BASE},"details":"a\ud800b"}]}`,
      status: 400,
      code: "invalid_utf8",
      path: "",
    },
    {
      name: "an integer past 2^53",
      body: withEvent(',"details":{"n":12345678901234567890}'),
      status: 400,
      code: "imprecise_number",
      path: "events[0].details.n",
    },
    {
      name: "a number that underflows to 0",
      body: withEvent(',"details":[1e-400]'),
      status: 400,
      code: "imprecise_number",
      path: "events[0].details[0]",
    },
    {
      name: "a number that overflows to Infinity (stored as null)",
      body: withEvent(',"details":{"x":1e400}'),
      status: 400,
      code: "imprecise_number",
      path: "events[0].details.x",
    },
    {
      name: "a status written with more precision than a double holds",
      body: withEvent(',"http":{"status":200.00000000000000001}'),
      status: 400,
      code: "imprecise_number",
      path: "events[0].http.status",
    },
    {
      name: "a duplicate key in details",
      body: withEvent(',"details":{"role":"user","role":"admin"}'),
      status: 400,
      code: "duplicate_key",
      path: "events[0].details.role",
    },
    {
      name: "a duplicate field, spelt with an escape",
      body: `{"events":[{${BASE},"\\u0061ction":"other"}]}`,
      status: 400,
      code: "duplicate_key",
      path: "events[0].action",
    },
    {
      name: "a duplicate events member",
      body: `{"events":[{${BASE}}],"events":[{${BASE}}]}`,
      status: 400,
      code: "duplicate_key",
      path: "events",
    },
    {
      name: "an occurred_at whose UTC year is 10000",
      body: withEvent(',"occurred_at":"9999-12-31T23:59:59-23:59"'),
      status: 400,
      code: "time_out_of_range",
      path: "events[0].occurred_at",
    },
    {
      name: "an occurred_at whose UTC year is -1",
      body: withEvent(',"occurred_at":"0000-01-01T00:00:00+00:01"'),
      status: 400,
      code: "time_out_of_range",
      path: "events[0].occurred_at",
    },
    {
      name: "an occurred_at finer than a millisecond",
      body: withEvent(',"occurred_at":"2026-01-01T00:00:00.1234Z"'),
      status: 400,
      code: "imprecise_time",
      path: "events[0].occurred_at",
    },
    {
      name: "details nested past the bound",
      body: withEvent(`,"details":${"[".repeat(2000)}${"]".repeat(2000)}`),
      status: 400,
      code: "nesting_too_deep",
      path: `events[0].details${"[0]".repeat(LIMITS.maxDepth - 3)}`,
    },
    {
      name: "a body nested 100,000 deep (no stack overflow)",
      body: `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
      status: 400,
      code: "nesting_too_deep",
      path: "[0]".repeat(LIMITS.maxDepth),
    },
    {
      name: "an escaped unpaired surrogate in a key",
      body: withEvent(',"details":{"\\udc00":1}'),
      status: 400,
      code: "invalid_unicode",
      // The key is written escaped: the path itself stays well-formed.
      path: 'events[0].details["\\udc00"]',
    },
  ];

  it.each(cases)("$name → $status $code at $path", ({ body, base64, status, code, path }) => {
    const result = refused(validateIngestBody(body, base64 ?? false));

    expect([result.status, result.code]).toEqual([status, code]);
    expect(result.errors[0]?.path).toBe(path);
    expect(INGEST_ERRORS[result.code].status).toBe(status);
    expect(result.message).not.toMatch(/^: /);
  });

  it("accepts numbers whose value survives, in any spelling, and a byte order mark", () => {
    const body = withEvent(
      ',"details":{"a":1.0,"b":1e2,"c":-0,"d":0.1,"e":5e-324,"f":1.7976931348623157e308,"g":2e53}',
    );

    expect(validateIngestBody(body).ok).toBe(true);
    expect(validateIngestBody(`\ufeff${body}`).ok).toBe(true);
    expect(validateIngestBody(Buffer.from(`\ufeff${body}`).toString("base64"), true).ok).toBe(true);
  });

  it("accepts a depth at the bound and refuses one more", () => {
    // body (1) > events (2) > event (3) > details (4) …
    const nested = (levels: number) => withEvent(`,"details":${"[".repeat(levels)}${"]".repeat(levels)}`);

    expect(validateIngestBody(nested(LIMITS.maxDepth - 3)).ok).toBe(true);
    expect(refused(validateIngestBody(nested(LIMITS.maxDepth - 2))).code).toBe("nesting_too_deep");
  });
});

describe("validateIngestBody checks how the body is labelled", () => {
  const body = withEvent("");
  it.each([
    ["application/json", undefined, true],
    ["application/json; charset=utf-8", undefined, true],
    ["Application/JSON;charset=UTF-8", undefined, true],
    ["application/merge-patch+json", undefined, true],
    [undefined, undefined, true],
    [undefined, "identity", true],
    ["text/plain", undefined, "unsupported_content_type"],
    ["application/x-www-form-urlencoded", undefined, "unsupported_content_type"],
    ["application/json; charset=iso-8859-1", undefined, "unsupported_content_type"],
    ["application/json", "gzip", "unsupported_content_encoding"],
    [undefined, "br", "unsupported_content_encoding"],
  ])("Content-Type %s, Content-Encoding %s → %s", (contentType, contentEncoding, expected) => {
    const result = validateIngestBody(body, false, { contentType, contentEncoding });

    if (expected === true) expect(result.ok).toBe(true);
    else expect([refused(result).status, refused(result).code]).toEqual([415, expected]);
  });
});

describe("validateIngestBody's messages name the field, what is wrong and what to do", () => {
  const cases: Array<[string, string, string, string, RegExp]> = [
    [
      '{"action":123,"outcome":"success"}',
      "invalid_field",
      "events[0].action",
      "",
      /must be a string, not the number 123/,
    ],
    [
      `{${BASE},"http":{"status":"200"}}`,
      "invalid_field",
      "events[0].http.status",
      "",
      /must be a number, not a string/,
    ],
    [
      `{${BASE},"resource":{"type":"d","id":42}}`,
      "invalid_field",
      "events[0].resource.id",
      "",
      /must be a string/,
    ],
    [
      `{${BASE},"actor":{"sub":"s","roles":"admin"}}`,
      "invalid_field",
      "events[0].actor.roles",
      "",
      /must be an array/,
    ],
    [
      `{${BASE},"http":{"status":1.5}}`,
      "invalid_field",
      "events[0].http.status",
      "",
      /must be a whole number/,
    ],
    [`{${BASE},"http":{"status":0}}`, "invalid_field", "events[0].http.status", "", /must be at least 100/],
    ['{"outcome":"success"}', "missing_field", "events[0].action", "", /^is required/],
    ['{"action":"a"}', "missing_field", "events[0].outcome", "", /^is required.*success, failure/],
    [
      `{${BASE},"actor":{"sub":"s","email":"x"}}`,
      "unknown_field",
      "events[0].actor.email",
      "",
      /not a field of `actor`.*\bsub\b.*\broles\b/,
    ],
    [
      `{${BASE},"colour":"red"}`,
      "unknown_field",
      "events[0].colour",
      "",
      /not a field of an event.*\baction\b.*\bdetails\b/,
    ],
  ];

  it.each(cases)("%s → %s at %s", (event, code, path, _unused, message) => {
    const result = refused(validateIngestBody(`{"events":[${event}]}`));

    expect(result.code).toBe(code);
    expect(result.errors[0]?.path).toBe(path);
    expect(result.errors[0]?.message).toMatch(message);
    expect(result.message).toBe(`${path}: ${result.errors[0]?.message}`);
    // Never zod's own wording.
    expect(result.message).not.toMatch(/Invalid input|Too (small|big)|expected .* received/);
  });

  it("never quotes a malformed body (it may hold a subject token); says where it stops when V8 knows", () => {
    const secret = "eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
    for (const body of [
      `{"events":[{"subject_token":"x.${secret}"},@]}`,
      `{"events":[{"subject_token":"x.${secret}",}]}`,
    ]) {
      const result = refused(validateIngestBody(body));
      expect(result.code).toBe("malformed_json");
      expect(result.message).not.toContain(secret.slice(-12));
    }
    expect(refused(validateIngestBody('{"events":[],}')).message).toMatch(/at character 14/);
  });

  it("gives body-level messages without an empty path in front", () => {
    for (const body of ["", "{", "[]", '{"events":1}', '{"events":[]}']) {
      const result = refused(validateIngestBody(body));
      expect(result.message, body).not.toMatch(/^:/);
      expect(result.message.length, body).toBeGreaterThan(20);
    }
  });
});

describe("isExactNumber", () => {
  it("holds for every double as JSON.stringify writes it, and for 15-digit decimals", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) =>
        isExactNumber(JSON.stringify(value)),
      ),
      { seed: 20261201, numRuns: 5000 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^-?[1-9][0-9]{0,7}\.[0-9]{1,7}$/), (text) => isExactNumber(text)),
      { seed: 20261202, numRuns: 2000 },
    );
  });

  it.each([
    ["9007199254740993", false],
    ["9007199254740992", true],
    ["0.1000000000000000055511151231257827", false],
    ["1E2", true],
    ["1.5e-7", true],
    ["2.5e-324", false],
    ["-1e-400", false],
  ])("%s → %s", (text, exact) => {
    expect(isExactNumber(text)).toBe(exact);
  });
});

describe("findJsonTextProblems", () => {
  it("names where each problem is and stops at the bound", () => {
    const text = '{"a":[1,{"b":1,"b":2}],"__proto__":{},"c":"\\ud800"}';

    const problems = findJsonTextProblems(text, { maxDepth: 64, maxProblems: 100 });

    expect(problems.map((p) => [p.code, formatJsonPath(p.path)])).toEqual([
      ["duplicate_key", "a[1].b"],
      ["forbidden_key", "__proto__"],
      ["invalid_unicode", "c"],
    ]);
    expect(findJsonTextProblems(text, { maxDepth: 64, maxProblems: 1 })).toHaveLength(1);
  });

  it("finds nothing in any JSON that JSON.stringify writes from well-formed strings", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value);
        const problems = findJsonTextProblems(text, { maxDepth: 64, maxProblems: 100 });
        // fast-check's jsonValue may hold the forbidden keys or lone surrogates; nothing else may be found.
        return problems.every((p) => p.code === "forbidden_key" || p.code === "invalid_unicode");
      }),
      { seed: 20261203, numRuns: 3000 },
    );
  });
});

describe("validateIngestBody never throws", () => {
  it("answers ok or a catalogued 4xx for arbitrary text, base64 and bytes", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.json({ maxDepth: 8 })),
        fc.boolean(),
        (text, asBase64) => {
          const result = validateIngestBody(asBase64 ? Buffer.from(text).toString("base64") : text, asBase64);
          return result.ok || INGEST_ERRORS[result.code].status === result.status;
        },
      ),
      { seed: 20261204, numRuns: 3000 },
    );
  });
});
