/**
 * `sealtrail rebuild-index`: every index item of an archive, rebuilt into an empty table from the bucket
 * alone (the index is derived data; this is its disaster recovery). It is the reindex job driven over
 * every chain the bucket holds, from seq 0: the same link checks and the same item builders as the write
 * path (indexLinkedBatch), so a rebuilt index answers every query as the one it replaces did.
 *
 * Resumable through the table itself: the reindex job's "indexed" markers and watermarks say which
 * links are done, and a rebuild state item, written into the empty table before anything else, says
 * that this table is a rebuild of this bucket. Running the same command again after an interruption
 * continues where it stopped; a table that is neither empty nor a rebuild of this bucket is refused.
 */
import type { ObjectStore } from "../archive/object-store";
import { compositeKey } from "../core/index-items";
import { PARTITION_KEY, SORT_KEY } from "../core/index-table";
import { mapLimit } from "../core/map-limit";
import { CHECKPOINTS_PREFIX, EVENTS_PREFIX, isChainId, linkPrefix, parseLinkKey } from "../core/paths";
import type { ReindexIndex } from "./ports";
import { type ReindexResult, reindexChains } from "./reindex";

/** The one item of the table that is not derived from the archive: which rebuild wrote it. */
export function rebuildStateKey(): Record<string, string> {
  return { [PARTITION_KEY]: compositeKey("rebuild", "index"), [SORT_KEY]: "rebuild" };
}

/** What the rebuild state item records. */
export interface RebuildState {
  /** The bucket the index is rebuilt from. */
  readonly bucket: string;
  readonly startedAt: string;
  /** Set once every chain was read to its end; a finished rebuild is never resumed. */
  readonly finishedAt?: string;
  /** The TTL the items were written with (null: none): a resume must write the same items. */
  readonly indexTtlDays: number | null;
}

/** The table as the rebuild claims it (lambda/aws/rebuild-state-store.ts implements it). */
export interface RebuildStateStore {
  /** True when the table holds no item at all. */
  isEmpty(): Promise<boolean>;
  read(): Promise<RebuildState | undefined>;
  /** Writes the state unless one exists; false when another run's state was there first. */
  claim(state: RebuildState): Promise<boolean>;
  finish(finishedAt: string, summary: Readonly<Record<string, number>>): Promise<void>;
}

/** The table is not one this command may write into; nothing was written. */
export class RebuildRefusedError extends Error {
  override readonly name = "RebuildRefusedError";
}

export interface RebuildProgress {
  /** Links done: indexed by this run or an earlier one, or reported as a problem. */
  readonly linksDone: number;
  /** Links the bucket holds under the canonical chains. */
  readonly linksTotal: number;
  /** Events indexed by this run. */
  readonly eventsIndexed: number;
}

export interface RebuildIndexDeps {
  readonly objects: ObjectStore;
  readonly index: ReindexIndex;
  readonly state: RebuildStateStore;
  /** The bucket's name, recorded in the state item so a resume reads the same archive. */
  readonly bucket: string;
  /** The names one level below `chains/` (an S3 listing with delimiter "/"). */
  readonly listChains: () => Promise<string[]>;
  readonly indexTtlDays?: number;
  /** Chains rebuilt at once. */
  readonly concurrency: number;
  readonly now?: () => Date;
  /** Progress as links are done; given, the links are counted first (one listing per chain). */
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** A link or chain that could not be indexed: the run goes on with the rest. */
  readonly onProblem?: (message: string, detail: Record<string, unknown>) => void;
}

export interface RebuildResult extends ReindexResult {
  readonly bucket: string;
  /** True when this run continued an interrupted rebuild of the same bucket. */
  readonly resumed: boolean;
  readonly startedAt: string;
  /** The canonical chains read. */
  readonly chains: readonly string[];
  /** Names under `chains/` that are no canonical chain id: never read, for the verifier. */
  readonly nonCanonicalChains: readonly string[];
  /** Links an earlier, interrupted run had indexed already. */
  readonly linksAlreadyIndexed: number;
  readonly eventsIndexed: number;
  /** Every chain was read to its end and every link it could index is indexed. */
  readonly complete: boolean;
}

