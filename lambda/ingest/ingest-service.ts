/**
 * The write path of DESIGN.md, step by step: authorize from claims, validate all-or-nothing,
 * seal the batch, put the data object, append the link (the acknowledgement point), then index.
 * Nothing is written before every check has passed.
 */

import type { ObjectStore } from "../archive/object-store";
import type { Receipt } from "../core/api-schema";
import { linkBatchOf, type SealedBatch, sealBatch } from "../core/batch";
import { apiGatewayClaims, authorizeAccess, verifiedCallerOf } from "../core/claims";
import { sha256Hex } from "../core/hash";
import {
  type AccessMetrics,
  accessMetricPoints,
  isSubjectTokenRefusal,
  NO_ACCESS_METRICS,
} from "../core/metrics";
import { buildRecord } from "../core/record";
import { type EventInput, EventInputSchema, type EventRecord, type Principal } from "../core/schema";
import { validateIngestBody } from "../core/validation";
import { countWatchedActions, DEFAULT_WATCHED_PATTERNS } from "../core/watched-actions";
import type { RecordPrivacy } from "../privacy/record-privacy";
import { DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS, type SealtrailConfig } from "../runtime/config";
import { type ApiResponse, errorResponse, refusalResponse } from "../runtime/http";
import type { AppendedLink, ChainWriter } from "./chain-writer";
import { indexLinkedBatch } from "./indexer";
import type { IdempotencyScope, IdempotencyStore, LinkIndex } from "./ports";
import { resolveSubjects, type SubjectTokenVerifier } from "./subject-token";
import { WriteUnconfirmedError, writeExactly } from "./write-exactly";

/** What the HTTP layer extracts from API Gateway's event. */
export interface IngestRequest {
  readonly body: string | undefined;
  readonly isBase64Encoded: boolean;
  /** The Content-Type and Content-Encoding headers: the body must be uncompressed JSON. */
  readonly contentType?: string;
  readonly contentEncoding?: string;
  /** `requestContext.authorizer.jwt.claims`: strings, arrays as "[a b]". */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  /** `requestContext.authorizer.jwt.scopes`. */
  readonly scopes: readonly string[] | undefined;
  readonly idempotencyKey: string | undefined;
  readonly subjectToken: string | undefined;
  readonly requestId: string;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
}

/** The 201 answer; its schema (lambda/core/api-schema.ts) also feeds the OpenAPI document. */
export type { Receipt };

/** An authenticated caller on whose behalf the server archives an event it generated itself. */
export interface ServerEventCaller {
  /** `requestContext.authorizer.jwt.claims` of the caller's request. */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly requestId: string;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
}

/** The server's own events could not be sealed: nothing was acknowledged. */
export class ArchiveUnavailableError extends Error {
  constructor(cause: unknown) {
    super("the events could not be sealed; nothing was acknowledged", { cause });
    this.name = "ArchiveUnavailableError";
  }
}

/** Where the services log (the ingest and the query service): Powertools' Logger in Lambda (lambda/runtime/wiring.ts). */
export interface ServiceLogger {
  info(message: string, detail?: Record<string, unknown>): void;
  warn(message: string, detail?: Record<string, unknown>): void;
  error(message: string, detail?: Record<string, unknown>): void;
}

export interface IngestServiceDeps {
  readonly config: SealtrailConfig;
  readonly objects: ObjectStore;
  readonly index: LinkIndex;
  readonly idempotency: IdempotencyStore;
  readonly chains: ChainWriter;
  readonly subjects: SubjectTokenVerifier;
  readonly newId: () => string;
  readonly now: () => number;
  readonly logger: ServiceLogger;
  /** Where `ingest` counts acknowledged events, watched actions and refused subject tokens. */
  readonly metrics?: AccessMetrics;
  /** Seals personal fields before anything is stored (docs/privacy.md); absent: privacy is off. */
  readonly privacy?: RecordPrivacy;
}

const DATA_CONTENT_TYPE = "application/x-ndjson";
/** Printable ASCII, as the IETF Idempotency-Key draft recommends. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
/** A claim outlives any single attempt (Lambda timeout), so a crashed attempt frees the key. */
const IDEMPOTENCY_CLAIM_MS = 120_000;

