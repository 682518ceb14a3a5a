/**
 * Query benchmark against the emulator: latency p50/p99 of the query handler per filter on an index
 * of `events` (default 100,000) events, in index format 2 (pointers and postings, as written today)
 * and format 1 (pointers with every legacy GSI key, as written before postings), measured side by
 * side: two tables over one archive, each case's runs alternating between them, and each case's
 * answers required to be the same events from both.
 *
 * Loading method: the archive is written directly, not through the ingest handler: sealed batches
 * of 1000 records (the same sealBatch the write path uses) put as data objects; their pointer items
 * and postings (the same eventPointerItem and postingItems) written with the index store's batch
 * writer into the format-2 table, and the pointers with their legacy keys (test/support/format1-index.ts)
 * into the format-1 table. Links are not written: no query reads them. Every measured request goes
 * through the whole handler, including the audit.read event it archives before answering.
 */
import { dynamoClient, s3Client } from "../lambda/aws/clients";
import { documentClient, IndexStore } from "../lambda/aws/index-store";
import { S3ObjectStore } from "../lambda/aws/object-store";
import { createArchiveBucket, createIndexTable } from "../lambda/aws/provision";
import { sealBatch } from "../lambda/core/batch";
import { eventPointerItem, postingItems } from "../lambda/core/index-items";
import { buildRecord } from "../lambda/core/record";
import type { EventRecord, Principal } from "../lambda/core/schema";
import { createUlidGenerator } from "../lambda/core/ulid";
import { createQueryHandler, type QueryRouteKey } from "../lambda/handlers/query";
import { DEFAULT_SCOPES, type SealtrailConfig } from "../lambda/runtime/config";
import type { Emulator } from "../local/emulator";
import { format1PointerItem } from "../test/support/format1-index";
import { queryEvent } from "../test/support/query-event";

export interface QueryBenchOptions {
  /** Events in the index. @default 100_000 */
  readonly events?: number;
  /** What serves DynamoDB, for the note: "DynamoDB Local" when the index is there. @default "moto" */
  readonly indexServer?: string;
  /** Measured requests per case. @default 10 (moto reads a whole table per GSI Query: see the result's note) */
  readonly runs?: number;
}

export interface Latency {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface QueryCaseResult {
  readonly name: string;
  /** What format 1 reads for it (format 2 reads the postings of the most selective dimension). */
  readonly index: string;
  readonly query: Readonly<Record<string, string>>;
  readonly runs: number;
  /** Events in each answer (the same every run, and from both formats). */
  readonly results: number;
  /** Index format 2: pointers and postings. */
  readonly postings: Latency;
  /** Index format 1: every search on a GSI of the pointers. */
  readonly legacyGsis: Latency;
}

export interface QueryBenchResult {
  readonly method: string;
  /** What the numbers measure on this emulator. */
  readonly note: string;
  /** What served the index's Queries. */
  readonly indexServer: string;
  readonly events: number;
  readonly loadSeconds: number;
  readonly cases: readonly QueryCaseResult[];
}

const BATCH = 1000;
const START = Date.parse("2025-01-01T00:00:00.000Z");
/** One batch a minute: 100 batches span 100 minutes. */
const BATCH_INTERVAL_MS = 60_000;

const reporter: Principal = {
  sub: "svc-bench",
  iss: "https://issuer.bench",
  session_id: null,
  token_id: null,
  token_exp: null,
  token_iat: null,
  client_id: null,
  azp: null,
  aud: ["sealtrail"],
  roles: [],
  scopes: [DEFAULT_SCOPES.write],
  verified: true,
};

const OUTCOME_CYCLE = ["success", "failure", "denied"] as const;

/** Event i: 1000 actors, 20 actions, 10,000 resources, 5000 sessions, a request id each. */
function benchEvent(i: number) {
  return {
    action: `bench.action${i % 20}`,
    outcome: OUTCOME_CYCLE[i % OUTCOME_CYCLE.length] as (typeof OUTCOME_CYCLE)[number],
    actor: { sub: `user-${i % 1000}`, session_id: `session-${i % 5000}` },
    resource: { type: "document", id: `doc-${i % 10_000}` },
    http: { request_id: `request-${i}`, method: "GET", status: 200 },
    details: { i },
  };
}

function percentile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Number((sorted[Math.max(0, index)] as number).toFixed(2));
}

