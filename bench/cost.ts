/**
 * Cost benchmark (issue 15, item 1): every AWS request the write path makes, counted by a meter on
 * the SDK clients the ingest handler is given (bench/cost/request-meter.ts), at batch sizes 1, 10,
 * 100 and 1000 of access-log events, multiplied by the dated list prices (bench/cost/prices.ts) into $
 * per million events; the storage they add, kept one and seven years; one query; and one full
 * verification of the 1M-event fixture from the verify benchmark's counts and times. Lambda duration
 * is the handler's time measured here against the emulator, an estimate of AWS's.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { dynamoClient, s3Client } from "../lambda/aws/clients";
import { createArchiveBucket, createIndexTable } from "../lambda/aws/provision";
import { createIngestHandler } from "../lambda/handlers/ingest";
import { createQueryHandler } from "../lambda/handlers/query";
import type { Emulator } from "../local/emulator";
import { postEventsEvent } from "../test/support/api-event";
import { format1PointerItem, isPointer, isPosting } from "../test/support/format1-index";
import { queryEvent } from "../test/support/query-event";
import { attributeItemOf, plainItemOf } from "./cost/dynamo-units";
import { GB, MONTHS, PRICES } from "./cost/prices";
import { type MeteredRequest, type RequestLine, RequestMeter, summarize } from "./cost/request-meter";
import { benchConfig, median } from "./ingest";
import type { VerifyBenchResult } from "./verify";

/** Memory of the ingest and query functions (lib/ingest-api.ts, lib/query.ts) and the verifier's. */
const FUNCTION_GB = { ingest: 1, query: 1, verifier: 2 } as const;
const MILLION = 1e6;

export interface UsagePerEvent {
  readonly s3Puts: number;
  readonly s3Lists: number;
  readonly s3Gets: number;
  readonly s3BytesStored: number;
  readonly writeUnits: number;
  readonly readUnits: number;
  readonly indexBytesStored: number;
  readonly kmsRequests: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  readonly apiRequests: number;
}

export interface WritePathCost {
  readonly batchSize: number;
  readonly requestsMeasured: number;
  readonly perEvent: UsagePerEvent;
  /** $ per million events written, by line. */
  readonly dollarsPerMillion: Record<string, number>;
  /** $ to keep a million events one and seven years (S3, index, its PITR). */
  readonly storagePerMillion: {
    readonly oneYear: Record<string, number>;
    readonly sevenYears: Record<string, number>;
  };
  /** One steady-state request's AWS requests, exactly. */
  readonly oneRequest: Record<string, RequestLine>;
  /**
   * The same requests counted as index format 1 (before postings) would have written them: each
   * pointer with its legacy GSI keys, no postings (test/support/format1-index.ts); all else alike.
   */
  readonly beforePostings: {
    readonly writeUnits: number;
    readonly indexBytesStored: number;
    readonly dollarsPerMillion: Record<string, number>;
    readonly storagePerMillion: WritePathCost["storagePerMillion"];
  };
}

export interface CostBenchResult {
  readonly prices: typeof PRICES;
  readonly writePath: WritePathCost[];
  readonly query?: {
    readonly perQuery: Record<string, number>;
    readonly requests: Record<string, RequestLine>;
  };
  readonly verifyMillion?: {
    readonly requests: Record<string, number>;
    readonly dollars: Record<string, number>;
  };
  readonly cloudtrailDataEventsPerMillion: number;
}

/**
 * Access-log events as the middleware sends them: few actors, sessions and actions per batch, and the
 * random ids (request, token, document) that keep real traffic from compressing to nothing.
 */
