/**
 * @sealtrail/client benchmark, measured side by side in one run:
 *
 * - middleware overhead: requests/s of the example app (examples/express-api, GET of a document with a
 *   verified JWT) with and without the access-log middleware, autocannon on loopback, interleaved
 *   rounds in rotating order. The app runs in its own process (bench/client-app.ts), so it has a core
 *   to itself while autocannon runs in this one, and that one process serves the arms in turn: the
 *   app with the middleware, without it, and a second instance without it (the control). Two app
 *   processes differ by up to 15% for a whole run on this kind of machine, which would drown what is
 *   measured; within one process the control shows the noise that is left, in the same run. The audit
 *   client sends to a stub here that answers every batch with a receipt at once, so the number is the
 *   app's own cost (middleware, queue, batching, sending), not sealtrail's sealing competing for the
 *   same cores. Each round runs the arms back to back, and the overhead is the median of the rounds'
 *   ratios: this machine's speed drifts between rounds by more than the difference measured. The app's
 *   CPU time per request (process.cpuUsage over the round) is reported beside it. Target: at most 5%
 *   fewer requests/s.
 * - delivery: events/s delivered to local mode (the real ingest handler on the emulator) by one client
 *   batching (100 per request, the default) against one event per request, interleaved rounds.
 * - memory per queued event: heap growth while a typical access-log event waits 10,000 times in the
 *   queue of a client whose sealtrail never answers.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { accessLogEvent } from "../client/src/access-log";
import { type AuditClient, type AuditEvent, type ClientStats, createAuditClient } from "../client/src/index";
import { localIdentityProvider } from "../examples/express-api/identity";
import { dynamoClient, s3Client } from "../lambda/aws/clients";
import { createArchiveBucket, createIndexTable } from "../lambda/aws/provision";
import { createIngestHandler } from "../lambda/handlers/ingest";
import { DEFAULT_CHAINS, DEFAULT_LEASE_SECONDS, DEFAULT_SCOPES } from "../lambda/runtime/config";
import type { Emulator } from "../local/emulator";
import { LOCAL_AUDIENCE, loadOrCreateIssuerKey, localIssuer } from "../local/issuer";
import { startLocalServer } from "../local/server";
import type { BenchArm } from "./client-app";

export interface ClientBenchOptions {
  /** Seconds of load per arm and middleware round. @default 3 */
  readonly seconds?: number;
  /** Middleware rounds, each a pair of the two arms back to back. @default 9 */
  readonly middlewareRounds?: number;
  /** Interleaved delivery rounds. @default 3 */
  readonly rounds?: number;
  /** autocannon connections. @default 10 */
  readonly connections?: number;
  /** Events per delivery round. @default 2000 */
  readonly events?: number;
  /** Only the middleware overhead, without the delivery and memory parts (for a quicker look). @default false */
  readonly middlewareOnly?: boolean;
}

export interface ClientBenchResult {
  readonly middleware: {
    readonly seconds: number;
    readonly connections: number;
    readonly rounds: number;
    readonly withoutRequestsPerSecond: number[];
    readonly withRequestsPerSecond: number[];
    /** The control arm: a second instance of the app without the middleware. */
    readonly controlRequestsPerSecond: number[];
    /** The app's CPU time per request served, microseconds, per round. */
    readonly withoutCpuMicrosPerRequest: number[];
    readonly withCpuMicrosPerRequest: number[];
    readonly controlCpuMicrosPerRequest: number[];
    /** 1 - median over rounds of with / without requests/s: the share of requests/s the middleware costs. */
    readonly overhead: number;
    /** median over rounds of with / without CPU time per request, - 1: the same cost, counted in CPU time. */
    readonly cpuOverhead: number;
    /** 1 - median over rounds of control / without requests/s: the noise of the measurement (0 if none). */
    readonly controlDifference: number;
    readonly target: 0.05;
    readonly withinTarget: boolean;
  };
  /** Absent with `middlewareOnly`. */
  readonly delivery?: {
    /** Events per round, batched. */
    readonly events: number;
    /** Events per round, one per request (fewer: each is a whole request). */
    readonly oneEventPerRequestEvents: number;
    readonly batchedEventsPerSecond: number[];
    readonly oneEventPerRequestEventsPerSecond: number[];
    /** median(batched) / median(one per request). */
    readonly speedup: number;
  };
  /** Absent with `middlewareOnly`. */
  readonly memory?: { readonly queuedEvents: number; readonly bytesPerQueuedEvent: number };
}

