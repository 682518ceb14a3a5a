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
  POSTING_ENTRIES_PER_ITEM,
  POSTING_SHARDS,
  SORT_KEY,
  TIME_SHARDS,
  TIME_SORT_KEY,
  TTL_ATTRIBUTE,
} from "./index-table";
import { merkleRoot } from "./merkle";
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

/** Which of `shards` partitions a text falls in: stable, spread evenly by hash. */
function shardOf(text: string, shards: number): number {
  return Number.parseInt(sha256Hex(text).slice(0, 8), 16) % shards;
}

/** Which legacy time-index shard an event id falls in. */
export function timeShardOf(eventId: string, shards = TIME_SHARDS): number {
  return shardOf(eventId, shards);
}

/** Which action and time posting shard a batch's postings go to: all of one batch's go to one. */
export function postingShardOf(chain: string, seq: number): number {
  return shardOf(`${chain}#${seq}`, POSTING_SHARDS);
}

export function eventItemKey(eventId: string): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("event", eventId), [SORT_KEY]: "event" };
}

/**
 * The record's value for each search filter of `GET /v1/events`, defined once: the postings are keyed
 * by them, and a search matches records on them (lambda/query/record-match.ts). A value that is not
 * searchable (absent, or sealed by a privacy policy) is null.
 */
export const SEARCHED_VALUES = {
  actor: (r) => r.actor.sub,
  actor_iss: (r) => r.actor.iss,
  action: (r) => r.action,
  resource_type: (r) => (r.resource && searchable(r.resource.id) ? r.resource.type : null),
  resource_id: (r) => r.resource?.id,
  outcome: (r) => r.outcome,
  session_id: (r) => r.actor.session_id,
  request_id: (r) => r.http?.request_id,
} as const satisfies Record<string, (record: EventRecord) => string | null | undefined>;

export type SearchFilterName = keyof typeof SEARCHED_VALUES;

