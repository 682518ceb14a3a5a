/**
 * The query API's parameter refusals, worded by sealtrail: each names the parameter and the value
 * given, says what it must be, and never passes zod's own wording through.
 */
import { describe, expect, it } from "vitest";
import {
  GetEventQuerySchema,
  LatestCheckpointQuerySchema,
  ListEventsQuerySchema,
} from "../../lambda/core/api-schema";
import { parseListEvents, parseParameters, queryParameters } from "../../lambda/query/params";

/** zod's default English: none of it may reach a user. */
const ZOD_WORDING = /Too small|Too big|Invalid input|expected number|received|Unrecognized key|^: /;

function refusal(parameters: Record<string, string>) {
  const parsed = parseListEvents(parameters);
  if (parsed.ok) throw new Error(`accepted ${JSON.stringify(parameters)}`);
  expect(parsed.response.status).toBe(400);
  return parsed.response.body as { code: string; message: string; parameter: string };
}

describe("GET /v1/events parameter refusals", () => {
  it.each([
    ["limit 0", { limit: "0" }, "limit", /limit must be a whole number from 1 to 1000 \(given: "0"\)/],
    ["limit abc", { limit: "abc" }, "limit", /limit must be a whole number from 1 to 1000 \(given: "abc"\)/],
    ["limit 1.5", { limit: "1.5" }, "limit", /limit must be a whole number from 1 to 1000/],
    ["limit 1001", { limit: "1001" }, "limit", /limit must be a whole number from 1 to 1000/],
    ["an empty limit", { limit: "" }, "limit", /limit must be a whole number from 1 to 1000 \(given: ""\)/],
    [
      "an unknown outcome",
      { outcome: "maybe" },
      "outcome",
      /outcome must be one of success, failure, denied, error, unknown \(given: "maybe"\)/,
    ],
    ["an empty actor", { actor: "" }, "actor", /actor must not be empty/],
    ["an empty cursor", { cursor: "" }, "cursor", /cursor must not be empty/],
    ["a long cursor", { cursor: "x".repeat(3000) }, "cursor", /cursor must be at most 2048 characters/],
    ["a time without a zone", { from: "2025-03-01T00:00:00" }, "from", /from must be an ISO-8601 date-time/],
    ["an action with a space", { action: "a b" }, "action", /action must be letters, digits/],
  ])("%s: invalid_parameter naming the parameter, its value and what it must be", (_, parameters, name, message) => {
    const body = refusal(parameters);
    expect(body).toMatchObject({ code: "invalid_parameter", parameter: name });
    expect(body.message).toMatch(message);
    expect(body.message).not.toMatch(ZOD_WORDING);
  });

  it("shows at most 40 characters of a value, and control characters escaped", () => {
    expect(refusal({ cursor: "y".repeat(3000) }).message).toContain(`"${"y".repeat(40)}…"`);
    expect(refusal({ actor: "a\u0001b" }).message).toContain('(given: "a\\u0001b")');
  });

  it("lists the parameters the route takes for an unknown one", () => {
    const body = refusal({ actr: "alice" });
    expect(body).toMatchObject({ code: "unknown_parameter", parameter: "actr" });
    expect(body.message).toBe(
      `unknown parameter "actr": this route takes ${Object.keys(ListEventsQuerySchema.shape).join(", ")}`,
    );
    expect(body.message).toContain("actor, actor_iss, action");
  });

  it("says when a route takes no parameters, and which one a one-parameter route takes", () => {
    const none = parseParameters(LatestCheckpointQuerySchema, { tenant: "x" });
    expect(!none.ok && none.response.body).toMatchObject({
      code: "unknown_parameter",
      message: 'unknown parameter "tenant": this route takes no parameters',
    });
    const one = parseParameters(GetEventQuerySchema, { limit: "1" });
    expect(!one.ok && one.response.body).toMatchObject({
      message: 'unknown parameter "limit": this route takes tenant',
    });
  });

  it("names the missing half of a pair and what to do", () => {
    expect(refusal({ resource_id: "3" })).toMatchObject({
      code: "missing_parameter",
      parameter: "resource_type",
      message: expect.stringMatching(/resource_type is missing: .*give both/),
    });
    expect(refusal({ resource_type: "document" })).toMatchObject({ parameter: "resource_id" });
    expect(refusal({ actor_iss: "https://idp" })).toMatchObject({
      parameter: "actor",
      message: expect.stringMatching(/actor is missing: .*give actor as well/),
    });
  });

  it("shows both times of a reversed range", () => {
    expect(refusal({ from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" })).toMatchObject({
      code: "invalid_time_range",
      message:
        "the parameter from (2026-01-02T00:00:00.000Z) is later than to (2026-01-01T00:00:00.000Z): give a from that is not later than to",
    });
  });

  it("names a repeated parameter and says to give it once", () => {
    const parsed = queryParameters("actor=a&actor=b", undefined);
    expect(!parsed.ok && parsed.response.body).toMatchObject({
      code: "duplicate_parameter",
      parameter: "actor",
      message: expect.stringMatching(/^the parameter actor is given more than once: give it once/),
    });
  });
});
