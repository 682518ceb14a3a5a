/**
 * Phase 5 of `verifyArchive` (`--table`): the index. Every event pointer item must agree with the
 * archive it points into, and point at an event a linked data object holds.
 */
import { POINTER_FIELDS } from "../../core/index-items";
import type { IndexEntry } from "../verifier";
import type { VerifyRun } from "./run";

/** What the cross-check knows of one archived event: where it is, and its record. */
export interface IndexedEvent {
  readonly key: string;
  readonly seq: number;
  readonly chain: string;
  readonly leafIndex: number;
  readonly leafHash: string;
  readonly record: Record<string, unknown>;
}

const INDEXED_FIELDS: ReadonlyArray<[string, (e: IndexedEvent) => unknown]> = [
  [POINTER_FIELDS.chain, (e) => e.chain],
  [POINTER_FIELDS.seq, (e) => e.seq],
  [POINTER_FIELDS.batchKey, (e) => e.key],
  [POINTER_FIELDS.leafIndex, (e) => e.leafIndex],
  [POINTER_FIELDS.leafHash, (e) => e.leafHash],
  [POINTER_FIELDS.time, (e) => e.record.time],
  [POINTER_FIELDS.tenant, (e) => e.record.tenant],
  [POINTER_FIELDS.action, (e) => e.record.action],
  [POINTER_FIELDS.outcome, (e) => e.record.outcome],
  [POINTER_FIELDS.actorSub, (e) => (e.record.actor as { sub?: unknown } | null)?.sub],
];

export async function crossCheckIndex(
  run: VerifyRun,
  index: () => AsyncIterable<IndexEntry>,
  events: ReadonlyMap<string, IndexedEvent>,
  incremental: boolean,
): Promise<void> {
  const { findings } = run;
  const seen = new Set<string>();
  for await (const entry of index()) {
    const event = events.get(entry.eventId);
    if (!event) {
      // Incremental runs only know the newer events; older pointers were checked before.
      if (!incremental) {
        findings.error({
          code: "index_orphan",
          message: `the index has event ${entry.eventId}, which no linked data object holds`,
        });
      }
      continue;
    }
    seen.add(entry.eventId);
    for (const [field, expected] of INDEXED_FIELDS) {
      const actual = entry.attributes[field];
      if (actual !== expected(event)) {
        findings.error({
          code: "index_mismatch",
          key: event.key,
          chain: event.chain,
          seq: event.seq,
          line: event.leafIndex + 1,
          message: `index item of event ${entry.eventId} says ${field} = ${JSON.stringify(actual)}, the archive says ${JSON.stringify(expected(event))}`,
        });
      }
    }
  }
  const missing = [...events.keys()].filter((id) => !seen.has(id));
  if (missing.length > 0) {
    findings.warn({
      code: "not_indexed",
      message: `${missing.length} archived event(s) have no index item (reindex not yet run, or expired by TTL), e.g. ${missing.slice(0, 3).join(", ")}`,
    });
  }
}
