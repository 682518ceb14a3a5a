/**
 * The contract of `GET /v1/events` (QueryService.listEvents) as a property, against the in-memory
 * services, whatever index serves it: paging a search with `next_cursor` until it is absent returns
 * exactly the stored records of the tenant read that match every filter, each once, in ascending
 * (`time`, `id`) order, and a page carries `next_cursor` exactly when more events follow it.
 *
 * Events are sealed in batches of random sizes for two tenants, with fields drawn from small pools so
 * that filters match often. A record's `time` is when the server received its batch (a client cannot
 * set it), so the events of one batch share a time; between batches the clock jumps back and forth
 * (services.advance), so times are not in ingest order, several batches share a time, and ids (ULIDs,
 * which stay increasing when the clock steps back) are not in time order either. `occurred_at`, the
 * client's own time, is drawn in no order: a search neither sorts nor bounds by it. Each batch is
 * indexed in format 2 (postings), format 1 (legacy GSI keys, as written before postings), or both (a
 * format-1 index after a reindex), so the migration's mixed index is held to the same contract.
 *
 * The expected answer is a brute-force filter over the tenant's stored records, listed right before
 * each search. Every answered read archives an `audit.read` event in the reader's tenant, so a search
 * that matches those (no actor, action, resource, session or request filter, no outcome but success)
 * grows while it is paged, and with limit=1 never ends. Such a search reads through an admin of a
 * third tenant (`tenant=`), whose audit events land in its own tenant; any other search reads as the
 * tenant's own reader or as that admin.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EventList, Receipt } from "../../lambda/core/api-schema";
import { POINTER_FIELDS, POSTING_FIELDS } from "../../lambda/core/index-items";
import type { EventRecord } from "../../lambda/core/schema";
import { READ_AUDIT_ACTION } from "../../lambda/core/server-actions";
import type { EventFilters } from "../../lambda/query/params";
import { WRITE_CLAIMS } from "../support/api-event";
import { format1PointerItem, isPointer, isPosting } from "../support/format1-index";
import {
  ingestRequest,
  type MemoryServices,
  memoryServices,
  queryRequest,
  readClaims,
  START,
} from "../support/memory-services";

const TENANTS = ["acme", "other"] as const;
type Tenant = (typeof TENANTS)[number];
/** Reads either tenant with the admin scope; its own audit.read events stay in its own tenant. */
const DESK = "audit-desk";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Batch times are offsets from the services' start clock, within this span. */
const SPAN = 6 * HOUR;
/** Offsets that several batches draw, so that equal times are common. */
const SHARED_OFFSETS = [0, 7 * MINUTE, HOUR, HOUR + 1, 2 * HOUR + 30 * MINUTE, 5 * HOUR] as const;

/** The reporter's own principal: the actor of an event sent without one. */
const REPORTER = { sub: WRITE_CLAIMS.sub, iss: WRITE_CLAIMS.iss };
const ACTORS = ["alice", "bob", "carol"] as const;
const ISSUERS = ["https://idp-a.test", "https://idp-b.test"] as const;
const SESSIONS = ["s-1", "s-2", "s-3"] as const;
const ACTIONS = ["document.read", "document.write", "user.login", "billing:invoice/pay"] as const;
const RESOURCE_TYPES = ["document", "folder", "invoice"] as const;
const RESOURCE_IDS = ["1", "2", "3"] as const;
const REQUEST_IDS = ["req-1", "req-2", "req-3", "req-4", "req-5"] as const;
const EVENT_OUTCOMES = ["success", "failure", "denied", "error"] as const;

/**
 * How a batch is indexed: format 2 (postings) as the writer does today; format 1 (legacy GSI keys on
 * its pointers, no postings) as written before postings existed; or both, as after a reindex of a
 * format-1 index, where a search finds each event twice and must answer it once.
 */
type IndexFormat = "postings" | "legacy" | "both";

interface Batch {
  readonly tenant: Tenant;
  /** @default "postings" */
  readonly format?: IndexFormat;
  /** The clock when the batch is received, as an offset from START: its records' `time`. */
  readonly offset: number;
  readonly events: readonly object[];
}

/** The search filters of `GET /v1/events`, as query-string values: the query service's own type. */
type Filters = EventFilters;

interface Search {
  readonly tenant: Tenant;
  readonly filters: Filters;
  readonly limit: number;
  /** As the tenant's own reader, when its filters exclude that reader's audit.read events; else as DESK. */
  readonly own: boolean;
}

