/**
 * The read side of the HTTP API: `GET /v1/events`, `GET /v1/events/{id}`, its proof, and
 * `GET /v1/checkpoints/latest`. Every read authorizes from the caller's claims (read scope;
 * tenant from the configured claim; another tenant only with the admin scope), validates its
 * parameters, reads the index and the archive, and archives an `audit.read` event before it
 * answers: when that write fails, the answer is 503 and carries no data.
 */
import type { ObjectReader } from "../archive/object-store";
import {
  EventIdSchema,
  type EventList,
  GetEventQuerySchema,
  type LatestCheckpoint,
  LatestCheckpointQuerySchema,
} from "../core/api-schema";
import { authorizeAccess } from "../core/claims";
import {
  type CursorBinding,
  decodeCursor,
  encodeCursor,
  InvalidCursorError,
  type MacKey,
} from "../core/cursor";
import type { EventLocation } from "../core/index-items";
import { type AccessMetrics, accessMetricPoints, NO_ACCESS_METRICS } from "../core/metrics";
import { type QueryRouteKey, routeParts } from "../core/routes";
import type { EventInput } from "../core/schema";
import type { ServerEventCaller, ServiceLogger } from "../ingest/ingest-service";
import type { RecordPrivacy } from "../privacy/record-privacy";
import type { SealtrailConfig } from "../runtime/config";
import { type ApiResponse, errorResponse, refusalResponse } from "../runtime/http";
import type { LatestCheckpointFinder } from "./checkpoints";
import { type Parsed, parseListEvents, parseParameters, queryParameters } from "./params";
import { planPostings, planQuery } from "./plan";
import { eventLocationOf, IntegrityError, recordPointerOf } from "./pointers";
import type { EventIndex } from "./ports";
import { type ReadDescription, readAuditEvent } from "./read-audit";
import { type FetchedRecord, fetchRecords } from "./records";
import { readSearchPage, type SearchHit } from "./search-pages";

/** What the HTTP layer extracts from API Gateway's event. */
export interface QueryRequest {
  /** `requestContext.authorizer.jwt.claims`: strings, arrays as "[a b]". */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  /** `requestContext.authorizer.jwt.scopes`. */
  readonly scopes: readonly string[] | undefined;
  /** The raw query string: repeated parameters are refused, so it is read instead of the joined map. */
  readonly rawQueryString: string | undefined;
  readonly queryStringParameters: Readonly<Record<string, string | undefined>> | undefined;
  readonly requestId: string;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
}

/** The event whose proof is asked for, once the caller may read it and the index knows it. */
export interface EventProofTarget {
  readonly eventId: string;
  readonly tenant: string;
  readonly location: EventLocation;
}

/**
 * Builds the proof bundle of `GET /v1/events/{id}/proof`. A 200 answer is audited and returned;
 * any other answer (say, no checkpoint covers the event yet) is returned as it is.
 */
export type ProofProvider = (target: EventProofTarget) => Promise<ApiResponse>;

export interface QueryServiceDeps {
  readonly config: SealtrailConfig;
  readonly objects: ObjectReader;
  readonly index: EventIndex;
  readonly cursorKey: MacKey;
  readonly checkpoints: LatestCheckpointFinder;
  /** Archives server-generated events for the caller: IngestService.archiveServerEvents. */
  readonly archive: (caller: ServerEventCaller, events: readonly EventInput[]) => Promise<unknown>;
  readonly proof: ProofProvider;
  readonly logger: ServiceLogger;
  /** Where answered reads are counted: reads, records returned, cross-tenant reads. */
  readonly metrics?: AccessMetrics;
  /** Opens sealed personal fields for readers and searches by pseudonym; absent: privacy is off. */
  readonly privacy?: RecordPrivacy;
}

/** Record lines per page at most: a Lambda response holds 6 MB, and JSON escaping adds a little. */
export const MAX_PAGE_BYTES = 5 * 1024 * 1024;

/** A read route's path template (what its `audit.read` event names), from its route key in core/routes.ts. */
function endpointOf(route: QueryRouteKey): string {
  return routeParts(route).path;
}

const ENDPOINTS = {
  list: endpointOf("GET /v1/events"),
  get: endpointOf("GET /v1/events/{id}"),
  proof: endpointOf("GET /v1/events/{id}/proof"),
  checkpoint: endpointOf("GET /v1/checkpoints/latest"),
} as const;

interface Caller {
  readonly identity: ServerEventCaller;
  readonly tenant: string;
  readonly admin: boolean;
}

const fail = (response: ApiResponse): { ok: false; response: ApiResponse } => ({ ok: false, response });

export class QueryService {
  constructor(private readonly deps: QueryServiceDeps) {}

