/**
 * A seeded fuzz of POST /v1/events: 10,000 bodies of 30 kinds through the real ingest handler,
 * in-process, against the emulator. No answer is a 5xx; every 4xx carries a code of INGEST_ERRORS
 * with that code's status and a message in sealtrail's words; every body of a kind that must be
 * refused is; and the only object versions added under `events/` and `chains/` are the data
 * object and the link of each acknowledged batch, once each: a refused body wrote nothing.
 * Accepted bodies are read back: what was stored is what was sent.
 *
 * A failure names the seed and the case; FUZZ_SEED=<n> reruns another sequence.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { INGEST_ERRORS, type IngestErrorCode } from "../../lambda/core/ingest-errors";
import {
  ActorInputSchema,
  EventInputSchema,
  HttpInputSchema,
  LIMITS,
  OUTCOMES,
} from "../../lambda/core/schema";
import { createIngestHandler, type IngestHandler } from "../../lambda/handlers/ingest";
import { postEventsEvent } from "../support/api-event";
import { objectVersions, readBatchLines } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { testConfig } from "../support/config";

const SEED = Number(process.env.FUZZ_SEED ?? 20261210);
const BODIES = 10_000;

interface FuzzCase {
  readonly kind: string;
  /** Built when sent: a few megabytes each for the huge kind, so never all held at once. */
  readonly rawBody: string | (() => string);
  readonly isBase64Encoded?: boolean;
  readonly headers?: Record<string, string>;
  /** "refused": must be a 4xx (with one of `codes` when given); "accepted": must be a 201; "either". */
  readonly expect: "refused" | "accepted" | "either";
  readonly codes?: readonly IngestErrorCode[];
  /** For accepted cases: the events as sent, to compare with what was stored. */
  readonly sent?: readonly Record<string, unknown>[];
}

const body = (events: unknown[]) => JSON.stringify({ events });
const refusedAs =
  (kind: string, ...codes: IngestErrorCode[]) =>
  (rawBody: FuzzCase["rawBody"], extra: Partial<FuzzCase> = {}): FuzzCase => ({
    kind,
    rawBody,
    expect: "refused",
    codes,
    ...extra,
  });

/** A field name no schema has: a fuzz must not break when the schema grows (issue 11 adds fields). */
const unknownName = (shape: Record<string, unknown>) =>
  fc
    .constantFrom("colour", "email", "x_extra", "Action", "actor_sub", "statuscode")
    .filter((n) => !(n in shape));

// --- building blocks ----------------------------------------------------------------------------

const action = fc.constantFrom("document.read", "user.login", "billing:invoice/pay", "a", "A0-_.:/x");
const outcome = fc.constantFrom(...OUTCOMES);
const plainText = fc.stringMatching(/^[A-Za-z0-9 ._-]{1,24}$/);
const detailsValue = fc.dictionary(
  fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/),
  fc.oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    plainText,
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 5 }),
  ),
  { maxKeys: 6 },
);
const validEvent = fc.record(
  {
    action,
    outcome,
    occurred_at: fc
      .date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true })
      .map((d) => d.toISOString()),
    actor: fc.record({ sub: plainText, session_id: plainText }, { requiredKeys: ["sub"] }),
    resource: fc.record({ type: plainText, id: plainText }),
    http: fc.record(
      {
        method: fc.constantFrom("GET", "POST"),
        status: fc.integer({ min: 100, max: 599 }),
        source_ip: fc.ipV4(),
      },
      { requiredKeys: [] },
    ),
    details: detailsValue,
  },
  { requiredKeys: ["action", "outcome"] },
);