interface Sealed {
  readonly services: MemoryServices;
  /** Each id of the receipts: its tenant and the time its batch was received. */
  readonly sealed: ReadonlyMap<string, { readonly tenant: Tenant; readonly time: string }>;
}

// --- The checker ------------------------------------------------------------------------------

/** Seals each batch for its tenant, with the clock set to the batch's time. */
async function seal(batches: readonly Batch[]): Promise<Sealed> {
  const services = memoryServices();
  let clock = START;
  const sealed = new Map<string, { tenant: Tenant; time: string }>();
  for (const [i, batch] of batches.entries()) {
    services.advance(START + batch.offset - clock);
    clock = START + batch.offset;
    const answer = await services.ingest.ingest(
      ingestRequest({
        body: JSON.stringify({ events: batch.events }),
        claims: { ...WRITE_CLAIMS, tenant: batch.tenant },
        requestId: `seal-${i}`,
      }),
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    const { ids } = answer.body as Receipt;
    expect(ids).toHaveLength(batch.events.length);
    for (const id of ids) sealed.set(id, { tenant: batch.tenant, time: new Date(clock).toISOString() });
    if (batch.format !== undefined && batch.format !== "postings") reindexAs(services, ids, batch.format);
  }
  return { services, sealed };
}

/** Rewrites the index items of the events `ids` (one batch) as `format` writes them. */
function reindexAs(services: MemoryServices, ids: readonly string[], format: "legacy" | "both"): void {
  const items = services.index.items;
  const wanted = new Set(ids);
  const pointers = [...items.entries()].filter(
    ([, item]) => isPointer(item) && wanted.has(String(item[POINTER_FIELDS.eventId])),
  );
  expect(pointers).toHaveLength(ids.length);
  for (const [key, pointer] of pointers) items.set(key, format1PointerItem(pointer));
  if (format === "both") return;
  const batchKeys = new Set(pointers.map(([, pointer]) => pointer[POINTER_FIELDS.batchKey]));
  for (const [key, item] of items) {
    if (isPosting(item) && batchKeys.has(item[POSTING_FIELDS.batchKey])) items.delete(key);
  }
}

interface Page {
  readonly events: readonly EventRecord[];
  readonly hasCursor: boolean;
}

/** Pages one search until a page has no next_cursor. */
async function pageThrough(
  services: MemoryServices,
  query: Readonly<Record<string, string>>,
  claims: Record<string, string>,
  maxPages: number,
): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | undefined;
  do {
    const parameters = new URLSearchParams({ ...query, ...(cursor === undefined ? {} : { cursor }) });
    const answer = await services.query.listEvents(queryRequest(parameters.toString(), claims));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const body = answer.body as EventList;
    cursor = body.next_cursor;
    pages.push({ events: body.events, hasCursor: cursor !== undefined });
    if (pages.length > maxPages) throw new Error(`more than ${maxPages} pages: ${parameters.toString()}`);
  } while (cursor !== undefined);
  return pages;
}

/**
 * Every stored record of `tenant`, as the API returns them: what the brute force filters. It holds
 * every event sealed for the tenant, at its batch's time; anything else is an audit.read event.
 */
async function storedRecords({ services, sealed }: Sealed, tenant: Tenant): Promise<EventRecord[]> {
  const desk = readClaims(DESK, { admin: true });
  const pages = await pageThrough(services, { tenant, limit: "1000" }, desk, 100);
  const records = pages.flatMap((page) => page.events);
  const byId = new Map(records.map((record) => [record.id, record]));
  expect(byId.size).toBe(records.length);
  for (const [id, event] of sealed) {
    if (event.tenant === tenant) expect(byId.get(id)?.time).toBe(event.time);
  }
  for (const record of records) {
    expect(record.tenant).toBe(tenant);
    if (!sealed.has(record.id)) expect(record.action).toBe(READ_AUDIT_ACTION);
  }
  return records;
}

/** Whether no audit.read event can match: no pool holds its action, actor, resource, session or request id. */
function excludesReadAudits(filters: Filters): boolean {
  const { actor, action, resource_type, session_id, request_id, outcome } = filters;
  return (
    [actor, action, resource_type, session_id, request_id].some((value) => value !== undefined) ||
    (outcome !== undefined && outcome !== "success")
  );
}