/** 0: rebuilt; 1: rebuilt, but the archive has problems (links not indexed, for `verify`); 2: incomplete. */
export function rebuildExitCode(result: RebuildResult): 0 | 1 | 2 {
  if (!result.complete) return 2;
  return result.linksRejected > 0 || result.nonCanonicalChains.length > 0 ? 1 : 0;
}

export async function rebuildIndex(deps: RebuildIndexDeps): Promise<RebuildResult> {
  const now = deps.now ?? (() => new Date());
  // The bucket first: a mistyped name must not claim the table for the wrong archive.
  const names = await deps.listChains();
  if (names.length === 0 && !(await holdsAnyKey(deps.objects, [CHECKPOINTS_PREFIX, EVENTS_PREFIX]))) {
    throw new RebuildRefusedError(
      `s3://${deps.bucket} holds no chains/, events/ or checkpoints/: it is not a sealtrail archive ` +
        "(or it is empty): give the archive bucket (the stack's BucketName output); nothing was written",
    );
  }
  const chains = names.filter(isChainId).sort((a, b) => Number(a) - Number(b));
  const nonCanonicalChains = names.filter((name) => !isChainId(name));
  for (const name of nonCanonicalChains) {
    deps.onProblem?.("a name under chains/ is no canonical chain id: not read; run sealtrail verify", {
      chain: name,
    });
  }

  const { state, resumed } = await claimTable(deps, now().toISOString());
  const counted = countingIndex(deps.index, deps.onProgress);
  if (deps.onProgress) counted.setTotal(await countLinks(deps.objects, chains, deps.concurrency));

  const result = await reindexChains(
    {
      objects: deps.objects,
      index: counted.index,
      indexTtlDays: deps.indexTtlDays,
      onProblem: (message, detail) => {
        // A problem naming a link is that link done (rejected, or failed until the next run).
        if (detail.link !== undefined) counted.linkDone();
        deps.onProblem?.(message, detail);
      },
    },
    chains,
    deps.concurrency,
  );
  const complete = result.linksFailed === 0 && result.chainsFailed.length === 0;
  const summary = {
    ...result,
    bucket: deps.bucket,
    resumed,
    startedAt: state.startedAt,
    chains,
    nonCanonicalChains,
    linksAlreadyIndexed: counted.alreadyIndexed(),
    eventsIndexed: counted.eventsIndexed(),
    complete,
  };
  if (complete) {
    await deps.state.finish(now().toISOString(), {
      chains: chains.length,
      links: result.linksIndexed + summary.linksAlreadyIndexed,
      links_rejected: result.linksRejected,
    });
  }
  return summary;
}

/**
 * An empty table is claimed with a new state; a table holding the unfinished state of a rebuild of
 * the same bucket (with the same TTL) is resumed; anything else is refused before anything is written.
 */
