/**
 * Keyed pseudonyms (HMAC-SHA256 under a tenant's pseudonym key): the same identifier gives the same
 * pseudonym within a tenant, so it stays searchable, and nobody without the key can compute or test
 * one, which a plain hash would allow. Each is domain-separated by what it names (a field path, or the
 * data subject), so a session id's pseudonym never equals a user's.
 */
import { createHmac } from "node:crypto";

/** Bytes of secret a pseudonym key must have. */
export const PSEUDONYM_KEY_BYTES = 32;
/** Marks a field value (or a subject) as a pseudonym, with the format's version. */
export const PSEUDONYM_PREFIX = "ps1.";
/** Marks a data subject's pseudonym, with the format's version. */
export const SUBJECT_PSEUDONYM_PREFIX = "sub1.";

function tag(key: Uint8Array, parts: readonly (string | null)[]): string {
  if (key.length < PSEUDONYM_KEY_BYTES)
    throw new RangeError(`a pseudonym key has at least ${PSEUDONYM_KEY_BYTES} bytes`);
  return createHmac("sha256", key).update(JSON.stringify(parts)).digest("base64url");
}

/** The pseudonym of a searchable field's value, e.g. of `actor.sub` "alice". */
export function fieldPseudonym(tenantKey: Uint8Array, path: string, value: string): string {
  return PSEUDONYM_PREFIX + tag(tenantKey, ["sealtrail-field-pseudonym-v1", path, value]);
}

/** The data subject's pseudonym: its issuer and subject, within the tenant its key belongs to. */
export function subjectPseudonym(tenantKey: Uint8Array, subject: DataSubject): string {
  return SUBJECT_PSEUDONYM_PREFIX + tag(tenantKey, ["sealtrail-subject-v1", subject.iss, subject.sub]);
}

/** Whose personal data a record holds: its actor, named by issuer and subject. */
export interface DataSubject {
  readonly iss: string | null;
  readonly sub: string;
}
