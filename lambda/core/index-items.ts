/**
 * Pure builders of the index table's items (key layout in index-table.ts). Every composite key
 * escapes its parts, so a tenant or subject containing "#" can never alias another's partition, and
 * stays within DynamoDB's key size limit, so every acknowledged event can be indexed.
 */
import { sha256Hex } from "./hash";
import {
  GLOBAL_INDEXES,
  KEY_SIZE_LIMITS,
  PARTITION_KEY,
  SORT_KEY,
  TIME_SHARDS,
  TIME_SORT_KEY,
  TTL_ATTRIBUTE,
} from "./index-table";
import { ENCRYPTED_MARKER } from "./privacy/protect";
import type { EventRecord } from "./schema";

/**
 * A value the index can key on: not absent, and not ENCRYPTED_MARKER (a personal field a privacy
 * policy keeps only as ciphertext cannot be searched, so it is not indexed at all).
 */
function searchable(value: string | null | undefined): value is string {
  return typeof value === "string" && value !== ENCRYPTED_MARKER;
}

/** Escapes "%" and "#" so "#" can join key parts unambiguously. */
export function keyPart(value: string): string {
  return value.replaceAll("%", "%25").replaceAll("#", "%23");
}

/**
 * Stands for a part replaced by its digest. An escaped part holds "%" only as "%25" or "%23", so no
 * escaped value can look like a digest part.
 */
const DIGEST_PART_PREFIX = "%sha256:";

function utf8Bytes(value: string): number {
  return Buffer.byteLength(value, "utf8");
}

/**
 * The escaped parts joined by "#": the one key derivation of the index writer (eventPointerItem) and
 * the query planner (lambda/query/plan.ts), so a lookup derives the key the event was indexed under.
 *
 * DynamoDB refuses a partition key over 2,048 bytes, and escaping and UTF-8 make a part up to three
 * times longer in bytes than in characters (1,024 × "#" is 3,072 bytes). A key that fits is used as is;
 * a longer one keeps each part that fits its even share of the limit and replaces each longer part with
 * its SHA-256, which always fits. Distinct parts still give distinct keys (short of a SHA-256 collision).
 */
export function compositeKey(...parts: readonly string[]): string {
  const limit = KEY_SIZE_LIMITS.partitionKeyBytes;
  const escaped = parts.map(keyPart);
  const joined = escaped.join("#");
  if (utf8Bytes(joined) <= limit) return joined;
  // Each part within its share of the limit (after the separators): the sum cannot exceed it.
  const share = Math.floor((limit - (parts.length - 1)) / parts.length);
  return escaped
    .map((part, i) =>
      utf8Bytes(part) <= share ? part : `${DIGEST_PART_PREFIX}${sha256Hex(parts[i] as string)}`,
    )
    .join("#");
}

/** Which time-index shard an event id falls in: stable, spread evenly by hash. */
export function timeShardOf(eventId: string, shards = TIME_SHARDS): number {
  return Number.parseInt(sha256Hex(eventId).slice(0, 8), 16) % shards;
}

export function eventItemKey(eventId: string): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("event", eventId), [SORT_KEY]: "event" };
}

/** Where in the archive an event is: enough to fetch and prove it. */
export interface EventLocation {
  readonly chain: string;
  readonly seq: number;
  readonly linkKey: string;
  readonly linkHash: string;
  readonly batchKey: string;
  readonly leafIndex: number;
  readonly leafHash: string;
}

export type IndexItem = Record<string, string | number | boolean>;

/**
 * The attribute names of an event's pointer item, defined once: the writer below, the query path's
 * readers and filters (query/pointers.ts, query/plan.ts), the index reader and the verifier's index
 * cross-check all spell them from here.
 */
export const POINTER_FIELDS = {
  eventId: "event_id",
  tenant: "tenant",
  time: "time",
  action: "action",
  outcome: "outcome",
  actorSub: "actor_sub",
  actorVerified: "actor_verified",
  actorIss: "actor_iss",
  chain: "chain",
  seq: "seq",
  linkKey: "link_key",
  linkHash: "link_hash",
  batchKey: "batch_key",
  leafIndex: "leaf_index",
  leafHash: "leaf_hash",
  resourceType: "resource_type",
  resourceId: "resource_id",
  sessionId: "session_id",
  requestId: "request_id",
} as const;
const F = POINTER_FIELDS;