/** Unicode a text field or details may hold, well-formed, edge cases included. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the text fields' own rule, to stay inside it.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const unicodeText = fc
  .oneof(
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
    fc.constantFrom(
      "\ufffd",
      "\ufffe\uffff",
      "\u2028\u2029",
      "\u200b\u200d",
      "\u202eevil",
      "e\u0301",
      "😀👩‍👩‍👧",
      "\u{10ffff}",
      "\ufeffbom",
      "Ω≈ç√",
      "𝔘𝔫𝔦",
    ),
  )
  .filter((s) => s.length > 0 && !CONTROL.test(s));

const wellFormedBody = fc.array(validEvent, { minLength: 1, maxLength: 3 }).map((events) => body(events));

// --- the kinds ----------------------------------------------------------------------------------

const kinds: Array<{ weight: number; arbitrary: fc.Arbitrary<FuzzCase> }> = [
  {
    weight: 1,
    arbitrary: fc.array(validEvent, { minLength: 1, maxLength: 3 }).map((events) => ({
      kind: "valid",
      rawBody: body(events),
      expect: "accepted",
      sent: events,
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ key: unicodeText, value: unicodeText, id: unicodeText, base64: fc.boolean() })
      .map(({ key, value, id, base64 }) => {
        const events = [
          { action: "u.test", outcome: "success", resource: { type: "t", id }, details: { [key]: value } },
        ];
        const text = body(events);
        // Base64 with no Content-Type: how API Gateway hands over a body it does not treat as text.
        return base64
          ? {
              kind: "unicode",
              rawBody: Buffer.from(text).toString("base64"),
              isBase64Encoded: true,
              headers: { "content-type": "" },
              expect: "accepted" as const,
              sent: events,
            }
          : { kind: "unicode", rawBody: text, expect: "accepted" as const, sent: events };
      }),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(wellFormedBody, fc.double({ min: 0, max: 1, noNaN: true }))
      .map(([text, at]) =>
        refusedAs(
          "truncated",
          "malformed_json",
          "empty_body",
        )(text.slice(0, Math.floor(at * (text.length - 1)))),
      ),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({ depth: fc.integer({ min: LIMITS.maxDepth, max: 6000 }), open: fc.constantFrom("[", '{"a":') })
      .map(({ depth, open }) => {
        const close = open === "[" ? "]" : "}";
        const nested = `${open.repeat(depth)}1${close.repeat(depth)}`;
        return refusedAs(
          "deep details",
          "nesting_too_deep",
        )(`{"events":[{"action":"a","outcome":"success","details":${nested}}]}`);
      }),
  },
  {
    weight: 3,
    arbitrary: fc
      .integer({ min: LIMITS.maxDepth + 1, max: 20_000 })
      .map((depth) =>
        refusedAs("deep anywhere", "nesting_too_deep")(`${"[".repeat(depth)}${"]".repeat(depth)}`),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: 4096 })
      .map((extra) =>
        refusedAs(
          "huge body",
          "body_too_large",
        )(
          () =>
            `{"events":[{"action":"a","outcome":"success","details":"${"x".repeat(LIMITS.maxBodyBytes + extra)}"}]}`,
        ),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: LIMITS.maxEventBytes, max: LIMITS.maxEventBytes * 2 })
      .map((size) =>
        refusedAs(
          "huge event",
          "event_too_large",
        )(body([{ action: "a", outcome: "success", details: "y".repeat(size) }])),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: LIMITS.maxDetailsBytes, max: LIMITS.maxEventBytes - 1024 })
      .map((size) =>
        refusedAs(
          "huge details",
          "details_too_large",
        )(body([{ action: "a", outcome: "success", details: { s: "z".repeat(size) } }])),
      ),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        wellFormedBody,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom(
          [0xff],
          [0xc0, 0x80],
          [0xed, 0xa0, 0x80],
          [0xe2, 0x82],
          [0xf4, 0x90, 0x80, 0x80],
          [0x80],
        ),
      )
      .map(([text, at, bad]) => {
        const bytes = Buffer.from(text);
        const cut = Math.floor(at * bytes.length);
        const spliced = Buffer.concat([bytes.subarray(0, cut), Buffer.from(bad), bytes.subarray(cut)]);
        return refusedAs("invalid UTF-8 bytes", "invalid_utf8")(spliced.toString("base64"), {
          isBase64Encoded: true,
        });
      }),
  },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom("\ud800", "\udfff", "a\udc00b", "\ud83d")
      .map((lone) =>
        refusedAs(
          "invalid UTF-8 text",
          "invalid_utf8",
        )(`{"events":[{"action":"a","outcome":"success","details":"${lone}"}]}`),
      ),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        escaped: fc.constantFrom("\\ud800", "\\uDFFF", "x\\udc00", "\\ud83d\\u0041"),
        inKey: fc.boolean(),
      })
      .map(({ escaped, inKey }) =>
        refusedAs(
          "escaped lone surrogate",
          "invalid_unicode",
        )(
          inKey
            ? `{"events":[{"action":"a","outcome":"success","details":{"${escaped}":1}}]}`
            : `{"events":[{"action":"a","outcome":"success","resource":{"type":"t","id":"${escaped}"}}]}`,
        ),
      ),
  },
  {
    weight: 5,
    arbitrary: fc
      .constantFrom(
        '{"events":[{"action":"a","outcome":"success","details":{"k":1,"k":2}}]}',
        '{"events":[{"action":"a","action":"b","outcome":"success"}]}',
        '{"events":[{"action":"a","outcome":"success","\\u006futcome":"failure"}]}',
        '{"events":[{"action":"a","outcome":"success"}],"events":[]}',
        '{"events":[{"action":"a","outcome":"success","actor":{"sub":"x","sub":"y"}}]}',
        '{"events":[{"action":"a","outcome":"success","details":[{"a":{"b":1,"b":1}}]}]}',
      )
      .map(refusedAs("duplicate key", "duplicate_key")),
  },
  {
    weight: 5,
    arbitrary: fc
      .oneof(
        fc.constantFrom(
          "12345678901234567890",
          "1e-400",
          "1e400",
          "-1e309",
          "9007199254740993",
          "0.1000000000000000055511151231257827",
          "2.5e-324",
        ),
        fc
          .bigInt({ min: 2n ** 54n, max: 2n ** 70n })
          .filter((n) => Number(n).toString() !== n.toString())
          .map(String),
      )
      .chain((number) =>
        fc.constantFrom(
          `{"events":[{"action":"a","outcome":"success","details":{"n":${number}}}]}`,
          `{"events":[{"action":"a","outcome":"success","details":[${number}]}]}`,
          `{"events":[{"action":"a","outcome":"success","http":{"status":${number}}}]}`,
        ),
      )
      .map(refusedAs("imprecise number", "imprecise_number")),
  },
  {
    weight: 6,
    arbitrary: fc
      .constantFrom<[string, unknown]>(
        ["action", 123],
        ["action", null],
        ["action", ["a"]],
        ["outcome", true],
        ["http", { status: "200" }],
        ["http", { status: 200.5 }],
        ["http", []],
        ["resource", { type: "d", id: 42 }],
        ["resource", "doc"],
        ["actor", { sub: "s", roles: "admin" }],
        ["actor", { sub: 7 }],
        ["occurred_at", 1_790_000_000],
        ["details", undefined],
      )
      .filter(([, value]) => value !== undefined)
      .map(([field, value]) =>
        refusedAs("wrong type", "invalid_field")(body([{ action: "a", outcome: "success", [field]: value }])),
      ),
  },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom<unknown[]>(
        [{ outcome: "success" }],
        [{ action: "a" }],
        [{ action: "a", outcome: "success", resource: { type: "t" } }],
        [{ action: "a", outcome: "success", actor: {} }],
      )
      .map((events) => refusedAs("missing field", "missing_field")(body(events))),
  },
  {
    weight: 4,
    arbitrary: fc
      .oneof(
        unknownName(EventInputSchema.shape).map((name) => ({ action: "a", outcome: "success", [name]: 1 })),
        unknownName(ActorInputSchema.shape).map((name) => ({
          action: "a",
          outcome: "success",
          actor: { sub: "s", [name]: "x" },
        })),
        unknownName(HttpInputSchema.shape).map((name) => ({
          action: "a",
          outcome: "success",
          http: { [name]: "x" },
        })),
      )
      .map((event) => refusedAs("unknown field", "unknown_field")(body([event]))),
  },
  {
    weight: 4,
    arbitrary: fc
      .record({
        key: fc.constantFrom("__proto__", "constructor", "prototype"),
        where: fc.constantFrom("details", "event", "nested"),
      })
      .map(({ key, where }) => {
        const events =
          where === "event"
            ? `[{"action":"a","outcome":"success","${key}":{}}]`
            : where === "details"
              ? `[{"action":"a","outcome":"success","details":{"${key}":{"admin":true}}}]`
              : `[{"action":"a","outcome":"success","details":[[{"ok":{"${key}":1}}]]}]`;
        return refusedAs("forbidden key", "forbidden_key")(`{"events":${events}}`);
      }),
  },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom<Record<string, unknown>>(
        { id: "x" },
        { time: "2020-01-01T00:00:00Z" },
        { tenant: "other" },
        { reporter: {} },
        { v: 1 },
        { ingest: {} },
        { verified: true },
        { actor: { sub: "s", verified: true } },
      )
      .map((extra) =>
        refusedAs(
          "server-owned field",
          "forbidden_field",
        )(body([{ action: "a", outcome: "success", ...extra }])),
      ),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        wellFormedBody,
        fc.constantFrom(
          "text/plain",
          "text/plain;charset=UTF-8",
          "application/x-www-form-urlencoded",
          "multipart/form-data; boundary=x",
          "application/xml",
          "application/json; charset=latin1",
          "application/octet-stream",
          "json",
        ),
      )
      .map(([text, contentType]) =>
        refusedAs("wrong content type", "unsupported_content_type")(text, {
          headers: { "content-type": contentType },
        }),
      ),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(wellFormedBody, fc.constantFrom("gzip", "br", "deflate", "x-gzip", "gzip, identity"))
      .map(([text, encoding]) =>
        refusedAs("content encoding", "unsupported_content_encoding")(
          encoding === "gzip" ? gzipSync(text).toString("base64") : text,
          { headers: { "content-encoding": encoding }, isBase64Encoded: encoding === "gzip" },
        ),
      ),
  },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom<[string, IngestErrorCode]>(
        ["9999-12-31T23:59:59-23:59", "time_out_of_range"],
        ["0000-01-01T00:00:00+01:00", "time_out_of_range"],
        ["2026-01-01T00:00:00.0001Z", "imprecise_time"],
        ["2026-01-01T00:00:00.123456789+02:00", "imprecise_time"],
        ["2026-01-01T00:00:00", "invalid_field"],
        ["2026-02-30T10:00:00Z", "invalid_field"],
        ["2026-01-01T23:59:60Z", "invalid_field"],
        ["yesterday", "invalid_field"],
      )
      .map(([occurredAt, code]) =>
        refusedAs(
          "bad occurred_at",
          code,
        )(body([{ action: "a", outcome: "success", occurred_at: occurredAt }])),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(0, LIMITS.maxEvents + 1)
      .map((count) =>
        refusedAs(
          "event count",
          "invalid_event_count",
        )(body(Array(count).fill({ action: "a", outcome: "success" }))),
      ),
  },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom<[string, IngestErrorCode]>(
        ["[]", "invalid_body"],
        ["null", "invalid_body"],
        ['"events"', "invalid_body"],
        ["42", "invalid_body"],
        ["{}", "missing_events"],
        ['{"events":{}}', "missing_events"],
        ['{"events":[1]}', "invalid_event"],
        ['{"events":[null,[]]}', "invalid_event"],
        ['{"events":[{"action":"a","outcome":"success"}],"extra":1}', "unknown_field"],
        ["", "empty_body"],
        ["\ufeff", "empty_body"],
      )
      .map(([text, code]) => refusedAs("wrong shape", code)(text)),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom("resource.id", "actor.sub", "http.endpoint"),
        fc.constantFrom("\u0000", "\u0007", "\n", "\u007f", "\u0085", "\u009f"),
      )
      .map(([field, control]) => {
        const [parent, child] = field.split(".") as [string, string];
        const value = `a${control}b`;
        const member =
          parent === "resource"
            ? { type: "t", id: value }
            : parent === "actor"
              ? { sub: value }
              : { [child]: value };
        return refusedAs(
          "control character",
          "invalid_field",
        )(body([{ action: "a", outcome: "success", [parent]: member }]));
      }),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(wellFormedBody, fc.constantFrom("has space", "", "é", "x".repeat(256), "tab\there"))
      .map(([text, key]) =>
        refusedAs("bad Idempotency-Key", "invalid_idempotency_key")(text, {
          headers: { "idempotency-key": key },
        }),
      ),
  },
  {
    weight: 4,
    arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => ({
      kind: "random JSON",
      rawBody: JSON.stringify(value) ?? "null",
      expect: "either" as const,
    })),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        wellFormedBody,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('"', "{", "}", "[", "]", ",", ":", "\\", "0", "e", "-", " ", "x", "\u0000"),
      )
      .map(([text, at, char]) => {
        const i = Math.floor(at * text.length);
        return {
          kind: "mutated",
          rawBody: text.slice(0, i) + char + text.slice(i + 1),
          expect: "either" as const,
        };
      }),
  },
  {
    weight: 3,
    arbitrary: fc.uint8Array({ minLength: 0, maxLength: 200 }).map((bytes) => ({
      kind: "random bytes",
      rawBody: Buffer.from(bytes).toString("base64"),
      isBase64Encoded: true,
      expect: "either" as const,
    })),
  },
  {
    weight: 2,
    arbitrary: fc
      .string({ unit: "binary", maxLength: 120 })
      .map((text) => ({ kind: "random text", rawBody: text, expect: "either" as const })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '{"events":[{"action":"a","outcome":"success","details":"\\u0000\\u001f"}]}',
        '{"events":[{"action":"a","outcome":"success","details":{"":"","a b":[{},[]]}}]}',
      )
      .map((text) => ({
        kind: "edge JSON",
        rawBody: text,
        expect: "accepted" as const,
        sent: (JSON.parse(text) as { events: Record<string, unknown>[] }).events,
      })),
  },
];

describe("POST /v1/events fuzz", () => {
  let archive: TestArchive;
  let ingest: IngestHandler;

  beforeAll(async () => {
    archive = await createTestArchive();
    ingest = createIngestHandler(testConfig(archive));
  });

  it(`answers ${BODIES} adversarial bodies (seed ${SEED}) without a 5xx, refuses what it must, and writes only what it acknowledged`, async () => {
    const cases = fc.sample(fc.oneof(...kinds), { seed: SEED, numRuns: BODIES });
    const written = async () =>
      [...(await objectVersions(archive, "events/")), ...(await objectVersions(archive, "chains/"))].sort();
    const before = await written();

    const seen = new Map<string, number>();
    const acknowledged: string[] = [];
    const accepted: Array<{ batchKey: string; sent: readonly Record<string, unknown>[] }> = [];
    for (const [n, fuzz] of cases.entries()) {
      const rawBody = typeof fuzz.rawBody === "string" ? fuzz.rawBody : fuzz.rawBody();
      const where = `case ${n} (${fuzz.kind}, seed ${SEED}): ${JSON.stringify(rawBody.slice(0, 160))}`;
      seen.set(fuzz.kind, (seen.get(fuzz.kind) ?? 0) + 1);
      const event = postEventsEvent({
        rawBody,
        isBase64Encoded: fuzz.isBase64Encoded,
        headers: fuzz.headers,
      });
      if (fuzz.headers?.["content-type"] === "") delete event.headers["content-type"];

      const result = await ingest(event);
      const status = result.statusCode as number;
      const answer = JSON.parse(result.body as string) as Record<string, unknown>;

      expect(status, where).toBeLessThan(500);
      if (status === 201) {
        expect(fuzz.expect, where).not.toBe("refused");
        const receipt = answer as { link_key: string; batch: { key: string } };
        acknowledged.push(receipt.batch.key, receipt.link_key);
        if (fuzz.sent) accepted.push({ batchKey: receipt.batch.key, sent: fuzz.sent });
        continue;
      }
      expect(fuzz.expect, `${where} → ${status} ${answer.code}: ${answer.message}`).not.toBe("accepted");
      const code = answer.code as IngestErrorCode;
      expect(INGEST_ERRORS[code]?.status, `${where} → ${status} ${code}`).toBe(status);
      if (fuzz.codes) expect(fuzz.codes, `${where} → ${code}: ${answer.message}`).toContain(code);
      expect(typeof answer.message === "string" && answer.message.length > 10, where).toBe(true);
      expect(answer.message as string, where).not.toMatch(/^: |Invalid input|Too (small|big):/);
    }

    // Every kind ran, and enough bodies were refused before any AWS call to keep the suite fast.
    expect(seen.size, [...seen.keys()].join(", ")).toBe(kinds.length);
    expect(acknowledged.length / 2).toBeLessThan(BODIES / 10);
    // The only versions added are each acknowledged batch's data object and link, once each.
    const added = (await written()).filter((key) => !before.includes(key));
    expect(added).toEqual([...acknowledged].sort());

    // What was stored is what was sent: every text field and `details` as its exact JSON.
    for (const { batchKey, sent } of accepted) {
      const records = (await readBatchLines(archive, batchKey)).map((line) => JSON.parse(line));
      expect(records).toHaveLength(sent.length);
      sent.forEach((event, i) => {
        const record = records[i];
        expect(record.action).toBe(event.action);
        expect(record.details).toBe(event.details === undefined ? null : JSON.stringify(event.details));
        if (event.resource) expect(record.resource).toEqual(event.resource);
        if (event.occurred_at) expect(record.occurred_at).toBe(event.occurred_at);
      });
    }
  }, 600_000);
});