function accessLogEvents(count: number, round: number) {
  return Array.from({ length: count }, (_, i) => {
    const user = i % 5;
    const doc = randomBytes(6).toString("hex");
    return {
      action: i % 10 === 0 ? "document.update" : "http.request",
      outcome: "success" as const,
      actor: {
        sub: `user-${user}`,
        iss: "https://idp.example.com/",
        session_id: `sess-${user}-${round % 3}`,
        token_id: randomUUID(),
        token_exp: 1_800_000_000,
        token_iat: 1_799_996_400,
        azp: "web-app",
        roles: ["reader", "editor"],
      },
      resource: { type: "document", id: doc },
      http: {
        request_id: randomUUID(),
        method: "GET",
        endpoint: `/api/v1/documents/${doc}`,
        route: "/api/v1/documents/:id",
        status: 200,
        duration_ms: 12.5,
        source_ip: `198.51.100.${user}`,
        user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
      },
      details: { tenant_plan: "enterprise", feature: "documents" },
    };
  });
}

function usageOf(
  requests: readonly MeteredRequest[],
  events: number,
  handlerMs: number,
  apiRequests: number,
  invocations: number,
): UsagePerEvent {
  const count = (service: string, operations: string[]) =>
    requests.filter((r) => r.service === service && operations.includes(r.operation)).length / events;
  const sum = (pick: (r: MeteredRequest) => number) => requests.reduce((n, r) => n + pick(r), 0) / events;
  return {
    s3Puts: count("s3", ["PutObject", "CopyObject"]),
    s3Lists: count("s3", ["ListObjectsV2", "ListObjectVersions"]),
    s3Gets: count("s3", ["GetObject", "HeadObject"]),
    s3BytesStored: sum((r) => (r.service === "s3" ? (r.bytes ?? 0) : 0)),
    writeUnits: sum((r) => r.writeUnits),
    readUnits: sum((r) => r.readUnits),
    indexBytesStored: sum((r) => r.storedBytes ?? 0),
    kmsRequests: requests.filter((r) => r.service === "kms").length / events,
    lambdaInvocations: invocations / events,
    lambdaGbSeconds: ((handlerMs / 1000) * FUNCTION_GB.ingest) / events,
    apiRequests: apiRequests / events,
  };
}

const rounded = (value: number) => Number(value.toPrecision(4));

function dollarsOf(usage: UsagePerEvent): Record<string, number> {
  const lines = {
    lambdaDuration: usage.lambdaGbSeconds * PRICES.lambda.perGbSecond,
    lambdaRequests: usage.lambdaInvocations * PRICES.lambda.perRequest,
    apiGateway: usage.apiRequests * PRICES.apiGateway.perRequest,
    s3Requests:
      usage.s3Puts * PRICES.s3.perPut + usage.s3Lists * PRICES.s3.perList + usage.s3Gets * PRICES.s3.perGet,
    dynamodbWrites: usage.writeUnits * PRICES.dynamodb.perWriteUnit,
    dynamodbReads: usage.readUnits * PRICES.dynamodb.perReadUnit,
    kms: usage.kmsRequests * PRICES.kms.perRequest,
  };
  const total = Object.values(lines).reduce((n, v) => n + v, 0);
  return Object.fromEntries(
    Object.entries({ ...lines, total }).map(([name, perEvent]) => [name, rounded(perEvent * MILLION)]),
  );
}

function storageOf(usage: UsagePerEvent, months: number): Record<string, number> {
  const s3 = ((usage.s3BytesStored * MILLION) / GB) * PRICES.s3.perGbMonth * months;
  const indexGb = (usage.indexBytesStored * MILLION) / GB;
  const index = indexGb * PRICES.dynamodb.perGbMonth * months;
  const pitr = indexGb * PRICES.dynamodb.pitrPerGbMonth * months;
  return {
    s3: rounded(s3),
    index: rounded(index),
    indexPitr: rounded(pitr),
    total: rounded(s3 + index + pitr),
  };
}

/** Counts an item as format 1 writes it: a pointer with its legacy GSI keys, and no posting. */
export function asFormat1Item(
  item: Record<string, AttributeValue>,
): Record<string, AttributeValue> | undefined {
  const plain = plainItemOf(item);
  if (isPosting(plain)) return undefined;
  return isPointer(plain) ? attributeItemOf(format1PointerItem(plain)) : item;
}

