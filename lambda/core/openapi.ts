/**
 * The OpenAPI 3.1 document of the whole HTTP API, generated from the zod schemas the handlers
 * validate with (schema.ts, api-schema.ts) by zod's own JSON Schema conversion (draft 2020-12, the
 * dialect of OpenAPI 3.1). Request bodies and parameters are described as clients send them
 * (zod's "input" side), responses as the API answers them ("output" side). Pure: no AWS SDK.
 * The data-subject routes (privacy on) are listed only in the document of a deployment that has
 * them (`privacy: true`), so a client never sees routes its deployment does not serve.
 */
import * as z from "zod";
import { DEFAULT_ERASE_SCOPE, DEFAULT_SCOPES } from "../runtime/config";
import {
  EraseAnswerSchema,
  EraseRequestSchema,
  ErrorSchema,
  EventIdSchema,
  EventListSchema,
  GatewayErrorSchema,
  GetEventQuerySchema,
  HoldAnswerSchema,
  HoldRequestSchema,
  IngestBodySchema,
  LatestCheckpointSchema,
  LegalHoldErrorSchema,
  ListEventsQuerySchema,
  ProofBundleSchema,
  ReceiptSchema,
  SubjectBodyErrorSchema,
} from "./api-schema";
import { ingestCodesWithStatus } from "./ingest-errors";
import { routeParts, SUBJECT_ROUTES } from "./routes";
import { EventInputSchema, EventRecordSchema, LIMITS } from "./schema";

type JsonObject = Record<string, unknown>;

export interface OpenApiOptions {
  /** Scope names of the deployment; default sealtrail/write, sealtrail/read, sealtrail/admin. */
  readonly scopes?: { readonly write: string; readonly read: string; readonly admin: string };
  /** Base URL of the API, when known (local mode). */
  readonly serverUrl?: string;
  /**
   * The deployment has privacy on (`SEALTRAIL_PRIVACY`, config.privacy): the document lists the
   * data-subject routes, their components and `filter_not_searchable`. Default false.
   */
  readonly privacy?: boolean;
  /** The scope `POST /v1/subjects/erase` needs (`SEALTRAIL_ERASE_SCOPE`); default sealtrail/erase. */
  readonly eraseScope?: string;
}

const SCHEMA_REF = "#/components/schemas/";
const BEARER = "bearerAuth";

/** The `details` member of an event: any JSON value (z.json(), recursive). */
const JsonValueSchema = EventInputSchema.shape.details.unwrap();

/** Component name → schema, and which side of each schema (what is sent, what is answered) it describes. */
const REQUEST_COMPONENTS = {
  JsonValue: JsonValueSchema,
  EventInput: EventInputSchema,
  IngestBody: IngestBodySchema,
} as const;
const RESPONSE_COMPONENTS = {
  EventRecord: EventRecordSchema,
  Receipt: ReceiptSchema,
  EventList: EventListSchema,
  LatestCheckpoint: LatestCheckpointSchema,
  ProofBundle: ProofBundleSchema,
  Error: ErrorSchema,
  GatewayError: GatewayErrorSchema,
} as const;
/** The data-subject routes' components: in the document only with privacy on. */
const PRIVACY_REQUEST_COMPONENTS = {
  EraseRequest: EraseRequestSchema,
  HoldRequest: HoldRequestSchema,
} as const;
const PRIVACY_RESPONSE_COMPONENTS = {
  EraseAnswer: EraseAnswerSchema,
  HoldAnswer: HoldAnswerSchema,
  LegalHoldError: LegalHoldErrorSchema,
  SubjectBodyError: SubjectBodyErrorSchema,
} as const;
type ComponentId =
  | keyof typeof REQUEST_COMPONENTS
  | keyof typeof RESPONSE_COMPONENTS
  | keyof typeof PRIVACY_REQUEST_COMPONENTS
  | keyof typeof PRIVACY_RESPONSE_COMPONENTS;