async function claimTable(
  deps: RebuildIndexDeps,
  startedAt: string,
): Promise<{ state: RebuildState; resumed: boolean }> {
  const fresh: RebuildState = { bucket: deps.bucket, startedAt, indexTtlDays: deps.indexTtlDays ?? null };
  if (await deps.state.isEmpty()) {
    if (await deps.state.claim(fresh)) return { state: fresh, resumed: false };
    // Another run claimed it between the two calls: resume it if it is the same rebuild.
  }
  const existing = await deps.state.read();
  if (!existing) {
    throw new RebuildRefusedError(
      "the table is not empty and no rebuild-index run started it: rebuild-index writes only into an " +
        "empty table (a new one with the stack's key schema and indexes, see docs/operations.md); nothing was written",
    );
  }
  if (existing.bucket !== deps.bucket) {
    throw new RebuildRefusedError(
      `the table is a rebuild of s3://${existing.bucket}, not of s3://${deps.bucket}: give that bucket to ` +
        "continue it, or an empty table to rebuild this one; nothing was written",
    );
  }
  if (existing.finishedAt !== undefined) {
    throw new RebuildRefusedError(
      `the table was rebuilt from s3://${deps.bucket} already (finished ${existing.finishedAt}) and may be ` +
        "in use since: to rebuild again, give an empty table; nothing was written",
    );
  }
  if (existing.indexTtlDays !== fresh.indexTtlDays) {
    const was =
      existing.indexTtlDays === null ? "no --index-ttl-days" : `--index-ttl-days ${existing.indexTtlDays}`;
    throw new RebuildRefusedError(
      `the rebuild in this table was started with ${was}: give the same to continue it, so every item ` +
        "gets the same expiry; nothing was written",
    );
  }
  return { state: existing, resumed: true };
}

/**
 * The index port, observed: which links earlier runs had indexed (watermark and markers, as reindex
 * reads them), and each link and its events as this run marks it indexed.
 */
function countingIndex(index: ReindexIndex, onProgress: RebuildIndexDeps["onProgress"]) {
  let total = 0;
  let already = 0;
  let done = 0;
  let events = 0;
  // Events written per link, counted once its marker is written (items carry their chain and seq).
  const pending = new Map<string, number>();
  const report = () =>
    onProgress?.({ linksDone: done, linksTotal: Math.max(total, done), eventsIndexed: events });
  const observed: ReindexIndex = {
    reindexWatermark: async (chain) => {
      const watermark = await index.reindexWatermark(chain);
      already += watermark;
      done += watermark;
      return watermark;
    },
    indexedSeqs: async (chain, fromSeq) => {
      const seqs = await index.indexedSeqs(chain, fromSeq);
      already += seqs.size;
      done += seqs.size;
      report();
      return seqs;
    },
    advanceReindexWatermark: (chain, nextSeq) => index.advanceReindexWatermark(chain, nextSeq),
    putItems: async (items) => {
      await index.putItems(items);
      for (const item of items) {
        const link = `${item.chain}#${item.seq}`;
        pending.set(link, (pending.get(link) ?? 0) + 1);
      }
    },
    markIndexed: async (chain, seq, linkHash) => {
      await index.markIndexed(chain, seq, linkHash);
      const link = `${chain}#${seq}`;
      events += pending.get(link) ?? 0;
      pending.delete(link);
      done++;
      report();
    },
    advanceHeadHint: (chain, seq, linkHash) => index.advanceHeadHint(chain, seq, linkHash),
  } satisfies ReindexIndex;
  return {
    index: observed,
    setTotal: (links: number) => {
      total = links;
      report();
    },
    linkDone: () => {
      done++;
      report();
    },
    alreadyIndexed: () => already,
    eventsIndexed: () => events,
  };
}

/**
 * The canonical link keys of every chain, counted `concurrency` chains at a time: the progress total
 * only, so a chain that cannot be listed is left out here and reported by the rebuild itself.
 */
async function countLinks(
  objects: ObjectStore,
  chains: readonly string[],
  concurrency: number,
): Promise<number> {
  const counts = await mapLimit(chains, concurrency, async (chain) => {
    let links = 0;
    try {
      for await (const key of objects.listKeys(linkPrefix(chain))) {
        if (parseLinkKey(key)?.chain === chain) links++;
      }
    } catch {
      return 0;
    }
    return links;
  });
  return counts.reduce((sum, links) => sum + links, 0);
}

async function holdsAnyKey(objects: ObjectStore, prefixes: readonly string[]): Promise<boolean> {
  for (const prefix of prefixes) {
    for await (const _ of objects.listKeys(prefix)) return true;
  }
  return false;
}
