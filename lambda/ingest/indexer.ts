/**
 * Indexes one link's batch: a pointer item per event and the batch's postings (lambda/core/index-items.ts
 * postingItems), then the link's "indexed" marker, then the head hint. Used by the write path right after the link is written and by the reindex job for
 * links that never got their marker. Every write is an idempotent put.
 */

import { eventPointerItem, postingItems } from "../core/index-items";
import type { EventRecord } from "../core/schema";
import type { LinkIndex } from "./ports";

export interface LinkedBatch {
  readonly chain: string;
  readonly seq: number;
  readonly linkKey: string;
  readonly linkHash: string;
  readonly batchKey: string;
  readonly records: readonly EventRecord[];
  /** Hex leaf hashes, one per record, in line order. */
  readonly leafHashes: readonly string[];
}

export async function indexLinkedBatch(
  index: LinkIndex,
  batch: LinkedBatch,
  ttlDays?: number,
): Promise<void> {
  const items = batch.records.map((record, leafIndex) =>
    eventPointerItem(
      record,
      {
        chain: batch.chain,
        seq: batch.seq,
        linkKey: batch.linkKey,
        linkHash: batch.linkHash,
        batchKey: batch.batchKey,
        leafIndex,
        leafHash: batch.leafHashes[leafIndex] as string,
      },
      ttlDays,
    ),
  );
  await index.putItems([...items, ...postingItems(batch, ttlDays)]);
  await index.markIndexed(batch.chain, batch.seq, batch.linkHash);
  await index.advanceHeadHint(batch.chain, batch.seq, batch.linkHash);
}
