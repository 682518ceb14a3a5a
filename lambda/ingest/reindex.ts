/**
 * The reindex job: indexes every link that has no "indexed" marker (an ingest whose index write
 * failed after the link was acknowledged). It reads each chain from its watermark (all earlier
 * seqs are known to be indexed), checks each unmarked link's batch against the link, and indexes it.
 */
import { gunzipSync } from "node:zlib";
import type { IndexStore } from "../aws/index-store";
import type { ObjectStore } from "../aws/object-store";
import { sha256Hex } from "../core/hash";
import { parseLink } from "../core/link";
import { leafHash, merkleRoot } from "../core/merkle";
import { linkKey, linkPrefix, parseLinkKey } from "../core/paths";
import type { EventRecord } from "../core/schema";
import { indexLinkedBatch } from "./indexer";

export interface ReindexResult {
  readonly linksIndexed: number;
  /** Links whose batch does not match them: left for the verifier, never indexed. */
  readonly linksRejected: number;
}

export interface ReindexDeps {
  readonly objects: ObjectStore;
  readonly index: IndexStore;
  readonly chainCount: number;
  readonly indexTtlDays?: number;
  readonly onProblem?: (message: string, detail: Record<string, unknown>) => void;
}

export async function reindexAllChains(deps: ReindexDeps): Promise<ReindexResult> {
  let linksIndexed = 0;
  let linksRejected = 0;
  for (let chainNumber = 0; chainNumber < deps.chainCount; chainNumber++) {
    const result = await reindexChain(deps, String(chainNumber));
    linksIndexed += result.linksIndexed;
    linksRejected += result.linksRejected;
  }
  return { linksIndexed, linksRejected };
}

async function reindexChain(deps: ReindexDeps, chain: string): Promise<ReindexResult> {
  const watermark = await deps.index.reindexWatermark(chain);
  const marked = await deps.index.indexedSeqs(chain, watermark);
  let linksIndexed = 0;
  let linksRejected = 0;
  const startAfter = watermark > 0 ? linkKey(chain, watermark - 1) : undefined;
  for await (const key of deps.objects.listKeys(linkPrefix(chain), startAfter)) {
    const parsed = parseLinkKey(key);
    if (!parsed || parsed.chain !== chain || marked.has(parsed.seq)) continue;
    if (await indexOneLink(deps, key)) {
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
  return { linksIndexed, linksRejected };
}

async function indexOneLink(deps: ReindexDeps, key: string): Promise<boolean> {
  const problem = (message: string) => {
    deps.onProblem?.(message, { link: key });
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
  const lines = gunzipSync(data).toString("utf8").split("\n");
  if (lines.pop() !== "") return problem("batch does not end with a newline");
  const leaves = lines.map((line) => leafHash(Buffer.from(line, "utf8")));
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
      records: lines.map((line) => JSON.parse(line) as EventRecord),
      leafHashes: leaves.map((leaf) => leaf.toString("hex")),
    },
    deps.indexTtlDays,
  );
  return true;
}