async function archiveFor(emulator: Emulator, meters: readonly RequestMeter[], name: string) {
  const s3 = s3Client(emulator.target);
  const dynamo = dynamoClient(emulator.target);
  for (const meter of meters) {
    meter.attach(s3, "s3");
    meter.attach(dynamo, "dynamodb");
  }
  const suffix = `${name}-${Date.now()}`;
  const config = benchConfig(emulator.target, `sealtrail-cost-${suffix}`, `sealtrail-cost-${suffix}`);
  await createArchiveBucket(s3, config.bucket);
  await createIndexTable(dynamo, config.table);
  return { config, overrides: { s3, dynamo } };
}

async function writePathCost(
  emulator: Emulator,
  batchSize: number,
  rounds: number,
): Promise<{ cost: WritePathCost; archive: Awaited<ReturnType<typeof archiveFor>>; meter: RequestMeter }> {
  const meter = new RequestMeter();
  const format1 = new RequestMeter({ countItemAs: asFormat1Item });
  const archive = await archiveFor(emulator, [meter, format1], `b${batchSize}`);
  const ingest = createIngestHandler(archive.config, archive.overrides);
  // Warm-up: the chain lease and head are found once per function environment, not per request.
  for (let i = 0; i < 2; i++)
    await ingest(postEventsEvent({ body: { events: accessLogEvents(batchSize, -i - 1) } }));
  meter.reset();
  format1.reset();
  const times: number[] = [];
  let apiRequests = 0;
  let oneRequest: Record<string, RequestLine> = {};
  for (let round = 0; round < rounds; round++) {
    const before = meter.requests.length;
    const event = postEventsEvent({ body: { events: accessLogEvents(batchSize, round) } });
    apiRequests += Math.max(
      1,
      Math.ceil(Buffer.byteLength(event.body ?? "") / PRICES.apiGateway.meteringBytes),
    );
    const started = performance.now();
    const result = await ingest(event);
    times.push(performance.now() - started);
    if (result.statusCode !== 201) throw new Error(`ingest failed: ${result.body}`);
    if (round === rounds - 1) oneRequest = summarize(meter.requests.slice(before));
  }
  const events = batchSize * rounds;
  const handlerMs = median(times) * rounds;
  const perEvent = usageOf(meter.requests, events, handlerMs, apiRequests, rounds);
  const before = usageOf(format1.requests, events, handlerMs, apiRequests, rounds);
  return {
    cost: {
      batchSize,
      requestsMeasured: rounds,
      perEvent: Object.fromEntries(
        Object.entries(perEvent).map(([k, v]) => [k, rounded(v)]),
      ) as unknown as UsagePerEvent,
      dollarsPerMillion: dollarsOf(perEvent),
      storagePerMillion: {
        oneYear: storageOf(perEvent, MONTHS.oneYear),
        sevenYears: storageOf(perEvent, MONTHS.sevenYears),
      },
      oneRequest,
      beforePostings: {
        writeUnits: rounded(before.writeUnits),
        indexBytesStored: rounded(before.indexBytesStored),
        dollarsPerMillion: dollarsOf(before),
        storagePerMillion: {
          oneYear: storageOf(before, MONTHS.oneYear),
          sevenYears: storageOf(before, MONTHS.sevenYears),
        },
      },
    },
    archive,
    meter,
  };
}

/** One search (one page of 50 by actor), with the audit.read event it archives. */
async function queryCost(archive: Awaited<ReturnType<typeof archiveFor>>, meter: RequestMeter) {
  const query = createQueryHandler(archive.config, archive.overrides);
  const ask = () => query(queryEvent("GET /v1/events", { query: { actor: "user-1", limit: "50" } }));
  await ask(); // warm-up
  meter.reset();
  const started = performance.now();
  const result = await ask();
  const ms = performance.now() - started;
  if (result.statusCode !== 200) throw new Error(`query failed: ${result.body}`);
  const usage = usageOf(meter.requests, 1, ms, 1, 1);
  const dollars = dollarsOf({ ...usage, lambdaGbSeconds: (ms / 1000) * FUNCTION_GB.query });
  return {
    perQuery: Object.fromEntries(Object.entries(dollars).map(([k, v]) => [k, rounded(v / MILLION)])),
    requests: summarize(meter.requests),
  };
}

