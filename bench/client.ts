/**
 * @sealtrail/client benchmark, measured side by side in one run:
 *
 * - middleware overhead: requests/s of the example app (examples/express-api, GET of a document with a
 *   verified JWT) with and without the access-log middleware, autocannon on loopback, interleaved
 *   rounds in alternating order. The audit client sends to a stub that answers every batch with a
 *   receipt at once, so the number is the app's own cost (middleware, queue, batching, sending), not
 *   sealtrail's sealing competing for the same cores. Target: at most 5% fewer requests/s.
 * - delivery: events/s delivered to local mode (the real ingest handler on the emulator) by one client
 *   batching (100 per request, the default) against one event per request, interleaved rounds.
 * - memory per queued event: heap growth while a typical access-log event waits 10,000 times in the
 *   queue of a client whose sealtrail never answers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { accessLogEvent } from "../client/src/access-log";
import { type AuditClient, type AuditEvent, createAuditClient } from "../client/src/index";
import { createExampleApp } from "../examples/express-api/app";
import { localIdentityProvider } from "../examples/express-api/identity";
import { dynamoClient, s3Client } from "../lambda/aws/clients";
import { createArchiveBucket, createIndexTable } from "../lambda/aws/provision";
import { DEFAULT_CHAINS, DEFAULT_LEASE_SECONDS, DEFAULT_SCOPES } from "../lambda/config";
import { createIngestHandler } from "../lambda/handlers/ingest";
import type { Emulator } from "../lambda/local/emulator";
import { LOCAL_AUDIENCE, loadOrCreateIssuerKey, localIssuer } from "../lambda/local/issuer";
import { startLocalServer } from "../lambda/local/server";

export interface ClientBenchOptions {
  /** Seconds of load per arm and round. @default 5 */
  readonly seconds?: number;
  /** Interleaved rounds of each comparison. @default 3 */
  readonly rounds?: number;
  /** autocannon connections. @default 10 */
  readonly connections?: number;
  /** Events per delivery round. @default 2000 */
  readonly events?: number;
}

export interface ClientBenchResult {
  readonly middleware: {
    readonly seconds: number;
    readonly connections: number;
    readonly rounds: number;
    readonly withoutRequestsPerSecond: number[];
    readonly withRequestsPerSecond: number[];
    /** 1 - median(with) / median(without): the share of requests/s the middleware costs. */
    readonly overhead: number;
    readonly target: 0.05;
    readonly withinTarget: boolean;
  };
  readonly delivery: {
    /** Events per round, batched. */
    readonly events: number;
    /** Events per round, one per request (fewer: each is a whole request). */
    readonly oneEventPerRequestEvents: number;
    readonly batchedEventsPerSecond: number[];
    readonly oneEventPerRequestEventsPerSecond: number[];
    /** median(batched) / median(one per request). */
    readonly speedup: number;
  };
  readonly memory: { readonly queuedEvents: number; readonly bytesPerQueuedEvent: number };
}

interface AutocannonResult {
  readonly requests: { readonly average: number };
  readonly non2xx: number;
  readonly errors: number;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  headers: Record<string, string>;
}) => Promise<AutocannonResult>;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

const round1 = (value: number) => Math.round(value * 10) / 10;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A sealtrail stand-in that seals nothing and answers each batch at once with a receipt of the right shape. */
async function startReceiptStub(): Promise<{ url: string; server: Server }> {
  const hex = "0".repeat(64);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const count = (JSON.parse(Buffer.concat(chunks).toString()) as { events: unknown[] }).events.length;
      const receipt = {
        ids: Array.from({ length: count }, (_, i) => `01J0000000000000000000${String(i).padStart(4, "0")}`),
        chain: "0",
        seq: 0,
        link_key: "chains/0/00000000000000000000.json",
        link_hash: hex,
        batch: { key: `events/stub/${hex}.jsonl.gz`, root: hex, count },
        leaf_indexes: Array.from({ length: count }, (_, i) => i),
      };
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify(receipt));
    });
  });
  return { url: await listen(server), server };
}

