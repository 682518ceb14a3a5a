/**
 * The OpenAPI 3.1 document of the whole HTTP API, generated from the zod schemas the handlers
 * validate with (schema.ts, api-schema.ts) by zod's own JSON Schema conversion (draft 2020-12, the
 * dialect of OpenAPI 3.1). Request bodies and parameters are described as clients send them
 * (zod's "input" side), responses as the API answers them ("output" side). Pure: no AWS SDK.
 */
import { z } from "zod";
import { DEFAULT_SCOPES } from "../config";
import {
  ErrorSchema,
  EventIdSchema,
  EventListSchema,
  GetEventQuerySchema,
  IngestBodySchema,
  LatestCheckpointSchema,
  ListEventsQuerySchema,
  ProofBundleSchema,
  ReceiptSchema,
} from "./api-schema";
import { EventInputSchema, EventRecordSchema } from "./schema";

type JsonObject = Record<string, unknown>;

export interface OpenApiOptions {
  /** Scope names of the deployment; default sealtrail/write, sealtrail/read, sealtrail/admin. */
  readonly scopes?: { readonly write: string; readonly read: string; readonly admin: string };
  /** Base URL of the API, when known (local mode). */
  readonly serverUrl?: string;
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
} as const;

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

function componentSchemas(): JsonObject {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries({ ...REQUEST_COMPONENTS, ...RESPONSE_COMPONENTS })) {
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
  for (const id of Object.keys(REQUEST_COMPONENTS)) schemas[id] = embedded(sent[id] as JsonObject);
  for (const id of Object.keys(RESPONSE_COMPONENTS)) schemas[id] = embedded(answered[id] as JsonObject);
  return schemas;
}

const ref = (id: keyof typeof REQUEST_COMPONENTS | keyof typeof RESPONSE_COMPONENTS) => ({
  $ref: `${SCHEMA_REF}${id}`,
});

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

/** Error answers, each with the codes it can carry (docs/ingest.md, docs/query.md). */
const ERRORS = {
  ingest400:
    "Invalid request: empty_body, malformed_json, invalid_body, missing_events, invalid_event_count, invalid_utf8, " +
    "invalid_unicode, forbidden_key, forbidden_field, missing_field, invalid_field, unknown_field, invalid_event, " +
    "actor_with_subject_token, invalid_idempotency_key",
  query400:
    "Invalid parameters: unknown_parameter, duplicate_parameter, invalid_parameter, missing_parameter, " +
    "invalid_time_range, invalid_cursor; `parameter` names the parameter",
  get400:
    "Invalid parameters: unknown_parameter, duplicate_parameter, invalid_parameter (`parameter`: id, tenant)",
  checkpoint400: "Invalid parameters: unknown_parameter, duplicate_parameter (this route takes none)",
  401: "Token claims unusable: missing_claims, missing_claim, claim_not_single, invalid_claim",
  ingest401:
    "Token claims unusable: missing_claims, missing_claim, claim_not_single, invalid_claim, invalid_subject_token, " +
    "subject_token_tenant_mismatch",
  403: "missing_scope: the route's scope, or the admin scope for another tenant (`parameter`: tenant)",
  404: "event_not_found: no such event is indexed for this tenant (another tenant's event looks the same)",
  500: "internal_error, or integrity_error when the index disagrees with the archive (nothing is returned)",
  503: "audit_unavailable: the read could not be archived, so nothing is returned; retry",
} as const;

const errorResponse = (description: string) => json(ref("Error"), description);

export function openApiDocument(options: OpenApiOptions = {}): object {
  const scopes = options.scopes ?? DEFAULT_SCOPES;
  const read = [{ [BEARER]: [scopes.read] }];
  const readErrors = { 401: errorResponse(ERRORS[401]), 403: errorResponse(ERRORS[403]) };
  const serverErrors = { 500: errorResponse(ERRORS[500]), 503: errorResponse(ERRORS[503]) };

  return {
    openapi: "3.1.0",
    info: {
      title: "sealtrail",
      version: "1",
      description:
        "Tamper-evident audit log archive. Send events (write scope), search them and fetch proofs " +
        "(read scope; every read is itself archived as an `audit.read` event). Records are returned " +
        "exactly as stored in the archive.",
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
            401: errorResponse(ERRORS.ingest401),
            403: errorResponse("missing_scope: the token lacks the write scope"),
            409: errorResponse("idempotency_in_progress: the same key is being processed; retry"),
            413: errorResponse("body_too_large, event_too_large, details_too_large"),
            422: errorResponse("idempotency_key_reused: the key was used with another body"),
            500: errorResponse("internal_error: nothing was acknowledged"),
            503: errorResponse("storage_unavailable, receipt_unconfirmed: nothing acknowledged; retry"),
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
            400: errorResponse(ERRORS.query400),
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
    },
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        [BEARER]: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            `A JWT of a configured issuer and audience. Scopes (\`scope\` or \`scp\` claim): ` +
            `\`${scopes.write}\` to send events, \`${scopes.read}\` to read, \`${scopes.admin}\` ` +
            "in addition to read another tenant (`tenant=`).",
        },
      },
    },
  };
}
