/**
 * In-memory fakes of the services' ports (object store and archive source, chain leases, index,
 * idempotency records, signer state) for unit tests: no emulator, no timing. The object store can
 * reproduce an emulator whose create-only put is not atomic, and the index enforces DynamoDB's key
 * size limits, so tests see the failures the real services give.
 */

import type { ObjectStore, PutOutcome } from "../../lambda/archive/object-store";
import type { ArchiveEntry, ArchiveSource } from "../../lambda/archive/source";
import type { SignerState, SignerStateStore } from "../../lambda/checkpoint/signer";
import type { IndexItem } from "../../lambda/core/index-items";
import { indexedMarkerKey, reindexWatermarkKey } from "../../lambda/core/index-items";
import { GLOBAL_INDEXES, KEY_SIZE_LIMITS, PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { decideOnStoredClaim, type StoredClaim } from "../../lambda/ingest/idempotency-claim";
import type {
  ChainLeases,
  IdempotencyClaim,
  IdempotencyScope,
  IdempotencyStore,
  ReindexIndex,
} from "../../lambda/ingest/ports";
import type { IndexedMarker, LinkMarkers } from "../../lambda/proof/proof-service";
import type { EventIndex, IndexPage, IndexPageQuery } from "../../lambda/query/ports";

/** One turn of the event loop: every promise chain that is ready runs before this resolves. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class MemoryObjectStore implements ObjectStore, ArchiveSource {
  /** Every version of every key, oldest first: a second version is a fork. */
  readonly versions = new Map<string, Buffer[]>();
  readonly description = "memory://archive";
  /** As an ArchiveSource (the signer's view), it shows every version of a key. */
  readonly seesVersions = true;
  /** Puts that created an object, in order (a refused or replayed request must add none). */
  readonly created: string[] = [];

  /**
   * Every put first yields a turn (a round trip), so concurrent writers interleave.
   * @param atomicCreate true: the check that the key is absent and the write are one step, as in S3.
   *   false: check, yield a turn, then store, as moto 5 does (its If-None-Match check and its write are
   *   separate steps), so concurrent creates of one key all succeed.
   */
  constructor(private readonly options: { readonly atomicCreate: boolean } = { atomicCreate: true }) {}

  async putIfAbsent(key: string, bytes: Uint8Array): Promise<PutOutcome> {
    await nextTurn();
    if (this.versions.has(key)) return "exists";
    if (!this.options.atomicCreate) await nextTurn();
    const versions = this.versions.get(key) ?? [];
    versions.push(Buffer.from(bytes));
    this.versions.set(key, versions);
    this.created.push(key);
    return "created";
  }

  /** Adds a version of `key` past the create-only rule (an attacker with write access to the bucket). */
  overwrite(key: string, bytes: Uint8Array): void {
    const versions = this.versions.get(key) ?? [];
    versions.push(Buffer.from(bytes));
    this.versions.set(key, versions);
  }

  /** Keys under `prefix`, sorted. */
  keys(prefix = ""): string[] {
    return [...this.versions.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  async *list(prefix: string, keyMarker?: string): AsyncIterable<ArchiveEntry> {
    for (const key of this.keys(prefix)) {
      if (keyMarker !== undefined && key <= keyMarker) continue;
      const versions = this.versions.get(key) ?? [];
      // Newest first, as S3 lists versions.
      for (let i = versions.length - 1; i >= 0; i--) {
        yield {
          key,
          isObject: true,
          isLatest: i === versions.length - 1,
          versionId: String(i),
          size: versions[i]?.length,
        };
      }
    }
  }

  async listChildren(prefix: string): Promise<string[]> {
    const children = new Set<string>();
    for (const key of this.keys(prefix)) {
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash > 0) children.add(rest.slice(0, slash));
    }
    return [...children];
  }

  async getVersion(key: string, versionId: string): Promise<Buffer | undefined> {
    return this.versions.get(key)?.[Number(versionId)];
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.versions.get(key)?.at(-1);
  }

  async *listKeys(prefix: string, startAfter?: string): AsyncIterable<string> {
    for (const key of this.keys(prefix)) if (startAfter === undefined || key > startAfter) yield key;
  }
}

/** Leases that always grant the first chain not held by another holder; counts the calls. */
export class MemoryLeases implements ChainLeases {
  readonly holders = new Map<string, string>();
  acquireCalls = 0;

  async acquire(holder: string, chains: readonly string[]): Promise<string | undefined> {
    this.acquireCalls++;
    const chain = chains.find((c) => !this.holders.has(c));
    if (chain !== undefined) this.holders.set(chain, holder);
    return chain;
  }

  async renew(chain: string, holder: string): Promise<boolean> {
    return this.holders.get(chain) === holder;
  }
}

/** DynamoDB refuses the whole write when any key attribute of the table or a GSI is over its limit. */
function keyLimitViolation(item: IndexItem): string | undefined {
  const partitionKeys = [PARTITION_KEY, ...Object.values(GLOBAL_INDEXES).map((gsi) => gsi.partitionKey)];
  const sortKeys = [SORT_KEY, ...Object.values(GLOBAL_INDEXES).map((gsi) => gsi.sortKey)];
  for (const [names, limit] of [
    [partitionKeys, KEY_SIZE_LIMITS.partitionKeyBytes],
    [sortKeys, KEY_SIZE_LIMITS.sortKeyBytes],
  ] as const) {
    for (const name of names) {
      const value = item[name];
      if (typeof value === "string" && Buffer.byteLength(value, "utf8") > limit) {
        return `ValidationException: ${name} is ${Buffer.byteLength(value, "utf8")} bytes, over ${limit}`;
      }
    }
  }
  return undefined;
}

/**
 * `#f0 = :f0 AND #f1 IN (:f1, :f1b)`, the only FilterExpression forms the query planner writes
 * (plan.ts), as a predicate; anything else throws, so a planner that starts writing other forms
 * fails here first.
 */
function filterOf(filter: IndexPageQuery["filter"]): (item: Record<string, unknown>) => boolean {
  if (!filter) return () => true;
  const terms = filter.expression.split(" AND ").map((term) => {
    const match = /^(#\w+) (?:= (:\w+)|IN \((:\w+), (:\w+)\))$/.exec(term);
    const [, nameRef, ...refs] = match ?? [];
    const valueRefs = refs.filter((ref): ref is string => ref !== undefined);
    const name = nameRef === undefined ? undefined : filter.names[nameRef];
    if (name === undefined || valueRefs.length === 0 || !valueRefs.every((ref) => ref in filter.values)) {
      throw new Error(`the memory index cannot evaluate the filter term "${term}"`);
    }
    return { name, values: valueRefs.map((ref) => filter.values[ref]) };
  });
  return (item) => terms.every(({ name, values }) => values.includes(item[name]));
}

/** The index table as one map from `pk`/`sk` to item, with DynamoDB's key size limits. */
export class MemoryIndex implements ReindexIndex, EventIndex, LinkMarkers {
  readonly items = new Map<string, IndexItem>();
  /** Head hints by chain: kept apart from `items` (tests compare those with what a rebuild writes). */
  readonly headHints = new Map<string, number>();
  /** Throws from every read and write when set (the table unavailable). */
  unavailable: Error | undefined;
  /** Throws instead of writing any item this accepts (a write DynamoDB keeps refusing). */
  refuse: (item: IndexItem) => boolean = () => false;

  private static id(key: Record<string, unknown>): string {
    return JSON.stringify([key[PARTITION_KEY], key[SORT_KEY]]);
  }

  private check(): void {
    if (this.unavailable) throw this.unavailable;
  }

  async putItems(items: readonly IndexItem[]): Promise<void> {
    this.check();
    for (const item of items) {
      const violation = keyLimitViolation(item);
      if (violation) throw new Error(violation);
      if (this.refuse(item)) throw new Error(`injected: the index refuses ${String(item[PARTITION_KEY])}`);
    }
    for (const item of items) this.items.set(MemoryIndex.id(item), item);
  }

  async markIndexed(chain: string, seq: number, linkHash: string): Promise<void> {
    this.check();
    const item = { ...indexedMarkerKey(chain, seq), chain, seq, link_hash: linkHash };
    this.items.set(MemoryIndex.id(item), item);
  }

  async advanceHeadHint(chain: string, seq: number): Promise<void> {
    this.check();
    if (seq > (this.headHints.get(chain) ?? -1)) this.headHints.set(chain, seq);
  }

  async headHint(chain: string): Promise<number | undefined> {
    this.check();
    return this.headHints.get(chain);
  }

  async eventPointer(eventId: string): Promise<Record<string, unknown> | undefined> {
    this.check();
    return this.pointers().get(eventId);
  }

  /**
   * A GSI Query as DynamoDB runs it: items with the partition key, in sort-key order, within the
   * bounds, after `startKey`; `limit` items evaluated, then the filter applied.
   */
  async queryIndexPage(query: IndexPageQuery): Promise<IndexPage> {
    this.check();
    const { partitionKey, sortKey } = query;
    const matches = filterOf(query.filter);
    const after = query.startKey?.[sortKey.name];
    const inRange = [...this.items.values()]
      .filter((item) => item[partitionKey.name] === partitionKey.value)
      .filter((item) => typeof item[sortKey.name] === "string")
      .sort((a, b) => (String(a[sortKey.name]) < String(b[sortKey.name]) ? -1 : 1))
      .filter((item) => {
        const value = String(item[sortKey.name]);
        return (
          (sortKey.lower === undefined || value >= sortKey.lower) &&
          (sortKey.upper === undefined || value <= sortKey.upper) &&
          (after === undefined || value > String(after))
        );
      });
    const evaluated = inRange.slice(0, query.limit);
    const last = evaluated.at(-1);
    return {
      items: evaluated.filter(matches).map((item) => ({ ...item })),
      lastEvaluatedKey:
        inRange.length > query.limit && last
          ? {
              [PARTITION_KEY]: last[PARTITION_KEY],
              [SORT_KEY]: last[SORT_KEY],
              [sortKey.name]: last[sortKey.name],
            }
          : undefined,
    };
  }

  async *indexedMarkers(chain: string): AsyncIterable<IndexedMarker> {
    this.check();
    const pk = indexedMarkerKey(chain, 0)[PARTITION_KEY];
    const markers = [...this.items.values()]
      .filter((item) => item[PARTITION_KEY] === pk)
      .map((item) => ({ seq: Number(item[SORT_KEY]), linkHash: item.link_hash }))
      .sort((a, b) => a.seq - b.seq);
    yield* markers;
  }

  async indexedSeqs(chain: string, fromSeq: number): Promise<Set<number>> {
    this.check();
    const pk = indexedMarkerKey(chain, 0)[PARTITION_KEY];
    const seqs = new Set<number>();
    for (const item of this.items.values()) {
      if (item[PARTITION_KEY] === pk && Number(item[SORT_KEY]) >= fromSeq) seqs.add(Number(item[SORT_KEY]));
    }
    return seqs;
  }

  async reindexWatermark(chain: string): Promise<number> {
    this.check();
    const next = this.items.get(MemoryIndex.id(reindexWatermarkKey(chain)))?.next_seq;
    return typeof next === "number" ? next : 0;
  }

  async advanceReindexWatermark(chain: string, nextSeq: number): Promise<void> {
    if (nextSeq > (await this.reindexWatermark(chain))) {
      const item = { ...reindexWatermarkKey(chain), next_seq: nextSeq };
      this.items.set(MemoryIndex.id(item), item);
    }
  }

  /** Event pointer items, by event id. */
  pointers(): Map<string, IndexItem> {
    const out = new Map<string, IndexItem>();
    for (const item of this.items.values())
      if (typeof item.event_id === "string") out.set(item.event_id, item);
    return out;
  }
}

type IdempotencyRecord = { -readonly [K in keyof StoredClaim]: StoredClaim[K] };

/** Idempotency records with the DynamoDB store's rules (lambda/aws/idempotency-store.ts). */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly records = new Map<string, IdempotencyRecord>();

  private static id(scope: IdempotencyScope): string {
    return JSON.stringify([scope.tenant, scope.reporterIss, scope.reporterSub, scope.key]);
  }

  async claim(
    scope: IdempotencyScope,
    bodyHash: string,
    owner: string,
    nowMs: number,
    claimMs: number,
  ): Promise<IdempotencyClaim> {
    const id = MemoryIdempotencyStore.id(scope);
    const decided = decideOnStoredClaim(this.records.get(id), bodyHash, owner, nowMs);
    if (decided !== "take") return decided;
    this.records.set(id, { state: "pending", owner, bodyHash, claimUntil: nowMs + claimMs });
    return { kind: "claimed", owner };
  }

  async completedReceipt(scope: IdempotencyScope, bodyHash: string): Promise<unknown> {
    const existing = this.records.get(MemoryIdempotencyStore.id(scope));
    return existing?.state === "done" && existing.bodyHash === bodyHash
      ? JSON.parse(existing.receipt ?? "null")
      : undefined;
  }

  async complete(scope: IdempotencyScope, owner: string, receipt: unknown): Promise<void> {
    const existing = this.records.get(MemoryIdempotencyStore.id(scope));
    if (existing?.owner !== owner) throw new Error("ConditionalCheckFailedException: not the claim's owner");
    existing.state = "done";
    existing.receipt = JSON.stringify(receipt);
  }

  async release(scope: IdempotencyScope, owner: string): Promise<void> {
    const existing = this.records.get(MemoryIdempotencyStore.id(scope));
    if (existing?.owner === owner && existing.state === "pending") existing.claimUntil = 0;
  }
}

/** The signer's state with a version that changes on every save, as an ETag does. */
export class MemorySignerStateStore implements SignerStateStore {
  private stored: { state: SignerState; version: string } | undefined;
  private saves = 0;

  get state(): SignerState | undefined {
    return this.stored?.state;
  }

  async load(): Promise<{ state: SignerState; version: string } | undefined> {
    // A copy through JSON, as the S3 store reads it back.
    return (
      this.stored && { state: JSON.parse(JSON.stringify(this.stored.state)), version: this.stored.version }
    );
  }

  async save(state: SignerState, expected: string | undefined): Promise<"saved" | "conflict"> {
    if (this.stored?.version !== expected) return "conflict";
    this.stored = { state: JSON.parse(JSON.stringify(state)), version: `v${++this.saves}` };
    return "saved";
  }
}