/** A typical access-log event, as the middleware builds it. */
function typicalAccessEvent(i: number): AuditEvent {
  return accessLogEvent({
    startedAt: Date.now(),
    durationMs: 3.25,
    requestId: `0b6e6a3c-5a7e-4c61-9d6e-${String(i).padStart(12, "0")}`,
    method: "GET",
    route: "/api/v1/documents/:id",
    path: `/api/v1/documents/${i}`,
    status: 200,
    aborted: false,
    sourceIp: "203.0.113.7",
    userAgent:
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    header: () => undefined,
    claims: {
      sub: `user-${i % 500}`,
      iss: "https://idp.example.com/realms/main",
      sid: `session-${i % 2000}`,
      jti: `jti-${i}`,
      exp: 1_790_000_600,
      iat: 1_790_000_000,
      azp: "documents-web",
      roles: ["editor", "viewer"],
    },
  });
}

/** Heap growth per event while `count` events wait in a client whose sealtrail never answers. */
async function memoryPerQueuedEvent(count: number): Promise<number> {
  setFlagsFromString("--expose_gc");
  const gc = runInNewContext("gc") as () => void;
  const silent = createServer(() => {});
  const url = await listen(silent);
  const events = Array.from({ length: count }, (_, i) => typicalAccessEvent(i));
  const client = createAuditClient({
    url,
    token: "benchmark-token-not-used",
    maxQueueEvents: count + 1000,
    maxBatchEvents: 1000,
    maxConcurrentBatches: 1,
    maxBatchDelayMs: 3_600_000,
    logger: { warn: () => {}, error: () => {} },
    onDrop: () => {},
  });
  gc();
  const before = process.memoryUsage().heapUsed;
  for (const event of events) client.record(event);
  gc();
  const after = process.memoryUsage().heapUsed;
  await client.shutdown({ timeoutMs: 10 });
  await close(silent);
  // The events themselves existed before they were recorded: this is what the queue adds.
  return Math.round((after - before) / count);
}