export async function benchQuery(
  emulator: Emulator,
  log: (line: string) => void,
  options: QueryBenchOptions = {},
): Promise<QueryBenchResult> {
  const total = options.events ?? 100_000;
  const runs = options.runs ?? 10;
  const indexServer = options.indexServer ?? "moto";
  const target = emulator.target;
  const s3 = s3Client(target);
  const dynamo = dynamoClient(target);
  const suffix = `query-${Date.now()}`;
  const config: SealtrailConfig = {
    bucket: `sealtrail-bench-${suffix}`,
    table: `sealtrail-bench-${suffix}`,
    chains: 2,
    scopes: DEFAULT_SCOPES,
    subjectIssuers: [],
    leaseSeconds: 300,
    aws: target,
  };
  const format1Config: SealtrailConfig = { ...config, table: `sealtrail-bench-${suffix}-format1` };
  await createArchiveBucket(s3, config.bucket);
  await createIndexTable(dynamo, config.table);
  await createIndexTable(dynamo, format1Config.table);
  const objects = new S3ObjectStore(s3, config.bucket);
  const index = new IndexStore(documentClient(dynamo), config.table);
  const format1Index = new IndexStore(documentClient(dynamo), format1Config.table);

  // Load: batches of 1000, a few at a time.
  const loadStarted = performance.now();
  const batches = Math.ceil(total / BATCH);
  const ids: string[] = [];
  const loadBatch = async (b: number) => {
    const receivedAt = new Date(START + b * BATCH_INTERVAL_MS);
    const newId = createUlidGenerator(() => receivedAt.getTime());
    const count = Math.min(BATCH, total - b * BATCH);
    const records: EventRecord[] = Array.from({ length: count }, (_, j) =>
      buildRecord(benchEvent(b * BATCH + j), {
        id: newId(),
        time: receivedAt.toISOString(),
        reporter,
        tenant: "default",
        ingest: { request_id: `bench-${b}`, source_ip: null, user_agent: null },
      }),
    );
    const batch = sealBatch(records, receivedAt);
    await objects.putIfAbsent(batch.key, batch.bytes, "application/x-ndjson");
    const pointers = records.map((record, leafIndex) =>
      eventPointerItem(record, {
        chain: "0",
        seq: b,
        linkKey: `chains/0/${String(b).padStart(20, "0")}.json`,
        linkHash: "0".repeat(64),
        batchKey: batch.key,
        leafIndex,
        leafHash: batch.leafHashes[leafIndex] as string,
      }),
    );
    const postings = postingItems({
      chain: "0",
      seq: b,
      batchKey: batch.key,
      records,
      leafHashes: batch.leafHashes,
    });
    await Promise.all([
      index.putItems([...pointers, ...postings]),
      format1Index.putItems(pointers.map(format1PointerItem)),
    ]);
    records.forEach((record, j) => {
      ids[b * BATCH + j] = record.id;
    });
  };
  const LOADERS = 4;
  let next = 0;
  await Promise.all(
    Array.from({ length: LOADERS }, async () => {
      while (next < batches) {
        const b = next++;
        await loadBatch(b);
        if ((b + 1) % 10 === 0) log(`query bench: loaded ${Math.min(total, (b + 1) * BATCH)} events`);
      }
    }),
  );
  const loadSeconds = Number(((performance.now() - loadStarted) / 1000).toFixed(1));
  log(`query bench: ${total} events loaded in ${loadSeconds} s`);

  const handlers = { postings: createQueryHandler(config), legacyGsis: createQueryHandler(format1Config) };
  const middle = new Date(START + Math.floor(batches / 2) * BATCH_INTERVAL_MS);
  const window = {
    from: middle.toISOString(),
    to: new Date(middle.getTime() + 5 * BATCH_INTERVAL_MS).toISOString(),
  };
  type Format = keyof typeof handlers;
  const FORMATS = Object.keys(handlers) as Format[];
  const call = async (
    format: Format,
    routeKey: QueryRouteKey,
    query: Record<string, string>,
    id?: string,
  ) => {
    const result = await handlers[format](queryEvent(routeKey, { query, id }));
    if (result.statusCode !== 200) throw new Error(`${routeKey} ${JSON.stringify(query)}: ${result.body}`);
    return JSON.parse(result.body as string) as { events?: unknown[]; next_cursor?: string };
  };
  // A cursor is authenticated by the deployment that issued it: each format's handler issues its own.
  const firstPage = { action: "bench.action3", limit: "100" };
  const secondPageCursors = Object.fromEntries(
    await Promise.all(
      FORMATS.map(async (format) => [
        format,
        (await call(format, "GET /v1/events", firstPage)).next_cursor as string,
      ]),
    ),
  ) as Record<Format, string>;

  const cases: Array<{
    name: string;
    index: string;
    query: Record<string, string>;
    route?: QueryRouteKey;
    id?: string;
  }> = [
    { name: "actor", index: "by-actor", query: { actor: "user-7" } },
    { name: "actor + time range", index: "by-actor", query: { actor: "user-7", ...window } },
    { name: "action (first page of 5000)", index: "by-action", query: { action: "bench.action3" } },
    {
      name: "action, second page (cursor)",
      index: "by-action",
      query: { action: "bench.action3", cursor: "<page 2>" },
    },
    { name: "resource", index: "by-resource", query: { resource_type: "document", resource_id: "doc-42" } },
    { name: "session_id", index: "by-session", query: { session_id: "session-42" } },
    { name: "request_id", index: "by-request", query: { request_id: "request-4242" } },
    { name: "time range only (8 shards)", index: "by-time", query: window },
    { name: "outcome only (8 shards + filter)", index: "by-time", query: { outcome: "denied", ...window } },
    {
      name: "action + outcome (filter expression)",
      index: "by-action",
      query: { action: "bench.action3", outcome: "failure" },
    },
    { name: "limit 1000 (time range)", index: "by-time", query: { ...window, limit: "1000" } },
    { name: "get one by id", index: "table key", query: {}, route: "GET /v1/events/{id}", id: ids[4242] },
  ];

  const results: QueryCaseResult[] = [];
  const idsOf = (answer: { events?: unknown[] }) =>
    JSON.stringify((answer.events ?? [answer]).map((event) => (event as { id: string }).id));
  const queryOf = (format: Format, query: Record<string, string>) =>
    query.cursor === undefined ? query : { ...query, cursor: secondPageCursors[format] };
  for (const item of cases) {
    const route = item.route ?? "GET /v1/events";
    const warm = await call("postings", route, queryOf("postings", item.query), item.id);
    const warmFormat1 = await call("legacyGsis", route, queryOf("legacyGsis", item.query), item.id);
    if (idsOf(warm) !== idsOf(warmFormat1))
      throw new Error(`${item.name}: format 1 and 2 answer differently`);
    const times: Record<Format, number[]> = { postings: [], legacyGsis: [] };
    for (let run = 0; run < runs; run++) {
      // Alternating which format goes first, so neither always follows the other's writes.
      for (const format of run % 2 === 0 ? FORMATS : [...FORMATS].reverse()) {
        const started = performance.now();
        await call(format, route, queryOf(format, item.query), item.id);
        times[format].push(performance.now() - started);
      }
    }
    const latency = (format: Format): Latency => {
      const sorted = [...times[format]].sort((a, b) => a - b);
      return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
    };
    const result: QueryCaseResult = {
      name: item.name,
      index: item.index,
      query: item.query,
      runs,
      results: warm.events?.length ?? 1,
      postings: latency("postings"),
      legacyGsis: latency("legacyGsis"),
    };
    const shown = (l: Latency) =>
      `p50 ${String(l.p50Ms).padStart(8)} ms  p99 ${String(l.p99Ms).padStart(8)} ms`;
    log(
      `query ${result.name.padEnd(38)} ${String(result.results).padStart(5)} events  ` +
        `postings ${shown(result.postings)}  |  format 1 (${result.index}) ${shown(result.legacyGsis)}`,
    );
    results.push(result);
  }
  return {
    method:
      "direct load: sealed batches of 1000 put as data objects + pointer items via the index store's batch writer; " +
      "measured through createQueryHandler (each read archives its audit.read event)",
    note:
      indexServer === "moto"
        ? "moto answers a GSI Query by reading every item of the table (O(table size) per Query), and the time " +
          "index issues one Query per shard, so these latencies are the emulator's, not DynamoDB's; compare cases " +
          "with each other and across runs on the same machine"
        : `${indexServer} answers the index's Queries from its indexes (SQLite); S3 reads and the audit.read ` +
          "event each request archives go to moto, on the same 2 cores: a real query engine's latency plus " +
          "this machine's, not DynamoDB's over a network",
    indexServer,
    events: total,
    loadSeconds,
    cases: results,
  };
}
