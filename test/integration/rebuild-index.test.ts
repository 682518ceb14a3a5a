/**
 * `sealtrail rebuild-index` on the emulator. A varied archive is written through the real ingest
 * handler (three writers, so three chains; two tenants; a TTL), its index rebuilt into empty tables
 * from the bucket alone, and then every filter of `GET /v1/events` (and every event by id, proofs,
 * unknown ids) is asked of the original index and of the rebuilt one: the answers are the same, page by
 * page, order, counts and cursors included, and the rebuilt items are the ingest path's own.
 *
 * The read path is the real query service; its audit.read write is recorded instead of archived, so
 * that reading never changes the archive both indexes are built from (the recorded audits, which carry
 * the filters and counts, are compared too).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runRebuildIndex } from "../../cli/rebuild-index";
import { S3ArchiveSource } from "../../lambda/aws/archive-source";
import { dynamoClient, s3Client } from "../../lambda/aws/clients";
import { documentClient, IndexStore } from "../../lambda/aws/index-store";
import { S3ObjectStore } from "../../lambda/aws/object-store";
import { createIndexTable } from "../../lambda/aws/provision";
import { DynamoRebuildStateStore } from "../../lambda/aws/rebuild-state-store";
import { ListEventsQuerySchema } from "../../lambda/core/api-schema";
import { hmacSha256Key } from "../../lambda/core/cursor";
import { serializeLink } from "../../lambda/core/link";
import { CHAINS_PREFIX, linkKey, linkPrefix } from "../../lambda/core/paths";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import { queryRequestOf } from "../../lambda/handlers/query";
import type { Receipt } from "../../lambda/ingest/ingest-service";
import { rebuildExitCode, rebuildIndex } from "../../lambda/ingest/rebuild-index";
import { proofProvider } from "../../lambda/proof/proof-service";
import { LatestCheckpointFinder } from "../../lambda/query/checkpoints";
import { QueryService } from "../../lambda/query/query-service";
import type { SealtrailConfig } from "../../lambda/runtime/config";
import { postEventsEvent, WRITE_CLAIMS } from "../support/api-event";
import { tableItems } from "../support/archive-state";
import { createTestArchive, type TestArchive, uniqueName } from "../support/aws";
import { createTestSigner } from "../support/checkpoint";
import { sealtrail } from "../support/cli";
import { testConfig } from "../support/config";
import { injectFaults } from "../support/faults";
import { type QueryEventOptions, queryEvent, READ_CLAIMS } from "../support/query-event";

const START = Date.parse("2025-06-01T00:00:00.000Z");
const TTL_DAYS = 90;
const ACME = { ...READ_CLAIMS, tenant: "acme" };
const ADMIN = { ...READ_CLAIMS, sub: "root", tenant: "ops", scope: "sealtrail/read sealtrail/admin" };

/** Event n of writer w: every searched attribute varies, some are absent, some need escaping. */
function eventOf(w: number, n: number): Record<string, unknown> {
  const i = w * 100 + n;
  const event: Record<string, unknown> = {
    action: ["document.read", "document.update", "user.login", "permission.grant"][i % 4],
    outcome: ["success", "failure", "denied"][i % 3],
    details: { i },
  };
  if (i % 5 !== 0) {
    event.actor = {
      sub: ["alice", "bob#1", "carol%", "dörte"][i % 4],
      ...(i % 2 === 0 ? { iss: "https://idp.a" } : { iss: "https://idp.b" }),
      ...(i % 3 !== 0 ? { session_id: `sess-${i % 4}` } : {}),
    };
  }
  if (i % 4 !== 3) event.resource = { type: "document", id: String(i % 3) };
  if (i % 2 === 0) event.http = { request_id: `req-${i % 6}`, method: "GET" };
  return event;
}