/** `$schema` and `$id` belong to standalone schemas; inside an OpenAPI document they would be wrong. */
function embedded(schema: JsonObject): JsonObject {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

/** zod renders an open object's `additionalProperties` as `{}`; `true` says the same, plainly. */
function openObjectsAsTrue(context: { jsonSchema: JsonObject }): void {
  const extra = context.jsonSchema.additionalProperties;
  if (typeof extra === "object" && extra !== null && Object.keys(extra).length === 0) {
    context.jsonSchema.additionalProperties = true;
  }
}

function componentSchemas(privacy: boolean): JsonObject {
  const requests = privacy ? { ...REQUEST_COMPONENTS, ...PRIVACY_REQUEST_COMPONENTS } : REQUEST_COMPONENTS;
  const responses = privacy
    ? { ...RESPONSE_COMPONENTS, ...PRIVACY_RESPONSE_COMPONENTS }
    : RESPONSE_COMPONENTS;
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ ...requests, ...responses })) {
    registry.add(schema as z.ZodType, { id });
  }
  const convert = (io: "input" | "output") =>
    z.toJSONSchema(registry, {
      target: "draft-2020-12",
      io,
      uri: (id) => `${SCHEMA_REF}${id}`,
      // Refinements (no control characters, …) have no JSON Schema form; they stay server-side checks.
      unrepresentable: "any",
      override: openObjectsAsTrue,
    }).schemas as Record<string, JsonObject>;
  const sent = convert("input");
  const answered = convert("output");
  const schemas: JsonObject = {};
  for (const id of Object.keys(requests)) schemas[id] = embedded(sent[id] as JsonObject);
  for (const id of Object.keys(responses)) schemas[id] = embedded(answered[id] as JsonObject);
  return schemas;
}

const ref = (id: ComponentId) => ({ $ref: `${SCHEMA_REF}${id}` });

/** One OpenAPI parameter per member of a strict zod object of query parameters. */
function queryParameters(schema: z.ZodObject): JsonObject[] {
  return Object.entries(schema.shape).map(([name, member]) => {
    const { description, ...json } = embedded(
      z.toJSONSchema(member as z.ZodType, { io: "input", unrepresentable: "any" }) as JsonObject,
    );
    return {
      name,
      in: "query",
      required: !(member as z.ZodType).isOptional(),
      ...(description === undefined ? {} : { description }),
      schema: json,
    };
  });
}

const idParameter = () => {
  const { description, ...schema } = embedded(z.toJSONSchema(EventIdSchema, { io: "input" }) as JsonObject);
  return { name: "id", in: "path", required: true, description, schema };
};

function json(schemaRef: JsonObject, description: string): JsonObject {
  return { description, content: { "application/json": { schema: schemaRef } } };
}

/** The ingest codes answered with one status, from their one definition (ingest-errors.ts). */
const ingestCodes = (status: Parameters<typeof ingestCodesWithStatus>[0]) =>
  ingestCodesWithStatus(status).join(", ");

/** API Gateway's payload limit for HTTP APIs: a larger body never reaches sealtrail. */
const GATEWAY_PAYLOAD_LIMIT = "10 MiB";

/** Error answers, each with the codes it can carry (docs/ingest.md, docs/query.md). */
const ERRORS = {
  ingest400: `Invalid request: ${ingestCodes(400)}`,
  query400:
    "Invalid parameters: unknown_parameter, duplicate_parameter, invalid_parameter, missing_parameter, " +
    "invalid_time_range, invalid_cursor; `parameter` names the parameter",
  filterNotSearchable:
    "filter_not_searchable: the deployment's privacy policy stores that field only encrypted, so it cannot be " +
    "searched; `parameter` names the filter",
  get400:
    "Invalid parameters: unknown_parameter, duplicate_parameter, invalid_parameter (`parameter`: id, tenant)",
  checkpoint400: "Invalid parameters: unknown_parameter, duplicate_parameter (this route takes none)",
  401: "Token claims unusable: missing_claims, missing_claim, claim_not_single, invalid_claim",
  ingest401: `Token claims unusable: ${ingestCodes(401)}`,
  403: "missing_scope: the route's scope, or the admin scope for another tenant (`parameter`: tenant)",
  404: "event_not_found: no such event is indexed for this tenant (another tenant's event looks the same)",
  500: "internal_error, or integrity_error when the index disagrees with the archive (nothing is returned)",
  503: "audit_unavailable: the read could not be archived, so nothing is returned; retry",
  subject400:
    "invalid_json: the body is not JSON; invalid_request: it does not match the route's request schema, each " +
    "problem in `errors` (`path`, `message`)",
  subject500: "internal_error; retry (erasure and holds are idempotent)",
  subject503:
    "audit_unavailable: the request or its outcome could not be archived (an erasure or hold whose request " +
    "was not sealed changed nothing); retry: erasure and holds are idempotent",
} as const;

const errorResponse = (description: string) => json(ref("Error"), description);

