/**
 * The HTTP API's parameters, request bodies and responses, defined once with zod. The handlers
 * validate with these schemas and the OpenAPI document (openapi.ts) is generated from the same
 * objects, so the two cannot drift apart.
 */
import * as z from "zod";
import { SUBJECT_PSEUDONYM_PREFIX } from "./privacy/pseudonym";
import { EventInputSchema, EventRecordSchema, isoDateTime, LIMITS, OUTCOMES, text } from "./schema";

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;
/** A cursor is a few hundred characters; anything far longer is not one of ours. */
export const MAX_CURSOR_LENGTH = 2048;

/** An event id: a canonical ULID (lambda/core/ulid.ts). */
export const EventIdSchema = z
  .string()
  .regex(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, "must be an event id (a ULID, 26 characters)")
  .meta({ description: "Event id (a ULID)" });

/** A tenant other than the caller's own: only with the admin scope. */
const tenantParameter = text(256).meta({
  description: "Read another tenant's events. Needs the admin scope unless it names the caller's own tenant.",
});

/**
 * `GET /v1/events` query parameters. Unknown parameters are refused, so a misspelt filter never
 * silently widens a search. Cross-parameter rules (resource_type with resource_id, from ≤ to, …)
 * are checked in lambda/query/params.ts.
 */
export const ListEventsQuerySchema = z.strictObject({
  actor: text(256).optional().meta({ description: "The actor's subject (`actor.sub`)." }),
  actor_iss: text(512)
    .optional()
    .meta({ description: "The actor's issuer (`actor.iss`); only together with `actor`." }),
  action: EventInputSchema.shape.action.optional().meta({ description: "Exact action, e.g. document.read." }),
  resource_type: text(128)
    .optional()
    .meta({ description: "Resource type; only together with `resource_id`." }),
  resource_id: text(1024)
    .optional()
    .meta({ description: "Resource id; only together with `resource_type`." }),
  outcome: z.enum(OUTCOMES).optional(),
  session_id: text(256).optional().meta({ description: "The actor's session (`actor.session_id`)." }),
  request_id: text(256)
    .optional()
    .meta({ description: "The audited action's request id (`http.request_id`)." }),
  from: isoDateTime.optional().meta({ description: "Earliest record `time`, inclusive (ISO-8601)." }),
  to: isoDateTime.optional().meta({ description: "Latest record `time`, inclusive (ISO-8601)." }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_LIMIT)
    .default(DEFAULT_PAGE_LIMIT)
    .meta({ description: `Events per page, 1 to ${MAX_PAGE_LIMIT}.` }),
  cursor: z
    .string()
    .min(1)
    .max(MAX_CURSOR_LENGTH)
    .optional()
    .meta({ description: "`next_cursor` of the previous page, with the same filters." }),
  tenant: tenantParameter.optional(),
});
export type ListEventsQuery = z.infer<typeof ListEventsQuerySchema>;

/** `GET /v1/events/{id}` and `GET /v1/events/{id}/proof` query parameters. */
export const GetEventQuerySchema = z.strictObject({ tenant: tenantParameter.optional() });

/** `GET /v1/checkpoints/latest` takes no parameters: checkpoints cover every tenant. */
export const LatestCheckpointQuerySchema = z.strictObject({});

export const EventListSchema = z.strictObject({
  events: z.array(EventRecordSchema).meta({
    description: "Full stored records, ordered by `time` ascending, then by `id`.",
  }),
  next_cursor: z
    .string()
    .optional()
    .meta({ description: "Present only when there are more events; pass it as `cursor`." }),
});
export type EventList = z.infer<typeof EventListSchema>;

export const LatestCheckpointSchema = z.strictObject({
  key: z.string().regex(/^checkpoints\/[0-9]{20}\.jws$/),
  seq: z.number().int().min(0),
  jws: z.string().meta({ description: "The checkpoint as stored: a compact JWS (ES256)." }),
});
export type LatestCheckpoint = z.infer<typeof LatestCheckpointSchema>;

/** The proof bundle of one event: the format is defined once, in lambda/core/proof.ts. */
export { ProofBundleSchema } from "./proof";

export const IngestBodySchema = z.strictObject({
  events: z.array(EventInputSchema).min(LIMITS.minEvents).max(LIMITS.maxEvents),
});

/** The 201 answer of `POST /v1/events`: given once the batch's link is stored. */
export const ReceiptSchema = z.strictObject({
  ids: z.array(EventIdSchema),
  chain: z.string(),
  seq: z.number().int().min(0),
  link_key: z.string(),
  link_hash: z.string().regex(/^[0-9a-f]{64}$/),
  batch: z.strictObject({
    key: z.string(),
    root: z.string().regex(/^[0-9a-f]{64}$/),
    count: z.number().int().min(1),
  }),
  leaf_indexes: z.array(z.number().int().min(0)),
});
export type Receipt = z.infer<typeof ReceiptSchema>;

/**
 * A data subject's pseudonym (lambda/core/privacy/pseudonym.ts): `sub1.` and a keyed HMAC-SHA256 in
 * base64url. The subject routes name the subject only by it, as the `subject.*` events do.
 */
export const SubjectPseudonymSchema = z
  .string()
  .regex(new RegExp(`^${SUBJECT_PSEUDONYM_PREFIX.replace(".", "\\.")}[A-Za-z0-9_-]{43}$`))
  .meta({
    description:
      "The data subject's pseudonym within the caller's tenant (`sub1.…`): the `resource.id` of its `subject.*` events.",
  });