/** Three writers, each on its own chain, two tenants, batches one second apart. */
async function ingestArchive(config: SealtrailConfig): Promise<Receipt[]> {
  const receipts: Receipt[] = [];
  let clock = START;
  for (let w = 0; w < 3; w++) {
    const ingest = createIngestHandler(config, { now: () => clock });
    for (let b = 0; b < 4; b++) {
      clock += 1000;
      const events = Array.from({ length: 1 + ((w + b) % 4) }, (_, n) => eventOf(w, b * 10 + n));
      const tenant = (w + b) % 3 === 0 ? "globex" : "acme";
      const result = await ingest(postEventsEvent({ body: { events }, claims: { ...WRITE_CLAIMS, tenant } }));
      expect(result.statusCode, result.body as string).toBe(201);
      receipts.push(JSON.parse(result.body as string) as Receipt);
    }
  }
  expect(new Set(receipts.map((r) => r.chain))).toEqual(new Set(["0", "1", "2"]));
  return receipts;
}

interface Reader {
  readonly service: QueryService;
  /** The audit.read events the service would have archived, in order. */
  readonly audits: unknown[];
}

/** The real query service over `table`, its audit write recorded; one cursor key for every reader. */
function readerOf(archive: TestArchive, config: SealtrailConfig, table: string): Reader {
  const objects = new S3ObjectStore(archive.s3, archive.bucket);
  const doc = documentClient(archive.dynamo);
  const checkpoints = new LatestCheckpointFinder(objects);
  const audits: unknown[] = [];
  const silent = { info: () => {}, warn: () => {}, error: () => {} };
  const service = new QueryService({
    config: { ...config, table },
    objects,
    index: new IndexStore(doc, table),
    cursorKey: hmacSha256Key(Buffer.alloc(32, 7)),
    checkpoints,
    archive: async (caller, events) => {
      audits.push({ caller, events });
    },
    proof: proofProvider({
      source: new S3ArchiveSource(archive.s3, archive.bucket),
      markers: new IndexStore(doc, table),
      newestCheckpointKey: async () => (await checkpoints.find())?.key,
    }),
    logger: silent,
  });
  return { service, audits };
}

type Route = "list" | "get" | "proof";

/** One request of a route, with a request id of its own so both readers' audits are comparable. */
async function ask(reader: Reader, route: Route, options: QueryEventOptions): Promise<unknown> {
  const routeKey = {
    list: "GET /v1/events",
    get: "GET /v1/events/{id}",
    proof: "GET /v1/events/{id}/proof",
  } as const;
  const request = queryRequestOf(queryEvent(routeKey[route], options));
  const { service } = reader;
  if (route === "list") return service.listEvents(request);
  if (route === "get") return service.getEvent(request, options.id);
  return service.eventProof(request, options.id);
}

/** Every page of a list query, `limit` at a time, as answered (status, events, cursor). */
async function allPages(
  reader: Reader,
  query: Record<string, string>,
  claims: Record<string, string>,
  requestIds: string,
): Promise<unknown[]> {
  const pages: Array<{ status: number; body: { next_cursor?: string } }> = [];
  let cursor: string | undefined;
  do {
    const page = (await ask(reader, "list", {
      query: { ...query, limit: "4", ...(cursor ? { cursor } : {}) },
      claims,
      requestId: `${requestIds}-${pages.length}`,
    })) as { status: number; body: { next_cursor?: string } };
    pages.push(page);
    cursor = page.status === 200 ? page.body.next_cursor : undefined;
  } while (cursor && pages.length < 100);
  return pages;
}

/** The items derived from the archive (pointers, markers, head hints), in key order. */
async function derivedItems(archive: TestArchive, table: string): Promise<Record<string, unknown>[]> {
  const derived = /^(event|indexed|head)#/;
  const items = await tableItems({ ...archive, table });
  return items
    .filter((item) => derived.test(String(item.pk)))
    .sort((a, b) => `${a.pk} ${a.sk}`.localeCompare(`${b.pk} ${b.sk}`));
}

async function emptyTable(archive: TestArchive): Promise<string> {
  const table = uniqueName("sealtrail-rebuilt");
  await createIndexTable(archive.dynamo, table);
  return table;
}

