/**
 * The reindex job: indexes every link that has no "indexed" marker (an ingest whose index write
 * failed after the link was acknowledged). It reads each chain from its watermark (all earlier
 * seqs are known to be indexed), checks each unmarked link's batch against the link, and indexes it.
 *
 * One link that cannot be indexed never stops the others: it is reported (onProblem, and a metric the
 * handler emits and an alarm watches), the job goes on with the rest of its chain and every other
 * chain, and the watermark stays before it so every later run tries it again.
 */
import type { ObjectStore } from "../archive/object-store";
import { readBatchLines } from "../core/batch";
import { sha256Hex } from "../core/hash";
import { parseLink } from "../core/link";
import { mapLimit } from "../core/map-limit";
import { leafHash, merkleRoot } from "../core/merkle";
import { linkKey, linkPrefix, parseLinkKey } from "../core/paths";
import type { EventRecord } from "../core/schema";
import { indexLinkedBatch } from "./indexer";
import type { ReindexIndex } from "./ports";

/**
 * The reindex job's metrics, defined in lambda/core/metrics.ts so lib/ can read them without loading
 * this service; re-exported for the handler and tests that import them from here.
 */
export { REINDEX_METRICS } from "../core/metrics";

export interface ReindexResult {
  readonly linksIndexed: number;
  /** Links whose batch does not match them: left for the verifier, never indexed. */
  readonly linksRejected: number;
  /** Links that could not be indexed (the index refused or failed a write): tried again next run. */
  readonly linksFailed: number;
  /** Chains that could not be read at all (watermark, markers or listing): tried again next run. */
  readonly chainsFailed: readonly string[];
}

export interface ReindexDeps {
  readonly objects: ObjectStore;
  readonly index: ReindexIndex;
  readonly chainCount: number;
  readonly indexTtlDays?: number;
  readonly onProblem?: (message: string, detail: Record<string, unknown>) => void;
}

type ChainResult = Omit<ReindexResult, "chainsFailed">;

/** What indexing named chains needs: the job's deps without its chain count. */
export type ReindexChainsDeps = Omit<ReindexDeps, "chainCount">;

/** The scheduled job: chains "0" … chainCount − 1, one at a time. */
export function reindexAllChains(deps: ReindexDeps): Promise<ReindexResult> {
  return reindexChains(
    deps,
    Array.from({ length: deps.chainCount }, (_, chain) => String(chain)),
  );
}

/**
 * Indexes the unmarked links of `chains`, `concurrency` chains at a time (rebuild-index drives it over
 * every chain of a bucket). Chains are independent: each has its own watermark and markers.
 */
export async function reindexChains(
  deps: ReindexChainsDeps,
  chains: readonly string[],
  concurrency = 1,
): Promise<ReindexResult> {
  // Each chain's outcome in chain order, however the chains finished: a result, or undefined when the
  // chain could not be read at all (S3 or DynamoDB failing); the other chains are still indexed.
  const outcomes = await mapLimit(chains, concurrency, async (chain) => {
    try {
      return await reindexChain(deps, chain);
    } catch (error) {
      deps.onProblem?.("chain could not be reindexed; the next run tries again", {
        chain,
        error: String(error),
      });
      return undefined;
    }
  });
  const sum = (field: keyof ChainResult) => outcomes.reduce((total, r) => total + (r?.[field] ?? 0), 0);
  const linksIndexed = sum("linksIndexed");
  const linksRejected = sum("linksRejected");
  const linksFailed = sum("linksFailed");
  const chainsFailed = chains.filter((_, i) => outcomes[i] === undefined);
  return { linksIndexed, linksRejected, linksFailed, chainsFailed };
}

async function reindexChain(deps: ReindexChainsDeps, chain: string): Promise<ChainResult> {
  const watermark = await deps.index.reindexWatermark(chain);
  const marked = await deps.index.indexedSeqs(chain, watermark);
  let linksIndexed = 0;
  let linksRejected = 0;
  let linksFailed = 0;
  const startAfter = watermark > 0 ? linkKey(chain, watermark - 1) : undefined;
  for await (const key of deps.objects.listKeys(linkPrefix(chain), startAfter)) {
    const parsed = parseLinkKey(key);
    if (!parsed || parsed.chain !== chain || marked.has(parsed.seq)) continue;
    let indexed: boolean;
    try {
      indexed = await indexOneLink(deps, key);
    } catch (error) {
      deps.onProblem?.("link could not be indexed: its events are missing from search until a run succeeds", {
        link: key,
        error: String(error),
      });
      linksFailed++;
      continue;
    }
    if (indexed) {
      marked.add(parsed.seq);
      linksIndexed++;
    } else {
      linksRejected++;
    }
  }
  // Every seq below the first unmarked one is indexed: later runs start there.
  let next = watermark;
  while (marked.has(next)) next++;
  if (next > watermark) await deps.index.advanceReindexWatermark(chain, next);
  return { linksIndexed, linksRejected, linksFailed };
}

async function indexOneLink(deps: ReindexChainsDeps, key: string): Promise<boolean> {
  // A link its batch does not match is the verifier's finding: never indexed, reported every run.
  const problem = (message: string) => {
    deps.onProblem?.(`${message}: not indexed; run sealtrail verify`, { link: key });
    return false;
  };
  const linkBytes = await deps.objects.get(key);
  if (!linkBytes) return problem("listed link cannot be read");
  let link: ReturnType<typeof parseLink>;
  try {
    link = parseLink(linkBytes);
  } catch {
    return problem("link is not canonical");
  }
  const data = await deps.objects.get(link.batch.key);
  if (!data || sha256Hex(data) !== link.batch.sha256) return problem("batch object missing or altered");
  const { lines, terminated } = readBatchLines(data);
  if (!terminated) return problem("batch does not end with a newline");
  const leaves = lines.map((line) => leafHash(line));
  if (lines.length !== link.batch.count || merkleRoot(leaves).toString("hex") !== link.batch.root) {
    return problem("batch does not match the link's count and root");
  }
  await indexLinkedBatch(
    deps.index,
    {
      chain: link.chain,
      seq: link.seq,
      linkKey: key,
      linkHash: sha256Hex(linkBytes),
      batchKey: link.batch.key,
      records: lines.map((line) => JSON.parse(line.toString("utf8")) as EventRecord),
      leafHashes: leaves.map((leaf) => leaf.toString("hex")),
    },
    deps.indexTtlDays,
  );
  return true;
}