/** The filters' meaning, from the API's description of each (lambda/core/api-schema.ts). */
function matches(record: EventRecord, filters: Filters): boolean {
  const time = Date.parse(record.time);
  return (
    (filters.actor === undefined || record.actor.sub === filters.actor) &&
    (filters.actor_iss === undefined || record.actor.iss === filters.actor_iss) &&
    (filters.action === undefined || record.action === filters.action) &&
    (filters.resource_type === undefined || record.resource?.type === filters.resource_type) &&
    (filters.resource_id === undefined || record.resource?.id === filters.resource_id) &&
    (filters.outcome === undefined || record.outcome === filters.outcome) &&
    (filters.session_id === undefined || record.actor.session_id === filters.session_id) &&
    (filters.request_id === undefined || record.http?.request_id === filters.request_id) &&
    (filters.from === undefined || time >= Date.parse(filters.from)) &&
    (filters.to === undefined || time <= Date.parse(filters.to))
  );
}

/** Ascending time, then id: ULIDs compare as plain strings. */
function byTimeThenId(a: EventRecord, b: EventRecord): number {
  const dt = Date.parse(a.time) - Date.parse(b.time);
  if (dt !== 0) return dt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Pages `search` through and holds the answer to the brute force over the tenant's stored records.
 * Returns the ids of each page, for the examples to name.
 */
async function checkSearch(state: Sealed, search: Search): Promise<string[][]> {
  const { tenant, filters, limit } = search;
  const stored = await storedRecords(state, tenant);
  const expected = stored.filter((record) => matches(record, filters)).sort(byTimeThenId);
  const own = search.own && excludesReadAudits(filters);
  const claims = own ? readClaims(tenant) : readClaims(DESK, { admin: true });
  const query = { ...filters, limit: String(limit), ...(own ? {} : { tenant }) };

  const pages = await pageThrough(state.services, query, claims, expected.length + 1);

  const returned = pages.flatMap((page) => page.events);
  const ids = returned.map((record) => record.id);
  const context = JSON.stringify({ query, own, pages: pages.map((page) => page.events.length) });
  // Exactly the matching records, each once, in (time, id) order, of the tenant read only.
  expect(ids, context).toEqual(expected.map((record) => record.id));
  expect(new Set(ids).size, context).toBe(ids.length);
  expect(
    returned.every((record) => record.tenant === tenant),
    context,
  ).toBe(true);
  // Each as stored: the record the unfiltered listing holds.
  const storedById = new Map(stored.map((record) => [record.id, record]));
  for (const record of returned) expect(record, context).toEqual(storedById.get(record.id));
  // Pages of 1..limit events (one empty page when nothing matches), a cursor exactly while more follow.
  let seen = 0;
  for (const page of pages) {
    seen += page.events.length;
    expect(page.events.length, context).toBeLessThanOrEqual(limit);
    if (expected.length > 0) expect(page.events.length, context).toBeGreaterThan(0);
    expect(page.hasCursor, context).toBe(seen < expected.length);
  }
  return pages.map((page) => page.events.map((record) => record.id));
}

// --- Generators -------------------------------------------------------------------------------

/** Absent `absent` times in `absent + 1`. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, absent = 1) =>
  fc.oneof(
    { weight: absent, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: arbitrary as fc.Arbitrary<T | undefined> },
  );

const eventArb: fc.Arbitrary<object> = fc
  .record({
    action: fc.constantFrom(...ACTIONS),
    outcome: fc.constantFrom(...EVENT_OUTCOMES),
    // Without one, the actor is the reporter (no session).
    actor: sometimes(
      fc.record(
        {
          sub: fc.constantFrom(...ACTORS),
          iss: fc.constantFrom(...ISSUERS),
          session_id: fc.constantFrom(...SESSIONS),
        },
        { requiredKeys: ["sub"] },
      ),
      1,
    ),
    resource: sometimes(
      fc.record({ type: fc.constantFrom(...RESOURCE_TYPES), id: fc.constantFrom(...RESOURCE_IDS) }),
      1,
    ),
    request_id: sometimes(fc.constantFrom(...REQUEST_IDS), 1),
    occurred_at: sometimes(fc.integer({ min: -SPAN, max: SPAN }), 1),
  })
  .map(({ request_id, occurred_at, ...event }) => ({
    ...Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined)),
    ...(request_id === undefined ? {} : { http: { request_id } }),
    ...(occurred_at === undefined ? {} : { occurred_at: new Date(START + occurred_at).toISOString() }),
  }));

const batchArb: fc.Arbitrary<Batch> = fc.record({
  tenant: fc.constantFrom(...TENANTS),
  format: fc.constantFrom<IndexFormat>("postings", "postings", "legacy", "both"),
  offset: fc.oneof(fc.constantFrom(...SHARED_OFFSETS), fc.integer({ min: 0, max: SPAN })),
  events: fc.array(eventArb, { minLength: 1, maxLength: 40, size: "max" }),
});

/** A filter value: mostly one the events carry, sometimes one none does. */
const valueArb = (pool: readonly string[], absent: string) =>
  fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fc.constant(absent) });