  async listEvents(request: QueryRequest): Promise<ApiResponse> {
    const caller = this.authorize(request);
    if (!caller.ok) return caller.response;
    const parameters = queryParameters(request.rawQueryString, request.queryStringParameters);
    if (!parameters.ok) return parameters.response;
    const parsed = parseListEvents(parameters.value);
    if (!parsed.ok) return parsed.response;
    const { filters, limit, cursor } = parsed.value;
    const tenant = this.tenantToRead(caller.value, parsed.value.tenant);
    if (!tenant.ok) return tenant.response;

    const binding: CursorBinding = { tenant: tenant.value, filters };
    let after: string | undefined;
    if (cursor !== undefined) {
      try {
        after = (await decodeCursor(this.deps.cursorKey, binding, cursor)).after;
      } catch (error) {
        if (!(error instanceof InvalidCursorError)) throw error;
        return errorResponse(
          400,
          "invalid_cursor",
          `${error.message}: pass next_cursor unchanged, with the same filters and tenant as the page it came from`,
          { parameter: "cursor" },
        );
      }
    }

    const privacy = this.deps.privacy;
    const unsearchable = privacy?.unsearchableFilters(filters) ?? [];
    if (unsearchable.length > 0) {
      return errorResponse(
        400,
        "filter_not_searchable",
        `${unsearchable.join(", ")}: this deployment's privacy policy stores that field only encrypted, so it cannot be searched; make it searchable in the policy or search by another filter`,
        { parameter: unsearchable[0] as string },
      );
    }
    const aliases = privacy ? await privacy.searchAliases(tenant.value, filters) : {};
    const plan = {
      pointers: planQuery(tenant.value, filters, aliases),
      postings: planPostings(tenant.value, filters, aliases),
      filters,
      aliases,
    };
    const page = await readSearchPage(this.deps, plan, tenant.value, after, limit);
    const fetched = await this.revealed(page.hits);
    // Keep the response within Lambda's payload limit: a page may end early, with a cursor.
    let kept = fetched.length;
    let bytes = 0;
    for (let i = 0; i < fetched.length; i++) {
      bytes += (fetched[i]?.bytes ?? 0) + 1;
      if (bytes > MAX_PAGE_BYTES && i > 0) {
        kept = i;
        break;
      }
    }
    const body: EventList = { events: fetched.slice(0, kept).map(({ record }) => record) };
    if (page.more || kept < fetched.length) {
      body.next_cursor = await encodeCursor(this.deps.cursorKey, binding, {
        after: (fetched[kept - 1] as SearchHit).sortKey,
      });
    }
    return this.audited(caller.value, request, body, {
      endpoint: ENDPOINTS.list,
      filters: { ...filters, tenant: parsed.value.tenant, limit },
      count: body.events.length,
      tenant: tenant.value,
    });
  }

  async getEvent(request: QueryRequest, id: string | undefined): Promise<ApiResponse> {
    const target = await this.readableEvent(request, id);
    if (!target.ok) return target.response;
    const { item, tenant, requested } = target.value;
    const [fetched] = await this.revealed(
      await fetchRecords(this.deps.objects, [recordPointerOf(item)], tenant),
    );
    return this.audited(target.value.caller, request, fetched?.record, {
      endpoint: ENDPOINTS.get,
      filters: { id: id as string, tenant: requested },
      count: 1,
      resource: { type: "event", id: id as string },
      tenant,
    });
  }

  async eventProof(request: QueryRequest, id: string | undefined): Promise<ApiResponse> {
    const { proof } = this.deps;
    const target = await this.readableEvent(request, id);
    if (!target.ok) return target.response;
    const { item, tenant, requested, caller } = target.value;
    const answer = await proof({ eventId: id as string, tenant, location: eventLocationOf(item) });
    if (answer.status !== 200) return answer;
    return this.audited(caller, request, answer.body, {
      endpoint: ENDPOINTS.proof,
      filters: { id: id as string, tenant: requested },
      count: 1,
      resource: { type: "event", id: id as string },
      tenant,
    });
  }

  async latestCheckpoint(request: QueryRequest): Promise<ApiResponse> {
    const caller = this.authorize(request);
    if (!caller.ok) return caller.response;
    const parameters = queryParameters(request.rawQueryString, request.queryStringParameters);
    if (!parameters.ok) return parameters.response;
    const parsed = parseParameters(LatestCheckpointQuerySchema, parameters.value);
    if (!parsed.ok) return parsed.response;
    const found = await this.deps.checkpoints.find();
    if (!found)
      return errorResponse(404, "no_checkpoint", "no checkpoint has been signed yet; retry in a minute");
    const stored = await this.deps.objects.get(found.key);
    if (!stored) throw new IntegrityError("a listed checkpoint cannot be read", { key: found.key });
    const body: LatestCheckpoint = { key: found.key, seq: found.seq, jws: stored.toString("utf8") };
    // No tenant: checkpoints belong to the archive, not to a tenant.
    return this.audited(caller.value, request, body, {
      endpoint: ENDPOINTS.checkpoint,
      filters: {},
      count: 1,
      resource: { type: "checkpoint", id: found.key },
    });
  }

