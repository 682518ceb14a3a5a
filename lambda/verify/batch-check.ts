/**
 * Checks one data object against the link that names it: the object's hash, its lines, and the
 * batch's Merkle root and count. Pure and synchronous, so it runs the same in a worker thread.
 */
import { gunzipSync } from "node:zlib";
import { sha256Hex } from "../core/hash";
import type { ChainLink } from "../core/link";
import { leafHash, merkleRoot } from "../core/merkle";
import { parseDataObjectKey } from "../core/paths";
import { serializeRecord } from "../core/record";
import { EventRecordSchema } from "../core/schema";

export interface BatchProblem {
  readonly code: "altered_object" | "bad_line" | "duplicate_line" | "line_order" | "batch_mismatch";
  /** 1-based line number, where the problem is in one line. */
  readonly line?: number;
  readonly message: string;
}

/** What the index cross-check needs of each event in the batch. */
export interface BatchEvent {
  readonly id: string;
  readonly leafIndex: number;
  readonly leafHash: string;
  readonly record: Record<string, unknown>;
}

export interface BatchCheck {
  readonly problems: BatchProblem[];
  /** Uncompressed bytes hashed. */
  readonly bytes: number;
  readonly events: BatchEvent[];
}

const NEWLINE = 0x0a;

/** `keepEvents` returns each event's id, leaf and record, for the index cross-check. */
export function checkBatch(
  objectBytes: Uint8Array,
  batch: ChainLink["batch"],
  options: { readonly keepEvents: boolean },
): BatchCheck {
  const problems: BatchProblem[] = [];
  const events: BatchEvent[] = [];
  const digest = sha256Hex(objectBytes);
  if (digest !== batch.sha256 || parseDataObjectKey(batch.key)?.sha256 !== batch.sha256) {
    problems.push({
      code: "altered_object",
      message: `object bytes hash to ${digest}, the link names ${batch.sha256}`,
    });
  }
  let text: Buffer;
  try {
    text = gunzipSync(objectBytes);
  } catch (error) {
    problems.push({ code: "altered_object", message: `not a gzip stream: ${(error as Error).message}` });
    return { problems, bytes: 0, events };
  }

  const leaves: Buffer[] = [];
  let previousId = "";
  const seen = new Set<string>();
  let start = 0;
  let lineNumber = 0;
  while (start < text.length) {
    let end = text.indexOf(NEWLINE, start);
    if (end < 0) {
      problems.push({ code: "bad_line", line: lineNumber + 1, message: "the last line has no newline" });
      end = text.length;
    }
    lineNumber++;
    const line = text.subarray(start, end);
    start = end + 1;
    const leaf = leafHash(line);
    leaves.push(leaf);
    const record = parseRecordLine(line, lineNumber, problems);
    if (!record) continue;
    const id = record.id as string;
    if (seen.has(id)) {
      problems.push({
        code: "duplicate_line",
        line: lineNumber,
        message: `event ${id} appears twice in the batch`,
      });
    } else if (id <= previousId) {
      problems.push({
        code: "line_order",
        line: lineNumber,
        message: `event ${id} comes after ${previousId}: lines are out of their written order`,
      });
    }
    seen.add(id);
    previousId = id > previousId ? id : previousId;
    if ((record.time as string) < batch.first_time || (record.time as string) > batch.last_time) {
      problems.push({
        code: "bad_line",
        line: lineNumber,
        message: `time ${String(record.time)} is outside the link's ${batch.first_time}..${batch.last_time}`,
      });
    }
    if (options.keepEvents) {
      events.push({ id, leafIndex: lineNumber - 1, leafHash: leaf.toString("hex"), record });
    }
  }
  if (leaves.length !== batch.count) {
    problems.push({
      code: "batch_mismatch",
      message: `the object holds ${leaves.length} lines, the link says ${batch.count}`,
    });
  }
  const root = merkleRoot(leaves).toString("hex");
  if (root !== batch.root) {
    problems.push({
      code: "batch_mismatch",
      message: `the lines' Merkle root is ${root}, the link says ${batch.root}`,
    });
  }
  return { problems, bytes: text.length, events };
}

function parseRecordLine(
  line: Buffer,
  lineNumber: number,
  problems: BatchProblem[],
): Record<string, unknown> | undefined {
  // Decoded once: the same text is parsed and then compared with its canonical form.
  const text = line.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    problems.push({ code: "bad_line", line: lineNumber, message: "not JSON" });
    return undefined;
  }
  const parsed = EventRecordSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    problems.push({
      code: "bad_line",
      line: lineNumber,
      message: `not an event record: ${issue?.path.join(".")}: ${issue?.message}`,
    });
    return undefined;
  }
  if (serializeRecord(parsed.data) !== text) {
    problems.push({ code: "bad_line", line: lineNumber, message: "record is not in its canonical form" });
  }
  return value as Record<string, unknown>;
}
