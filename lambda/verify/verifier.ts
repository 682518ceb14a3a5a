/**
 * `sealtrail verify` as a library (DESIGN.md "Verification"): reads an archive (a bucket's version
 * listings, or a local copy) and reports every way it differs from what was signed.
 *
 * Order of work: one listing of every key; the checkpoints (signature under a trusted key only, `kid`
 * window, `prev` chaining, never fewer chains or shorter ones); the chains, link by link (`prev`,
 * key ↔ content, tree heads at every checkpoint's size, RFC 9162 consistency between the oldest and
 * newest tree heads); every linked data object (hash, lines, Merkle root, count); then, optionally,
 * the index. Links and objects are read with bounded concurrency; batch checks may run in workers.
 * Each step is a phase in ./phases/ (listing, checkpoints, chains, overwritten-links, objects,
 * index-check); `verifyArchive` runs them in that order and assembles the report.
 *
 * Findings are errors (exit 1: the archive is not what was signed) or warnings (normal states an
 * auditor should still see: links written since the last checkpoint, unlinked data objects left by a
 * failed request, events the index has not caught up with). A run that verified no checkpoint
 * concluded nothing, whatever else it read: its outcome says so, and it never counts as verified.
 */

import type { ArchiveSource } from "../archive/source";
import type { TrustedKey } from "../core/checkpoint";
import type { ChainLink } from "../core/link";
import type { MerkleFrontierJSON } from "../core/merkle";
import type { BatchCheck, BatchCheckOptions } from "./batch-check";
import { type Finding, Findings } from "./findings";
import { verifyChains } from "./phases/chains";
import { type VerifiedCheckpoints, verifyCheckpoints } from "./phases/checkpoints";
import { crossCheckIndex } from "./phases/index-check";
import { listArchive } from "./phases/listing";
import { EarlyObjectChecks, verifyObjects, warnUnlinkedObjects } from "./phases/objects";
import { findOverwrittenLinks } from "./phases/overwritten-links";
import type { VerifyRun } from "./phases/run";

export type { Finding, FindingCode, Severity } from "./findings";
export { ARCHIVE_ROOTS, NotAnArchiveError } from "./phases/listing";

/** The last verified checkpoint, and enough of each chain to continue from it. */
export interface VerifierState {
  readonly v: 1;
  readonly checkpoint: { readonly seq: number; readonly payload_sha256: string; readonly time: string };
  readonly chains: Readonly<Record<string, { size: number; head: string; frontier: MerkleFrontierJSON }>>;
}

/** One pointer item of the index, as the cross-check reads it. */
export interface IndexEntry {
  readonly eventId: string;
  readonly attributes: Readonly<Record<string, unknown>>;
}

/** Reads one data object and checks it against its link; undefined when the object is missing. */
export type ObjectCheck = (
  key: string,
  batch: ChainLink["batch"],
  options: BatchCheckOptions,
) => Promise<BatchCheck | undefined>;

export interface VerifyOptions {
  readonly source: ArchiveSource;
  readonly trusted: readonly TrustedKey[];
  /** Continue from this state: only newer links and objects are read, and history must extend it. */
  readonly state?: VerifierState;
  /** Fail when the newest checkpoint is older than this. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
  /** Every event pointer item of the index, for the cross-check; omitted: the index is not checked. */
  readonly index?: () => AsyncIterable<IndexEntry>;
  /** Reads in flight. @default 32 */
  readonly concurrency?: number;
  /**
   * Parse every line of every data object as a canonical event record. Without it, a batch that a
   * verified checkpoint covers and whose bytes match its link is accepted on the lines' fixed
   * prefixes (the signed root fixes the rest); every other batch is parsed line by line either way.
   * @default false
   */
  readonly records?: boolean;
  /**
   * Reads and checks data objects elsewhere (WorkerObjectChecker's worker threads, which open the same
   * archive themselves); default: `source.get` and `checkBatch` in this thread.
   */
  readonly checkObject?: ObjectCheck;
  readonly onProgress?: (progress: {
    readonly phase: string;
    readonly done: number;
    readonly total: number;
  }) => void;
}