export class IngestService {
  constructor(private readonly deps: IngestServiceDeps) {}

  private get metrics(): AccessMetrics {
    return this.deps.metrics ?? NO_ACCESS_METRICS;
  }

  async ingest(request: IngestRequest): Promise<ApiResponse> {
    const { config } = this.deps;
    // 1. The authorizer checked the token; the handler still refuses a request without claims or scope.
    const authorized = authorizeAccess(request, config, "write");
    if (!authorized.ok) return refusalResponse(authorized.refusal);
    const { principal: reporter, tenant } = authorized.caller;

    // 2. All-or-nothing validation.
    const validation = validateIngestBody(request.body, request.isBase64Encoded, {
      contentType: request.contentType,
      contentEncoding: request.contentEncoding,
    });
    if (!validation.ok) {
      return errorResponse(validation.status, validation.code, validation.message, {
        errors: validation.errors,
      });
    }
    const events = validation.events;

    // The verified actor of each event, from a forwarded subject token (header or per event).
    const resolved = await resolveSubjects(this.deps.subjects, {
      headerToken: request.subjectToken,
      events,
      tenant,
      tenantClaim: config.tenantClaim,
      leewaySeconds: config.subjectTokenLeewaySeconds ?? DEFAULT_SUBJECT_TOKEN_LEEWAY_SECONDS,
    });
    if (!resolved.ok) {
      const { code } = resolved.response.body as { code?: unknown };
      if (isSubjectTokenRefusal(code)) this.metrics.record(accessMetricPoints.subjectTokenRefused(code));
      // A retry of a request that was sealed gets its first receipt, even once its tokens expired; the
      // refusal itself writes nothing (a read, no claim).
      const sealed = await this.sealedReceipt(request, tenant, reporter);
      return sealed ? this.replay(sealed) : resolved.response;
    }
    const subjects = resolved.subjects;

    // The Idempotency-Key's claim: a replay, a refusal, or ours to seal under.
    const claimed = await this.claimIdempotencyKey(request, tenant, reporter);
    if (claimed.response) return claimed.response;
    const idempotency = claimed.claim;

    // 3–4. Seal, store, link: the link is the acknowledgement.
    const receivedAt = new Date(this.deps.now());
    const plain = this.recordsOf(request, events, { reporter, subjects, tenant, receivedAt });
    let records: EventRecord[];
    let batch: SealedBatch;
    let receipt: Receipt;
    try {
      records = await this.protected(plain);
      batch = sealBatch(records, receivedAt);
      receipt = await this.sealAndLink(records, batch);
    } catch {
      if (idempotency)
        await this.deps.idempotency.release(idempotency.scope, idempotency.owner).catch(() => {});
      return errorResponse(
        503,
        "storage_unavailable",
        "the events could not be sealed and nothing was acknowledged; retry the request (with the same Idempotency-Key)",
        {},
        { "retry-after": "1" },
      );
    }
    this.countAcknowledged(records);

    // 5. Index. A failure here still acknowledges: the reindex job indexes links without a marker.
    if (idempotency) {
      await this.deps.idempotency
        .complete(idempotency.scope, idempotency.owner, receipt)
        .catch((error: unknown) => {
          this.deps.logger.warn("idempotency receipt not stored", { error: String(error) });
        });
    }
    await this.index(receipt, records, batch);
    return { status: 201, body: receipt };
  }

