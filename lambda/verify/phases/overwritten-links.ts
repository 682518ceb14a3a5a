/**
 * Phase 3b of `verifyArchive` (`--bucket` only): links overwritten. A replaced link version that
 * named a batch no current link names means its writer was answered 201 (or it was planted): either
 * way an acknowledged batch fell out of its chain.
 */
import { type ChainLink, LinkFormatError, parseLink } from "../../core/link";
import { mapLimit } from "../../core/map-limit";
import { parseLinkKey } from "../../core/paths";
import type { VerifierState } from "../verifier";
import type { LinkedBatches } from "./chains";
import type { VerifyRun } from "./run";

/**
 * Reads every replaced link version and reports each whose batch no current link names: an
 * `overwritten_link` error naming the link key, the version and the batch. Returns those batches,
 * which are then not also reported as never acknowledged. An incremental run only judges links it
 * read (at or past its state's size): older ones were judged when they were read.
 */
export async function findOverwrittenLinks(
  run: VerifyRun,
  replaced: readonly { key: string; versionId: string }[],
  linked: LinkedBatches,
  state: VerifierState | undefined,
): Promise<Set<string>> {
  const { source } = run;
  const batches = new Set<string>();
  const getVersion = source.getVersion?.bind(source);
  if (!getVersion) return batches;
  const judged = replaced.flatMap(({ key, versionId }) => {
    const at = parseLinkKey(key);
    return at && at.seq >= (state?.chains[at.chain]?.size ?? 0) ? [{ key, versionId, ...at }] : [];
  });
  await mapLimit(judged, run.concurrency, async ({ key, versionId, chain, seq }) => {
    const bytes = await getVersion(key, versionId);
    if (!bytes) return;
    let link: ChainLink;
    try {
      link = parseLink(bytes);
    } catch (cause) {
      // Not a link at all: nothing was acknowledged with it; `second_version` already names the key.
      if (cause instanceof LinkFormatError) return;
      throw cause;
    }
    const batch = link.batch.key;
    if (linked.has(batch)) return;
    batches.add(batch);
    const current = await source.get(key);
    const now = current ? batchKeyOf(current) : undefined;
    run.findings.error({
      code: "overwritten_link",
      key,
      chain,
      seq,
      version: versionId,
      batch,
      message:
        `${key} version ${versionId} named ${batch} (${link.batch.count} events), and was then ` +
        (current ? `replaced by a version naming ${now ?? "something that is not a batch"}` : "deleted") +
        `: a batch acknowledged on chain ${chain} at seq ${seq} is in no chain now`,
    });
  });
  return batches;
}

function batchKeyOf(linkBytes: Buffer): string | undefined {
  try {
    return parseLink(linkBytes).batch.key;
  } catch (cause) {
    if (cause instanceof LinkFormatError) return undefined;
    throw cause;
  }
}
