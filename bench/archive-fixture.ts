/**
 * A realistic local copy of an archive (the same keys as files, as `sealtrail verify --dir` reads it),
 * written straight to disk with the core functions: no emulator, no handler. Records are shaped like
 * the ingest path's (verified subject tokens, asserted actors, the reporter as actor; a service
 * reporter, resource, http, ingest, tenant and a few hundred bytes of `details`), sealed with
 * `sealBatch`, linked per chain with `serializeLink`, and covered by signed checkpoints whose tree
 * heads come from a `MerkleFrontier` per chain; the last checkpoint covers every link.
 *
 * Generation is deterministic in its options (seeded PRNG, fixed clock) except for the checkpoint key,
 * and runs sealing on worker threads. A finished fixture is reused: `fixture.json` is written last,
 * so a directory without it (an interrupted run) is rebuilt.
 *
 * Layout of `dir`: `bucket/` (the local copy) and `fixture.json` (options, counts, the trust file).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../lambda/checkpoint/local-key";
import { linkBatchOf, sealBatch } from "../lambda/core/batch";
import {
  type CheckpointPayload,
  chainLeafHash,
  checkpointPayloadHash,
  FIRST_CHECKPOINT_PREV,
  parseTrustedKeys,
  serializeCheckpointPayload,
  signCheckpoint,
  type TrustedKey,
  trustFileOf,
} from "../lambda/core/checkpoint";
import { type ChainLink, GENESIS_PREV, linkHash, serializeLink } from "../lambda/core/link";
import { MerkleFrontier } from "../lambda/core/merkle";
import { checkpointKey, linkKey } from "../lambda/core/paths";
import type { EventRecord, Principal } from "../lambda/core/schema";
import { createUlidGenerator } from "../lambda/core/ulid";

export interface ArchiveFixtureOptions {
  /** Events in the archive. */
  readonly events: number;
  /** Events per batch (data object); the last batch holds the remainder. */
  readonly batchSize: number;
  /** Chains the batches are spread over, round-robin. */
  readonly chains: number;
  /** Signed checkpoints, evenly spaced; the last covers every link. @default 4 */
  readonly checkpoints?: number;
  /** PRNG seed for the record contents. @default 1 */
  readonly seed?: number;
  /** Sealing threads. @default min(availableParallelism(), 4) */
  readonly workers?: number;
}

export interface ArchiveFixture {
  /** The local copy of the bucket: give it to `new DirectorySource(root)`. */
  readonly root: string;
  /** The JWKS a verifier is given. */
  readonly trustFile: { keys: object[] };
  readonly trusted: TrustedKey[];
  readonly events: number;
  readonly batches: number;
  readonly chains: number;
  readonly checkpoints: number;
  /** Sum of the gzip data objects' sizes. */
  readonly objectBytes: number;
  /** True when an existing complete fixture was reused. */
  readonly reused: boolean;
  /** Time to generate it, when it was generated in this call. */
  readonly generatedMs?: number;
}

/** Where a fixture with these parameters is cached: bench/.fixtures/<params>. */
export function fixtureDirFor(options: ArchiveFixtureOptions): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, ".fixtures", fixtureName(options));
}

function fixtureName(options: ArchiveFixtureOptions): string {
  const o = normalized(options);
  return `events-${o.events}-batch-${o.batchSize}-chains-${o.chains}-cp-${o.checkpoints}-seed-${o.seed}`;
}

/** The fixture's epoch: batches are received from here on, one every BATCH_INTERVAL_MS. */
const START_MS = Date.parse("2026-03-01T08:00:00.000Z");
const BATCH_INTERVAL_MS = 1_637;
const FORMAT_VERSION = 1;

interface Normalized {
  readonly events: number;
  readonly batchSize: number;
  readonly chains: number;
  readonly checkpoints: number;
  readonly seed: number;
}

function normalized(options: ArchiveFixtureOptions): Normalized {
  const { events, batchSize, chains } = options;
  const checkpoints = options.checkpoints ?? 4;
  const seed = options.seed ?? 1;
  for (const [name, value] of Object.entries({ events, batchSize, chains, checkpoints })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  }
  if (batchSize > 1000) throw new RangeError("a batch holds at most 1000 events (the API's limit)");
  if (chains > 1024) throw new RangeError("at most 1024 chains");
  return { events, batchSize, chains, checkpoints, seed };
}

