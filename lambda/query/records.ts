/**
 * Fetches the stored records that index pointers name, from the archive itself: the batch data
 * object (gzip JSONL) at `batch_key`, line `leaf_index`. The index only says where to look; what
 * is served is checked against it: the line's RFC 9162 leaf hash must equal the pointer's
 * `leaf_hash` (or, for a posting, the batch's lines must hash to the posting's Merkle root and the
 * record carry the posting's time), and the record must carry the pointer's event id and the tenant
 * being read. Any disagreement is an IntegrityError (a 500 that is logged loudly), never a silently
 * skipped event.
 */
import type { ObjectReader } from "../archive/object-store";
import { readBatchLines } from "../core/batch";
import { leafHash, merkleRoot } from "../core/merkle";
import type { EventRecord } from "../core/schema";
import { IntegrityError, type RecordPointer } from "./pointers";

export interface FetchedRecord {
  readonly record: EventRecord;
  /** Bytes of the stored line (without its newline). */
  readonly bytes: number;
}

/** Batches read at once: bounds memory (each is decompressed whole) and S3 connections. */
const BATCH_CONCURRENCY = 16;

/** The batch's lines, with their Merkle root once a posting asks for it. */
class BatchLines {
  private root: string | undefined;
  constructor(readonly lines: readonly Buffer[]) {}
  merkleRoot(): string {
    this.root ??= merkleRoot(this.lines.map((line) => leafHash(line))).toString("hex");
    return this.root;
  }
}

function checkedRecord(pointer: RecordPointer, batch: BatchLines, tenant: string): FetchedRecord {
  const where = { event_id: pointer.eventId, batch_key: pointer.batchKey, leaf_index: pointer.leafIndex };
  const line = batch.lines[pointer.leafIndex];
  if (line === undefined) throw new IntegrityError("the index points past the end of a batch", where);
  if ("leafHash" in pointer) {
    const actual = leafHash(line).toString("hex");
    if (actual !== pointer.leafHash) {
      throw new IntegrityError("a batch line does not match the leaf hash the index holds", {
        ...where,
        expected_leaf_hash: pointer.leafHash,
        actual_leaf_hash: actual,
      });
    }
  } else if (batch.merkleRoot() !== pointer.batchRoot) {
    throw new IntegrityError("a batch's lines do not match the Merkle root the index holds", {
      ...where,
      expected_root: pointer.batchRoot,
      actual_root: batch.merkleRoot(),
    });
  }
  const record = JSON.parse(line.toString("utf8")) as EventRecord;
  const misplaced = "time" in pointer && record.time !== pointer.time;
  if (record.id !== pointer.eventId || record.tenant !== tenant || pointer.tenant !== tenant || misplaced) {
    throw new IntegrityError("a batch line is another event or tenant than its pointer names", {
      ...where,
      record_id: record.id,
      record_tenant: record.tenant,
      pointer_tenant: pointer.tenant,
    });
  }
  return { record, bytes: line.length };
}

/**
 * The records of `pointers`, in the same order. Each batch object is read once per call, however
 * many of its lines are wanted, and only the wanted lines are kept.
 */
export async function fetchRecords(
  objects: ObjectReader,
  pointers: readonly RecordPointer[],
  tenant: string,
): Promise<FetchedRecord[]> {
  const byBatch = new Map<string, number[]>();
  pointers.forEach((pointer, i) => {
    const positions = byBatch.get(pointer.batchKey);
    if (positions) positions.push(i);
    else byBatch.set(pointer.batchKey, [i]);
  });
  const results = new Array<FetchedRecord>(pointers.length);
  const batches = [...byBatch.entries()];
  let nextBatch = 0;
  const worker = async () => {
    while (nextBatch < batches.length) {
      const [batchKey, positions] = batches[nextBatch++] as [string, number[]];
      const object = await objects.get(batchKey);
      if (object === undefined) {
        throw new IntegrityError("the index names a batch object the archive does not hold", {
          batch_key: batchKey,
          event_ids: positions.map((i) => (pointers[i] as RecordPointer).eventId),
        });
      }
      // Each line is checked against the leaf hash the index holds; an unterminated last one too.
      const lines = new BatchLines(readBatchLines(object).lines);
      for (const i of positions) results[i] = checkedRecord(pointers[i] as RecordPointer, lines, tenant);
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, batches.length) }, worker));
  return results;
}