/** The reason of an authorizer's refusal; its token is never echoed. */
const WWW_AUTHENTICATE = {
  "www-authenticate": {
    description:
      'Only on the JWT authorizer\'s answers: `Bearer error="invalid_token", error_description="…"` (401), or ' +
      '`error="insufficient_scope"` with the `scope` the route needs (403).',
    schema: { type: "string" },
  },
};

/** A status both API Gateway (`{"message"}`, no code) and sealtrail (`{"code","message"}`) answer with. */
function gatewayOrError(description: string, headers?: JsonObject): JsonObject {
  return {
    description,
    ...(headers ? { headers } : {}),
    content: { "application/json": { schema: { oneOf: [ref("GatewayError"), ref("Error")] } } },
  };
}

const unauthorized = (codes: string) =>
  gatewayOrError(
    'The JWT authorizer refused the token (missing, expired, wrong issuer or audience, bad signature): `{"message":"Unauthorized"}` ' +
      `with the reason in \`www-authenticate\`. Behind it, sealtrail's own check of the claims: ${codes}.`,
    WWW_AUTHENTICATE,
  );

/** Lambda failures and throttling are answered by API Gateway itself; sealtrail's own codes otherwise. */
const serverFailure = (codes: string) =>
  gatewayOrError(
    `${codes}. API Gateway answers \`{"message":"Internal Server Error"}\` (500) or \`{"message":"Service Unavailable"}\` ` +
      "(503) when the function itself fails or times out.",
  );

/** Request line and headers over the gateway's limit (an oversized query string): never seen by sealtrail. */
const HEADERS_TOO_LARGE = {
  description:
    "The request line or headers are too large (for example an oversized query string): refused before sealtrail sees " +
    "the request, without a sealtrail body (local mode: Node's 431 with an empty body).",
};

/** 401, 403 and 431 of a route that needs `scope`: the authorizer's refusals, and sealtrail's own check behind it. */
function callerErrors(scope: string, refusal: string): JsonObject {
  return {
    401: unauthorized(ERRORS[401]),
    403: gatewayOrError(
      `The JWT authorizer refuses a token without the \`${scope}\` scope: \`{"message":"Forbidden"}\` with ` +
        `\`www-authenticate\`. sealtrail answers ${refusal}; its check of the route's scope is pre-empted by ` +
        "the authorizer whenever the route has scopes, as sealtrail's routes do.",
      WWW_AUTHENTICATE,
    ),
    431: HEADERS_TOO_LARGE,
  };
}

/** The path and the (lower-case, as OpenAPI keys it) method of a route key. */
function splitRoute(route: string): { method: string; path: string } {
  const { method, path } = routeParts(route);
  return { method: method.toLowerCase(), path };
}

const PRIVACY_ON =
  "Present only when the deployment has privacy on (`SEALTRAIL_PRIVACY`, docs/privacy.md); the data subject is " +
  "named in the body by its `sub` (and `iss`), or by its pseudonym (`subject`), and answered by its pseudonym, as " +
  "its `subject.*` events name it.";