function cliArgs(archive: TestArchive, table: string): string[] {
  return [
    "--bucket",
    archive.bucket,
    "--table",
    table,
    "--endpoint",
    archive.target.endpoint as string,
    "--region",
    archive.target.region,
  ];
}

/** Every filter of GET /v1/events, alone and combined, as each kind of reader asks it. */
const WINDOW = { from: new Date(START + 3000).toISOString(), to: new Date(START + 9000).toISOString() };
const LIST_CASES: Array<{ name: string; query: Record<string, string>; claims: Record<string, string> }> = [
  { name: "no filter (the sharded time index)", query: {}, claims: ACME },
  { name: "actor", query: { actor: "alice" }, claims: ACME },
  { name: "actor needing escapes", query: { actor: "bob#1" }, claims: ACME },
  { name: "actor + actor_iss", query: { actor: "carol%", actor_iss: "https://idp.b" }, claims: ACME },
  { name: "action", query: { action: "user.login" }, claims: ACME },
  { name: "resource", query: { resource_type: "document", resource_id: "1" }, claims: ACME },
  { name: "outcome", query: { outcome: "denied" }, claims: ACME },
  { name: "session_id", query: { session_id: "sess-2" }, claims: ACME },
  { name: "request_id", query: { request_id: "req-4" }, claims: ACME },
  { name: "from", query: { from: WINDOW.from }, claims: ACME },
  { name: "to", query: { to: WINDOW.to }, claims: ACME },
  { name: "from + to", query: WINDOW, claims: ACME },
  {
    name: "action + outcome + range",
    query: { action: "document.read", outcome: "success", ...WINDOW },
    claims: ACME,
  },
  {
    name: "actor + session + resource",
    query: { actor: "dörte", session_id: "sess-1", resource_type: "document", resource_id: "0" },
    claims: ACME,
  },
  { name: "tenant (admin, another tenant)", query: { tenant: "globex" }, claims: ADMIN },
  {
    name: "tenant + actor + range (admin)",
    query: { tenant: "globex", actor: "alice", ...WINDOW },
    claims: ADMIN,
  },
  { name: "an asserted actor nobody has", query: { actor: "nobody" }, claims: ACME },
];