interface Manifest {
  readonly format: number;
  readonly name: string;
  readonly trustFile: { keys: object[] };
  readonly events: number;
  readonly batches: number;
  readonly chains: number;
  readonly checkpoints: number;
  readonly objectBytes: number;
}

/**
 * Writes (or reuses) the fixture under `dir` and returns where it is and how to trust it.
 * An existing `dir` without a matching `fixture.json` is deleted and rebuilt.
 */
export async function writeArchiveFixture(
  dir: string,
  options: ArchiveFixtureOptions,
): Promise<ArchiveFixture> {
  const o = normalized(options);
  const root = join(dir, "bucket");
  const manifestFile = join(dir, "fixture.json");
  const name = fixtureName(o);
  try {
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
    if (manifest.format === FORMAT_VERSION && manifest.name === name) {
      return {
        ...fromManifest(root, manifest),
        trusted: await parseTrustedKeys(manifest.trustFile),
        reused: true,
      };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" && !(error instanceof SyntaxError)) throw error;
  }

  const started = performance.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const batches = Math.ceil(o.events / o.batchSize);

  // 1. Data objects, sealed on worker threads over contiguous ranges of batches.
  const threads = Math.max(1, Math.min(options.workers ?? Math.min(availableParallelism(), 4), batches));
  const per = Math.ceil(batches / threads);
  const ranges = Array.from({ length: threads }, (_, i) => ({
    from: i * per,
    to: Math.min(batches, (i + 1) * per),
  })).filter((range) => range.from < range.to);
  const sealedParts = await Promise.all(
    ranges.map(
      (range) =>
        new Promise<SealedRange>((resolve, reject) => {
          const job: SealJob = { kind: JOB_KIND, root, options: o, ...range };
          const worker = moduleWorker(import.meta.url, { workerData: job });
          worker.once("message", (result: SealedRange) => resolve(result));
          worker.once("error", reject);
          worker.once("exit", (code) => {
            if (code !== 0) reject(new Error(`fixture worker exited with ${code}`));
          });
        }),
    ),
  );
  const sealed = sealedParts.flatMap((part) => part.batches);
  const objectBytes = sealedParts.reduce((sum, part) => sum + part.objectBytes, 0);

  // 2. Links, chained per chain, and the chain trees the checkpoints sign.
  const key = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
  const trustFile = trustFileOf(key);
  const heads = new Map<string, { seq: number; head: string; frontier: MerkleFrontier }>();
  const checkpointAfter = new Set(
    Array.from({ length: o.checkpoints }, (_, i) => Math.ceil((batches * (i + 1)) / o.checkpoints) - 1),
  );
  let checkpointSeq = 0;
  let checkpointPrev = FIRST_CHECKPOINT_PREV;
  let lastCheckpointTime = "";
  for (let i = 0; i < batches; i++) {
    const batch = sealed[i] as ChainLink["batch"];
    const chain = String(i % o.chains);
    const state = heads.get(chain) ?? { seq: -1, head: GENESIS_PREV, frontier: new MerkleFrontier() };
    const seq = state.seq + 1;
    const bytes = serializeLink({
      v: 1,
      chain,
      seq,
      prev: state.head,
      time: new Date(batchTimeMs(i) + 7).toISOString(),
      batch,
    });
    const file = join(root, linkKey(chain, seq));
    if (seq === 0) mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, bytes);
    const hash = linkHash(bytes);
    state.frontier.append(chainLeafHash(hash));
    heads.set(chain, { seq, head: hash, frontier: state.frontier });

    if (checkpointAfter.has(i)) {
      const chains: CheckpointPayload["chains"] = {};
      for (const [id, head] of [...heads].sort(([a], [b]) => Number(a) - Number(b))) {
        chains[id] = {
          size: head.frontier.size,
          root: head.frontier.root().toString("hex"),
          head: head.head,
        };
      }
      const time = new Date(batchTimeMs(i) + 45_000).toISOString();
      const payload: CheckpointPayload = {
        v: 1,
        seq: checkpointSeq,
        prev: checkpointPrev,
        time: time > lastCheckpointTime ? time : lastCheckpointTime,
        chains,
      };
      const jws = await signCheckpoint(payload, key);
      const checkpointFile = join(root, checkpointKey(checkpointSeq));
      mkdirSync(dirname(checkpointFile), { recursive: true });
      writeFileSync(checkpointFile, jws);
      checkpointPrev = checkpointPayloadHash(serializeCheckpointPayload(payload));
      lastCheckpointTime = payload.time;
      checkpointSeq++;
    }
  }

  const manifest: Manifest = {
    format: FORMAT_VERSION,
    name,
    trustFile,
    events: o.events,
    batches,
    chains: Math.min(o.chains, batches),
    checkpoints: checkpointSeq,
    objectBytes,
  };
  // Last: its presence marks the fixture complete.
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  return {
    ...fromManifest(root, manifest),
    trusted: await parseTrustedKeys(trustFile),
    reused: false,
    generatedMs: Math.round(performance.now() - started),
  };
}

