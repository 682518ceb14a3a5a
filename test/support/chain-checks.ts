/** Assertions shared by the concurrency and fault suites: the chain is whole, receipts are kept. */
import { expect } from "vitest";
import { sha256Hex } from "../../lambda/core/hash";
import { GENESIS_PREV, parseLink } from "../../lambda/core/link";
import { linkKey, linkPrefix } from "../../lambda/core/paths";
import type { Receipt } from "../../lambda/ingest/ingest-service";
import { objectVersions, readBatchLines, readObject, tableItems } from "./archive-state";
import type { TestArchive } from "./aws";

/** One version per seq from 0 with no gap, every `prev` the hash of the previous link. Returns hash by seq. */
export async function expectChainIntact(archive: TestArchive, chain: string): Promise<Map<number, string>> {
  const keys = await objectVersions(archive, linkPrefix(chain));
  expect(keys, "links are never overwritten or deleted").toEqual(
    Array.from({ length: keys.length }, (_, seq) => linkKey(chain, seq)),
  );
  const hashes = new Map<number, string>();
  let prev = GENESIS_PREV;
  for (const key of keys) {
    const bytes = await readObject(archive, key);
    expect(parseLink(bytes).prev, key).toBe(prev);
    prev = sha256Hex(bytes);
    hashes.set(hashes.size, prev);
  }
  return hashes;
}

/** Every event of every 201 receipt is in its batch, under its link, and in the index. */
export async function expectReceiptsKept(
  archive: TestArchive,
  receipts: readonly Receipt[],
  hashes: Map<number, string>,
): Promise<void> {
  const indexed = new Set((await tableItems(archive)).map((item) => item.event_id).filter(Boolean));
  // Read batches a few at a time: thousands of sequential reads dominate a large run.
  for (let i = 0; i < receipts.length; i += 16) {
    await Promise.all(
      receipts.slice(i, i + 16).map(async (receipt) => {
        expect(hashes.get(receipt.seq), `link ${receipt.link_key}`).toBe(receipt.link_hash);
        const ids = (await readBatchLines(archive, receipt.batch.key)).map((line) => JSON.parse(line).id);
        expect(ids).toEqual(receipt.ids);
        for (const id of receipt.ids) expect(indexed.has(id), `event ${id} indexed`).toBe(true);
      }),
    );
  }
}