/**
 * What a run concluded. `verified`: at least one checkpoint verified under a trusted key and nothing
 * failed. `failed`: an error finding. `unsigned`: links or data objects but no checkpoint, so nothing
 * signed them (a new archive before its first checkpoint run, or a copy without `checkpoints/`).
 * `empty`: the archive holds nothing at all.
 */
export type VerifyOutcome = "verified" | "failed" | "unsigned" | "empty";

export interface VerifyReport {
  /** True only for the outcome `verified`. */
  readonly ok: boolean;
  readonly outcome: VerifyOutcome;
  /** Checkpoint keys the listing holds (from the `--state` checkpoint on), whether they verify or not. */
  readonly checkpointsFound: number;
  readonly source: string;
  readonly seesVersions: boolean;
  readonly notes: string[];
  readonly stats: {
    checkpoints: number;
    chains: number;
    links: number;
    objects: number;
    events: number;
    bytes: number;
  };
  readonly newestCheckpoint?: { readonly seq: number; readonly time: string; readonly kid: string };
  readonly findings: Finding[];
  /** Where the next `--state` run continues from; present only when nothing failed. */
  readonly state?: VerifierState;
}

export async function verifyArchive(options: VerifyOptions): Promise<VerifyReport> {
  const { source, state } = options;
  const run: VerifyRun = {
    source,
    concurrency: options.concurrency ?? 32,
    progress: options.onProgress ?? (() => {}),
    findings: new Findings(),
    notes: [],
    stats: { checkpoints: 0, chains: 0, links: 0, objects: 0, events: 0, bytes: 0 },
  };
  if (!source.seesVersions) {
    run.notes.push(
      "read from a local copy, which holds one file per key: second versions and delete markers " +
        "cannot be seen here, so a batch whose link was overwritten after it was acknowledged looks like " +
        "an unlinked data object; verify the bucket itself (--bucket) to check them",
    );
  }
  const listing = await listArchive(run);
  const signed = await verifyCheckpoints(run, options, listing.checkpointSeqs);
  // Checks on other threads start as each chain is walked; in this thread they would only wait in line.
  const early = options.checkObject ? new EarlyObjectChecks(options.checkObject, options) : undefined;
  const chains = await verifyChains(run, listing.linkKeys, signed.checkpoints, state, early?.onChainWalked);
  const overwritten = await findOverwrittenLinks(run, listing.replacedLinks, chains.linked, state);
  const events = await verifyObjects(run, options, chains, early);
  if (!state) warnUnlinkedObjects(run, listing.objectKeys, chains.linked, overwritten);
  if (options.index) await crossCheckIndex(run, options.index, events, state !== undefined);
  else run.notes.push("the index was not checked (give --table to compare it with the archive)");
  return assembleReport(run, listing.listed, signed, chains.nextState);
}

/** The outcome from the findings and what was signed, and the state a next `--state` run continues from. */
function assembleReport(
  run: VerifyRun,
  listed: number,
  { found, newest }: VerifiedCheckpoints,
  chains: VerifierState["chains"],
): VerifyReport {
  const outcome: VerifyOutcome = run.findings.failed
    ? "failed"
    : newest
      ? "verified"
      : listed === 0
        ? "empty"
        : "unsigned";
  const ok = outcome === "verified";
  return {
    ok,
    outcome,
    checkpointsFound: found,
    source: run.source.description,
    seesVersions: run.source.seesVersions,
    notes: run.notes,
    stats: run.stats,
    ...(newest ? { newestCheckpoint: { seq: newest.seq, time: newest.time, kid: newest.kid } } : {}),
    findings: run.findings.all,
    ...(ok && newest
      ? {
          state: {
            v: 1,
            checkpoint: { seq: newest.seq, payload_sha256: newest.payloadHash, time: newest.time },
            chains,
          } satisfies VerifierState,
        }
      : {}),
  };
}

/**
 * The CLI's exit status for a report: 0 verified, 1 on any integrity finding, 2 when nothing was
 * concluded because no checkpoint verified (an empty or not yet signed archive), unless `allowEmpty`.
 */
export function exitCodeFor(
  report: Pick<VerifyReport, "outcome">,
  options: { readonly allowEmpty?: boolean } = {},
): 0 | 1 | 2 {
  switch (report.outcome) {
    case "verified":
      return 0;
    case "failed":
      return 1;
    default:
      return options.allowEmpty ? 0 : 2;
  }
}
