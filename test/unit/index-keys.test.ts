/**
 * Every acknowledged event must be indexable: each key attribute of its pointer item and of its
 * batch's postings stays within DynamoDB's limits (partition key 2,048 bytes, sort key 1,024 bytes)
 * for every value the schema or a token can give, and the query planner derives the very key the
 * writer indexed under.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compositeKey,
  eventPointerItem,
  type IndexItem,
  type PostingDimension,
  postingItems,
} from "../../lambda/core/index-items";
import { GLOBAL_INDEXES, KEY_SIZE_LIMITS, PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { buildRecord } from "../../lambda/core/record";
import type { EventInput, EventRecord } from "../../lambda/core/schema";
import type { EventFilters } from "../../lambda/query/params";
import { planPostings, planQuery } from "../../lambda/query/plan";
import { testPrincipal } from "../support/principal";

const bytes = (value: string) => Buffer.byteLength(value, "utf8");

const LOCATION = {
  chain: "0",
  seq: 7,
  linkKey: "chains/0/00000000000000000007.json",
  linkHash: "a".repeat(64),
  batchKey: `events/dt=2026-01-01/hr=00/${"b".repeat(64)}.jsonl.gz`,
  leafIndex: 0,
  leafHash: "c".repeat(64),
};

function recordOf(event: EventInput, options: { tenant?: string; reporterSub?: string } = {}): EventRecord {
  return buildRecord(event, {
    id: "01KAB2C3D4E5F6G7H8J9K0MNPQ",
    time: "2026-01-01T00:00:00.000Z",
    reporter: testPrincipal({ sub: options.reporterSub ?? "svc" }),
    tenant: options.tenant ?? "acme",
    ingest: { request_id: "r", source_ip: null, user_agent: null },
  });
}

/** Every key attribute of the table and its GSIs that the item carries, with its limit. */
function keyAttributes(item: IndexItem): Array<{ name: string; value: string; limit: number }> {
  const out: Array<{ name: string; value: string; limit: number }> = [];
  const add = (name: string, limit: number) => {
    const value = item[name];
    if (typeof value === "string") out.push({ name, value, limit });
  };
  add(PARTITION_KEY, KEY_SIZE_LIMITS.partitionKeyBytes);
  add(SORT_KEY, KEY_SIZE_LIMITS.sortKeyBytes);
  for (const gsi of Object.values(GLOBAL_INDEXES)) {
    add(gsi.partitionKey, KEY_SIZE_LIMITS.partitionKeyBytes);
    add(gsi.sortKey, KEY_SIZE_LIMITS.sortKeyBytes);
  }
  return out;
}

/** The filters that look an event up in each posting dimension, from the record's own values. */
function lookups(record: EventRecord): Array<{ dimension: PostingDimension; filters: EventFilters }> {
  const out: Array<{ dimension: PostingDimension; filters: EventFilters }> = [
    { dimension: "actor", filters: { actor: record.actor.sub } },
    { dimension: "action", filters: { action: record.action } },
    { dimension: "time", filters: {} },
  ];
  if (record.resource) {
    out.push({
      dimension: "resource",
      filters: { resource_type: record.resource.type, resource_id: record.resource.id },
    });
  }
  if (record.actor.session_id)
    out.push({ dimension: "session", filters: { session_id: record.actor.session_id } });
  return out;
}

/** The pointer item and the postings the writer puts for a batch of just `record`. */
function indexItems(record: EventRecord): { pointer: IndexItem; postings: IndexItem[] } {
  return {
    pointer: eventPointerItem(record, LOCATION),
    postings: postingItems({ ...LOCATION, records: [record], leafHashes: [LOCATION.leafHash] }),
  };
}

/** Values at the schema's limits (and past them where a token, not the schema, sets the value). */
const WORST_CASES: ReadonlyArray<{ name: string; record: EventRecord }> = [
  {
    name: "resource.id of 1,024 × # (3,072 bytes escaped)",
    record: recordOf({ action: "a", outcome: "success", resource: { type: "doc", id: "#".repeat(1024) } }),
  },
  {
    name: "resource.id of 1,024 × é (2,048 bytes) and a type of 128 × %",
    record: recordOf({
      action: "a",
      outcome: "success",
      resource: { type: "%".repeat(128), id: "é".repeat(1024) },
    }),
  },
  {
    name: "resource.id of 1,024 × € (3 bytes each) and of 512 × 😀",
    record: recordOf({
      action: "a",
      outcome: "success",
      resource: { type: "😀".repeat(64), id: "€".repeat(1024) },
    }),
  },
  {
    name: "asserted actor, session and request id at their limits, all #",
    record: recordOf({
      action: "a".repeat(128),
      outcome: "success",
      actor: { sub: "#".repeat(256), iss: "#".repeat(512), session_id: "#".repeat(256) },
      http: { request_id: "#".repeat(256) },
    }),
  },
  {
    name: "a token's subject and tenant, which no schema bounds (5,000 and 3,000 characters)",
    record: recordOf(
      { action: "a", outcome: "success", resource: { type: "doc", id: "#".repeat(1024) } },
      { reporterSub: "#".repeat(5000), tenant: "é".repeat(3000) },
    ),
  },
];

