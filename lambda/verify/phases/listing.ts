/**
 * Phase 1 of `verifyArchive`: one listing of every key (every version and delete marker), sorted into
 * links, checkpoints and data objects. Every key must be canonical and hold one version; a source with
 * keys but nothing at an archive's roots is refused before anything is read.
 */

import { byKey, isSingleObject, type KeyHistory } from "../../archive/source";
import {
  CHAINS_PREFIX,
  CHECKPOINTS_PREFIX,
  EVENTS_PREFIX,
  parseCheckpointKey,
  parseDataObjectKey,
  parseLinkKey,
} from "../../core/paths";
import type { VerifyRun } from "./run";

/**
 * The source has keys, but none where an archive keeps its chains and checkpoints: it is some other
 * bucket or directory, and reading it would only list each of its keys as a finding.
 */
export class NotAnArchiveError extends Error {
  override readonly name = "NotAnArchiveError";
}

/** An archive has at least one of these at its root (a key, a version or a delete marker). */
export const ARCHIVE_ROOTS = [CHAINS_PREFIX, CHECKPOINTS_PREFIX] as const;

export interface Listing {
  /** Keys listed, whatever they are. */
  readonly listed: number;
  /** Per chain, the current link keys by seq. */
  readonly linkKeys: ReadonlyMap<string, ReadonlyMap<number, string>>;
  /** Seqs of the current checkpoint keys, ascending. */
  readonly checkpointSeqs: readonly number[];
  readonly objectKeys: ReadonlySet<string>;
  /** Link versions that are not the current one: each was written, and maybe acknowledged. */
  readonly replacedLinks: readonly { readonly key: string; readonly versionId: string }[];
}

export async function listArchive(run: VerifyRun): Promise<Listing> {
  const { source, findings } = run;
  const linkKeys = new Map<string, Map<number, string>>();
  const checkpointSeqs: number[] = [];
  const objectKeys = new Set<string>();
  const replacedLinks: { key: string; versionId: string }[] = [];
  let listed = 0;
  let archiveKeys = 0;
  const topLevel = new Set<string>();
  run.progress({ phase: "listing", done: 0, total: 0 });
  for await (const history of byKey(source.list(""))) {
    const { key } = history;
    listed++;
    if (ARCHIVE_ROOTS.some((root) => key.startsWith(root))) archiveKeys++;
    else if (topLevel.size < 4) topLevel.add(key.slice(0, key.indexOf("/") + 1 || key.length));
    if (parseLinkKey(key)) {
      for (const entry of history.entries) {
        if (entry.isObject && !entry.isLatest && entry.versionId) {
          replacedLinks.push({ key, versionId: entry.versionId });
        }
      }
    }
    checkOneVersion(run, history);
    const present = history.entries.some((entry) => entry.isLatest && entry.isObject);
    if (!present) continue;
    const link = parseLinkKey(key);
    const checkpoint = parseCheckpointKey(key);
    if (link) {
      const chain = linkKeys.get(link.chain) ?? new Map<number, string>();
      linkKeys.set(link.chain, chain);
      chain.set(link.seq, key);
    } else if (checkpoint) {
      checkpointSeqs.push(checkpoint.seq);
    } else if (key.startsWith(EVENTS_PREFIX) && parseDataObjectKey(key)) {
      objectKeys.add(key);
    } else {
      const under = [EVENTS_PREFIX, CHAINS_PREFIX, CHECKPOINTS_PREFIX].find((prefix) =>
        key.startsWith(prefix),
      );
      findings.error({
        code: "non_canonical_key",
        key,
        message: under
          ? `${key} is not a key sealtrail writes under ${under}: a planted or renamed object`
          : `${key} is outside the archive's prefixes`,
      });
    }
  }
  if (listed > 0 && archiveKeys === 0) throw notAnArchive(run, listed, topLevel);
  checkpointSeqs.sort((a, b) => a - b);
  return { listed, linkKeys, checkpointSeqs, objectKeys, replacedLinks };
}

/** Every key sealtrail writes is created once and never removed. */
function checkOneVersion(run: VerifyRun, history: KeyHistory): void {
  if (isSingleObject(history)) return;
  const { key } = history;
  const markers = history.entries.filter((entry) => !entry.isObject).length;
  run.findings.error({
    code: markers > 0 ? "delete_marker" : "second_version",
    key,
    message:
      markers > 0
        ? `${key} has ${markers} delete marker(s) among ${history.entries.length} entries: something tried to remove it`
        : `${key} has ${history.entries.length} versions: it was overwritten`,
  });
}

function notAnArchive(run: VerifyRun, listed: number, topLevel: ReadonlySet<string>): NotAnArchiveError {
  const names = [...topLevel].join(", ");
  return new NotAnArchiveError(
    `${run.source.description} has no ${ARCHIVE_ROOTS.join(" and no ")} at its root, so it is not a sealtrail ` +
      `archive (it holds ${listed} keys such as ${names}): is this the archive bucket, or the bucket's root?` +
      (topLevel.has(EVENTS_PREFIX)
        ? ` If it is, nothing links its ${EVENTS_PREFIX} objects: no link was ever written, or every link and checkpoint was removed.`
        : ""),
  );
}