/** A full `verify` of the fixture: a GET of every data object, link and checkpoint, the listings, compute. */
function verifyCost(verify: VerifyBenchResult) {
  const { batches, checkpoints } = verify.fixture;
  const objects = 2 * batches + checkpoints;
  // Listing keys and listing versions, 1000 a page each.
  const lists = 2 * Math.ceil(objects / 1000);
  const seconds = verify.verifyOneCore.seconds;
  const dollars = {
    s3Gets: objects * PRICES.s3.perGet,
    s3Lists: lists * PRICES.s3.perList,
    lambdaDuration: seconds * FUNCTION_GB.verifier * PRICES.lambda.perGbSecond,
  };
  return {
    requests: { gets: objects, lists, computeSeconds: Number(seconds.toFixed(2)) },
    dollars: Object.fromEntries(
      Object.entries({ ...dollars, total: Object.values(dollars).reduce((n, v) => n + v, 0) }).map(
        ([k, v]) => [k, rounded(v)],
      ),
    ),
  };
}

export async function benchCost(
  emulator: Emulator,
  log: (line: string) => void,
  options: { verify?: VerifyBenchResult } = {},
): Promise<CostBenchResult> {
  const plan = [
    { batchSize: 1, rounds: 40 },
    { batchSize: 10, rounds: 20 },
    { batchSize: 100, rounds: 8 },
    { batchSize: 1000, rounds: 3 },
  ];
  const writePath: WritePathCost[] = [];
  let query: CostBenchResult["query"];
  for (const { batchSize, rounds } of plan) {
    const measured = await writePathCost(emulator, batchSize, rounds);
    writePath.push(measured.cost);
    const d = measured.cost.dollarsPerMillion;
    log(
      `cost batch ${String(batchSize).padStart(4)}: $${d.total} per million events written ` +
        `(DynamoDB writes $${d.dynamodbWrites}, ${measured.cost.perEvent.writeUnits} WRU/event; S3 $${d.s3Requests}; ` +
        `Lambda $${rounded((d.lambdaDuration ?? 0) + (d.lambdaRequests ?? 0))}; API $${d.apiGateway}); ` +
        `kept 1 year $${measured.cost.storagePerMillion.oneYear.total}, 7 years $${measured.cost.storagePerMillion.sevenYears.total}`,
    );
    const before = measured.cost.beforePostings;
    log(
      `     before postings (index format 1, same requests): $${before.dollarsPerMillion.total} per million ` +
        `(DynamoDB writes $${before.dollarsPerMillion.dynamodbWrites}, ${before.writeUnits} WRU/event); ` +
        `kept 1 year $${before.storagePerMillion.oneYear.total}, 7 years $${before.storagePerMillion.sevenYears.total}`,
    );
    if (batchSize === 100) query = await queryCost(measured.archive, measured.meter);
  }
  if (query) log(`cost of one query (a page of 50, its audit.read archived): $${query.perQuery.total}`);
  const verifyMillion = options.verify ? verifyCost(options.verify) : undefined;
  if (verifyMillion)
    log(`cost of verifying ${options.verify?.fixture.events} events: $${verifyMillion.dollars.total}`);
  const cloudtrail = rounded(PRICES.cloudtrail.perDataEvent * MILLION);
  log(`beside: CloudTrail data events $${cloudtrail} per million`);
  return { prices: PRICES, writePath, query, verifyMillion, cloudtrailDataEventsPerMillion: cloudtrail };
}