/**
 * A time bound: the time of one of the batches of the tenant searched (`batch`, modulo their count)
 * moved by `shift` ms, or (no batch) `shift` ms after START; written in UTC or in +02:00, which the
 * API normalizes.
 */
interface Bound {
  readonly batch?: number;
  readonly shift: number;
  readonly zoned: boolean;
}

const boundArb: fc.Arbitrary<Bound> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      batch: fc.nat(),
      // Mostly on a batch's time or a millisecond either side: where inclusive bounds are tested.
      shift: fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(0, -1, 1) },
        { weight: 1, arbitrary: fc.integer({ min: -30 * MINUTE, max: 30 * MINUTE }) },
      ),
      zoned: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      shift: fc.integer({ min: -10 * MINUTE, max: SPAN + 10 * MINUTE }),
      zoned: fc.boolean(),
    }),
  },
);

function instantOf(bound: Bound, batches: readonly Batch[], tenant: Tenant): number {
  if (bound.batch === undefined) return START + bound.shift;
  const own = batches.filter((batch) => batch.tenant === tenant);
  const near = own.length > 0 ? own : batches;
  return START + (near[bound.batch % near.length] as Batch).offset + bound.shift;
}

function isoAt(ms: number, zoned: boolean): string {
  return zoned ? `${new Date(ms + 2 * HOUR).toISOString().slice(0, -1)}+02:00` : new Date(ms).toISOString();
}

const FILTER_GROUPS = ["actor", "action", "resource", "outcome", "session_id", "request_id"] as const;

/** A search before its time bounds are placed among the batches' times. */
interface SearchPlan {
  readonly tenant: Tenant;
  /** The filters other than the bounds: at most three, often one or none. */
  readonly given: readonly (typeof FILTER_GROUPS)[number][];
  readonly actor: { readonly sub: string; readonly iss?: string };
  readonly action: string;
  readonly resource: { readonly type: string; readonly id: string };
  readonly outcome: string;
  readonly session_id: string;
  readonly request_id: string;
  readonly from?: Bound;
  readonly to?: Bound;
  readonly limit: number;
  readonly own: boolean;
}