/** The pointer item of one event: location plus the searched attributes and every GSI key. */
export function eventPointerItem(record: EventRecord, location: EventLocation, ttlDays?: number): IndexItem {
  const t = record.tenant;
  const item: IndexItem = {
    ...eventItemKey(record.id),
    [F.eventId]: record.id,
    [F.tenant]: t,
    [F.time]: record.time,
    [F.action]: record.action,
    [F.outcome]: record.outcome,
    [F.actorSub]: record.actor.sub,
    [F.actorVerified]: record.actor.verified,
    [F.chain]: location.chain,
    [F.seq]: location.seq,
    [F.linkKey]: location.linkKey,
    [F.linkHash]: location.linkHash,
    [F.batchKey]: location.batchKey,
    [F.leafIndex]: location.leafIndex,
    [F.leafHash]: location.leafHash,
    [TIME_SORT_KEY]: `${record.time}#${record.id}`,
    [GLOBAL_INDEXES.action.partitionKey]: compositeKey(t, record.action),
    [GLOBAL_INDEXES.time.partitionKey]: compositeKey(t, String(timeShardOf(record.id))),
  };
  if (searchable(record.actor.sub)) {
    item[GLOBAL_INDEXES.actor.partitionKey] = compositeKey(t, record.actor.sub);
  }
  if (record.actor.iss) item[F.actorIss] = record.actor.iss;
  if (record.resource && searchable(record.resource.id)) {
    item[F.resourceType] = record.resource.type;
    item[F.resourceId] = record.resource.id;
    item[GLOBAL_INDEXES.resource.partitionKey] = compositeKey(t, record.resource.type, record.resource.id);
  }
  if (searchable(record.actor.session_id)) {
    item[F.sessionId] = record.actor.session_id;
    item[GLOBAL_INDEXES.session.partitionKey] = compositeKey(t, record.actor.session_id);
  }
  if (searchable(record.http?.request_id)) {
    item[F.requestId] = record.http.request_id;
    item[GLOBAL_INDEXES.request.partitionKey] = compositeKey(t, record.http.request_id);
  }
  if (ttlDays !== undefined) {
    item[TTL_ATTRIBUTE] = Math.floor(Date.parse(record.time) / 1000) + ttlDays * 86_400;
  }
  return item;
}

/** Marks a link as fully indexed; the reindex job looks for links without one. */
export function indexedMarkerKey(chain: string, seq: number): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("indexed", chain), [SORT_KEY]: String(seq).padStart(20, "0") };
}

/** Newest seq known per chain: where a writer starts reading, never trusted as the head. */
export function headHintKey(chain: string): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("head", chain), [SORT_KEY]: "head" };
}

/** The reindex job's position per chain: every seq below it is known to be indexed. */
export function reindexWatermarkKey(chain: string): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("reindex", chain), [SORT_KEY]: "watermark" };
}

export function leaseKey(chain: string): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("lease", chain), [SORT_KEY]: "lease" };
}

/** Idempotency records are keyed by a hash, so no caller-chosen text becomes a key. */
export function idempotencyKey(
  tenant: string,
  reporterIss: string | null,
  reporterSub: string,
  key: string,
): Record<string, string> {
  const digest = sha256Hex(JSON.stringify([tenant, reporterIss, reporterSub, key]));
  return { [PARTITION_KEY]: compositeKey("idempotency", digest), [SORT_KEY]: "idempotency" };
}

/** A data subject's key item (lambda/aws/subject-key-store.ts): its live wrapped key, or that it was erased. */
export function subjectKeyItemKey(tenant: string, subject: string): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("subject", tenant, subject), [SORT_KEY]: "key" };
}

/** A tenant's erasure epoch (lambda/privacy/ports.ts): outside the data subjects' partitions. */
export function erasureEpochKey(tenant: string): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("erasures", tenant), [SORT_KEY]: "epoch" };
}

/** A data subject's legal hold: while it exists, the subject's key cannot be destroyed. */
export function legalHoldKey(tenant: string, subject: string): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("subject", tenant, subject), [SORT_KEY]: "hold" };
}
