/**
 * A data object and its link's batch over arbitrary line bytes, committed exactly as ingest commits
 * (object hash, count, Merkle root), so that a test can make only the lines' content wrong.
 */
import { gzipSync } from "node:zlib";
import { sha256Hex } from "../../lambda/core/hash";
import type { ChainLink } from "../../lambda/core/link";
import { leafHash, merkleRoot } from "../../lambda/core/merkle";
import { dataObjectKey } from "../../lambda/core/paths";

/** When the committed batch was received: the time in its data object's key. */
export const COMMITTED_AT = "2026-11-22T03:00:00.000Z";

export interface CommitOptions {
  /** How the text is compressed (default gzip), to commit a batch that is not gzip as stored. */
  readonly gzip?: (text: Buffer) => Buffer;
  /** The batch's first and last record times. */
  readonly times?: readonly [string, string];
  /** The object's text, if not the lines joined by newlines. */
  readonly text?: Buffer;
}

export function committedBatch(
  lines: readonly string[],
  options: CommitOptions = {},
): { bytes: Buffer; batch: ChainLink["batch"] } {
  const text = options.text ?? Buffer.from(lines.map((line) => `${line}\n`).join(""));
  const bytes = (options.gzip ?? gzipSync)(text);
  const digest = sha256Hex(bytes);
  const [first_time, last_time] = options.times ?? [COMMITTED_AT, "2026-11-22T03:00:01.000Z"];
  return {
    bytes,
    batch: {
      key: dataObjectKey(new Date(COMMITTED_AT), digest),
      sha256: digest,
      root: merkleRoot(lines.map((line) => leafHash(Buffer.from(line)))).toString("hex"),
      count: lines.length,
      first_time,
      last_time,
    },
  };
}
