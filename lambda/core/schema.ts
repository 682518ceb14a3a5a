/**
 * The one definition of what a client sends (EventInput) and what is stored (EventRecord).
 * Types, validation errors, the record's key order and (later) the Glue columns and the OpenAPI
 * document are all derived from these schemas.
 */
import { z } from "zod";

/** Limits a request must stay within; every one is enforced with its own error code. */
export const LIMITS = {
  minEvents: 1,
  maxEvents: 1000,
  /** Raw request body, bytes. */
  maxBodyBytes: 4 * 1024 * 1024,
  /** One event as the client sent it, re-encoded as JSON, bytes. */
  maxEventBytes: 32 * 1024,
  /** `details` encoded as a JSON string, bytes. */
  maxDetailsBytes: 16 * 1024,
} as const;

/** C0 and C1 control characters and DEL: never allowed in a plain text field. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** A non-empty, bounded string without control characters. */
export const text = (maxLength: number) =>
  z
    .string()
    .min(1, "must not be empty")
    .max(maxLength, `must be at most ${maxLength} characters`)
    .refine((value) => !CONTROL_CHARACTERS.test(value), "must not contain control characters");

/** ISO-8601 date-time with an explicit offset; normalized to UTC with milliseconds. */
export const isoDateTime = z.iso
  .datetime({
    offset: true,
    message: "must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z",
  })
  .transform((value) => new Date(value).toISOString());

export const OUTCOMES = ["success", "failure", "denied", "error", "unknown"] as const;

/** The actor a reporter may assert in the body; recorded with `verified: false`. */
export const ActorInputSchema = z.strictObject({
  sub: text(256),
  iss: text(512).optional(),
  session_id: text(256).optional(),
  client_id: text(256).optional(),
  roles: z.array(text(128)).max(64).optional(),
});

export const ResourceSchema = z.strictObject({
  type: text(128),
  id: text(1024),
});

/** The audited action's own HTTP exchange (not the call to sealtrail). */
export const HttpInputSchema = z.strictObject({
  request_id: text(256).optional(),
  method: z
    .string()
    .regex(/^[A-Z]{1,16}$/, "must be an upper-case HTTP method such as GET")
    .optional(),
  endpoint: text(2048).optional(),
  status: z.number().int().min(100).max(599).optional(),
  source_ip: z.union([z.ipv4(), z.ipv6()], { error: "must be an IPv4 or IPv6 address" }).optional(),
  user_agent: text(1024).optional(),
});

/** Fields a client may never set: the server derives them. */
export const SERVER_OWNED_FIELDS = ["v", "id", "time", "verified", "reporter", "tenant", "ingest"] as const;

/** One event as a client sends it. Unknown keys are rejected, so nothing is dropped silently. */
export const EventInputSchema = z.strictObject({
  action: z
    .string()
    .min(1, "must not be empty")
    .max(128, "must be at most 128 characters")
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, "must be letters, digits and . _ : / - (e.g. document.read)"),
  outcome: z.enum(OUTCOMES, { error: `must be one of ${OUTCOMES.join(", ")}` }),
  occurred_at: isoDateTime.optional(),
  actor: ActorInputSchema.optional(),
  resource: ResourceSchema.optional(),
  http: HttpInputSchema.optional(),
  /** Any JSON value; stored as its JSON encoding, bounded by LIMITS.maxDetailsBytes. */
  details: z.json().optional(),
});
export type EventInput = z.infer<typeof EventInputSchema>;

/** Who acted or who reported, from token claims or (actor only) from the reporter's assertion. */
export const PrincipalSchema = z.strictObject({
  sub: z.string(),
  iss: z.string().nullable(),
  session_id: z.string().nullable(),
  token_id: z.string().nullable(),
  token_exp: z.number().int().nullable(),
  token_iat: z.number().int().nullable(),
  client_id: z.string().nullable(),
  azp: z.string().nullable(),
  aud: z.array(z.string()),
  roles: z.array(z.string()),
  scopes: z.array(z.string()),
  verified: z.boolean(),
});
export type Principal = z.infer<typeof PrincipalSchema>;

export const RecordHttpSchema = z.strictObject({
  request_id: z.string().nullable(),
  method: z.string().nullable(),
  endpoint: z.string().nullable(),
  status: z.number().int().nullable(),
  source_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});

export const IngestContextSchema = z.strictObject({
  request_id: z.string(),
  source_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});
export type IngestContext = z.infer<typeof IngestContextSchema>;

/**
 * The stored record. Key order here is the serialized key order (see record.ts); every key is
 * always present (null when absent) so Athena sees one stable column set.
 */
export const EventRecordSchema = z.strictObject({
  v: z.literal(1),
  id: z.string(),
  time: z.string(),
  action: z.string(),
  outcome: z.enum(OUTCOMES),
  occurred_at: z.string().nullable(),
  actor: PrincipalSchema,
  reporter: PrincipalSchema,
  resource: ResourceSchema.nullable(),
  http: RecordHttpSchema.nullable(),
  ingest: IngestContextSchema,
  tenant: z.string(),
  details: z.string().nullable(),
});
export type EventRecord = z.infer<typeof EventRecordSchema>;
