/**
 * The query API against the emulator: events go in through the real ingest handler and come back
 * through the query handler with synthetic API Gateway GET events. Every filter alone and with a
 * time range, pagination (single GSI and the sharded time index), bad parameters and cursors,
 * scopes, tenant isolation, the `audit.read` record of each read, integrity checks against the
 * archive, checkpoints/latest, and every response checked against the OpenAPI document.
 */
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { PutCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { kmsClient, s3Client } from "../../lambda/aws/clients";
import { documentClient } from "../../lambda/aws/index-store";
import { checksumSha256Base64 } from "../../lambda/core/batch";
import {
  compositeKey,
  eventItemKey,
  POSTING_FIELDS,
  postingPartitionKey,
} from "../../lambda/core/index-items";
import { PARTITION_KEY } from "../../lambda/core/index-table";
import { verifyProofBundle } from "../../lambda/core/proof";
import { type EventRecord, EventRecordSchema } from "../../lambda/core/schema";
import { createIngestHandler, type IngestHandler } from "../../lambda/handlers/ingest";
import { createQueryHandler, type QueryHandler, type QueryRouteKey } from "../../lambda/handlers/query";
import { postEventsEvent, WRITE_CLAIMS } from "../support/api-event";
import { readBatchLines, snapshot, tableItems } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { createTestSigner } from "../support/checkpoint";
import { testConfig } from "../support/config";
import { injectFaults, keyStartsWith } from "../support/faults";
import { openApiValidator } from "../support/openapi-validator";
import { type QueryEventOptions, queryEvent, READ_CLAIMS } from "../support/query-event";

const openApi = openApiValidator();

interface Answer {
  status: number;
  body: Record<string, unknown>;
  requestId: string;
}

/** Calls a handler and checks the answer against the OpenAPI document of its route and status. */
async function call(
  handler: QueryHandler,
  routeKey: QueryRouteKey,
  options: QueryEventOptions = {},
): Promise<Answer> {
  const event = queryEvent(routeKey, options);
  const result = await handler(event);
  const answer = {
    status: result.statusCode as number,
    body: JSON.parse(result.body as string),
    requestId: event.requestContext.requestId,
  };
  const path = routeKey.slice("GET ".length);
  expect(
    openApi.responseErrors("GET", path, answer.status, answer.body),
    `${routeKey} ${answer.status}`,
  ).toEqual([]);
  return answer;
}

type EventsPage = { events: EventRecord[]; next_cursor?: string };

/** Reads every page, checking each against `limit`; returns the ids in the order served. */
async function listAll(
  handler: QueryHandler,
  query: Record<string, string>,
  limit: number,
  options: Omit<QueryEventOptions, "query"> = {},
): Promise<{ ids: string[]; pages: number; records: EventRecord[] }> {
  const records: EventRecord[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const answer = await call(handler, "GET /v1/events", {
      ...options,
      query: { ...query, limit: String(limit), ...(cursor ? { cursor } : {}) },
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const page = answer.body as unknown as EventsPage;
    expect(page.events.length).toBeLessThanOrEqual(limit);
    // A cursor promises more: a page with one is never empty, and is full.
    if (page.next_cursor) expect(page.events.length).toBe(limit);
    records.push(...page.events);
    cursor = page.next_cursor;
    pages++;
    if (pages > 10_000) throw new Error("pagination does not end");
  } while (cursor);
  return { ids: records.map((record) => record.id), pages, records };
}

function parse(result: Awaited<ReturnType<IngestHandler>>) {
  return { status: result.statusCode as number, body: JSON.parse(result.body as string) };
}

/** The archived `audit.read` records of one API request, read from the archive itself. */
async function auditRecordsOf(archive: TestArchive, requestId: string): Promise<EventRecord[]> {
  const pointers = (await tableItems(archive)).filter(
    (item) => item.action === "audit.read" && item.request_id === requestId,
  );
  const records: EventRecord[] = [];
  for (const pointer of pointers) {
    const lines = await readBatchLines(archive, pointer.batch_key as string);
    records.push(EventRecordSchema.parse(JSON.parse(lines[pointer.leaf_index as number] as string)));
  }
  return records;
}

const ACTORS = ["alice", "bob", "carol"] as const;
const ACTIONS = ["document.read", "document.update", "user.login", "document.delete", "permission.grant"];
const OUTCOMES = ["success", "failure", "denied", "success"] as const;
const BATCHES = 25;
const PER_BATCH = 10;
const START = Date.parse("2025-03-01T00:00:00.000Z");

/** Event i of the data set: every searched attribute varies with its own period. */
function datasetEvent(i: number) {
  return {
    action: ACTIONS[i % ACTIONS.length] as string,
    outcome: OUTCOMES[i % OUTCOMES.length] as string,
    actor: {
      sub: ACTORS[i % ACTORS.length] as string,
      iss: i % 2 === 0 ? "https://idp.a" : "https://idp.b",
      session_id: `sess-${i % 11}`,
    },
    resource: { type: "document", id: String(i % 7) },
    http: { request_id: `req-${i % 50}`, method: "GET" },
    details: { n: i },
  };
}

interface Indexed {
  readonly id: string;
  readonly time: string;
  readonly input: ReturnType<typeof datasetEvent>;
}

/** Ingests the data set in batches one second apart; returns each event with its id and time. */
async function ingestDataset(
  ingest: IngestHandler,
  batches = BATCHES,
  perBatch = PER_BATCH,
  claims?: Record<string, string>,
): Promise<Indexed[]> {
  const out: Indexed[] = [];
  for (let b = 0; b < batches; b++) {
    const inputs = Array.from({ length: perBatch }, (_, j) => datasetEvent(b * perBatch + j));
    const result = parse(await ingest(postEventsEvent({ body: { events: inputs }, claims })));
    expect(result.status, JSON.stringify(result.body)).toBe(201);
    expect(openApi.responseErrors("POST", "/v1/events", 201, result.body)).toEqual([]);
    const time = new Date(START + b * 1000).toISOString();
    (result.body.ids as string[]).forEach((id, j) => {
      out.push({ id, time, input: inputs[j] as ReturnType<typeof datasetEvent> });
    });
  }
  return out;
}

describe("GET /v1/events", () => {
  let archive: TestArchive;
  let query: QueryHandler;
  let dataset: Indexed[];

  beforeAll(async () => {
    archive = await createTestArchive();
    const config = testConfig(archive);
    let batch = 0;
    const ingest = createIngestHandler(config, { now: () => START + batch * 1000 });
    const ingestOne: IngestHandler = async (event) => {
      const result = await ingest(event);
      batch++;
      return result;
    };
    dataset = await ingestDataset(ingestOne);
    query = createQueryHandler(config);
  });

  const byFilter: Array<{
    name: string;
    query: Record<string, string>;
    matches: (e: ReturnType<typeof datasetEvent>) => boolean;
  }> = [
    { name: "actor", query: { actor: "alice" }, matches: (e) => e.actor.sub === "alice" },
    {
      name: "actor + actor_iss",
      query: { actor: "bob", actor_iss: "https://idp.b" },
      matches: (e) => e.actor.sub === "bob" && e.actor.iss === "https://idp.b",
    },
    { name: "action", query: { action: "user.login" }, matches: (e) => e.action === "user.login" },
    {
      name: "resource",
      query: { resource_type: "document", resource_id: "3" },
      matches: (e) => e.resource.id === "3",
    },
    { name: "outcome", query: { outcome: "denied" }, matches: (e) => e.outcome === "denied" },
    { name: "session_id", query: { session_id: "sess-4" }, matches: (e) => e.actor.session_id === "sess-4" },
    { name: "request_id", query: { request_id: "req-7" }, matches: (e) => e.http.request_id === "req-7" },
    {
      name: "two selective filters (actor and action)",
      query: { actor: "carol", action: "document.update" },
      matches: (e) => e.actor.sub === "carol" && e.action === "document.update",
    },
    {
      name: "resource, outcome and session",
      query: { resource_type: "document", resource_id: "2", outcome: "success", session_id: "sess-1" },
      matches: (e) => e.resource.id === "2" && e.outcome === "success" && e.actor.session_id === "sess-1",
    },
  ];

  it.each(byFilter)("serves the filter $name from the index, in time order", async ({
    query: q,
    matches,
  }) => {
    const expected = dataset.filter((e) => matches(e.input)).map((e) => e.id);
    expect(expected.length).toBeGreaterThan(0);
    // `outcome` alone also matches this suite's own audit.read events (all successes, all later).
    const { records } = await listAll(query, q, 1000);
    const served = records.filter((r) => r.action !== "audit.read").map((r) => r.id);
    expect(served).toEqual(expected);
    expect(records.slice(0, expected.length).map((r) => r.id)).toEqual(expected);
  });

  it.each(byFilter)("combines the filter $name with a from/to range", async ({ query: q, matches }) => {
    // Batches 5..14 inclusive: both bounds are times events have, so inclusiveness is tested.
    const from = new Date(START + 5 * 1000).toISOString();
    const to = new Date(START + 14 * 1000).toISOString();
    const expected = dataset
      .filter((e) => matches(e.input) && e.time >= from && e.time <= to)
      .map((e) => e.id);
    expect(expected.length).toBeGreaterThan(0);
    const { ids } = await listAll(query, { ...q, from, to }, 1000);
    expect(ids).toEqual(expected);
  });

  it("serves a time range alone from the sharded time index, merged in time order", async () => {
    const from = "2025-03-01T00:00:03+00:00";
    const to = "2025-03-01T01:00:07.000+01:00"; // 00:00:07Z, another offset on purpose
    const expected = dataset.filter(
      (e) => e.time >= "2025-03-01T00:00:03.000Z" && e.time <= "2025-03-01T00:00:07.000Z",
    );
    expect(expected).toHaveLength(50);
    const { ids } = await listAll(query, { from, to }, 1000);
    expect(ids).toEqual(expected.map((e) => e.id));
  });

  it("takes from alone and to alone", async () => {
    const fromOnly = await listAll(query, { from: "2025-03-01T00:00:20Z", action: "document.read" }, 1000);
    expect(fromOnly.ids).toEqual(
      dataset
        .filter((e) => e.time >= "2025-03-01T00:00:20.000Z" && e.input.action === "document.read")
        .map((e) => e.id),
    );
    const toOnly = await listAll(query, { to: "2025-03-01T00:00:01Z" }, 1000);
    expect(toOnly.ids).toEqual(dataset.slice(0, 20).map((e) => e.id));
  });

  it("pages through 250 events of the sharded time index, 7 at a time, with no duplicate and no gap", async () => {
    const range = { from: "2025-03-01T00:00:00Z", to: "2025-03-01T00:01:00Z" };
    const { ids, pages } = await listAll(query, range, 7);
    expect(ids).toEqual(dataset.map((e) => e.id));
    expect(new Set(ids).size).toBe(250);
    expect(pages).toBe(Math.ceil(250 / 7));
  });

  it("pages through one GSI partition with a filter expression, with no duplicate and no gap", async () => {
    const expected = dataset.filter(
      (e) => e.input.action === "document.read" && e.input.outcome !== "denied",
    );
    const q = { action: "document.read", outcome: "success" };
    const { ids } = await listAll(query, q, 3);
    expect(ids).toEqual(expected.filter((e) => e.input.outcome === "success").map((e) => e.id));
  });

  it("answers an exact last page without a cursor, and the page size may change between pages", async () => {
    const first = await call(query, "GET /v1/events", { query: { action: "user.login", limit: "20" } });
    const page = first.body as unknown as EventsPage;
    expect(page.events).toHaveLength(20);
    const second = await call(query, "GET /v1/events", {
      query: { action: "user.login", limit: "30", cursor: page.next_cursor as string },
    });
    const rest = second.body as unknown as EventsPage;
    expect(rest.events).toHaveLength(30);
    expect(rest.next_cursor).toBeUndefined();
    expect([...page.events, ...rest.events].map((r) => r.id)).toEqual(
      dataset.filter((e) => e.input.action === "user.login").map((e) => e.id),
    );
  });

  it("returns full records exactly as stored in the archive", async () => {
    const answer = await call(query, "GET /v1/events", { query: { request_id: "req-7", limit: "1" } });
    const [record] = (answer.body as unknown as EventsPage).events;
    const pointer = (await tableItems(archive)).find((item) => item.event_id === record?.id);
    const lines = await readBatchLines(archive, pointer?.batch_key as string);
    expect(JSON.stringify(record)).toBe(lines[pointer?.leaf_index as number]);
    expect(record).toMatchObject({ actor: { sub: "bob", verified: false }, details: '{"n":7}' });
  });

  it("refuses bad parameters with 400 and a code naming the parameter, and archives nothing", async () => {
    const cases: Array<[string, Record<string, string> | string, string, string]> = [
      ["an unknown parameter", { actr: "alice" }, "unknown_parameter", "actr"],
      ["a repeated parameter", "actor=alice&actor=bob", "duplicate_parameter", "actor"],
      ["limit 0", { limit: "0" }, "invalid_parameter", "limit"],
      ["limit 1001", { limit: "1001" }, "invalid_parameter", "limit"],
      ["a limit that is no number", { limit: "ten" }, "invalid_parameter", "limit"],
      ["a time without a zone", { from: "2025-03-01T00:00:00" }, "invalid_parameter", "from"],
      ["a time that is no time", { to: "yesterday" }, "invalid_parameter", "to"],
      [
        "from after to",
        { from: "2025-03-02T00:00:00Z", to: "2025-03-01T00:00:00Z" },
        "invalid_time_range",
        "from",
      ],
      ["resource_type alone", { resource_type: "document" }, "missing_parameter", "resource_id"],
      ["resource_id alone", { resource_id: "3" }, "missing_parameter", "resource_type"],
      ["actor_iss alone", { actor_iss: "https://idp.a" }, "missing_parameter", "actor"],
      ["an unknown outcome", { outcome: "maybe" }, "invalid_parameter", "outcome"],
      ["an empty filter", { actor: "" }, "invalid_parameter", "actor"],
      ["an action with a space", { action: "document read" }, "invalid_parameter", "action"],
      ["a cursor that is not one", { cursor: "not a cursor!" }, "invalid_cursor", "cursor"],
    ];
    const before = await snapshot(archive);
    for (const [name, q, code, parameter] of cases) {
      const answer = await call(query, "GET /v1/events", { query: q });
      expect(answer.status, name).toBe(400);
      expect(answer.body, name).toMatchObject({ code, parameter });
      // In sealtrail's words: the message names the parameter; zod's own wording never shows.
      expect(answer.body.message, name).toContain(parameter);
      expect(answer.body.message, name).not.toMatch(/Too small|Too big|Invalid input|received NaN|^: /);
    }
    expect(await snapshot(archive)).toEqual(before);
  });

  it("refuses a modified cursor and a cursor of another filter set with 400 invalid_cursor", async () => {
    const first = await call(query, "GET /v1/events", { query: { action: "document.read", limit: "7" } });
    const cursor = (first.body as unknown as EventsPage).next_cursor as string;
    expect(cursor).toBeTruthy();
    const middle = Math.floor(cursor.length / 2);
    const flipped = cursor[middle] === "A" ? "B" : "A";
    const modified = `${cursor.slice(0, middle)}${flipped}${cursor.slice(middle + 1)}`;
    const badCursors: Array<Record<string, string>> = [
      { action: "document.read", cursor: modified },
      { action: "document.read", cursor: cursor.slice(0, -2) },
      { action: "document.update", cursor },
      { action: "document.read", outcome: "success", cursor },
      { action: "document.read", from: "2025-03-01T00:00:00Z", cursor },
    ];
    for (const bad of badCursors) {
      const answer = await call(query, "GET /v1/events", { query: bad });
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(answer.body).toMatchObject({ code: "invalid_cursor", parameter: "cursor" });
    }
    // The untouched cursor still works with its own filters.
    const next = await call(query, "GET /v1/events", {
      query: { action: "document.read", limit: "7", cursor },
    });
    expect(next.status).toBe(200);
  });

  it("refuses a caller without the read scope with 403 missing_scope, and archives nothing", async () => {
    const before = await snapshot(archive);
    const noScope = { ...READ_CLAIMS, scope: "sealtrail/write" };
    for (const [routeKey, id] of [
      ["GET /v1/events", undefined],
      ["GET /v1/events/{id}", dataset[0]?.id],
      ["GET /v1/checkpoints/latest", undefined],
    ] as const) {
      const answer = await call(query, routeKey, { claims: noScope, id });
      expect(answer.status).toBe(403);
      expect(answer.body).toMatchObject({ code: "missing_scope" });
    }
    const noClaims = await call(query, "GET /v1/events", { claims: null });
    expect(noClaims).toMatchObject({ status: 401, body: { code: "missing_claims" } });
    expect(await snapshot(archive)).toEqual(before);
  });

  it("archives an audit.read event for a list read: actor = caller, details = filters and count", async () => {
    const q = { actor: "alice", from: "2025-03-01T00:00:05+00:00", to: "2025-03-01T00:00:09Z", limit: "4" };
    const answer = await call(query, "GET /v1/events", { query: q });
    expect(answer.status).toBe(200);
    const [audit, ...others] = await auditRecordsOf(archive, answer.requestId);
    expect(others).toHaveLength(0);
    expect(audit).toMatchObject({
      action: "audit.read",
      outcome: "success",
      tenant: "default",
      actor: { sub: READ_CLAIMS.sub, iss: READ_CLAIMS.iss, token_id: READ_CLAIMS.jti, verified: true },
      reporter: { sub: READ_CLAIMS.sub },
      resource: null,
      http: { request_id: answer.requestId, method: "GET", endpoint: "/v1/events", status: 200 },
      ingest: { request_id: answer.requestId, source_ip: "203.0.113.9" },
    });
    expect(JSON.parse(audit?.details as string)).toEqual({
      filters: {
        actor: "alice",
        from: "2025-03-01T00:00:05.000Z",
        to: "2025-03-01T00:00:09.000Z",
        limit: 4,
      },
      count: 4,
    });
    // The audit event is itself searchable, as the caller's own.
    const mine = await listAll(query, { actor: READ_CLAIMS.sub, request_id: answer.requestId }, 10);
    expect(mine.records.map((r) => r.action)).toEqual(["audit.read"]);
  });

  it("fails closed: when the audit record cannot be written, 503 and no data", async () => {
    const s3 = s3Client(archive.target);
    // Reads work; every write of a data object (the audit batch) fails.
    injectFaults(s3, [
      { command: "PutObjectCommand", match: keyStartsWith("events/"), kind: "error", times: 1000 },
    ]);
    const failing = createQueryHandler(testConfig(archive), { s3 });
    for (const [routeKey, options] of [
      ["GET /v1/events", { query: { action: "user.login" } }],
      ["GET /v1/events/{id}", { id: dataset[0]?.id }],
    ] as const) {
      const answer = await call(failing, routeKey, options);
      expect(answer.status).toBe(503);
      expect(answer.body).toEqual({ code: "audit_unavailable", message: expect.any(String) });
      expect(await auditRecordsOf(archive, answer.requestId)).toEqual([]);
    }
  });

  it("GET /v1/events/{id}: the record, its audit.read, 404 for unknown, 400 for a malformed id", async () => {
    const target = dataset[42] as Indexed;
    const answer = await call(query, "GET /v1/events/{id}", { id: target.id });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: target.id, action: target.input.action, time: target.time });
    const [audit] = await auditRecordsOf(archive, answer.requestId);
    expect(audit).toMatchObject({
      actor: { sub: READ_CLAIMS.sub, verified: true },
      resource: { type: "event", id: target.id },
      http: { endpoint: "/v1/events/{id}" },
    });
    expect(JSON.parse(audit?.details as string)).toEqual({ filters: { id: target.id }, count: 1 });

    const unknown = await call(query, "GET /v1/events/{id}", { id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" });
    expect(unknown).toMatchObject({ status: 404, body: { code: "event_not_found" } });
    const malformed = await call(query, "GET /v1/events/{id}", { id: "../etc" });
    expect(malformed).toMatchObject({ status: 400, body: { code: "invalid_parameter", parameter: "id" } });
    const extra = await call(query, "GET /v1/events/{id}", { id: target.id, query: { actor: "alice" } });
    expect(extra).toMatchObject({ status: 400, body: { code: "unknown_parameter", parameter: "actor" } });
  });

  it("GET /v1/events/{id}/proof answers 409 not_checkpointed until a checkpoint covers the event, after authorization", async () => {
    const target = dataset[3] as Indexed;
    const answer = await call(query, "GET /v1/events/{id}/proof", { id: target.id });
    expect(answer).toMatchObject({ status: 409, body: { code: "not_checkpointed" } });
    const denied = await call(query, "GET /v1/events/{id}/proof", {
      id: target.id,
      claims: { ...READ_CLAIMS, scope: "other" },
    });
    expect(denied.status).toBe(403);
  });

  it("GET /v1/events/{id}/proof returns a bundle that verifies offline once a checkpoint covers it, and audits the read", async () => {
    const target = dataset[3] as Indexed;
    const signer = await createTestSigner(archive);
    expect(await signer.run()).toMatchObject({ status: "signed" });
    const answer = await call(query, "GET /v1/events/{id}/proof", { id: target.id });
    expect(answer.status).toBe(200);
    const verdict = await verifyProofBundle(answer.body, signer.trusted);
    expect(verdict).toMatchObject({ ok: true, facts: { event: target.id } });
    const [audit] = await auditRecordsOf(archive, answer.requestId);
    expect(audit).toMatchObject({
      resource: { type: "event", id: target.id },
      http: { endpoint: "/v1/events/{id}/proof" },
    });
  });
});

/** A tenant-configured deployment with two tenants holding the same actors, and an admin. */
describe("tenancy (tenant claim configured)", () => {
  let archive: TestArchive;
  let query: QueryHandler;
  let acme: Indexed[];
  let globex: Indexed[];
  const readerAcme = { ...READ_CLAIMS, tenant: "acme" };
  const readerGlobex = { ...READ_CLAIMS, sub: "auditor-g", tenant: "globex" };
  const admin = { ...READ_CLAIMS, sub: "root", tenant: "ops", scope: "sealtrail/read sealtrail/admin" };
  const range = { from: "2025-03-01T00:00:00Z", to: "2025-03-01T00:01:00Z" };

  beforeAll(async () => {
    archive = await createTestArchive();
    const config = testConfig(archive, { tenantClaim: "tenant" });
    let batch = 0;
    const ingest = createIngestHandler(config, { now: () => START + batch * 1000 });
    const ingestOne: IngestHandler = async (event) => {
      const result = await ingest(event);
      batch++;
      return result;
    };
    acme = await ingestDataset(ingestOne, 3, 5, { ...WRITE_CLAIMS, tenant: "acme" });
    batch = 0;
    globex = await ingestDataset(ingestOne, 2, 5, { ...WRITE_CLAIMS, tenant: "globex" });
    query = createQueryHandler(config);
  });

  it("shows each tenant only its own events", async () => {
    expect((await listAll(query, range, 4, { claims: readerAcme })).ids).toEqual(acme.map((e) => e.id));
    expect((await listAll(query, range, 4, { claims: readerGlobex })).ids).toEqual(globex.map((e) => e.id));
    const alice = await listAll(query, { actor: "alice" }, 100, { claims: readerGlobex });
    expect(alice.ids).toEqual(globex.filter((e) => e.input.actor.sub === "alice").map((e) => e.id));
  });

  it("answers another tenant's event id as unknown (404), not as forbidden", async () => {
    const other = globex[0] as Indexed;
    const answer = await call(query, "GET /v1/events/{id}", { id: other.id, claims: readerAcme });
    expect(answer).toMatchObject({ status: 404, body: { code: "event_not_found" } });
  });

  it("refuses tenant= for another tenant without the admin scope (403), allows one's own", async () => {
    const before = await snapshot(archive);
    const other = await call(query, "GET /v1/events", { query: { tenant: "globex" }, claims: readerAcme });
    expect(other).toMatchObject({ status: 403, body: { code: "missing_scope", parameter: "tenant" } });
    const one = await call(query, "GET /v1/events/{id}", {
      id: (globex[0] as Indexed).id,
      query: { tenant: "globex" },
      claims: readerAcme,
    });
    expect(one).toMatchObject({ status: 403, body: { code: "missing_scope" } });
    expect(await snapshot(archive)).toEqual(before);
    const own = await call(query, "GET /v1/events", {
      query: { ...range, tenant: "acme" },
      claims: readerAcme,
    });
    expect(own.status).toBe(200);
  });

  it("lets the admin scope read another tenant with tenant=, and audits it in the admin's own tenant", async () => {
    const all = await listAll(query, { ...range, tenant: "globex" }, 3, { claims: admin });
    expect(all.ids).toEqual(globex.map((e) => e.id));
    const ownTenant = await listAll(query, range, 100, { claims: admin });
    expect(ownTenant.ids).toEqual([]);
    const one = await call(query, "GET /v1/events/{id}", {
      id: (globex[1] as Indexed).id,
      query: { tenant: "globex" },
      claims: admin,
    });
    expect(one).toMatchObject({ status: 200, body: { id: (globex[1] as Indexed).id, tenant: "globex" } });
    const [audit] = await auditRecordsOf(archive, one.requestId);
    expect(audit).toMatchObject({ tenant: "ops", actor: { sub: "root", verified: true } });
    expect(JSON.parse(audit?.details as string)).toEqual({
      filters: { id: (globex[1] as Indexed).id, tenant: "globex" },
      count: 1,
    });
  });

  it("refuses a cursor issued to another tenant for the same filters (400 invalid_cursor)", async () => {
    const first = await call(query, "GET /v1/events", {
      query: { ...range, limit: "2" },
      claims: readerAcme,
    });
    const cursor = (first.body as unknown as EventsPage).next_cursor as string;
    expect(cursor).toBeTruthy();
    const answer = await call(query, "GET /v1/events", {
      query: { ...range, limit: "2", cursor },
      claims: readerGlobex,
    });
    expect(answer).toMatchObject({ status: 400, body: { code: "invalid_cursor", parameter: "cursor" } });
  });

  it("refuses a token without the tenant claim (401 missing_claim)", async () => {
    const answer = await call(query, "GET /v1/events", { claims: { ...READ_CLAIMS } });
    expect(answer).toMatchObject({ status: 401, body: { code: "missing_claim", claim: "tenant" } });
  });
});

/** The index only points; what is served is checked against the archive. */
describe("integrity: an index that disagrees with the archive", () => {
  let archive: TestArchive;
  let query: QueryHandler;
  let acme: Indexed[];
  let globex: Indexed[];
  const readerAcme = { ...READ_CLAIMS, tenant: "acme" };

  beforeAll(async () => {
    archive = await createTestArchive();
    const config = testConfig(archive, { tenantClaim: "tenant" });
    const ingest = createIngestHandler(config, { now: () => START });
    acme = await ingestDataset(ingest, 1, 6, { ...WRITE_CLAIMS, tenant: "acme" });
    globex = await ingestDataset(ingest, 1, 6, { ...WRITE_CLAIMS, tenant: "globex" });
    query = createQueryHandler(config);
  });

  async function updatePointer(eventId: string, values: Record<string, string>): Promise<void> {
    const names = Object.keys(values);
    await documentClient(archive.dynamo).send(
      new UpdateCommand({
        TableName: archive.table,
        Key: eventItemKey(eventId),
        UpdateExpression: `SET ${names.map((_, i) => `#n${i} = :v${i}`).join(", ")}`,
        ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#n${i}`, name])),
        ExpressionAttributeValues: Object.fromEntries(names.map((name, i) => [`:v${i}`, values[name]])),
      }),
    );
  }

  /** The actor postings of `actor` in `tenant`, as stored. */
  async function actorPostings(tenant: string, actor: string): Promise<Record<string, unknown>[]> {
    const page = await documentClient(archive.dynamo).send(
      new QueryCommand({
        TableName: archive.table,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": PARTITION_KEY },
        ExpressionAttributeValues: { ":pk": postingPartitionKey(tenant, "actor", [actor]) },
      }),
    );
    return page.Items ?? [];
  }

  async function putItem(item: Record<string, unknown>): Promise<void> {
    await documentClient(archive.dynamo).send(new PutCommand({ TableName: archive.table, Item: item }));
  }

  it("answers 500 integrity_error, not the line, when a leaf hash does not match", async () => {
    const victim = acme[2] as Indexed;
    await updatePointer(victim.id, { leaf_hash: "0".repeat(64) });
    const one = await call(query, "GET /v1/events/{id}", { id: victim.id, claims: readerAcme });
    expect(one).toMatchObject({ status: 500, body: { code: "integrity_error" } });
    // A search reads postings: the batch's lines must hash to the root the posting holds.
    for (const posting of await actorPostings("acme", victim.input.actor.sub)) {
      await putItem({ ...posting, [POSTING_FIELDS.batchRoot]: "0".repeat(64) });
    }
    const list = await call(query, "GET /v1/events", {
      query: { actor: victim.input.actor.sub },
      claims: readerAcme,
    });
    expect(list).toMatchObject({ status: 500, body: { code: "integrity_error" } });
    expect(list.body).not.toHaveProperty("events");
    // An unaffected query still works.
    const other = acme.find((e) => e.input.actor.sub !== victim.input.actor.sub) as Indexed;
    const fine = await call(query, "GET /v1/events/{id}", { id: other.id, claims: readerAcme });
    expect(fine.status).toBe(200);
  });

  it("never serves another tenant's record through a pointer planted in this tenant's partition", async () => {
    const planted = globex[0] as Indexed;
    await updatePointer(planted.id, {
      tenant: "acme",
      actor_key: compositeKey("acme", "planted-actor"),
    });
    const list = await call(query, "GET /v1/events", {
      query: { actor: "planted-actor" },
      claims: readerAcme,
    });
    expect(list).toMatchObject({ status: 500, body: { code: "integrity_error" } });
    const one = await call(query, "GET /v1/events/{id}", { id: planted.id, claims: readerAcme });
    expect(one).toMatchObject({ status: 500, body: { code: "integrity_error" } });
    expect(JSON.stringify(one.body)).not.toContain("globex");
  });

  it("never serves another tenant's record through a posting planted in this tenant's partition", async () => {
    // A posting of globex's batch, copied into an acme partition and claiming to be acme's.
    const source = globex[1] as Indexed;
    const [posting] = await actorPostings("globex", source.input.actor.sub);
    await putItem({
      ...posting,
      [PARTITION_KEY]: postingPartitionKey("acme", "actor", ["planted-by-posting"]),
      [POSTING_FIELDS.tenant]: "acme",
    });
    const list = await call(query, "GET /v1/events", {
      query: { actor: "planted-by-posting" },
      claims: readerAcme,
    });
    expect(list).toMatchObject({ status: 500, body: { code: "integrity_error" } });
    expect(JSON.stringify(list.body)).not.toContain("globex");
  });

  it("answers 500 integrity_error when a posting names an event that does not carry its key", async () => {
    // acme's postings of one actor, copied into another actor's partition (neither is the actor whose
    // postings the leaf-hash case above damaged).
    const [victim, other, damaged] = acme as [Indexed, Indexed, Indexed];
    expect(new Set([victim, other, damaged].map((e) => e.input.actor.sub)).size).toBe(3);
    const [posting] = await actorPostings("acme", victim.input.actor.sub);
    await putItem({
      ...posting,
      [PARTITION_KEY]: postingPartitionKey("acme", "actor", [other.input.actor.sub]),
    });
    const list = await call(query, "GET /v1/events", {
      query: { actor: other.input.actor.sub },
      claims: readerAcme,
    });
    expect(list).toMatchObject({ status: 500, body: { code: "integrity_error" } });
  });
});

describe("GET /v1/checkpoints/latest", () => {
  let archive: TestArchive;
  let query: QueryHandler;

  beforeAll(async () => {
    archive = await createTestArchive();
    query = createQueryHandler(testConfig(archive));
  });

  async function putObject(key: string, text: string): Promise<void> {
    const body = Buffer.from(text);
    await archive.s3.send(
      new PutObjectCommand({
        Bucket: archive.bucket,
        Key: key,
        Body: body,
        IfNoneMatch: "*",
        ChecksumAlgorithm: "SHA256",
        ChecksumSHA256: checksumSha256Base64(body),
      }),
    );
  }

  const fakeJws = (seq: number) => `eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzZXEiOiR7c2VxfX0.sig-${seq}`;

  it("answers 404 no_checkpoint before the first one, then the stored JWS with its key and seq", async () => {
    const before = await snapshot(archive);
    const none = await call(query, "GET /v1/checkpoints/latest");
    expect(none).toMatchObject({ status: 404, body: { code: "no_checkpoint" } });
    expect(await snapshot(archive)).toEqual(before);

    // Stray keys on both sides of the canonical one are not checkpoints.
    await putObject("checkpoints/.keep", "");
    await putObject("checkpoints/00000000000000000001.jws", fakeJws(1));
    await putObject("checkpoints/notes.txt", "not a checkpoint");
    const answer = await call(query, "GET /v1/checkpoints/latest");
    expect(answer).toMatchObject({
      status: 200,
      body: { key: "checkpoints/00000000000000000001.jws", seq: 1, jws: fakeJws(1) },
    });
    const [audit] = await auditRecordsOf(archive, answer.requestId);
    expect(audit).toMatchObject({
      action: "audit.read",
      actor: { sub: READ_CLAIMS.sub },
      resource: { type: "checkpoint", id: "checkpoints/00000000000000000001.jws" },
      http: { endpoint: "/v1/checkpoints/latest" },
    });
    expect(JSON.parse(audit?.details as string)).toEqual({ filters: {}, count: 1 });
    const withParameter = await call(query, "GET /v1/checkpoints/latest", { query: { tenant: "x" } });
    expect(withParameter).toMatchObject({
      status: 400,
      body: { code: "unknown_parameter", parameter: "tenant" },
    });
  });

  it("finds the newest of many from a cold start and follows new ones when warm", async () => {
    for (let seq = 2; seq <= 37; seq++)
      await putObject(`checkpoints/${String(seq).padStart(20, "0")}.jws`, fakeJws(seq));
    await putObject("checkpoints/0000000000000000099.jws", "19 digits: not canonical");
    const cold = createQueryHandler(testConfig(archive));
    expect((await call(cold, "GET /v1/checkpoints/latest")).body).toMatchObject({
      seq: 37,
      jws: fakeJws(37),
    });
    expect((await call(query, "GET /v1/checkpoints/latest")).body).toMatchObject({ seq: 37 });
    await putObject("checkpoints/00000000000000000038.jws", fakeJws(38));
    expect((await call(query, "GET /v1/checkpoints/latest")).body).toMatchObject({
      seq: 38,
      jws: fakeJws(38),
    });
    expect((await call(cold, "GET /v1/checkpoints/latest")).body).toMatchObject({ seq: 38 });
  });
});

/** In AWS the cursor is authenticated by a KMS HMAC key; moto implements GenerateMac/VerifyMac. */
describe("cursors authenticated by a KMS HMAC_256 key", () => {
  let archive: TestArchive;
  let query: QueryHandler;
  let dataset: Indexed[];

  beforeAll(async () => {
    archive = await createTestArchive();
    const kms = kmsClient(archive.target);
    const key = await kms.send(
      new CreateKeyCommand({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" }),
    );
    const keyId = key.KeyMetadata?.KeyId;
    const config = testConfig(archive, { cursorKeyId: keyId });
    const ingest = createIngestHandler(config, { now: () => START });
    dataset = await ingestDataset(ingest, 1, 30);
    query = createQueryHandler(config, { kms });
  });

  it("pages with KMS-made cursors and refuses modified, foreign and other-key cursors", async () => {
    const { ids } = await listAll(query, { action: "document.read" }, 2);
    expect(ids).toEqual(dataset.filter((e) => e.input.action === "document.read").map((e) => e.id));

    const first = await call(query, "GET /v1/events", { query: { limit: "5" } });
    const cursor = (first.body as unknown as EventsPage).next_cursor as string;
    const tampered = `${cursor.slice(0, 5)}${cursor[5] === "x" ? "y" : "x"}${cursor.slice(6)}`;
    // The same query under a process-local key: a valid-looking cursor made with another key.
    const otherKey = createQueryHandler(testConfig(archive));
    const foreign = (
      (await call(otherKey, "GET /v1/events", { query: { limit: "5" } })).body as unknown as EventsPage
    ).next_cursor as string;
    for (const bad of [tampered, foreign]) {
      const answer = await call(query, "GET /v1/events", { query: { limit: "5", cursor: bad } });
      expect(answer).toMatchObject({ status: 400, body: { code: "invalid_cursor" } });
    }
    const other = await call(query, "GET /v1/events", { query: { limit: "5", outcome: "success", cursor } });
    expect(other).toMatchObject({ status: 400, body: { code: "invalid_cursor" } });
    const next = await call(query, "GET /v1/events", { query: { limit: "5", cursor } });
    expect(next.status).toBe(200);
  });
});
