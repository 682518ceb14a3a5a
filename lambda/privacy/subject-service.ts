/**
 * The data-subject routes of a deployment with privacy on. `POST /v1/subjects/erase` destroys the
 * subject's data key (crypto-shredding: the archive, its proofs and `verify` are untouched, the
 * sealed fields become unreadable). `POST /v1/subjects/hold` places or releases a legal hold, under
 * which erasure is refused, so that erasure cannot be used to destroy evidence. Every request is
 * archived before it changes anything (`subject.erase_requested`, `subject.hold_requested`), and every
 * outcome, a refused erasure included, before it is answered; the events name the subject only by its
 * pseudonym. The request and answer schemas are in lambda/core/api-schema.ts.
 */
import type * as z from "zod";
import {
  type EraseAnswer,
  EraseRequestSchema,
  type HoldAnswer,
  HoldRequestSchema,
  type Receipt,
} from "../core/api-schema";
import { authorizeCaller } from "../core/claims";
import type { EventInput } from "../core/schema";
import { SUBJECT_ACTIONS } from "../core/server-actions";
import type { ServerEventCaller, ServiceLogger } from "../ingest/ingest-service";
import type { PrivacyConfig, SealtrailConfig } from "../runtime/config";
import { type ApiResponse, errorResponse, refusalResponse } from "../runtime/http";
import type { KeyDestruction, LegalHold, SubjectKeyStore, SubjectRef } from "./ports";
import type { RecordPrivacy } from "./record-privacy";

/** The resource type the subject events name; the id is the subject's pseudonym. */
export const DATA_SUBJECT_RESOURCE = "data_subject";

export interface SubjectRequest {
  readonly claims: Readonly<Record<string, unknown>> | undefined;
  readonly scopes: readonly string[] | undefined;
  readonly body: string | undefined;
  readonly isBase64Encoded: boolean;
  readonly requestId: string;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
}

export interface SubjectServiceDeps {
  readonly config: SealtrailConfig & { readonly privacy: PrivacyConfig };
  readonly privacy: RecordPrivacy;
  readonly keys: SubjectKeyStore;
  /** Archives server-generated events for the caller: IngestService.archiveServerEvents. */
  readonly archive: (caller: ServerEventCaller, events: readonly EventInput[]) => Promise<Receipt>;
  readonly now: () => number;
  readonly logger: ServiceLogger;
}

type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly response: ApiResponse };

const DAY_MS = 86_400_000;

export class SubjectService {
  constructor(private readonly deps: SubjectServiceDeps) {}

  async erase(request: SubjectRequest): Promise<ApiResponse> {
    const { config } = this.deps;
    const caller = this.authorize(request, config.privacy.eraseScope, "erase a data subject");
    if (!caller.ok) return caller.response;
    const body = parseBody(request, EraseRequestSchema);
    if (!body.ok) return body.response;
    const ref = await this.refOf(caller.value.tenant, body.value);

    // A hold found now refuses before anything is archived as requested; one placed meanwhile is
    // still caught, by the destruction's own transaction.
    const hold = await this.deps.keys.legalHold(ref);
    if (hold) return this.refused(caller.value.identity, request, ref, hold);

    // The request is sealed first: if anything fails after it, the archive still shows the erasure
    // was asked for and by whom, and a retry (idempotent) records what it found.
    const requested = await this.archived(caller.value.identity, request, {
      action: SUBJECT_ACTIONS.eraseRequested,
      outcome: "success",
      ref,
      details: {},
    });
    if (!requested.ok) return requested.response;
    const destruction = await this.deps.keys.destroyKey(ref, this.deps.now());
    if (destruction.kind === "held")
      return this.refused(caller.value.identity, request, ref, destruction.hold);
    const outcome = describeDestruction(destruction, config.privacy.erasureHorizonDays);
    const archived = await this.archived(caller.value.identity, request, {
      action: SUBJECT_ACTIONS.erased,
      outcome: "success",
      ref,
      details: {
        status: outcome.status,
        ...("erased_at" in outcome ? { erased_at: outcome.erased_at } : {}),
      },
    });
    if (!archived.ok) return archived.response;
    const answer: EraseAnswer = { ...outcome, subject: ref.subject, receipt: archived.value };
    return { status: 200, body: answer };
  }

  /** A refused erasure: archived as refused, then 409 legal_hold. */
  private async refused(
    identity: ServerEventCaller,
    request: SubjectRequest,
    ref: SubjectRef,
    hold: LegalHold,
  ): Promise<ApiResponse> {
    const refused = await this.archived(identity, request, {
      action: SUBJECT_ACTIONS.eraseRefused,
      outcome: "denied",
      ref,
      details: { reason: "legal_hold", hold_placed_at: hold.placedAt },
    });
    if (!refused.ok) return refused.response;
    return errorResponse(
      409,
      "legal_hold",
      "this data subject is under a legal hold, so its personal data cannot be erased; an admin must release the hold first",
      { subject: ref.subject, hold_placed_at: hold.placedAt, receipt: refused.value },
    );
  }

