/**
 * The one definition of what a client sends (EventInput) and what is stored (EventRecord).
 * Types, validation errors, the record's key order and (later) the Glue columns and the OpenAPI
 * document are all derived from these schemas.
 */
import * as z from "zod";

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
  /** Objects and arrays nested in the body, the body's own object and `events` included. */
  maxDepth: 64,
  /** A forwarded subject token (header or per-event `subject_token`), characters. */
  maxSubjectTokenLength: 16 * 1024,
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

/** The instants a record time can name: toISOString() writes other years as `+010000-…`/`-000001-…`. */
const EARLIEST_TIME_MS = Date.parse("0000-01-01T00:00:00.000Z");
const LATEST_TIME_MS = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * ISO-8601 date-time with an explicit offset; normalized to UTC with milliseconds. A value that
 * normalization would alter (a year outside 0000–9999 in UTC, digits finer than a millisecond) is
 * refused with its own code (`params.code`) rather than stored changed.
 */
export const isoDateTime = z.iso
  .datetime({
    offset: true,
    message: "must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z",
    // Not a date-time at all: the range checks below have nothing to say.
    abort: true,
  })
  .refine(
    (value) => {
      const ms = Date.parse(value);
      return ms >= EARLIEST_TIME_MS && ms <= LATEST_TIME_MS;
    },
    {
      message: "must fall in the years 0000 to 9999 once converted to UTC; check the date and its offset",
      params: { code: "time_out_of_range" },
    },
  )
  .refine((value) => !/\.[0-9]{3}[0-9]*[1-9]/.test(value), {
    message: "must not be finer than a millisecond (at most 3 fraction digits), as it is stored",
    params: { code: "imprecise_time" },
  })
  .transform((value) => new Date(value).toISOString());

export const OUTCOMES = ["success", "failure", "denied", "error", "unknown"] as const;

/** A JWT NumericDate (`exp`, `iat`): whole seconds since the epoch. */
const numericDate = z.number().int("must be whole seconds since 1970").min(0).max(Number.MAX_SAFE_INTEGER);

/** The actor a reporter may assert in the body; recorded with `verified: false`. */
export const ActorInputSchema = z.strictObject({
  sub: text(256),
  iss: text(512).optional(),
  session_id: text(256).optional(),
  /** The `jti` of the token the reporter verified. */
  token_id: text(256).optional(),
  token_exp: numericDate.optional(),
  token_iat: numericDate.optional(),
  client_id: text(256).optional(),
  /** OIDC's authorized party: the client the token was issued to. */
  azp: text(256).optional(),
  roles: z.array(text(128)).max(64).optional(),
});

export const ResourceSchema = z.strictObject({
  type: text(128),
  id: text(1024),
});

/** The longest `http.duration_ms` an event may carry: one week. */
export const MAX_DURATION_MS = 7 * 24 * 3600 * 1000;

/** The audited action's own HTTP exchange (not the call to sealtrail). */
export const HttpInputSchema = z.strictObject({
  request_id: text(256).optional(),
  method: z
    .string()
    .regex(/^[A-Z]{1,16}$/, "must be an upper-case HTTP method such as GET")
    .optional(),
  endpoint: text(2048).optional(),
  /** The route template that matched, e.g. /api/v1/documents/:id (not the raw path). */
  route: text(2048).optional(),
  status: z.number().int().min(100).max(599).optional(),
  /** How long the audited request took, milliseconds (fractions allowed). */
  duration_ms: z
    .number()
    .min(0, "must not be negative")
    .max(MAX_DURATION_MS, `must be at most ${MAX_DURATION_MS} (one week in milliseconds)`)
    .optional(),
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
  /**
   * The end user's own JWT, verified like X-Sealtrail-Subject-Token (with a bounded leeway past
   * `exp`) so the actor is recorded as verified; never stored.
   */
  subject_token: z
    .string()
    .max(LIMITS.maxSubjectTokenLength, `must be at most ${LIMITS.maxSubjectTokenLength} characters`)
    .regex(
      /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
      "must be a compact JWT (three base64url parts)",
    )
    .optional(),
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

/**
 * Record format versions. A version only ever adds keys; a line carries exactly the keys of its
 * version (record.ts serializes by version), so lines written before a key existed still verify.
 */
export const RECORD_VERSIONS = [1, 2, 3] as const;
export type RecordVersion = (typeof RECORD_VERSIONS)[number];
/** The version new records are written with when no privacy policy applies to them. */
export const RECORD_VERSION = 2 satisfies RecordVersion;
/**
 * The version of a record whose personal fields are encrypted (lambda/core/privacy/): v3 adds the
 * `privacy` key, which names the data subject, its key generation and each field's ciphertext.
 */
export const PROTECTED_RECORD_VERSION = 3 satisfies RecordVersion;
/** Keys a version added, by their path in the record; every other key exists since v1. */
export const RECORD_KEYS_ADDED: Readonly<Record<string, RecordVersion>> = {
  "http.route": 2,
  "http.duration_ms": 2,
  privacy: 3,
};

export const RecordHttpSchema = z.strictObject({
  request_id: z.string().nullable(),
  method: z.string().nullable(),
  endpoint: z.string().nullable(),
  /** Since v2; absent from v1 lines. */
  route: z.string().nullable().optional(),
  status: z.number().int().nullable(),
  /** Since v2; absent from v1 lines. */
  duration_ms: z.number().nullable().optional(),
  source_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});

export const IngestContextSchema = z.strictObject({
  request_id: z.string(),
  source_ip: z.string().nullable(),
  user_agent: z.string().nullable(),
});
export type IngestContext = z.infer<typeof IngestContextSchema>;

/** One personal field's ciphertext (lambda/core/privacy/field-cipher.ts), by its path in the record. */
export const SealedFieldSchema = z.strictObject({
  path: z.string(),
  ciphertext: z.string(),
});

/**
 * Since v3, on records written under a privacy policy: whose data key sealed the personal fields
 * (the subject's pseudonym and the key's generation) and each field's ciphertext. In place, such a
 * field holds its keyed pseudonym when it is searchable, ENCRYPTED_MARKER otherwise.
 */
export const RecordPrivacySchema = z.strictObject({
  subject: z.string(),
  key: z.number().int(),
  fields: z.array(SealedFieldSchema),
});
export type RecordPrivacy = z.infer<typeof RecordPrivacySchema>;

/**
 * The stored record. Key order here is the serialized key order (see record.ts); every key is
 * always present (null when absent) so Athena sees one stable column set.
 */
export const EventRecordSchema = z.strictObject({
  v: z.literal(RECORD_VERSIONS),
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
  /** Since v3; absent from v1 and v2 lines, null on v3 lines no policy applied to. */
  privacy: RecordPrivacySchema.nullable().optional(),
});
export type EventRecord = z.infer<typeof EventRecordSchema>;
