/**
 * Fetches the stored records that index pointers name, from the archive itself: the batch data
 * object (gzip JSONL) at `batch_key`, line `leaf_index`. The index only says where to look; what
 * is served is checked against it: the line's RFC 9162 leaf hash must equal the pointer's
 * `leaf_hash`, and the record must carry the pointer's event id and the tenant being read. Any
 * disagreement is an IntegrityError (a 500 that is logged loudly), never a silently skipped event.
 */
import type { ObjectReader } from "../archive/object-store";
import { readBatchLines } from "../core/batch";
import { leafHash } from "../core/merkle";
import type { EventRecord } from "../core/schema";
import { IntegrityError, type RecordPointer } from "./pointers";

export interface FetchedRecord {
  readonly record: EventRecord;
  /** Bytes of the stored line (without its newline). */
  readonly bytes: number;
}

/** Batches read at once: bounds memory (each is decompressed whole) and S3 connections. */
const BATCH_CONCURRENCY = 16;

function checkedRecord(pointer: RecordPointer, line: Buffer | undefined, tenant: string): FetchedRecord {
  const where = { event_id: pointer.eventId, batch_key: pointer.batchKey, leaf_index: pointer.leafIndex };
  if (line === undefined) throw new IntegrityError("the index points past the end of a batch", where);
  const actual = leafHash(line).toString("hex");
  if (actual !== pointer.leafHash) {
    throw new IntegrityError("a batch line does not match the leaf hash the index holds", {
      ...where,
      expected_leaf_hash: pointer.leafHash,
      actual_leaf_hash: actual,
    });
  }
  const record = JSON.parse(line.toString("utf8")) as EventRecord;
  if (record.id !== pointer.eventId || record.tenant !== tenant || pointer.tenant !== tenant) {
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
      const { lines } = readBatchLines(object);
      for (const i of positions) {
        const pointer = pointers[i] as RecordPointer;
        results[i] = checkedRecord(pointer, lines[pointer.leafIndex], tenant);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, batches.length) }, worker));
  return results;
}