interface AutocannonResult {
  readonly requests: { readonly average: number; readonly total: number };
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
    headers: {},
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

/** The example app in a child process (bench/client-app.ts). */
interface AppProcess {
  readonly url: string;
  /** Switches the arm it serves; resolves once it does. */
  serve(arm: BenchArm): Promise<void>;
  /** Its CPU time so far (user + system), microseconds. */
  cpuMicros(): Promise<number>;
  /** Starts the CPU profile the app writes when it stops (with BENCH_CPU_PROFILE). */
  profile(): void;
  /** SIGTERM; resolves with its audit client's stats once it has flushed and exited. */
  stop(): Promise<ClientStats>;
}

const APP_START_TIMEOUT_MS = 60_000;
const WARM_UP_SECONDS = 10;

/**
 * bench/client-app.ts bundled by esbuild as an app ships (no tsx in the process: its `keepNames` output
 * names every closure it makes, which costs the middleware's per-request closure more than the closure
 * itself). Written under node_modules/.cache so the app's packages resolve from the repository.
 */
async function bundleAppScript(): Promise<string> {
  const { build } = await import("esbuild");
  const outfile = fileURLToPath(
    new URL("../node_modules/.cache/sealtrail-bench/client-app.mjs", import.meta.url),
  );
  await build({
    entryPoints: [fileURLToPath(new URL("./client-app.ts", import.meta.url))],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  return outfile;
}

async function startAppProcess(script: string, env: Record<string, string>): Promise<AppProcess> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit", "ipc"],
  });
  const output = child.stdout;
  if (!output) throw new Error("bench/client-app has no stdout");
  let stdout = "";
  output.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("bench/client-app did not start")), APP_START_TIMEOUT_MS);
    const onData = () => {
      const found = /^listening (\S+)$/m.exec(stdout)?.[1];
      if (found) {
        clearTimeout(timer);
        output.off("data", onData);
        resolve(found);
      }
    };
    output.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`bench/client-app exited with ${code} before it served`));
    });
  });
  let stopped: Promise<ClientStats> | undefined;
  const answer = <T>(message: unknown, pick: (reply: unknown) => T | undefined) =>
    new Promise<T>((resolve) => {
      const onMessage = (reply: unknown) => {
        const value = pick(reply);
        if (value === undefined) return;
        child.off("message", onMessage);
        resolve(value);
      };
      child.on("message", onMessage);
      child.send(message as string);
    });
  return {
    url,
    serve: (arm) =>
      answer({ serve: arm }, (reply) =>
        (reply as { serving?: string }).serving === arm ? true : undefined,
      ).then(() => {}),
    cpuMicros: () =>
      answer("cpu", (reply) => {
        const cpu = (reply as { cpu?: NodeJS.CpuUsage }).cpu;
        return cpu ? cpu.user + cpu.system : undefined;
      }),
    profile: () => child.send("profile"),
    stop() {
      stopped ??= (async () => {
        child.kill("SIGTERM");
        await exited;
        const stats = /^stats (.+)$/m.exec(stdout)?.[1];
        if (!stats) throw new Error("bench/client-app exited without its stats");
        return JSON.parse(stats) as ClientStats;
      })();
      return stopped;
    },
  };
}