async function requestsPerSecond(
  autocannon: Autocannon,
  url: string,
  token: string,
  options: Required<ClientBenchOptions>,
) {
  const result = await autocannon({
    url: `${url}/api/v1/documents/42`,
    connections: options.connections,
    duration: options.seconds,
    headers: { authorization: `Bearer ${token}` },
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`benchmark requests failed: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return result.requests.average;
}

async function deliveryRate(client: AuditClient, events: number, round: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < events; i++) client.record(typicalAccessEvent(round * events + i));
  await client.flush();
  const seconds = (performance.now() - start) / 1000;
  const { dropped, rejected } = client.stats();
  if (dropped > 0 || rejected > 0)
    throw new Error(`delivery lost events: ${dropped} dropped, ${rejected} rejected`);
  return events / seconds;
}

export async function benchClient(
  emulator: Emulator,
  log: (line: string) => void,
  overrides: ClientBenchOptions = {},
): Promise<ClientBenchResult> {
  const options: Required<ClientBenchOptions> = {
    seconds: 5,
    rounds: 3,
    connections: 10,
    events: 2000,
    ...overrides,
  };
  const autocannon = ((await import("autocannon" as string)) as { default: Autocannon }).default;
  const stateDir = mkdtempSync(join(tmpdir(), "sealtrail-bench-client-"));
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // Local mode in-process: the real ingest handler behind the local authorizer, on the emulator.
    const target = { endpoint: emulator.endpoint, region: emulator.region };
    const suffix = Math.random().toString(16).slice(2, 10);
    const bucket = `sealtrail-bench-client-${suffix}`;
    const table = `sealtrail-bench-client-${suffix}`;
    await createArchiveBucket(s3Client(target), bucket);
    await createIndexTable(dynamoClient(target), table);
    const key = await loadOrCreateIssuerKey(stateDir);
    const ingest = createIngestHandler({
      bucket,
      table,
      chains: DEFAULT_CHAINS,
      scopes: DEFAULT_SCOPES,
      subjectIssuers: [],
      leaseSeconds: DEFAULT_LEASE_SECONDS,
      aws: target,
    });
    const sealtrail = await startLocalServer({
      port: 0,
      issuer: { publicJwks: () => key.publicJwks() },
      audience: LOCAL_AUDIENCE,
      routes: { "POST /v1/events": { scopes: [DEFAULT_SCOPES.write], handler: ingest } },
      log: () => {},
    });
    cleanups.push(() => sealtrail.close());
    const issuer = localIssuer(key, { issuer: sealtrail.issuer });
    const identity = localIdentityProvider(issuer, sealtrail.jwksUrl);
    const writeToken = await issuer.signToken({ scope: DEFAULT_SCOPES.write, sub: "bench" });

    // -- middleware overhead ------------------------------------------------------------------
    const stub = await startReceiptStub();
    cleanups.push(() => close(stub.server));
    const apps: Record<"with" | "without", { url: string; audit: AuditClient }> = {} as never;
    for (const arm of ["with", "without"] as const) {
      const audit = createAuditClient({ url: stub.url, token: writeToken });
      const server = createServer(createExampleApp({ audit, identity, accessLog: arm === "with" }));
      apps[arm] = { url: await listen(server), audit };
      cleanups.push(async () => {
        await close(server);
        await audit.shutdown({ timeoutMs: 1000 });
      });
    }
    const userToken = await identity.issue({ sub: "alice", sid: "bench-session", roles: ["owner"] });
    // Warm-up: JIT, JWKS fetch, keep-alive connections.
    for (const arm of ["with", "without"] as const) {
      await requestsPerSecond(autocannon, apps[arm].url, userToken, { ...options, seconds: 1 });
    }
    const measured = { with: [] as number[], without: [] as number[] };
    for (let round = 0; round < options.rounds; round++) {
      const order = round % 2 === 0 ? (["without", "with"] as const) : (["with", "without"] as const);
      for (const arm of order) {
        measured[arm].push(round1(await requestsPerSecond(autocannon, apps[arm].url, userToken, options)));
      }
      log(
        `client middleware round ${round + 1}: without ${measured.without.at(-1)} req/s, with ${measured.with.at(-1)} req/s`,
      );
    }
    const overhead = Math.round((1 - median(measured.with) / median(measured.without)) * 1000) / 1000;

    // -- delivery -----------------------------------------------------------------------------
    const batched = createAuditClient({ url: sealtrail.url, token: writeToken });
    const single = createAuditClient({ url: sealtrail.url, token: writeToken, maxBatchEvents: 1 });
    cleanups.push(
      () => batched.shutdown({ timeoutMs: 1000 }),
      () => single.shutdown({ timeoutMs: 1000 }),
    );
    const delivery = { batched: [] as number[], single: [] as number[] };
    // One event per request is slow: fewer events keep its rounds as long as the batched ones.
    const singleEvents = Math.max(50, Math.round(options.events / 20));
    for (let round = 0; round < options.rounds; round++) {
      delivery.batched.push(round1(await deliveryRate(batched, options.events, round)));
      delivery.single.push(round1(await deliveryRate(single, singleEvents, round)));
      log(
        `client delivery round ${round + 1}: batched ${delivery.batched.at(-1)} events/s, one per request ${delivery.single.at(-1)} events/s`,
      );
    }

    // -- memory ---------------------------------------------------------------------------------
    const queuedEvents = 10_000;
    const bytesPerQueuedEvent = await memoryPerQueuedEvent(queuedEvents);
    log(`client memory: ${bytesPerQueuedEvent} bytes per queued access-log event (${queuedEvents} queued)`);

    const result: ClientBenchResult = {
      middleware: {
        seconds: options.seconds,
        connections: options.connections,
        rounds: options.rounds,
        withoutRequestsPerSecond: measured.without,
        withRequestsPerSecond: measured.with,
        overhead,
        target: 0.05,
        withinTarget: overhead <= 0.05,
      },
      delivery: {
        events: options.events,
        oneEventPerRequestEvents: singleEvents,
        batchedEventsPerSecond: delivery.batched,
        oneEventPerRequestEventsPerSecond: delivery.single,
        speedup: round1(median(delivery.batched) / median(delivery.single)),
      },
      memory: { queuedEvents, bytesPerQueuedEvent },
    };
    log(
      `client: middleware costs ${(overhead * 100).toFixed(1)}% of requests/s (target ≤ 5%); batching delivers ${result.delivery.speedup}× the events/s of one per request`,
    );
    return result;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
}