  /**
   * Claims the request's Idempotency-Key (when it has one) for this request. Answers instead with a
   * refusal (a bad or reused key, another request in progress) or the first receipt (a replay).
   */
  private async claimIdempotencyKey(
    request: IngestRequest,
    tenant: string,
    reporter: Principal,
  ): Promise<{ readonly claim?: IdempotencyHold; readonly response?: ApiResponse }> {
    if (request.idempotencyKey === undefined) return {};
    if (!IDEMPOTENCY_KEY.test(request.idempotencyKey)) {
      return {
        response: errorResponse(
          400,
          "invalid_idempotency_key",
          "Idempotency-Key must be 1 to 255 printable ASCII characters",
        ),
      };
    }
    const scope = idempotencyScopeOf(tenant, reporter, request.idempotencyKey);
    const owner = request.requestId;
    const bodyHash = sha256Hex(request.body ?? "");
    const claim = await this.deps.idempotency.claim(
      scope,
      bodyHash,
      owner,
      this.deps.now(),
      IDEMPOTENCY_CLAIM_MS,
    );
    switch (claim.kind) {
      case "conflict":
        return {
          response: errorResponse(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different body; use a new key",
          ),
        };
      case "in_progress":
        return {
          response: errorResponse(
            409,
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still in progress; retry shortly",
            {},
            { "retry-after": "2" },
          ),
        };
      case "completed":
        return { response: await this.replay(claim.receipt as Receipt) };
      case "claimed":
        return { claim: { scope, owner } };
    }
  }

  /** The request's events as records: one id each, the time received, who sent them and about whom. */
  private recordsOf(
    request: IngestRequest,
    events: readonly EventInput[],
    about: {
      readonly reporter: Principal;
      readonly subjects: readonly (Principal | undefined)[];
      readonly tenant: string;
      readonly receivedAt: Date;
    },
  ): EventRecord[] {
    const time = about.receivedAt.toISOString();
    const ingest = {
      request_id: request.requestId,
      source_ip: request.sourceIp,
      user_agent: request.userAgent,
    };
    return events.map((event, i) =>
      buildRecord(event, {
        id: this.deps.newId(),
        time,
        reporter: about.reporter,
        subject: about.subjects[i],
        tenant: about.tenant,
        ingest,
      }),
    );
  }

  /** The receipt of an earlier request with this Idempotency-Key and body, if it was sealed. */
  private async sealedReceipt(
    request: IngestRequest,
    tenant: string,
    reporter: Principal,
  ): Promise<Receipt | undefined> {
    const key = request.idempotencyKey;
    if (key === undefined || !IDEMPOTENCY_KEY.test(key)) return undefined;
    const receipt = await this.deps.idempotency.completedReceipt(
      idempotencyScopeOf(tenant, reporter, key),
      sha256Hex(request.body ?? ""),
    );
    return receipt as Receipt | undefined;
  }

  /**
   * Archives events the server itself generates about an authenticated caller's request (the
   * query API's `audit.read`), through the same steps 3–5 as `ingest`. The caller needs no write
   * scope: it chose none of the content. The caller is reporter and (verified) actor, the tenant
   * is the caller's own. Resolves with the receipt once the link is stored; otherwise throws
   * ArchiveUnavailableError (or ClaimError for unusable claims) and nothing is acknowledged.
   */
  async archiveServerEvents(caller: ServerEventCaller, events: readonly EventInput[]): Promise<Receipt> {
    const { principal: reporter, tenant } = verifiedCallerOf(
      apiGatewayClaims(caller.claims),
      this.deps.config.tenantClaim,
    );
    // Server-built, but held to the client's rules: a bug here must not write an invalid record.
    const inputs = events.map((event) => EventInputSchema.parse(event));
    const receivedAt = new Date(this.deps.now());
    const time = receivedAt.toISOString();
    const ingest = { request_id: caller.requestId, source_ip: caller.sourceIp, user_agent: caller.userAgent };
    const plain = inputs.map((event) =>
      buildRecord(event, { id: this.deps.newId(), time, reporter, tenant, ingest }),
    );
    let records: EventRecord[];
    let batch: SealedBatch;
    let receipt: Receipt;
    try {
      records = await this.protected(plain);
      batch = sealBatch(records, receivedAt);
      receipt = await this.sealAndLink(records, batch);
    } catch (error) {
      throw new ArchiveUnavailableError(error);
    }
    await this.index(receipt, records, batch);
    return receipt;
  }

