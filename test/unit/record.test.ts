import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compositeKey, eventPointerItem, keyPart, postingItems } from "../../lambda/core/index-items";
import { buildRecord, PLAIN_RECORD_KEYS, RECORD_KEYS, serializeRecord } from "../../lambda/core/record";
import { EventRecordSchema } from "../../lambda/core/schema";
import { testPrincipal } from "../support/principal";

const reporter = testPrincipal();
const context = {
  id: "01JCEXAMPLE0000000000000000",
  time: "2026-11-22T03:00:00.000Z",
  reporter,
  tenant: "default",
  ingest: { request_id: "r", source_ip: "192.0.2.1", user_agent: null },
};

describe("records", () => {
  it("serializes with the schema's key order, every key present, on one line", () => {
    const line = serializeRecord(buildRecord({ action: "a", outcome: "success" }, context));
    // A plain record has every key but v3's `privacy`, which only sealed records carry.
    expect(Object.keys(JSON.parse(line))).toEqual(PLAIN_RECORD_KEYS);
    expect(PLAIN_RECORD_KEYS).toEqual(RECORD_KEYS.filter((key) => key !== "privacy"));
    expect(RECORD_KEYS).toEqual(Object.keys(EventRecordSchema.shape));
    expect(line).not.toMatch(/\n|": /);
    expect(JSON.parse(line)).toMatchObject({ occurred_at: null, resource: null, http: null, details: null });
  });

  it("property: key order does not depend on how the object was built", () => {
    fc.assert(
      fc.property(fc.constantFrom(...PLAIN_RECORD_KEYS), fc.string(), (first, details) => {
        const record = buildRecord({ action: "a", outcome: "success", details }, context);
        const shuffled = Object.fromEntries([
          [first, record[first as keyof typeof record]],
          ...Object.entries(record),
        ]);
        expect(serializeRecord(shuffled as typeof record)).toBe(serializeRecord(record));
      }),
    );
  });

  it("stores details as its JSON encoding", () => {
    const record = buildRecord({ action: "a", outcome: "success", details: { n: 1, s: ["x"] } }, context);
    expect(record.details).toBe('{"n":1,"s":["x"]}');
  });

  it("every built record satisfies the record schema", () => {
    const record = buildRecord(
      {
        action: "a",
        outcome: "failure",
        occurred_at: "2026-01-01T00:00:00.000Z",
        actor: { sub: "x" },
        resource: { type: "t", id: "i" },
        http: { method: "GET" },
      },
      context,
    );
    expect(EventRecordSchema.parse(record)).toEqual(record);
  });
});

describe("index keys", () => {
  it.each([
    ["a#b", "c", "a%23b#c"],
    ["a", "b#c", "a#b%23c"],
    ["a%23", "b", "a%2523#b"],
  ])("escapes %s + %s", (a, b, key) => {
    expect(compositeKey(a, b)).toBe(key);
  });

  it("property: distinct part lists never give the same key", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string(), { minLength: 1, maxLength: 4 }),
        fc.array(fc.string(), { minLength: 1, maxLength: 4 }),
        (a, b) => {
          fc.pre(JSON.stringify(a) !== JSON.stringify(b) && a.length === b.length);
          expect(compositeKey(...a)).not.toBe(compositeKey(...b));
        },
      ),
    );
    expect(keyPart("#")).toBe("%23");
  });

  it("a pointer item's GSI key and every posting key name the tenant first", () => {
    const record = buildRecord(
      {
        action: "a",
        outcome: "success",
        actor: { sub: "x", session_id: "s" },
        resource: { type: "t", id: "i" },
        http: { request_id: "q" },
      },
      { ...context, tenant: "acme" },
    );
    const item = eventPointerItem(
      record,
      { chain: "0", seq: 1, linkKey: "k", linkHash: "h", batchKey: "b", leafIndex: 0, leafHash: "l" },
      30,
    );
    expect(String(item.request_key).startsWith("acme#")).toBe(true);
    expect(item.expires_at).toBe(Date.parse(context.time) / 1000 + 30 * 86_400);
    const postings = postingItems(
      { chain: "0", seq: 1, batchKey: "b", records: [record], leafHashes: ["0".repeat(64)] },
      30,
    );
    // actor, session, resource, action and time: one posting each, keyed `posting#<dimension>#<tenant>#…`.
    expect(postings).toHaveLength(5);
    for (const posting of postings) {
      expect(String(posting.pk).split("#")[2]).toBe("acme");
      expect(posting.expires_at).toBe(Date.parse(context.time) / 1000 + 30 * 86_400);
    }
  });
});