/**
 * A worker running the module at `url`. Node 20 does not apply tsx's loader hooks to worker threads
 * (privatenumber/tsx#354, nodejs/node#47747), so a .ts module is started from a small bootstrap that
 * registers tsx in the worker first.
 */
export function moduleWorker(url: string, options: { workerData?: unknown } = {}): Worker {
  if (!url.endsWith(".ts")) return new Worker(new URL(url), options);
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(bootstrap, { ...options, eval: true });
}

function fromManifest(root: string, manifest: Manifest) {
  const { trustFile, events, batches, chains, checkpoints, objectBytes } = manifest;
  return { root, trustFile, events, batches, chains, checkpoints, objectBytes };
}

function batchTimeMs(index: number): number {
  return START_MS + index * BATCH_INTERVAL_MS;
}

// ---- worker side: seal a range of batches and write their data objects ----

const JOB_KIND = "sealtrail-archive-fixture";

interface SealJob {
  readonly kind: typeof JOB_KIND;
  readonly root: string;
  readonly options: Normalized;
  readonly from: number;
  readonly to: number;
}

interface SealedRange {
  readonly batches: ChainLink["batch"][];
  readonly objectBytes: number;
}

function sealRange(job: SealJob): SealedRange {
  const { options, root } = job;
  const batches: ChainLink["batch"][] = [];
  const dirs = new Set<string>();
  let objectBytes = 0;
  for (let i = job.from; i < job.to; i++) {
    const count = Math.min(options.batchSize, options.events - i * options.batchSize);
    const receivedAt = new Date(batchTimeMs(i));
    const records = batchRecords(options.seed, i, count, receivedAt);
    const batch = sealBatch(records, receivedAt);
    const file = join(root, batch.key);
    const dir = dirname(file);
    if (!dirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      dirs.add(dir);
    }
    writeFileSync(file, batch.bytes);
    objectBytes += batch.bytes.length;
    batches.push(linkBatchOf(batch));
  }
  return { batches, objectBytes };
}

// ---- record contents ----