  /**
   * The client's events are acknowledged: count them, and the watched actions among them by pattern
   * and outcome. (The server's own `audit.read` events are counted by the query service as reads.)
   */
  private countAcknowledged(records: readonly EventRecord[]): void {
    this.metrics.record(accessMetricPoints.eventsIngested(records.length));
    const patterns = this.deps.config.watchedActionPatterns ?? DEFAULT_WATCHED_PATTERNS;
    for (const { pattern, outcome, count } of countWatchedActions(patterns, records)) {
      this.metrics.record(accessMetricPoints.watchedAction(pattern, outcome, count));
    }
  }

  /**
   * The records as they are stored: personal fields sealed under each subject's key when privacy is
   * on. A failure here (the key store or KMS) acknowledges nothing, like a failed put.
   */
  private async protected(records: EventRecord[]): Promise<EventRecord[]> {
    const privacy = this.deps.privacy;
    if (!privacy) return records;
    try {
      return await privacy.session().protect(records);
    } catch (error) {
      this.deps.logger.error("personal fields not sealed: batch not acknowledged", { error: String(error) });
      throw error;
    }
  }

  /** Steps 3–4: the data object, then the link that acknowledges it. Throws when not acknowledged. */
  private async sealAndLink(records: readonly EventRecord[], batch: SealedBatch): Promise<Receipt> {
    let appended: AppendedLink;
    try {
      await this.putDataObject(batch.key, batch.bytes);
      appended = await this.deps.chains.append(linkBatchOf(batch));
    } catch (error) {
      this.deps.logger.error("batch not acknowledged", {
        error: String(error),
        cause: String((error as Error).cause ?? ""),
      });
      throw error;
    }
    return {
      ids: records.map((record) => record.id),
      chain: appended.link.chain,
      seq: appended.link.seq,
      link_key: appended.key,
      link_hash: appended.hash,
      batch: { key: batch.key, root: batch.root, count: batch.count },
      leaf_indexes: records.map((_, leafIndex) => leafIndex),
    };
  }

  /** Step 5. Never fails the request: the reindex job indexes links without a marker. */
  private async index(receipt: Receipt, records: readonly EventRecord[], batch: SealedBatch): Promise<void> {
    try {
      await indexLinkedBatch(
        this.deps.index,
        {
          chain: receipt.chain,
          seq: receipt.seq,
          linkKey: receipt.link_key,
          linkHash: receipt.link_hash,
          batchKey: batch.key,
          records,
          leafHashes: batch.leafHashes,
        },
        this.deps.config.indexTtlDays,
      );
    } catch (error) {
      this.deps.logger.warn("indexing deferred to the reindex job", {
        error: String(error),
        link: receipt.link_key,
      });
    }
    this.deps.logger.info("events sealed", {
      count: records.length,
      chain: receipt.chain,
      seq: receipt.seq,
      tenant: records[0]?.tenant,
    });
  }

  /** A content-addressed key: an existing object with this key must hold the same bytes. */
  private async putDataObject(key: string, bytes: Buffer): Promise<void> {
    const stored = await writeExactly(this.deps.objects, key, bytes, DATA_CONTENT_TYPE);
    if (stored !== "ours")
      throw new WriteUnconfirmedError(key, "exists with other bytes than its name's hash");
  }

  /** The first receipt again, once its link is confirmed in S3; nothing is written. */
  private async replay(receipt: Receipt): Promise<ApiResponse> {
    const stored = await this.deps.objects.get(receipt.link_key);
    if (!stored || sha256Hex(stored) !== receipt.link_hash) {
      this.deps.logger.error("idempotent replay: receipt's link not confirmed", { link: receipt.link_key });
      return errorResponse(
        503,
        "receipt_unconfirmed",
        "the first receipt for this key could not be confirmed in the archive; retry later",
      );
    }
    return { status: 201, body: receipt, headers: { "idempotent-replayed": "true" } };
  }
}

/** A claimed Idempotency-Key: released when sealing fails, completed with the receipt. */
interface IdempotencyHold {
  readonly scope: IdempotencyScope;
  readonly owner: string;
}

function idempotencyScopeOf(tenant: string, reporter: Principal, key: string): IdempotencyScope {
  return { tenant, reporterIss: reporter.iss, reporterSub: reporter.sub, key };
}