/** The data-subject routes (lambda/privacy/subject-service.ts), keyed as SUBJECT_ROUTES names them. */
function subjectPaths(eraseScope: string, adminScope: string): JsonObject {
  const erase = splitRoute(SUBJECT_ROUTES.erase);
  const hold = splitRoute(SUBJECT_ROUTES.hold);
  const errors = (scope: string) => ({
    400: json(ref("SubjectBodyError"), ERRORS.subject400),
    ...callerErrors(scope, `missing_scope when the token lacks \`${scope}\``),
    500: serverFailure(ERRORS.subject500),
    503: serverFailure(ERRORS.subject503),
  });
  const body = (id: ComponentId) => ({
    required: true,
    content: { "application/json": { schema: ref(id) } },
  });
  return {
    [erase.path]: {
      [erase.method]: {
        operationId: "eraseSubject",
        summary: "Erase a data subject's personal data by destroying its data key (crypto-shredding)",
        description:
          `${PRIVACY_ON} Destroys the subject's data key: the personal fields sealed under it become unreadable ` +
          "in every record, while the archive, its proofs and `verify` are untouched. Idempotent: erasing again " +
          "answers `already_erased` with the first erasure's time. A subject sealtrail holds no key for is a 200 " +
          "with `status: unknown_subject`. Erasure is complete at `unrecoverable_after`: until then the index " +
          "table's point-in-time recovery window can still restore the key. Refused under a legal hold: 409 " +
          "`legal_hold`, itself archived as `subject.erase_refused`. The request is archived before anything is " +
          "destroyed (`subject.erase_requested`) and the outcome before it is answered (`subject.erased`), both " +
          "naming only the pseudonym; the outcome's receipt is in the answer. The subject may be named by its " +
          "pseudonym instead (`subject`), to apply an erasure again after a restore of the table.",
        security: [{ [BEARER]: [eraseScope] }],
        requestBody: body("EraseRequest"),
        responses: {
          200: json(
            ref("EraseAnswer"),
            "Erased, already erased, or an unknown subject; archived as `subject.erased`.",
          ),
          ...errors(eraseScope),
          409: json(
            ref("LegalHoldError"),
            "legal_hold: the subject is under a legal hold; nothing was erased, the refusal is archived as " +
              "`subject.erase_refused`. An admin must release the hold first.",
          ),
        },
      },
    },
    [hold.path]: {
      [hold.method]: {
        operationId: "setLegalHold",
        summary: "Place or release a legal hold on a data subject, under which erasure is refused",
        description:
          `${PRIVACY_ON} \`held: true\` (with a \`reason\`) places the hold, \`held: false\` releases it; while it ` +
          "holds, `POST /v1/subjects/erase` answers 409 `legal_hold`, so that erasure cannot destroy evidence. " +
          "The request is archived before the hold changes (`subject.hold_requested`), the outcome as " +
          "`subject.hold_placed` or `subject.hold_released` before the answer. Needs the admin scope.",
        security: [{ [BEARER]: [adminScope] }],
        requestBody: body("HoldRequest"),
        responses: {
          200: json(ref("HoldAnswer"), "The hold as it now stands."),
          ...errors(adminScope),
        },
      },
    },
  };
}

/**
 * The OpenAPI document. Longer than the 80 lines a function should be, on purpose: it is one literal
 * that mirrors the API path by path, read (and diffed) against the routes and the docs as a whole;
 * the parts that repeat (error responses, parameters, schemas) are already the helpers above.
 */
