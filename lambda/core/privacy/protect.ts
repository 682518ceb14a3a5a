/**
 * A record under a privacy policy, both ways. `protectRecord` seals each personal field that has a
 * value under the data subject's key and leaves in its place the field's keyed pseudonym (searchable
 * fields) or ENCRYPTED_MARKER; the ciphertexts go into the v3 `privacy` key, so the Merkle leaf
 * commits to ciphertext only. `revealRecord` puts the plaintext back for a reader, or ERASED_MARKER
 * once the subject's key is gone. Pure: the keys are handed in (lambda/privacy/ fetches them).
 */
import { hkdfSync } from "node:crypto";
import { type EventRecord, PROTECTED_RECORD_VERSION, type RecordPrivacy } from "../schema";
import { DATA_KEY_BYTES, openField, sealField } from "./field-cipher";
import type { PersonalField, PrivacyPolicy } from "./policy";
import { type DataSubject, fieldPseudonym } from "./pseudonym";

/** In place of a sealed field that is not searchable. */
export const ENCRYPTED_MARKER = "[encrypted]";
/** In place of a sealed field whose subject's key was destroyed (the query API's answer). */
export const ERASED_MARKER = "[erased]";

/** One generation of a data subject's key (a subject erased and seen again gets a new generation). */
export interface SubjectKey {
  /** The subject's pseudonym (pseudonym.ts): the key store's name for it. */
  readonly subject: string;
  readonly generation: number;
  /** The AES-256 data key. */
  readonly key: Uint8Array;
}

/** The data subject of a record: its actor (the person it is about), within the record's tenant. */
export function dataSubjectOf(record: EventRecord): DataSubject {
  return { iss: record.actor.iss, sub: record.actor.sub };
}

type Holder = Record<string, unknown>;

/** The object holding a field and its key within it: `details` is top-level, others one level down. */
function slotOf(record: Holder, path: PersonalField): { holder: Holder; key: string } | undefined {
  const dot = path.indexOf(".");
  if (dot < 0) return { holder: record, key: path };
  const holder = record[path.slice(0, dot)];
  return holder && typeof holder === "object"
    ? { holder: holder as Holder, key: path.slice(dot + 1) }
    : undefined;
}

/** What binds a ciphertext to its place: the format, the tenant, the event and the field path. */
export function fieldAssociatedData(tenant: string, eventId: string, path: string): Buffer {
  return Buffer.from(JSON.stringify(["sealtrail-field-v1", tenant, eventId, path]), "utf8");
}

/**
 * The key one event's fields are sealed under: HKDF-SHA256 of the subject's data key, for this tenant
 * and event. A subject's key may seal billions of fields over its life (a service account acting all
 * day); one key per event keeps each AES-GCM key to a handful of random nonces, far below the 2^32
 * messages NIST allows per key with random nonces.
 */
export function eventKey(dataKey: Uint8Array, tenant: string, eventId: string): Buffer {
  const info = Buffer.from(JSON.stringify(["sealtrail-event-key-v1", tenant, eventId]), "utf8");
  return Buffer.from(hkdfSync("sha256", dataKey, Buffer.alloc(0), info, DATA_KEY_BYTES));
}

/** A deep copy of the parts of a record that protecting or revealing may change. */
function copied(record: EventRecord): EventRecord {
  return {
    ...record,
    actor: { ...record.actor },
    reporter: { ...record.reporter },
    resource: record.resource ? { ...record.resource } : null,
    http: record.http ? { ...record.http } : null,
    ingest: { ...record.ingest },
  };
}

/**
 * The record as stored under `policy`: a v3 record whose personal fields are sealed under `key`.
 * `tenantKey` is the tenant's pseudonym key. A field without a value stays null and is not listed.
 */
export function protectRecord(
  record: EventRecord,
  policy: PrivacyPolicy,
  tenantKey: Uint8Array,
  key: SubjectKey,
): EventRecord {
  const out = copied(record);
  const fields: { path: string; ciphertext: string }[] = [];
  const searchable = new Set<PersonalField>(policy.searchable);
  const fieldKey = eventKey(key.key, record.tenant, record.id);
  for (const path of policy.personal) {
    const slot = slotOf(out as unknown as Holder, path);
    const value = slot?.holder[slot.key];
    if (!slot || typeof value !== "string") continue;
    fields.push({
      path,
      ciphertext: sealField(fieldKey, fieldAssociatedData(record.tenant, record.id, path), value),
    });
    slot.holder[slot.key] = searchable.has(path) ? fieldPseudonym(tenantKey, path, value) : ENCRYPTED_MARKER;
  }
  const privacy: RecordPrivacy = { subject: key.subject, key: key.generation, fields };
  return { ...out, v: PROTECTED_RECORD_VERSION, privacy };
}

/**
 * The record as a reader with the read scope sees it: each sealed field opened with `key`, or
 * ERASED_MARKER when the subject's key (this generation of it) no longer exists. A record without
 * `privacy` is returned as it is. Throws SealedFieldError for a ciphertext that does not open under
 * a key that exists: that is tampering, never an erasure.
 */
export function revealRecord(record: EventRecord, key: SubjectKey | undefined): EventRecord {
  const privacy = record.privacy;
  if (!privacy) return record;
  const usable = key && key.subject === privacy.subject && key.generation === privacy.key ? key : undefined;
  const out = copied(record);
  const fieldKey = usable ? eventKey(usable.key, record.tenant, record.id) : undefined;
  for (const { path, ciphertext } of privacy.fields) {
    const slot = slotOf(out as unknown as Holder, path as PersonalField);
    if (!slot) continue;
    slot.holder[slot.key] = fieldKey
      ? openField(fieldKey, fieldAssociatedData(record.tenant, record.id, path), ciphertext)
      : ERASED_MARKER;
  }
  return out;
}