const searchArb: fc.Arbitrary<SearchPlan> = fc.record({
  tenant: fc.constantFrom(...TENANTS),
  given: fc.oneof(
    { weight: 1, arbitrary: fc.constant([]) },
    { weight: 4, arbitrary: fc.subarray([...FILTER_GROUPS], { minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: fc.subarray([...FILTER_GROUPS], { minLength: 2, maxLength: 2 }) },
    { weight: 1, arbitrary: fc.subarray([...FILTER_GROUPS], { minLength: 3, maxLength: 3 }) },
  ),
  actor: fc.record({
    sub: valueArb([...ACTORS, REPORTER.sub], "nobody"),
    iss: sometimes(valueArb([...ISSUERS, REPORTER.iss], "https://idp-none.test"), 2),
  }),
  action: valueArb(ACTIONS, "never.done"),
  resource: fc.record({ type: fc.constantFrom(...RESOURCE_TYPES), id: valueArb(RESOURCE_IDS, "9") }),
  outcome: valueArb(EVENT_OUTCOMES, "unknown"),
  session_id: valueArb(SESSIONS, "s-none"),
  request_id: valueArb(REQUEST_IDS, "req-none"),
  from: fc.option(boundArb, { nil: undefined, freq: 2 }),
  to: fc.option(boundArb, { nil: undefined, freq: 2 }),
  limit: fc.integer({ min: 1, max: 7 }),
  own: fc.boolean(),
});

function searchOf(plan: SearchPlan, batches: readonly Batch[]): Search {
  const has = (group: (typeof FILTER_GROUPS)[number]) => plan.given.includes(group);
  const bounds = [plan.from, plan.to].map((bound) =>
    bound === undefined ? undefined : { ms: instantOf(bound, batches, plan.tenant), zoned: bound.zoned },
  );
  // from must not be later than to: a pair drawn the other way round is swapped.
  const [from, to] = bounds[0] && bounds[1] && bounds[0].ms > bounds[1].ms ? bounds.reverse() : bounds;
  const filters = {
    actor: has("actor") ? plan.actor.sub : undefined,
    actor_iss: has("actor") ? plan.actor.iss : undefined,
    action: has("action") ? plan.action : undefined,
    resource_type: has("resource") ? plan.resource.type : undefined,
    resource_id: has("resource") ? plan.resource.id : undefined,
    outcome: has("outcome") ? plan.outcome : undefined,
    session_id: has("session_id") ? plan.session_id : undefined,
    request_id: has("request_id") ? plan.request_id : undefined,
    from: from && isoAt(from.ms, from.zoned),
    to: to && isoAt(to.ms, to.zoned),
  };
  return {
    tenant: plan.tenant,
    filters: Object.fromEntries(Object.entries(filters).filter(([, value]) => value !== undefined)),
    limit: plan.limit,
    own: plan.own,
  };
}

// --- Tests ------------------------------------------------------------------------------------

describe("GET /v1/events: a search paged through is its brute-force answer", () => {
  it("property: batches out of time order, any filters and bounds, page sizes 1 to 7", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batchArb, { minLength: 1, maxLength: 10, size: "max" }),
        fc.array(searchArb, { minLength: 1, maxLength: 5 }),
        async (batches, plans) => {
          // Prepare
          const state = await seal(batches);
          for (const plan of plans) {
            // Act, Assess
            await checkSearch(state, searchOf(plan, batches));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("example: three batches whose times interleave, by actor, two a page", async () => {
    // Prepare: received at +2h, then +1h, then +2h again; another tenant's alice at +90min. The +1h
    // batch is indexed in format 1 only, the last in both formats.
    const alice = { sub: "alice", iss: ISSUERS[0] };
    const state = await seal([
      {
        tenant: "acme",
        offset: 2 * HOUR,
        events: [
          { action: "document.read", outcome: "success", actor: alice },
          { action: "document.read", outcome: "success", actor: { sub: "bob" } },
          { action: "document.write", outcome: "failure", actor: alice },
        ],
      },
      {
        tenant: "acme",
        offset: HOUR,
        format: "legacy",
        events: [
          { action: "user.login", outcome: "success", actor: alice },
          { action: "document.read", outcome: "success", actor: { sub: "carol" } },
        ],
      },
      {
        tenant: "other",
        offset: 90 * MINUTE,
        events: [{ action: "user.login", outcome: "success", actor: alice }],
      },
      {
        tenant: "acme",
        offset: 2 * HOUR,
        format: "both",
        events: [
          { action: "document.read", outcome: "denied", actor: alice },
          { action: "user.login", outcome: "success" },
        ],
      },
    ]);
    const [a0, , a2, b0, , , c0] = [...state.sealed.keys()];
    // Act
    const pages = await checkSearch(state, {
      tenant: "acme",
      filters: { actor: "alice" },
      limit: 2,
      own: true,
    });
    // Assess: by time first (the +1h batch, sealed second, leads), then by id.
    expect(pages).toEqual([
      [b0, a0],
      [a2, c0],
    ]);
  });

  it("example: inclusive bounds at batch times written in +02:00, one a page; no match is one empty page", async () => {
    // Prepare: the clock steps back between batches.
    const event = { action: "document.read", outcome: "success" };
    const state = await seal([
      { tenant: "other", offset: HOUR, events: [event, event] },
      { tenant: "acme", offset: 2 * HOUR, events: [event] },
      { tenant: "other", offset: 3 * HOUR, events: [event] },
      { tenant: "other", offset: 2 * HOUR, events: [event] },
    ]);
    const [, , , later, middle] = [...state.sealed.keys()];
    const bounds = { from: isoAt(START + 2 * HOUR, true), to: isoAt(START + 3 * HOUR, true) };
    // Act
    const bounded = await checkSearch(state, { tenant: "other", filters: bounds, limit: 1, own: false });
    const none = await checkSearch(state, {
      tenant: "other",
      filters: { action: "never.done" },
      limit: 3,
      own: true,
    });
    // Assess
    expect(bounded).toEqual([[middle], [later]]);
    expect(none).toEqual([[]]);
  });
});
