/**
 * Every error code `POST /v1/events` answers, with its status and what it means: the one list the
 * validator's codes are typed against, the OpenAPI document describes (openapi.ts) and
 * docs/ingest.md tabulates (test/unit/ingest-errors.test.ts keeps the table equal to it).
 */
import { LIMITS } from "./schema";

const kib = (bytes: number) => (bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`);

export interface IngestErrorDefinition {
  readonly status: 400 | 401 | 403 | 409 | 413 | 415 | 422 | 500 | 503;
  readonly meaning: string;
}

export const INGEST_ERRORS = {
  unsupported_content_type: { status: 415, meaning: "a Content-Type other than application/json" },
  unsupported_content_encoding: {
    status: 415,
    meaning: "a Content-Encoding (gzip, …): send the JSON uncompressed",
  },
  empty_body: { status: 400, meaning: "no body" },
  invalid_utf8: { status: 400, meaning: "bytes that are not UTF-8" },
  malformed_json: { status: 400, meaning: "not JSON" },
  nesting_too_deep: {
    status: 400,
    meaning: `objects and arrays nested more than ${LIMITS.maxDepth} levels (the body's own included)`,
  },
  duplicate_key: { status: 400, meaning: "a key twice in one object (JSON.parse would keep the last)" },
  imprecise_number: {
    status: 400,
    meaning: "a number a 64-bit float cannot hold exactly (`12345678901234567890`, `1e-400`)",
  },
  forbidden_key: { status: 400, meaning: "`__proto__`, `constructor` or `prototype` anywhere" },
  invalid_unicode: { status: 400, meaning: "an unpaired surrogate (`\\ud800`) in a string or key" },
  invalid_body: { status: 400, meaning: 'the body is not an object `{"events":[…]}`' },
  missing_events: { status: 400, meaning: "no `events` array" },
  invalid_event_count: { status: 400, meaning: `not ${LIMITS.minEvents} to ${LIMITS.maxEvents} events` },
  invalid_event: { status: 400, meaning: "an event that is not an object" },
  forbidden_field: {
    status: 400,
    meaning: "a server-owned field (`id`, `time`, `tenant`, `reporter`, `actor.verified`, …)",
  },
  reserved_action: {
    status: 400,
    meaning: "an action only sealtrail writes: `audit.read`, or any `subject.` action",
  },
  missing_field: { status: 400, meaning: "a required field is absent" },
  invalid_field: { status: 400, meaning: "a field has the wrong type or value" },
  unknown_field: { status: 400, meaning: "a field sealtrail does not have" },
  time_out_of_range: {
    status: 400,
    meaning: "a date-time outside the years 0000 to 9999 once converted to UTC",
  },
  imprecise_time: { status: 400, meaning: "a date-time finer than a millisecond" },
  actor_with_subject_token: { status: 400, meaning: "both a subject token and an actor in the body" },
  subject_token_twice: {
    status: 400,
    meaning: "a subject token both in `X-Sealtrail-Subject-Token` and in an event",
  },
  invalid_idempotency_key: { status: 400, meaning: "an `Idempotency-Key` that is not 1–255 printable ASCII" },
  body_too_large: { status: 413, meaning: `a body over ${kib(LIMITS.maxBodyBytes)}` },
  event_too_large: { status: 413, meaning: `an event over ${kib(LIMITS.maxEventBytes)}` },
  details_too_large: { status: 413, meaning: `\`details\` over ${kib(LIMITS.maxDetailsBytes)}` },
  missing_claims: { status: 401, meaning: "the request carries no verified token claims" },
  missing_claim: { status: 401, meaning: "the token lacks `sub` (or the tenant claim)" },
  claim_not_single: { status: 401, meaning: "a list where one string is required" },
  invalid_claim: { status: 401, meaning: "a claim of the wrong type" },
  invalid_subject_token: { status: 401, meaning: "the forwarded end-user token is not valid" },
  subject_token_tenant_mismatch: { status: 401, meaning: "the subject token belongs to another tenant" },
  missing_scope: {
    status: 403,
    meaning: "the token lacks the write scope (pre-empted by the authorizer, see below)",
  },
  idempotency_in_progress: { status: 409, meaning: "the same key is being processed; retry" },
  idempotency_key_reused: { status: 422, meaning: "the same key with another body" },
  internal_error: { status: 500, meaning: "sealtrail failed; nothing was acknowledged" },
  storage_unavailable: { status: 503, meaning: "nothing acknowledged; retry with the same key" },
  receipt_unconfirmed: { status: 503, meaning: "the first receipt's link is not confirmed; retry later" },
  subject_keys_unavailable: {
    status: 503,
    meaning: "a subject token's issuer keys could not be fetched; nothing written, retry",
  },
} as const satisfies Record<string, IngestErrorDefinition>;

export type IngestErrorCode = keyof typeof INGEST_ERRORS;

/** The codes answered with `status`, in the order of INGEST_ERRORS. */
export function ingestCodesWithStatus(status: IngestErrorDefinition["status"]): IngestErrorCode[] {
  return (Object.keys(INGEST_ERRORS) as IngestErrorCode[]).filter(
    (code) => INGEST_ERRORS[code].status === status,
  );
}