describe("sealtrail rebuild-index", () => {
  let archive: TestArchive;
  let config: SealtrailConfig;
  let receipts: Receipt[];
  /** The index the ingest path wrote, and one rebuilt from the bucket by the CLI. */
  let original: Reader;
  let rebuiltTable: string;
  let rebuilt: Reader;

  beforeAll(async () => {
    archive = await createTestArchive();
    // Three chains for three writers: each leases its own.
    config = testConfig(archive, { chains: 3, tenantClaim: "tenant", indexTtlDays: TTL_DAYS });
    receipts = await ingestArchive(config);
    await (await createTestSigner(archive)).run();
    original = readerOf(archive, config, archive.table);
    rebuiltTable = await emptyTable(archive);
    const lines: string[] = [];
    const code = await runRebuildIndex(
      {
        bucket: archive.bucket,
        table: rebuiltTable,
        endpoint: archive.target.endpoint,
        region: archive.target.region,
        concurrency: 2,
        indexTtlDays: TTL_DAYS,
      },
      (line) => lines.push(line),
    );
    expect(lines.at(-1)).toMatch(/^REBUILT: 3 chains, 12 links indexed \(12 by this run, 0 before\)/);
    expect(code).toBe(0);
    rebuilt = readerOf(archive, config, rebuiltTable);
  });

  it("writes the ingest path's own items: pointers, markers and head hints, TTL included", async () => {
    const items = await derivedItems(archive, rebuiltTable);
    expect(items.length).toBeGreaterThan(receipts.length);
    expect(items.some((item) => item.expires_at !== undefined)).toBe(true);
    expect(items).toEqual(await derivedItems(archive, archive.table));
  });

  it("covers every filter of GET /v1/events", () => {
    const filters = Object.keys(ListEventsQuerySchema.shape).filter(
      (name) => !["limit", "cursor"].includes(name),
    );
    const asked = new Set(LIST_CASES.flatMap((c) => Object.keys(c.query)));
    expect(filters.filter((name) => !asked.has(name))).toEqual([]);
  });

  it.each(LIST_CASES)("answers the filter $name as the original index did, page by page", async ({
    name,
    query,
    claims,
  }) => {
    const id = `list-${name}`;
    const expected = await allPages(original, query, claims, id);
    const answered = await allPages(rebuilt, query, claims, id);
    expect(answered).toEqual(expected);
    expect((expected[0] as { status: number }).status).toBe(200);
  });

  it("answers every event by id, its proof, and unknown ids as the original index did", async () => {
    const ids = receipts.flatMap((receipt) => receipt.ids);
    for (const [route, id, claims] of [
      ...ids.map((eventId) => ["get", eventId, ADMIN] as const),
      ...ids.slice(0, 4).map((eventId) => ["proof", eventId, ADMIN] as const),
      ["get", "01JZZZZZZZZZZZZZZZZZZZZZZZ", ACME] as const,
    ]) {
      // The admin reads any tenant's event only with tenant=: ask with the event's own tenant.
      const asAdmin = claims === ADMIN ? { query: { tenant: "acme" } } : {};
      const options = { id, claims: { ...claims }, requestId: `${route}-${id}`, ...asAdmin };
      const expected = (await ask(original, route, options)) as { status: number };
      expect(await ask(rebuilt, route, options), `${route} ${id}`).toEqual(expected);
      if (expected.status === 404) {
        // Another tenant's id is unknown to this one: ask with globex too.
        const globex = { ...options, query: { tenant: "globex" }, requestId: `${options.requestId}-g` };
        expect(await ask(rebuilt, route, globex)).toEqual(await ask(original, route, globex));
      }
    }
  });

  it("recorded the same audit.read events for the same reads", () => {
    expect(rebuilt.audits.length).toBeGreaterThan(LIST_CASES.length);
    expect(rebuilt.audits).toEqual(original.audits);
  });

  it("continues an interrupted rebuild to the same index, and says it continued", async () => {
    const table = await emptyTable(archive);
    // The first run: chains 1 and 2 cannot be listed, and chain 0's last marker is lost after its
    // items were written (as if the process died between the two writes).
    const s3 = s3Client(archive.target);
    injectFaults(s3, [
      {
        command: "ListObjectsV2Command",
        match: (input) => input.Prefix === linkPrefix("1") || input.Prefix === linkPrefix("2"),
        kind: "error",
        times: 1000,
      },
    ]);
    const dynamo = dynamoClient(archive.target);
    const lastOfChain0 = Math.max(...receipts.filter((r) => r.chain === "0").map((r) => r.seq));
    injectFaults(dynamo, [
      {
        command: "PutItemCommand",
        match: (input) => {
          const item = input.Item as Record<string, unknown> | undefined;
          return item?.chain === "0" && item.seq === lastOfChain0 && String(item.pk).startsWith("indexed#");
        },
        kind: "error",
        times: 1000,
      },
    ]);
    const doc = documentClient(dynamo);
    const first = await rebuildIndex({
      objects: new S3ObjectStore(s3, archive.bucket),
      index: new IndexStore(doc, table),
      state: new DynamoRebuildStateStore(doc, table),
      bucket: archive.bucket,
      listChains: () => new S3ArchiveSource(s3, archive.bucket).listChildren(CHAINS_PREFIX),
      indexTtlDays: TTL_DAYS,
      concurrency: 1,
    });
    expect(first).toMatchObject({ complete: false, chainsFailed: ["1", "2"], linksFailed: 1 });
    expect(rebuildExitCode(first)).toBe(2);

    const lines: string[] = [];
    const code = await runRebuildIndex(
      {
        bucket: archive.bucket,
        table,
        endpoint: archive.target.endpoint,
        region: archive.target.region,
        concurrency: 3,
        indexTtlDays: TTL_DAYS,
      },
      (line) => lines.push(line),
    );

    expect(code).toBe(0);
    const chain0 = receipts.filter((r) => r.chain === "0").length;
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^REBUILT: 3 chains, 12 links indexed \\(${12 - chain0 + 1} by this run, ${chain0 - 1} before\\).*continuing the rebuild started`,
      ),
    );
    expect(await derivedItems(archive, table)).toEqual(await derivedItems(archive, rebuiltTable));
  });

  it("refuses a table that is not empty (exit 2), and writes nothing to it", async () => {
    const before = await tableItems(archive);

    const run = await sealtrail(["rebuild-index", ...cliArgs(archive, archive.table)]);

    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/not empty and no rebuild-index run started it/);
    expect(run.stderr).toMatch(/nothing was written/);
    expect(await tableItems(archive)).toEqual(before);
  });

  it("refuses to rebuild a finished rebuild again (exit 2), and writes nothing", async () => {
    const before = await tableItems({ ...archive, table: rebuiltTable });

    const run = await sealtrail(["rebuild-index", ...cliArgs(archive, rebuiltTable)]);

    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(/rebuilt from s3:\/\/\S+ already/);
    expect(await tableItems({ ...archive, table: rebuiltTable })).toEqual(before);
  });

  it("names a bucket or a table that does not exist, and writes nothing", async () => {
    const flags = {
      bucket: archive.bucket,
      table: uniqueName("no-such-table"),
      endpoint: archive.target.endpoint,
      region: archive.target.region,
      concurrency: 2,
    };
    await expect(runRebuildIndex(flags, () => {})).rejects.toThrow(
      new RegExp(`the table ${flags.table} does not exist: create it`),
    );
    const table = await emptyTable(archive);
    const noBucket = { ...flags, bucket: uniqueName("no-such-bucket"), table };
    await expect(runRebuildIndex(noBucket, () => {})).rejects.toThrow(
      new RegExp(`the bucket ${noBucket.bucket} does not exist`),
    );
    expect(await tableItems({ ...archive, table })).toEqual([]);
  });

  it("reports a link whose batch is not in the bucket, indexes every other link, and exits 1", async () => {
    const other = await createTestArchive();
    const otherConfig = testConfig(other, { chains: 2 });
    const ingest = createIngestHandler(otherConfig);
    const first = JSON.parse((await ingest(postEventsEvent())).body as string) as Receipt;
    // The next link of the chain names a data object nobody wrote (the bucket takes new keys only).
    const forged = serializeLink({
      v: 1,
      chain: first.chain,
      seq: first.seq + 1,
      prev: first.link_hash,
      time: new Date().toISOString(),
      batch: {
        key: `events/dt=2025-06-01/hr=00/${"ab".repeat(32)}.jsonl.gz`,
        sha256: "ab".repeat(32),
        root: "cd".repeat(32),
        count: 1,
        first_time: "2025-06-01T00:00:00.000Z",
        last_time: "2025-06-01T00:00:00.000Z",
      },
    });
    const objects = new S3ObjectStore(other.s3, other.bucket);
    expect(await objects.putIfAbsent(linkKey(first.chain, first.seq + 1), forged, "application/json")).toBe(
      "created",
    );
    const table = await emptyTable(other);

    const run = await sealtrail(["rebuild-index", ...cliArgs(other, table)]);

    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(
      /PROBLEM batch object missing or altered: not indexed; run sealtrail verify \[chains\/\d+\/0+1\.json\]/,
    );
    expect(run.stdout).toMatch(/REBUILT WITH PROBLEMS: 1 chains, 1 links indexed .*1 links not indexed/);
    const pointers = (await tableItems({ ...other, table })).filter((item) => item.sk === "event");
    expect(pointers.map((item) => item.event_id)).toEqual(first.ids);
  });
});