export function openApiDocument(options: OpenApiOptions = {}): object {
  const scopes = options.scopes ?? DEFAULT_SCOPES;
  const privacy = options.privacy ?? false;
  const eraseScope = options.eraseScope ?? DEFAULT_ERASE_SCOPE;
  const read = [{ [BEARER]: [scopes.read] }];
  const readErrors = callerErrors(scopes.read, ERRORS[403]);
  const serverErrors = { 500: serverFailure(ERRORS[500]), 503: serverFailure(ERRORS[503]) };

  return {
    openapi: "3.1.0",
    info: {
      title: "sealtrail",
      version: "1",
      description:
        "Tamper-evident audit log archive. Send events (write scope), search them and fetch proofs " +
        "(read scope; every read is itself archived as an `audit.read` event). Records are returned " +
        "exactly as stored in the archive. Errors of sealtrail carry a `code`; what API Gateway answers by itself " +
        'carries only a `message` (GatewayError): 401 `{"message":"Unauthorized"}` and 403 `{"message":"Forbidden"}` ' +
        'from the JWT authorizer (reason in `www-authenticate`), 404 `{"message":"Not Found"}` for a path or ' +
        `method not listed here, 413 for a body over its ${GATEWAY_PAYLOAD_LIMIT} payload limit, 429 when throttled, ` +
        "and 500/503 when the function itself fails." +
        (privacy
          ? " This deployment has privacy on: personal fields are stored sealed per data subject (v3 records with " +
            "`privacy`), and a data subject is erased, or put under a legal hold, with the `/v1/subjects` routes."
          : ""),
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    security: read,
    paths: {
      "/v1/events": {
        post: {
          operationId: "ingestEvents",
          summary: "Seal 1 to 1000 events into the archive (all or nothing)",
          security: [{ [BEARER]: [scopes.write] }],
          parameters: [
            {
              name: "Idempotency-Key",
              in: "header",
              required: false,
              description: "A retry with the same key and body returns the first receipt.",
              schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
            },
            {
              name: "X-Sealtrail-Subject-Token",
              in: "header",
              required: false,
              description: "An end-user token of a configured issuer: the verified actor of every event.",
              schema: { type: "string" },
            },
          ],
          requestBody: { required: true, content: { "application/json": { schema: ref("IngestBody") } } },
          responses: {
            201: {
              ...json(ref("Receipt"), "Sealed: the batch's link is stored in the archive."),
              headers: {
                "idempotent-replayed": {
                  description: "`true` when this is the first receipt of an Idempotency-Key, replayed.",
                  schema: { type: "string", enum: ["true"] },
                },
              },
            },
            400: errorResponse(ERRORS.ingest400),
            401: unauthorized(ERRORS.ingest401),
            403: gatewayOrError(
              `The JWT authorizer refuses a token without the \`${scopes.write}\` scope: \`{"message":"Forbidden"}\` ` +
                "with `www-authenticate`. sealtrail's own `missing_scope` is a second check, pre-empted by the " +
                "authorizer whenever the route has scopes, as sealtrail's route does.",
              WWW_AUTHENTICATE,
            ),
            409: errorResponse(`${ingestCodes(409)}: the same key is being processed; retry`),
            413: gatewayOrError(
              `${ingestCodes(413)} (sealtrail: a body over ${LIMITS.maxBodyBytes} bytes, an event over ` +
                `${LIMITS.maxEventBytes}, details over ${LIMITS.maxDetailsBytes}); API Gateway answers ` +
                `\`{"message":"Request Entity Too Large"}\` for a body over its ${GATEWAY_PAYLOAD_LIMIT} limit.`,
            ),
            415: errorResponse(
              `${ingestCodes(415)}: send uncompressed JSON with Content-Type: application/json`,
            ),
            422: errorResponse(`${ingestCodes(422)}: the key was used with another body`),
            431: HEADERS_TOO_LARGE,
            500: serverFailure(`${ingestCodes(500)}: nothing was acknowledged`),
            503: serverFailure(`${ingestCodes(503)}: nothing acknowledged; retry`),
          },
        },
        get: {
          operationId: "searchEvents",
          summary: "Search events, oldest first, one page at a time",
          description:
            "Results are ordered by record `time` ascending, then by event id. `from` and `to` are " +
            "inclusive. `next_cursor` is present only when there are more events.",
          security: read,
          parameters: queryParameters(ListEventsQuerySchema),
          responses: {
            200: json(ref("EventList"), "A page of events."),
            400: errorResponse(
              privacy ? `${ERRORS.query400}. ${ERRORS.filterNotSearchable}` : ERRORS.query400,
            ),
            ...readErrors,
            ...serverErrors,
          },
        },
      },
      "/v1/events/{id}": {
        get: {
          operationId: "getEvent",
          summary: "One event's record",
          security: read,
          parameters: [idParameter(), ...queryParameters(GetEventQuerySchema)],
          responses: {
            200: json(ref("EventRecord"), "The record as stored."),
            400: errorResponse(ERRORS.get400),
            ...readErrors,
            404: errorResponse(ERRORS[404]),
            ...serverErrors,
          },
        },
      },
      "/v1/events/{id}/proof": {
        get: {
          operationId: "getEventProof",
          summary: "The proof bundle of one event, verifiable offline with the published key",
          security: read,
          parameters: [idParameter(), ...queryParameters(GetEventQuerySchema)],
          responses: {
            200: json(ref("ProofBundle"), "The proof bundle."),
            400: errorResponse(ERRORS.get400),
            ...readErrors,
            404: errorResponse(ERRORS[404]),
            409: errorResponse(
              "not_checkpointed: no checkpoint covers the event's link yet; checkpoints are signed every minute",
            ),
            ...serverErrors,
          },
        },
      },
      "/v1/checkpoints/latest": {
        get: {
          operationId: "getLatestCheckpoint",
          summary: "The newest signed checkpoint, as stored (compact JWS)",
          security: read,
          responses: {
            200: json(ref("LatestCheckpoint"), "The newest checkpoint."),
            400: errorResponse(ERRORS.checkpoint400),
            ...readErrors,
            404: errorResponse("no_checkpoint: none has been signed yet"),
            ...serverErrors,
          },
        },
      },
      ...(privacy ? subjectPaths(eraseScope, scopes.admin) : {}),
    },
    components: {
      schemas: componentSchemas(privacy),
      securitySchemes: {
        [BEARER]: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            `A JWT of a configured issuer and audience. Scopes (\`scope\` or \`scp\` claim): ` +
            `\`${scopes.write}\` to send events, \`${scopes.read}\` to read, \`${scopes.admin}\` ` +
            "in addition to read another tenant (`tenant=`)" +
            (privacy
              ? `; \`${eraseScope}\` to erase a data subject, \`${scopes.admin}\` to place or release a legal hold.`
              : "."),
        },
      },
    },
  };
}
