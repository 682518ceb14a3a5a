/**
 * In-memory fakes of the write path's ports (object store, chain leases, index) for unit tests: no
 * emulator, no timing. The object store can reproduce an emulator whose create-only put is not atomic,
 * and the index enforces DynamoDB's key size limits, so tests see the failures the real services give.
 */

import type { ChainLeases } from "../../lambda/aws/lease-store";
import type { ObjectStore, PutOutcome } from "../../lambda/aws/object-store";
import type { IndexItem } from "../../lambda/core/index-items";
import { indexedMarkerKey, reindexWatermarkKey } from "../../lambda/core/index-items";
import { GLOBAL_INDEXES, KEY_SIZE_LIMITS, PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import type { ReindexIndex } from "../../lambda/ingest/reindex";

/** One turn of the event loop: every promise chain that is ready runs before this resolves. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class MemoryObjectStore implements ObjectStore {
  /** Every version of every key, oldest first: a second version is a fork. */
  readonly versions = new Map<string, Buffer[]>();

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
    return "created";
  }

  async get(key: string): Promise<Buffer | undefined> {
    return this.versions.get(key)?.at(-1);
  }

  async *listKeys(prefix: string, startAfter?: string): AsyncIterable<string> {
    const keys = [...this.versions.keys()].filter((key) => key.startsWith(prefix)).sort();
    for (const key of keys) if (startAfter === undefined || key > startAfter) yield key;
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

/** The index table as one map from `pk`/`sk` to item, with DynamoDB's key size limits. */
export class MemoryIndex implements ReindexIndex {
  readonly items = new Map<string, IndexItem>();
  /** Throws instead of writing any item this accepts (a write DynamoDB keeps refusing). */
  refuse: (item: IndexItem) => boolean = () => false;

  private static id(key: Record<string, unknown>): string {
    return JSON.stringify([key[PARTITION_KEY], key[SORT_KEY]]);
  }

  async putItems(items: readonly IndexItem[]): Promise<void> {
    for (const item of items) {
      const violation = keyLimitViolation(item);
      if (violation) throw new Error(violation);
      if (this.refuse(item)) throw new Error(`injected: the index refuses ${String(item[PARTITION_KEY])}`);
    }
    for (const item of items) this.items.set(MemoryIndex.id(item), item);
  }

  async markIndexed(chain: string, seq: number, linkHash: string): Promise<void> {
    const item = { ...indexedMarkerKey(chain, seq), chain, seq, link_hash: linkHash };
    this.items.set(MemoryIndex.id(item), item);
  }

  async advanceHeadHint(): Promise<void> {}

  async indexedSeqs(chain: string, fromSeq: number): Promise<Set<number>> {
    const pk = indexedMarkerKey(chain, 0)[PARTITION_KEY];
    const seqs = new Set<number>();
    for (const item of this.items.values()) {
      if (item[PARTITION_KEY] === pk && Number(item[SORT_KEY]) >= fromSeq) seqs.add(Number(item[SORT_KEY]));
    }
    return seqs;
  }

  async reindexWatermark(chain: string): Promise<number> {
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
