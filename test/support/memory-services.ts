/**
 * The ingest and query services wired to the in-memory ports of memory-archive.ts, as lambda/runtime/wiring.ts
 * and lambda/handlers/query.ts wire them to AWS: one archive (objects), one index, one idempotency
 * store, one chain writer. For unit tests of the services: fast, no emulator, no timing.
 */

import { hmacSha256Key, type MacKey } from "../../lambda/core/cursor";
import { createUlidGenerator } from "../../lambda/core/ulid";
import { ChainWriter } from "../../lambda/ingest/chain-writer";
import { type IngestRequest, IngestService, type ServiceLogger } from "../../lambda/ingest/ingest-service";
import { SubjectTokenVerifier } from "../../lambda/ingest/subject-token";
import { RecordPrivacy } from "../../lambda/privacy/record-privacy";
import { SubjectService } from "../../lambda/privacy/subject-service";
import { composeQueryService } from "../../lambda/query/compose";
import type { QueryRequest, QueryService } from "../../lambda/query/query-service";
import { DEFAULT_SCOPES, type SealtrailConfig } from "../../lambda/runtime/config";
import { WRITE_CLAIMS } from "./api-event";
import { MemoryIdempotencyStore, MemoryIndex, MemoryLeases, MemoryObjectStore } from "./memory-archive";
import { MemorySubjectKeyStore, testPrivacyKeys } from "./memory-privacy";

export const START = Date.parse("2026-11-22T03:00:00.000Z");

/** A logger that keeps what it was told, by level. */
export function recordingLogger(): ServiceLogger & {
  readonly lines: { level: string; message: string; detail?: Record<string, unknown> }[];
} {
  const lines: { level: string; message: string; detail?: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (message, detail) => lines.push({ level: "info", message, detail }),
    warn: (message, detail) => lines.push({ level: "warn", message, detail }),
    error: (message, detail) => lines.push({ level: "error", message, detail }),
  };
}

export interface MemoryServices {
  readonly config: SealtrailConfig;
  readonly objects: MemoryObjectStore;
  readonly index: MemoryIndex;
  readonly idempotency: MemoryIdempotencyStore;
  readonly ingest: IngestService;
  readonly query: QueryService;
  readonly logger: ReturnType<typeof recordingLogger>;
  readonly cursorKey: MacKey;
  /** With `privacy` in the configuration: the policy's services and the key store. */
  readonly privacy?: {
    readonly records: RecordPrivacy;
    readonly keys: MemorySubjectKeyStore;
    readonly subjects: SubjectService;
  };
  /** Moves the services' clock (ids, record times and link times come from it). */
  advance(ms: number): void;
}

export function memoryServices(overrides: Partial<SealtrailConfig> = {}): MemoryServices {
  const config: SealtrailConfig = {
    bucket: "archive",
    table: "index",
    chains: 2,
    scopes: DEFAULT_SCOPES,
    tenantClaim: "tenant",
    subjectIssuers: [],
    leaseSeconds: 300,
    aws: { region: "us-east-1" },
    ...overrides,
  };
  const objects = new MemoryObjectStore();
  const index = new MemoryIndex();
  const idempotency = new MemoryIdempotencyStore();
  const logger = recordingLogger();
  let clock = START;
  const now = () => clock;
  const chains = new ChainWriter({
    objects,
    leases: new MemoryLeases(),
    headHint: (chain) => index.headHint(chain),
    chainCount: config.chains,
    holder: "memory-writer",
    leaseMs: config.leaseSeconds * 1000,
    now,
  });
  const keys = new MemorySubjectKeyStore();
  const records = config.privacy
    ? new RecordPrivacy({ policy: config.privacy.policy, keys, ...testPrivacyKeys(), now })
    : undefined;
  const ingest = new IngestService({
    config,
    objects,
    index,
    idempotency,
    chains,
    subjects: new SubjectTokenVerifier(config.subjectIssuers),
    newId: createUlidGenerator(now),
    now,
    logger,
    privacy: records,
  });
  const cursorKey = hmacSha256Key(Buffer.alloc(32, 7));
  const query = composeQueryService({
    config,
    objects,
    index,
    source: objects,
    markers: index,
    ingest,
    cursorKey,
    logger,
    privacy: records,
  });
  const privacyConfig = config.privacy;
  const privacy =
    records && privacyConfig
      ? {
          records,
          keys,
          subjects: new SubjectService({
            config: { ...config, privacy: privacyConfig },
            privacy: records,
            keys,
            archive: (caller, events) => ingest.archiveServerEvents(caller, events),
            now,
            logger,
          }),
        }
      : undefined;
  return {
    config,
    objects,
    index,
    idempotency,
    ingest,
    query,
    logger,
    cursorKey,
    privacy,
    advance: (ms) => {
      clock += ms;
    },
  };
}

/** A POST /v1/events request as the ingest handler extracts it, from a reporter of tenant "acme". */
export function ingestRequest(overrides: Partial<IngestRequest> & { body?: string } = {}): IngestRequest {
  return {
    body: JSON.stringify({ events: [{ action: "document.read", outcome: "success" }] }),
    isBase64Encoded: false,
    contentType: "application/json",
    claims: { ...WRITE_CLAIMS, tenant: "acme" },
    scopes: undefined,
    idempotencyKey: undefined,
    subjectToken: undefined,
    requestId: "ingest-request-1",
    sourceIp: "198.51.100.7",
    userAgent: "test-agent/1.0",
    ...overrides,
  };
}

/** Claims of a reader of `tenant` (read scope; admin too when asked). */
export function readClaims(tenant: string, options: { admin?: boolean } = {}): Record<string, string> {
  return {
    sub: `reader-${tenant}`,
    iss: "https://issuer.test",
    aud: "sealtrail",
    scope: options.admin ? "sealtrail/read sealtrail/admin" : "sealtrail/read",
    tenant,
  };
}

/** A GET request as the query handler extracts it; `claims: null` for a request without any. */
export function queryRequest(
  rawQueryString = "",
  claims: Record<string, string> | null = readClaims("acme"),
): QueryRequest {
  const queryStringParameters = Object.fromEntries(new URLSearchParams(rawQueryString));
  return {
    claims: claims ?? undefined,
    scopes: undefined,
    rawQueryString,
    queryStringParameters,
    requestId: "query-request-1",
    sourceIp: "203.0.113.9",
    userAgent: "auditor/1.0",
  };
}