describe("index keys stay within DynamoDB's key size limits", () => {
  it.each(WORST_CASES)("$name: every key attribute fits", ({ record }) => {
    const { pointer, postings } = indexItems(record);

    const keys = [pointer, ...postings].flatMap(keyAttributes);
    expect(keys.length).toBeGreaterThanOrEqual(8);
    for (const { name, value, limit } of keys) expect(bytes(value), name).toBeLessThanOrEqual(limit);
  });

  it.each(WORST_CASES)("$name: the query planner derives the key the writer indexed under", ({ record }) => {
    const { pointer, postings } = indexItems(record);
    const postingKeys = postings.map((item) => item[PARTITION_KEY]);

    for (const { dimension, filters } of lookups(record)) {
      const plan = planPostings(record.tenant, filters);
      expect(plan?.dimension, dimension).toBe(dimension);
      expect(
        postingKeys.filter((key) => plan?.partitions.includes(key as string)),
        dimension,
      ).toHaveLength(1);
    }
    if (record.http?.request_id) {
      const plan = planQuery(record.tenant, { request_id: record.http.request_id });
      expect(plan.index).toBe(GLOBAL_INDEXES.request);
      expect(plan.partitions).toContain(pointer[GLOBAL_INDEXES.request.partitionKey]);
    }
  });

  it("any parts, however long and whatever their characters, give a key within the limit", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string({ unit: "grapheme", maxLength: 40 }),
            fc.string({ unit: "grapheme", minLength: 500, maxLength: 3000 }),
            // The characters that cost most bytes: escaped (3), 2-, 3- and 4-byte UTF-8.
            fc
              .tuple(fc.constantFrom("#", "%", "é", "€", "😀"), fc.integer({ min: 1, max: 2500 }))
              .map(([character, count]) => character.repeat(count)),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        (parts) => {
          const key = compositeKey(...parts);
          expect(bytes(key)).toBeLessThanOrEqual(KEY_SIZE_LIMITS.partitionKeyBytes);
          expect(compositeKey(...parts)).toBe(key);
        },
      ),
      // A counterexample is thousands of characters: shrinking it would take minutes and show no more.
      { numRuns: 300, endOnFailure: true },
    );
  });
});

describe("compositeKey stays one-to-one", () => {
  it("leaves a key that fits as it always was: escaped parts joined by #", () => {
    expect(compositeKey("acme", "doc", "a#b%c")).toBe("acme#doc#a%23b%25c");
    const fits = "x".repeat(2048 - "acme#".length);
    expect(compositeKey("acme", fits)).toBe(`acme#${fits}`);
  });

  it("keeps the parts that fit and the tenant first when a long part is replaced", () => {
    const key = compositeKey("acme", "doc", "#".repeat(1024));

    expect(key.startsWith("acme#doc#")).toBe(true);
    expect(key).not.toContain("%23");
  });

  it("gives long values that differ only in their last character different keys", () => {
    const long = "#".repeat(1023);

    expect(compositeKey("acme", "doc", `${long}a`)).not.toBe(compositeKey("acme", "doc", `${long}b`));
    expect(compositeKey("acme", `${long}a`)).not.toBe(compositeKey("acme", `${long}b`));
  });

  it("never lets a short value spell a long value's replaced key", () => {
    const long = "#".repeat(1024);
    const replaced = compositeKey("acme", long).split("#")[1] as string;

    expect(compositeKey("acme", replaced)).not.toBe(compositeKey("acme", long));
    expect(compositeKey(`acme#${replaced}`)).not.toBe(compositeKey("acme", long));
  });

  it("keeps tenants apart when the tenant part is the one replaced", () => {
    const a = compositeKey("é".repeat(3000), "alice");
    const b = compositeKey(`${"é".repeat(2999)}è`, "alice");

    expect(a).not.toBe(b);
    expect(a.endsWith("#alice")).toBe(true);
  });
});
