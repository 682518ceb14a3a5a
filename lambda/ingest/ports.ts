/**
 * The ports of the write path and the reindex job: what the ingest service, the chain writer, the
 * indexer and the reindex job need from the table, each with exactly the methods they call. The
 * adapters in lambda/aws/ implement them (DynamoChainLeases, DynamoIdempotencyStore, IndexStore);
 * test/support/memory-archive.ts has in-memory fakes. The archive bucket's port is shared with the
 * query API: lambda/archive/object-store.ts.
 */
import type { IndexItem } from "../core/index-items";

/**
 * Chain leases (chain-writer.ts): a conditional, expiring item per chain, so each environment usually
 * writes a chain no other writes. Leases only reduce contention; S3's If-None-Match keeps the chain.
 */
export interface ChainLeases {
  /** Takes a free or expired chain among `chains`; undefined when all are held. */
  acquire(
    holder: string,
    chains: readonly string[],
    nowMs: number,
    leaseMs: number,
  ): Promise<string | undefined>;
  /** Extends a lease this holder still has; false when it was lost. */
  renew(chain: string, holder: string, nowMs: number, leaseMs: number): Promise<boolean>;
}

/** Whose Idempotency-Key it is: a key is one reporter's within one tenant. */
export interface IdempotencyScope {
  readonly tenant: string;
  readonly reporterIss: string | null;
  readonly reporterSub: string;
  readonly key: string;
}

export type IdempotencyClaim =
  | { readonly kind: "claimed"; readonly owner: string }
  | { readonly kind: "completed"; readonly bodyHash: string; readonly receipt: unknown }
  | { readonly kind: "in_progress" }
  | { readonly kind: "conflict" };

/** Idempotency records (ingest-service.ts): a body hash per key, then the receipt once sealed. */
export interface IdempotencyStore {
  /**
   * Claims the key for this request, or tells why not: already completed (replay), another body
   * (conflict), or a live claim by a concurrent request (in progress). An expired or released
   * claim is taken over.
   */
  claim(
    scope: IdempotencyScope,
    bodyHash: string,
    owner: string,
    nowMs: number,
    claimMs: number,
  ): Promise<IdempotencyClaim>;
  /** The receipt stored for this key and body, if that request was sealed; reads only. */
  completedReceipt(scope: IdempotencyScope, bodyHash: string): Promise<unknown>;
  /** Stores the receipt on the claim `owner` holds. */
  complete(scope: IdempotencyScope, owner: string, receipt: unknown): Promise<void>;
  /** Gives a claim up after a failure that acknowledged nothing, so a retry need not wait. */
  release(scope: IdempotencyScope, owner: string): Promise<void>;
}

/** The writes that index one link's batch (indexer.ts): the write path's and the reindex job's. */
export interface LinkIndex {
  /** Event pointer items; every write is an idempotent put. */
  putItems(items: readonly IndexItem[]): Promise<void>;
  /** The link's "indexed" marker, holding its hash. */
  markIndexed(chain: string, seq: number, linkHash: string): Promise<void>;
  /** Moves the chain's head hint forward only. */
  advanceHeadHint(chain: string, seq: number, linkHash: string): Promise<void>;
}

/** The index as the reindex job (reindex.ts) and rebuild-index.ts use it. */
export interface ReindexIndex extends LinkIndex {
  /** The first seq of `chain` that may lack its marker (all earlier ones are indexed); 0 when none. */
  reindexWatermark(chain: string): Promise<number>;
  /** The seqs of `chain` at or after `fromSeq` that carry an "indexed" marker. */
  indexedSeqs(chain: string, fromSeq: number): Promise<Set<number>>;
  /** Moves the watermark forward only. */
  advanceReindexWatermark(chain: string, nextSeq: number): Promise<void>;
}