/** mulberry32: small, fast, good enough to make records differ the way real ones do. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TENANTS = Array.from({ length: 24 }, (_, i) => `tenant-${(i * 7919).toString(36).padStart(4, "0")}`);
const SERVICES = [
  "billing-api",
  "documents-api",
  "admin-console",
  "identity-gateway",
  "reports-worker",
  "search-api",
];
const ACTIONS = [
  "document.read",
  "document.update",
  "document.delete",
  "document.share",
  "user.login",
  "user.logout",
  "user.mfa.challenge",
  "role.grant",
  "role.revoke",
  "invoice.export",
  "report.download",
  "api_key.create",
  "settings.update",
] as const;
const OUTCOMES = [
  "success",
  "success",
  "success",
  "success",
  "success",
  "failure",
  "denied",
  "error",
] as const;
const RESOURCE_TYPES = ["document", "user", "role", "invoice", "report", "api_key", "workspace"];
const METHODS = ["GET", "GET", "GET", "POST", "PUT", "PATCH", "DELETE"];
const ENDPOINTS = [
  "/v2/documents/{id}",
  "/v2/documents/{id}/shares",
  "/v2/users/{id}",
  "/v2/users/{id}/roles",
  "/v2/invoices/{id}/export",
  "/v2/reports/{id}/download",
  "/v2/settings",
  "/oauth2/token",
];
const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "okhttp/4.12.0",
  "python-requests/2.31.0",
  "Go-http-client/2.0",
];
const ROLES = ["viewer", "editor", "admin", "billing", "auditor", "support"];
const SCOPES = ["openid", "profile", "documents:read", "documents:write", "users:read", "reports:read"];
const REASONS = [
  "user request",
  "scheduled job",
  "policy enforcement",
  "support ticket",
  "bulk import",
  "sync",
];
const FIELDS = ["title", "owner", "status", "visibility", "retention", "labels", "email", "display_name"];

function hex(random: () => number, length: number): string {
  let out = "";
  while (out.length < length)
    out += Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, "0");
  return out.slice(0, length);
}

function uuid(random: () => number): string {
  const h = hex(random, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
}

function pick<T>(random: () => number, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)] as T;
}

function ipv4(random: () => number): string {
  return `${10 + Math.floor(random() * 200)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 254)}`;
}

/** One request's records: one reporter, one receive time, one ingest context, ids strictly increasing. */
function batchRecords(seed: number, index: number, count: number, receivedAt: Date): EventRecord[] {
  const random = prng((seed * 0x9e3779b1 + index * 0x85ebca6b) >>> 0);
  const time = receivedAt.toISOString();
  const nowMs = receivedAt.getTime();
  const nowS = Math.floor(nowMs / 1000);
  const newId = createUlidGenerator(
    () => nowMs,
    (n) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256)),
  );
  const service = pick(random, SERVICES);
  const tenant = pick(random, TENANTS);
  const reporter: Principal = {
    sub: `svc-${service}`,
    iss: "https://auth.example.com/realms/production",
    session_id: null,
    token_id: uuid(random),
    token_exp: nowS + 3600 - Math.floor(random() * 3000),
    token_iat: nowS - Math.floor(random() * 600),
    client_id: `${service}-client`,
    azp: null,
    aud: ["https://audit.example.com"],
    roles: [],
    scopes: ["events:write"],
    verified: true,
  };
  const ingest = { request_id: uuid(random), source_ip: ipv4(random), user_agent: "aws-sdk-js/3.700.0" };
  return Array.from({ length: count }, () => {
    const kind = random();
    const user = `user-${Math.floor(random() * 50_000)}`;
    const actor: Principal =
      kind < 0.7
        ? {
            sub: user,
            iss: "https://auth.example.com/realms/production",
            session_id: uuid(random),
            token_id: uuid(random),
            token_exp: nowS + Math.floor(random() * 3600),
            token_iat: nowS - Math.floor(random() * 3600),
            client_id: null,
            azp: "web-app",
            aud: ["https://api.example.com"],
            roles: ROLES.filter(() => random() < 0.3),
            scopes: SCOPES.filter(() => random() < 0.5),
            verified: true,
          }
        : kind < 0.9
          ? {
              sub: user,
              iss: null,
              session_id: random() < 0.5 ? `s-${hex(random, 12)}` : null,
              token_id: null,
              token_exp: null,
              token_iat: null,
              client_id: null,
              azp: null,
              aud: [],
              roles: ROLES.filter(() => random() < 0.2),
              scopes: [],
              verified: false,
            }
          : reporter;
    const action = pick(random, ACTIONS);
    const changes = Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
      field: pick(random, FIELDS),
      from: hex(random, 6 + Math.floor(random() * 18)),
      to: hex(random, 6 + Math.floor(random() * 18)),
    }));
    const details = JSON.stringify({
      reason: pick(random, REASONS),
      trace_id: hex(random, 32),
      span_id: hex(random, 16),
      changes,
      client: {
        app_version: `4.${Math.floor(random() * 20)}.${Math.floor(random() * 100)}`,
        locale: "en-US",
      },
      ...(random() < 0.3 ? { ticket: `SUP-${Math.floor(random() * 100_000)}` } : {}),
    });
    const record: EventRecord = {
      v: 1,
      id: newId(),
      time,
      action,
      outcome: pick(random, OUTCOMES),
      occurred_at: random() < 0.8 ? new Date(nowMs - Math.floor(random() * 5000)).toISOString() : null,
      actor,
      reporter,
      resource: { type: pick(random, RESOURCE_TYPES), id: uuid(random) },
      http: {
        request_id: uuid(random),
        method: pick(random, METHODS),
        endpoint: pick(random, ENDPOINTS),
        status: pick(random, [200, 200, 200, 201, 204, 400, 403, 404, 500]),
        source_ip: ipv4(random),
        user_agent: pick(random, USER_AGENTS),
      },
      ingest,
      tenant,
      details,
    };
    return record;
  });
}

// Last, so every constant above is initialised when a worker runs it.
if (!isMainThread && (workerData as SealJob | undefined)?.kind === JOB_KIND) {
  parentPort?.postMessage(sealRange(workerData as SealJob));
}