/** The data subject a request names: its identifier as its issuer's tokens name it (`actor.sub`, `actor.iss`). */
const DataSubjectFields = {
  sub: text(256).meta({ description: "The subject's `actor.sub`, as sent in its events." }),
  iss: text(512)
    .optional()
    .meta({ description: "The subject's `actor.iss`; omit it for events sent without an issuer." }),
};

/**
 * Or the subject by its pseudonym, as a `subject.*` event names it: how erasures and holds are applied
 * again after the table is restored to a point before them (docs/privacy.md, "Restoring the table").
 */
const PseudonymFields = { subject: SubjectPseudonymSchema };

/** `POST /v1/subjects/erase` (privacy on): the data subject whose data key is destroyed. */
export const EraseRequestSchema = z.union([
  z.strictObject(DataSubjectFields),
  z.strictObject(PseudonymFields),
]);
export type EraseRequest = z.infer<typeof EraseRequestSchema>;

const HoldFields = {
  held: z.boolean().meta({ description: "`true` places the hold, `false` releases it." }),
  reason: text(1024).optional().meta({
    description: "Why the hold is placed (archived in `subject.hold_placed`); required with `held: true`.",
  }),
};

/** `POST /v1/subjects/hold` (privacy on): places (`held: true`, with a reason) or releases a legal hold. */
export const HoldRequestSchema = z
  .union([
    z.strictObject({ ...DataSubjectFields, ...HoldFields }),
    z.strictObject({ ...PseudonymFields, ...HoldFields }),
  ])
  .refine((hold) => !hold.held || hold.reason !== undefined, {
    message: "a legal hold needs a reason",
    path: ["reason"],
  })
  // The refinement in JSON Schema, for the OpenAPI document: with `held: true`, `reason` is required
  // (`then` names the member it requires, as strict validators want a required member defined).
  .meta({
    // Either form is an object; strict validators want the type beside `if`.
    type: "object",
    if: { properties: { held: { const: true } } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's `then` keyword; this object is never awaited.
    then: { properties: { reason: true }, required: ["reason"] },
  });
export type HoldRequest = z.infer<typeof HoldRequestSchema>;

const archivedAs = (action: string) =>
  ReceiptSchema.meta({ description: `The receipt of the \`${action}\` event archived before this answer.` });

/**
 * The 200 answer of `POST /v1/subjects/erase`: the key was destroyed now (`erased`) or before
 * (`already_erased`, with the first erasure's time), or the subject never had one (`unknown_subject`).
 */
export const EraseAnswerSchema = z.discriminatedUnion("status", [
  z.strictObject({
    status: z.enum(["erased", "already_erased"]),
    erased_at: z.iso.datetime().meta({ description: "When the subject's data key was destroyed." }),
    unrecoverable_after: z.iso.datetime().meta({
      description:
        "When erasure is complete: the destroyed key leaves the index table's point-in-time recovery " +
        "window (the erasure horizon), after which no backup can restore it.",
    }),
    subject: SubjectPseudonymSchema,
    receipt: archivedAs("subject.erased"),
  }),
  z.strictObject({
    status: z.literal("unknown_subject"),
    message: z.string(),
    subject: SubjectPseudonymSchema,
    receipt: archivedAs("subject.erased"),
  }),
]);
export type EraseAnswer = z.infer<typeof EraseAnswerSchema>;

/** The 200 answer of `POST /v1/subjects/hold`: the hold as it now stands. */
export const HoldAnswerSchema = z.strictObject({
  subject: SubjectPseudonymSchema,
  held: z.boolean(),
  receipt: archivedAs("subject.hold_placed` or `subject.hold_released"),
});
export type HoldAnswer = z.infer<typeof HoldAnswerSchema>;

/**
 * The 400 answer of the subject routes: the body is not JSON (`invalid_json`), or not the route's
 * request schema (`invalid_request`, each problem in `errors`).
 */
export const SubjectBodyErrorSchema = z.discriminatedUnion("code", [
  z.strictObject({ code: z.literal("invalid_json"), message: z.string() }),
  z.strictObject({
    code: z.literal("invalid_request"),
    message: z.string(),
    errors: z
      .array(
        z.strictObject({
          path: z.string().meta({ description: "The member at fault, dot-separated (empty: the body)." }),
          message: z.string(),
        }),
      )
      .min(1),
  }),
]);

/** The 409 answer of `POST /v1/subjects/erase` under a legal hold; the refusal itself is archived. */
export const LegalHoldErrorSchema = z.strictObject({
  code: z.literal("legal_hold"),
  message: z.string(),
  subject: SubjectPseudonymSchema,
  hold_placed_at: z.iso.datetime().meta({ description: "When the hold in force was placed." }),
  receipt: archivedAs("subject.erase_refused"),
});

/**
 * What API Gateway answers by itself, before sealtrail sees the request (the JWT authorizer's 401
 * and 403, an unknown route's 404, a body over its payload limit, throttling): a message, no code.
 */
export const GatewayErrorSchema = z
  .strictObject({
    message: z.string().meta({ description: 'API Gateway\'s own words, e.g. "Unauthorized", "Forbidden".' }),
  })
  .meta({
    description: "An answer of API Gateway itself: no `code`; see `www-authenticate` for 401 and 403.",
  });

/** Every error answer: one machine-readable `code`, a message saying what to do, and details. */
export const ErrorSchema = z.looseObject({
  code: z.string(),
  message: z.string(),
  /** The query parameter at fault (query API). */
  parameter: z.string().optional(),
  /** The token claim at fault. */
  claim: z.string().optional(),
  /** Per-event problems of an ingest body. */
  errors: z
    .array(
      z.strictObject({
        index: z.number().int().min(0).optional(),
        path: z.string(),
        code: z.string(),
        message: z.string(),
      }),
    )
    .optional(),
});