/** One arm's round: autocannon's requests/s, and the app's CPU time per request it served. */
async function loadRound(
  autocannon: Autocannon,
  app: AppProcess,
  arm: BenchArm,
  token: string,
  options: Required<ClientBenchOptions>,
): Promise<{ requestsPerSecond: number; cpuMicrosPerRequest: number }> {
  await app.serve(arm);
  const cpuBefore = await app.cpuMicros();
  const result = await autocannon({
    url: `${app.url}/api/v1/documents/42`,
    connections: options.connections,
    duration: options.seconds,
    headers: { authorization: `Bearer ${token}` },
  });
  const cpu = (await app.cpuMicros()) - cpuBefore;
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`benchmark requests failed: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return { requestsPerSecond: result.requests.average, cpuMicrosPerRequest: cpu / result.requests.total };
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
    seconds: 3,
    middlewareRounds: 9,
    rounds: 3,
    connections: 10,
    events: 2000,
    middlewareOnly: false,
    ...overrides,
  };
  const autocannon = ((await import("autocannon" as string)) as { default: Autocannon }).default;
  const stateDir = mkdtempSync(join(tmpdir(), "sealtrail-bench-client-"));
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // Local mode in-process: the real ingest handler behind the local authorizer, on the emulator.
    const target = emulator.target;
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
    // The example app in its own process (one core), serving the arms in turn, loaded from this one (the other core).
    const stub = await startReceiptStub();
    cleanups.push(() => close(stub.server));
    const profileDir = process.env.SEALTRAIL_BENCH_CPU_PROFILE;
    const app = await startAppProcess(await bundleAppScript(), {
      BENCH_STATE_DIR: stateDir,
      BENCH_ISSUER: sealtrail.issuer,
      BENCH_JWKS_URL: sealtrail.jwksUrl,
      BENCH_AUDIT_URL: stub.url,
      BENCH_AUDIT_TOKEN: writeToken,
      // SEALTRAIL_BENCH_CPU_PROFILE=<dir>: a V8 CPU profile of the measured rounds, <dir>/client-app.cpuprofile.
      ...(profileDir ? { BENCH_CPU_PROFILE: join(profileDir, "client-app.cpuprofile") } : {}),
    });
    cleanups.push(() => app.stop().then(() => {}));
    const userToken = await identity.issue({ sub: "alice", sid: "bench-session", roles: ["owner"] });
    const arms: readonly BenchArm[] = ["without", "with", "control"];
    // Warm-up: JIT (an app serves its first seconds of load at half speed), JWKS fetch, keep-alive.
    for (const arm of arms) {
      await loadRound(autocannon, app, arm, userToken, { ...options, seconds: WARM_UP_SECONDS });
    }
    // A shared machine's speed drifts by more than the difference measured: each round runs the arms
    // back to back (rotating which goes first), and each ratio is the median of the rounds' ratios.
    app.profile();
    const measured = { with: [] as number[], without: [] as number[], control: [] as number[] };
    const cpu = { with: [] as number[], without: [] as number[], control: [] as number[] };
    for (let round = 0; round < options.middlewareRounds; round++) {
      const order = arms.map((_, i) => arms[(round + i) % arms.length] as BenchArm);
      for (const arm of order) {
        const result = await loadRound(autocannon, app, arm, userToken, options);
        measured[arm].push(round1(result.requestsPerSecond));
        cpu[arm].push(round1(result.cpuMicrosPerRequest));
      }
      const line = (arm: BenchArm) => `${arm} ${measured[arm].at(-1)} req/s (${cpu[arm].at(-1)} µs CPU each)`;
      log(`client middleware round ${round + 1}: ${arms.map(line).join(", ")}`);
    }
    const ratio = (values: Record<BenchArm, number[]>, arm: BenchArm) =>
      median(values[arm].map((value, round) => value / (values.without[round] as number)));
    const share = (value: number) => Math.round(value * 1000) / 1000;
    const overhead = share(1 - ratio(measured, "with"));
    const cpuOverhead = share(ratio(cpu, "with") - 1);
    const controlDifference = share(1 - ratio(measured, "control"));
    // Every access-log event of the measured requests reached the stub: none was dropped or refused.
    const appStats = await app.stop();
    if (appStats.dropped > 0 || appStats.rejected > 0) {
      throw new Error(`the app lost audit events: ${appStats.dropped} dropped, ${appStats.rejected} refused`);
    }
    log(`client middleware: the app sent ${appStats.sent} events, none dropped`);
    const middleware = {
      seconds: options.seconds,
      connections: options.connections,
      rounds: options.middlewareRounds,
      withoutRequestsPerSecond: measured.without,
      withRequestsPerSecond: measured.with,
      controlRequestsPerSecond: measured.control,
      withoutCpuMicrosPerRequest: cpu.without,
      withCpuMicrosPerRequest: cpu.with,
      controlCpuMicrosPerRequest: cpu.control,
      overhead,
      cpuOverhead,
      controlDifference,
      target: 0.05,
      withinTarget: overhead <= 0.05,
    } as const;
    const overheadLine = `client: middleware costs ${(overhead * 100).toFixed(1)}% of requests/s (target ≤ 5%), ${(cpuOverhead * 100).toFixed(1)}% more CPU per request; the control differs by ${(controlDifference * 100).toFixed(1)}%`;
    if (options.middlewareOnly) {
      log(overheadLine);
      return { middleware };
    }

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

    const speedup = round1(median(delivery.batched) / median(delivery.single));
    const result: ClientBenchResult = {
      middleware,
      delivery: {
        events: options.events,
        oneEventPerRequestEvents: singleEvents,
        batchedEventsPerSecond: delivery.batched,
        oneEventPerRequestEventsPerSecond: delivery.single,
        speedup,
      },
      memory: { queuedEvents, bytesPerQueuedEvent },
    };
    log(`${overheadLine}; batching delivers ${speedup}× the events/s of one per request`);
    return result;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
}