export function searchedValue(record: EventRecord, filter: SearchFilterName): string | null {
  const value = SEARCHED_VALUES[filter](record);
  return searchable(value) ? value : null;
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

/**
 * The pointer item of one event: its location, its searched attributes, and the request-id GSI key
 * (request ids are per event, so they get a per-event key). Searches by anything else read postings.
 */
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
    [TIME_SORT_KEY]: eventSortKey(record),
  };
  if (record.actor.iss) item[F.actorIss] = record.actor.iss;
  if (record.resource && searchable(record.resource.id)) {
    item[F.resourceType] = record.resource.type;
    item[F.resourceId] = record.resource.id;
  }
  if (searchable(record.actor.session_id)) {
    item[F.sessionId] = record.actor.session_id;
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

/** Where an event sorts in every search: `<time>#<event id>`, unique and totally ordered. */
export function eventSortKey(record: Pick<EventRecord, "time" | "id">): string {
  return `${record.time}#${record.id}`;
}

/**
 * The posting dimensions: each names the filters whose values key it. Action and time are sharded
 * (POSTING_SHARDS): every event of a tenant has both. Time keys on no value: the order of all events.
 */
export const POSTING_DIMENSIONS = {
  actor: { filters: ["actor"], sharded: false },
  session: { filters: ["session_id"], sharded: false },
  resource: { filters: ["resource_type", "resource_id"], sharded: false },
  action: { filters: ["action"], sharded: true },
  time: { filters: [], sharded: true },
} as const satisfies Record<string, { filters: readonly SearchFilterName[]; sharded: boolean }>;

export type PostingDimension = keyof typeof POSTING_DIMENSIONS;

/** The attribute names of a posting item. */
export const POSTING_FIELDS = {
  tenant: "tenant",
  batchKey: "batch_key",
  /** Hex Merkle root of the whole batch: what the lines read back are checked against. */
  batchRoot: "batch_root",
  /** Space-separated `<time>#<event id>#<leaf index>`, ascending; every entry of an item has one time. */
  entries: "entries",
} as const;

/** The partition of a dimension's postings for one tenant, key value and (when sharded) shard. */
export function postingPartitionKey(
  tenant: string,
  dimension: PostingDimension,
  values: readonly string[],
  shard?: number,
): string {
  const parts = ["posting", dimension, tenant, ...values];
  return compositeKey(...(shard === undefined ? parts : [...parts, String(shard)]));
}

/** One entry of a posting: an event of the batch, where it sorts, and its line. */
export interface PostingEntry {
  readonly sortKey: string;
  readonly time: string;
  readonly eventId: string;
  readonly leafIndex: number;
}

export function formatPostingEntries(entries: readonly PostingEntry[]): string {
  return entries.map((entry) => `${entry.sortKey}#${entry.leafIndex}`).join(" ");
}

/** The entries of a posting item's `entries`; undefined when it is not that form. */
export function parsePostingEntries(text: string): PostingEntry[] | undefined {
  const entries: PostingEntry[] = [];
  for (const part of text.split(" ")) {
    const [time, eventId, leaf] = part.split("#");
    if (time === undefined || eventId === undefined || leaf === undefined || !/^[0-9]+$/.test(leaf)) {
      return undefined;
    }
    entries.push({ sortKey: `${time}#${eventId}`, time, eventId, leafIndex: Number(leaf) });
  }
  return entries;
}

/** One linked batch, as the postings name it. */
export interface PostedBatch {
  readonly chain: string;
  readonly seq: number;
  readonly batchKey: string;
  readonly records: readonly EventRecord[];
  /** Hex leaf hashes, one per record, in line order. */
  readonly leafHashes: readonly string[];
}

/**
 * The postings of one batch: for each tenant, dimension, key value and time its events carry, the
 * events' entries in sort order, split past POSTING_ENTRIES_PER_ITEM. A posting sorts by that time,
 * then the batch (chain, seq) and the part, so one batch's postings are distinct items and writing
 * them again (reindex) rewrites the same items. A record's time is when its request was received, so
 * a batch's events share one: a batch has one posting per key value. Keying by the exact time lets a
 * search resume at the very time its cursor names, however many postings a busy minute holds.
 */
export function postingItems(batch: PostedBatch, ttlDays?: number): IndexItem[] {
  const root = merkleRoot(batch.leafHashes.map((hash) => Buffer.from(hash, "hex"))).toString("hex");
  const shard = postingShardOf(batch.chain, batch.seq);
  const groups = new Map<string, { pk: string; tenant: string; entries: PostingEntry[] }>();
  batch.records.forEach((record, leafIndex) => {
    const entry: PostingEntry = {
      sortKey: eventSortKey(record),
      time: record.time,
      eventId: record.id,
      leafIndex,
    };
    for (const [dimension, { filters, sharded }] of Object.entries(POSTING_DIMENSIONS)) {
      const values = filters.map((filter) => searchedValue(record, filter));
      if (values.some((value) => value === null)) continue;
      const pk = postingPartitionKey(
        record.tenant,
        dimension as PostingDimension,
        values as string[],
        sharded ? shard : undefined,
      );
      const group = `${pk}\n${record.time}`;
      const found = groups.get(group);
      if (found) found.entries.push(entry);
      else groups.set(group, { pk, tenant: record.tenant, entries: [entry] });
    }
  });
  const seq = String(batch.seq).padStart(20, "0");
  const items: IndexItem[] = [];
  for (const { pk, tenant, entries } of groups.values()) {
    entries.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (let part = 0; part * POSTING_ENTRIES_PER_ITEM < entries.length; part++) {
      const chunk = entries.slice(part * POSTING_ENTRIES_PER_ITEM, (part + 1) * POSTING_ENTRIES_PER_ITEM);
      const first = chunk[0] as PostingEntry;
      const item: IndexItem = {
        [PARTITION_KEY]: pk,
        [SORT_KEY]: `${first.time}#${keyPart(batch.chain)}#${seq}#${part}`,
        [POSTING_FIELDS.tenant]: tenant,
        [POSTING_FIELDS.batchKey]: batch.batchKey,
        [POSTING_FIELDS.batchRoot]: root,
        [POSTING_FIELDS.entries]: formatPostingEntries(chunk),
      };
      if (ttlDays !== undefined) {
        const last = (chunk.at(-1) as PostingEntry).time;
        item[TTL_ATTRIBUTE] = Math.floor(Date.parse(last) / 1000) + ttlDays * 86_400;
      }
      items.push(item);
    }
  }
  return items;
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