  /**
   * Records as the reader sees them: sealed fields opened under their subject's key, or marked
   * erased. The byte count stays the stored line's (the page budget is about what was read).
   */
  private async revealed<T extends FetchedRecord>(fetched: readonly T[]): Promise<T[]> {
    const privacy = this.deps.privacy;
    if (!privacy || !fetched.some(({ record }) => record.privacy)) return [...fetched];
    const records = await privacy.session().reveal(fetched.map(({ record }) => record));
    return fetched.map((entry, i) => ({ ...entry, record: records[i] as FetchedRecord["record"] }));
  }

  /** Shared by get-one and proof: the caller may read the event and the index knows it. */
  private async readableEvent(
    request: QueryRequest,
    id: string | undefined,
  ): Promise<
    Parsed<{ caller: Caller; item: Record<string, unknown>; tenant: string; requested: string | undefined }>
  > {
    const caller = this.authorize(request);
    if (!caller.ok) return caller;
    const parameters = queryParameters(request.rawQueryString, request.queryStringParameters);
    if (!parameters.ok) return parameters;
    const parsed = parseParameters(GetEventQuerySchema, parameters.value);
    if (!parsed.ok) return parsed;
    const tenant = this.tenantToRead(caller.value, parsed.value.tenant);
    if (!tenant.ok) return tenant;
    if (!EventIdSchema.safeParse(id).success) {
      return fail(
        errorResponse(
          400,
          "invalid_parameter",
          `the event id in the path (${JSON.stringify(String(id ?? "").slice(0, 40))}) is not an event id: give the 26-character id (a ULID) that a receipt or a search returned`,
          { parameter: "id" },
        ),
      );
    }
    const item = await this.deps.index.eventPointer(id as string);
    // Another tenant's event is answered exactly like a missing one: its existence is not revealed.
    if (!item || item.tenant !== tenant.value) {
      return fail(
        errorResponse(404, "event_not_found", `no event ${id} is indexed for this tenant`, {
          parameter: "id",
        }),
      );
    }
    return {
      ok: true,
      value: { caller: caller.value, item, tenant: tenant.value, requested: parsed.value.tenant },
    };
  }

  /** The route scope again (the authorizer checked it), the caller's principal and tenant. */
  private authorize(request: QueryRequest): Parsed<Caller> {
    const { config } = this.deps;
    const authorized = authorizeAccess(request, config, "read");
    if (!authorized.ok) return fail(refusalResponse(authorized.refusal));
    return {
      ok: true,
      value: {
        identity: {
          claims: request.claims as Readonly<Record<string, unknown>>,
          requestId: request.requestId,
          sourceIp: request.sourceIp,
          userAgent: request.userAgent,
        },
        tenant: authorized.caller.tenant,
        admin: authorized.caller.scopes.has(config.scopes.admin),
      },
    };
  }

  /** The caller's own tenant, or the one asked for when the caller holds the admin scope. */
  private tenantToRead(caller: Caller, requested: string | undefined): Parsed<string> {
    if (requested === undefined || requested === caller.tenant) return { ok: true, value: caller.tenant };
    if (!caller.admin) {
      return fail(
        errorResponse(
          403,
          "missing_scope",
          `reading another tenant needs the "${this.deps.config.scopes.admin}" scope`,
          { parameter: "tenant" },
        ),
      );
    }
    return { ok: true, value: requested };
  }

  /**
   * Archives the read, then answers; without the audit record there is no answer (fail closed).
   * An answered read is counted, as a cross-tenant read too when `read.tenant` (the tenant whose
   * data is returned) is not the caller's own.
   */
  private async audited(
    caller: Caller,
    request: QueryRequest,
    body: unknown,
    read: Omit<ReadDescription, "requestId"> & { readonly tenant?: string },
  ): Promise<ApiResponse> {
    const { tenant, ...description } = read;
    try {
      await this.deps.archive(caller.identity, [
        readAuditEvent({ ...description, requestId: request.requestId }),
      ]);
    } catch (error) {
      this.deps.logger.error("read not audited: answer withheld", {
        error: String(error),
        cause: String((error as Error).cause ?? ""),
        endpoint: read.endpoint,
      });
      return errorResponse(
        503,
        "audit_unavailable",
        "the read could not be recorded in the archive, so no data is returned; retry the request",
        {},
        { "retry-after": "1" },
      );
    }
    const metrics = this.deps.metrics ?? NO_ACCESS_METRICS;
    metrics.record(accessMetricPoints.read());
    metrics.record(accessMetricPoints.recordsRead(read.count));
    if (tenant !== undefined && tenant !== caller.tenant)
      metrics.record(accessMetricPoints.crossTenantRead());
    return { status: 200, body };
  }
}