  async hold(request: SubjectRequest): Promise<ApiResponse> {
    const { config } = this.deps;
    const caller = this.authorize(request, config.scopes.admin, "place or release a legal hold");
    if (!caller.ok) return caller.response;
    const body = parseBody(request, HoldRequestSchema);
    if (!body.ok) return body.response;
    const ref = await this.refOf(caller.value.tenant, body.value);
    // As for erasure: the request is sealed before the hold changes, so no change goes unrecorded.
    const requested = await this.archived(caller.value.identity, request, {
      action: SUBJECT_ACTIONS.holdRequested,
      outcome: "success",
      ref,
      details: {
        held: String(body.value.held),
        ...(body.value.held ? { reason: body.value.reason as string } : {}),
      },
    });
    if (!requested.ok) return requested.response;
    const placedAt = new Date(this.deps.now()).toISOString();
    await this.deps.keys.setLegalHold(
      ref,
      body.value.held
        ? { reason: body.value.reason as string, placedAt, placedBy: caller.value.actor }
        : undefined,
    );
    const archived = await this.archived(caller.value.identity, request, {
      action: body.value.held ? SUBJECT_ACTIONS.holdPlaced : SUBJECT_ACTIONS.holdReleased,
      outcome: "success",
      ref,
      details: body.value.held ? { reason: body.value.reason as string } : {},
    });
    if (!archived.ok) return archived.response;
    const answer: HoldAnswer = { subject: ref.subject, held: body.value.held, receipt: archived.value };
    return { status: 200, body: answer };
  }

  /** The subject a request names: by its identifier (its pseudonym computed here), or by its pseudonym. */
  private refOf(
    tenant: string,
    named: { sub: string; iss?: string } | { subject: string },
  ): Promise<SubjectRef> | SubjectRef {
    if ("subject" in named) return { tenant, subject: named.subject };
    return this.deps.privacy.subjectRef(tenant, { iss: named.iss ?? null, sub: named.sub });
  }

  private authorize(
    request: SubjectRequest,
    scope: string,
    purpose: string,
  ): Parsed<{ identity: ServerEventCaller; tenant: string; actor: string }> {
    const authorized = authorizeCaller(request, {
      scope,
      purpose,
      tenantClaim: this.deps.config.tenantClaim,
    });
    if (!authorized.ok) return { ok: false, response: refusalResponse(authorized.refusal) };
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
        actor: authorized.caller.principal.sub,
      },
    };
  }

  /** Archives one subject event for the caller; without it there is no answer but a 503. */
  private async archived(
    caller: ServerEventCaller,
    request: SubjectRequest,
    event: {
      readonly action: string;
      readonly outcome: "success" | "denied";
      readonly ref: SubjectRef;
      readonly details: Record<string, string>;
    },
  ): Promise<Parsed<Receipt>> {
    try {
      const receipt = await this.deps.archive(caller, [
        {
          action: event.action,
          outcome: event.outcome,
          resource: { type: DATA_SUBJECT_RESOURCE, id: event.ref.subject },
          http: { request_id: request.requestId, method: "POST" },
          details: event.details,
        },
      ]);
      return { ok: true, value: receipt };
    } catch (error) {
      this.deps.logger.error("subject event not archived", { error: String(error), action: event.action });
      return {
        ok: false,
        response: errorResponse(
          503,
          "audit_unavailable",
          "the request could not be recorded in the archive; retry it (erasure and holds are idempotent)",
          {},
          { "retry-after": "1" },
        ),
      };
    }
  }
}

/** The erasure answer: what happened, and when the key stops being recoverable from backups. */
function describeDestruction(destruction: Exclude<KeyDestruction, { kind: "held" }>, horizonDays: number) {
  if (destruction.kind === "unknown") {
    return {
      status: "unknown_subject" as const,
      message:
        "sealtrail holds no data key for this subject: nothing of it was sealed, so nothing was erased",
    };
  }
  const erasedAt = destruction.erasedAt;
  return {
    status: destruction.kind,
    erased_at: erasedAt,
    // The table's point-in-time recovery keeps the deleted key for this long (docs/privacy.md).
    unrecoverable_after: new Date(Date.parse(erasedAt) + horizonDays * DAY_MS).toISOString(),
  };
}

function parseBody<T>(request: SubjectRequest, schema: z.ZodType<T>): Parsed<T> {
  let value: unknown;
  try {
    const text = request.isBase64Encoded
      ? Buffer.from(request.body ?? "", "base64").toString("utf8")
      : (request.body ?? "");
    value = JSON.parse(text);
  } catch {
    return { ok: false, response: errorResponse(400, "invalid_json", "the body must be a JSON object") };
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      response: errorResponse(400, "invalid_request", "the body does not match the route's schema", {
        errors: parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
      }),
    };
  }
  return { ok: true, value: parsed.data };
}
