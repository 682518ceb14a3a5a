/**
 * An archive as it stood at one checkpoint: what lets the scheduled verifier run the one verifier
 * (verifier.ts) over an archive too large for one invocation, a step at a time.
 *
 * A step's view shows the archive's one listing (taken once per invocation) without the checkpoints
 * after checkpoint c and without the links of each chain from seq n on, all their versions and delete
 * markers included; every other key (data objects, keys outside the archive's layout) is shown as it
 * is. To the verifier that is an archive whose newest checkpoint is c and whose chains end at n, so a
 * step that verifies leaves the state "chain verified up to link n at checkpoint c". Nothing hidden is
 * skipped: a later step (and finally one over the whole listing) shows it.
 */

import { type ArchiveEntry, type ArchiveSource, compareKeys } from "../archive/source";
import { parseCheckpointKey, parseLinkKey } from "../core/paths";

/** Where a step's view ends: checkpoints up to `checkpoint`, and per chain the links below `links[id]`. */
export interface ViewBounds {
  readonly checkpoint: number;
  /** Chains absent here show no link at all. */
  readonly links: Readonly<Record<string, number>>;
}

/** What the listing holds that a step is planned from. */
export interface ListingSummary {
  /** Seqs of the checkpoints present (a current version), ascending. */
  readonly checkpoints: readonly number[];
  /** Per chain, one past the highest link seq present: the chain's length if nothing is missing. */
  readonly linkCounts: Readonly<Record<string, number>>;
}

/** Reads the whole listing (every version and delete marker) once. */
export async function readListing(source: ArchiveSource): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  for await (const entry of source.list("")) entries.push(entry);
  return entries;
}

export function summarizeListing(entries: readonly ArchiveEntry[]): ListingSummary {
  const checkpoints = new Set<number>();
  const linkCounts: Record<string, number> = {};
  for (const entry of entries) {
    if (!entry.isLatest || !entry.isObject) continue;
    const link = parseLinkKey(entry.key);
    if (link) {
      linkCounts[link.chain] = Math.max(linkCounts[link.chain] ?? 0, link.seq + 1);
      continue;
    }
    const checkpoint = parseCheckpointKey(entry.key);
    if (checkpoint) checkpoints.add(checkpoint.seq);
  }
  return { checkpoints: [...checkpoints].sort((a, b) => a - b), linkCounts };
}

/** True when the view shows this key. */
export function isVisible(key: string, bounds: ViewBounds): boolean {
  const link = parseLinkKey(key);
  if (link) return link.seq < (bounds.links[link.chain] ?? 0);
  const checkpoint = parseCheckpointKey(key);
  if (checkpoint) return checkpoint.seq <= bounds.checkpoint;
  return true;
}

/** The step ran past its deadline: it concluded nothing, and nothing of it is kept. */
export class StepDeadlineError extends Error {
  override readonly name = "StepDeadlineError";
  constructor() {
    super("the verification step ran past its deadline");
  }
}

/**
 * `source` seen through one listing snapshot, bounded by `bounds` (undefined: the whole snapshot).
 * Reads go to `source` itself; once `expired()` says so, every read throws StepDeadlineError, which
 * ends the verifier's run.
 */
export function viewOf(
  source: ArchiveSource,
  entries: readonly ArchiveEntry[],
  bounds: ViewBounds | undefined,
  expired: () => boolean = () => false,
): ArchiveSource {
  const guard = () => {
    if (expired()) throw new StepDeadlineError();
  };
  return {
    description: source.description,
    seesVersions: source.seesVersions,
    async *list(prefix: string, keyMarker?: string): AsyncIterable<ArchiveEntry> {
      for (const entry of entries) {
        if (!entry.key.startsWith(prefix)) continue;
        if (keyMarker !== undefined && compareKeys(entry.key, keyMarker) <= 0) continue;
        if (bounds && !isVisible(entry.key, bounds)) continue;
        yield entry;
      }
    },
    listChildren(prefix: string) {
      guard();
      return source.listChildren(prefix);
    },
    async get(key: string) {
      guard();
      return source.get(key);
    },
    ...(source.getVersion
      ? {
          getVersion: async (key: string, versionId: string) => {
            guard();
            return (source.getVersion as NonNullable<ArchiveSource["getVersion"]>)(key, versionId);
          },
        }
      : {}),
  };
}
