/**
 * `sealtrail verify` as a library (DESIGN.md "Verification"): reads an archive (a bucket's version
 * listings, or a local copy) and reports every way it differs from what was signed.
 *
 * Order of work: one listing of every key; the checkpoints (signature under a trusted key only, `kid`
 * window, `prev` chaining, never fewer chains or shorter ones); the chains, link by link (`prev`,
 * key ↔ content, tree heads at every checkpoint's size, RFC 9162 consistency between the oldest and
 * newest tree heads); every linked data object (hash, lines, Merkle root, count); then, optionally,
 * the index. Links and objects are read with bounded concurrency; batch checks may run in workers.
 *
 * Findings are errors (exit 1: the archive is not what was signed) or warnings (normal states an
 * auditor should still see: links written since the last checkpoint, unlinked data objects left by a
 * failed request, events the index has not caught up with). A run that verified no checkpoint
 * concluded nothing, whatever else it read: its outcome says so, and it never counts as verified.
 */
import {
  type ChainHead,
  CheckpointError,
  chainLeafHash,
  FIRST_CHECKPOINT_PREV,
  type TrustedKey,
  verifyCheckpoint,
} from "../core/checkpoint";
import { type ChainLink, GENESIS_PREV, LinkFormatError, linkHash, parseLink } from "../core/link";
import { consistencyProof, MerkleFrontier, type MerkleFrontierJSON, verifyConsistency } from "../core/merkle";
import {
  CHAINS_PREFIX,
  CHECKPOINTS_PREFIX,
  checkpointKey,
  EVENTS_PREFIX,
  linkKey,
  parseCheckpointKey,
  parseDataObjectKey,
  parseLinkKey,
} from "../core/paths";
import { type BatchCheck, type BatchCheckOptions, checkBatch } from "./batch-check";
import { mapLimit } from "./pool";
import { type ArchiveSource, byKey, isSingleObject } from "./source";

export type Severity = "error" | "warning";

export interface Finding {
  readonly severity: Severity;
  readonly code: string;
  readonly key?: string;
  readonly chain?: string;
  readonly seq?: number;
  /** 1-based line in a data object. */
  readonly line?: number;
  /** The version of `key` the finding is about, where it is not the current one. */
  readonly version?: string;
  /** The data object a finding about a link names. */
  readonly batch?: string;
  readonly message: string;
}

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
  /** Runs batch checks elsewhere (worker threads); default: in this thread. */
  readonly checkBatch?: (
    bytes: Buffer,
    batch: ChainLink["batch"],
    options: BatchCheckOptions,
  ) => Promise<BatchCheck>;
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

/**
 * The source has keys, but none where an archive keeps its chains and checkpoints: it is some other
 * bucket or directory, and reading it would only list each of its keys as a finding.
 */
export class NotAnArchiveError extends Error {
  override readonly name = "NotAnArchiveError";
}

/** An archive has at least one of these at its root (a key, a version or a delete marker). */
export const ARCHIVE_ROOTS = [CHAINS_PREFIX, CHECKPOINTS_PREFIX] as const;

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

interface LinkRecord {
  readonly key: string;
  readonly seq: number;
  readonly hash: string;
  readonly link?: ChainLink;
}

interface SignedCheckpoint {
  readonly key: string;
  readonly seq: number;
  readonly time: string;
  readonly kid: string;
  readonly payloadHash: string;
  readonly prev: string;
  readonly chains: Readonly<Record<string, ChainHead>>;
}

export async function verifyArchive(options: VerifyOptions): Promise<VerifyReport> {
  const { source, state } = options;
  const findings: Finding[] = [];
  const error = (finding: Omit<Finding, "severity">) => findings.push({ severity: "error", ...finding });
  const warn = (finding: Omit<Finding, "severity">) => findings.push({ severity: "warning", ...finding });
  const notes: string[] = [];
  const stats = { checkpoints: 0, chains: 0, links: 0, objects: 0, events: 0, bytes: 0 };
  const concurrency = options.concurrency ?? 32;
  const progress = options.onProgress ?? (() => {});
  if (!source.seesVersions) {
    notes.push(
      "read from a local copy, which holds one file per key: second versions and delete markers " +
        "cannot be seen here, so a batch whose link was overwritten after it was acknowledged looks like " +
        "an unlinked data object; verify the bucket itself (--bucket) to check them",
    );
  }

  // 1. One listing of every key: canonical names, one version each.
  const linkKeys = new Map<string, Map<number, string>>();
  const checkpointSeqs: number[] = [];
  const objectKeys = new Set<string>();
  /** Link versions that are not the current one: each was written, and maybe acknowledged. */
  const replacedLinks: { key: string; versionId: string }[] = [];
  let listed = 0;
  let archiveKeys = 0;
  const topLevel = new Set<string>();
  progress({ phase: "listing", done: 0, total: 0 });
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
    if (!isSingleObject(history)) {
      const markers = history.entries.filter((entry) => !entry.isObject).length;
      error({
        code: markers > 0 ? "delete_marker" : "second_version",
        key,
        message:
          markers > 0
            ? `${key} has ${markers} delete marker(s) among ${history.entries.length} entries: something tried to remove it`
            : `${key} has ${history.entries.length} versions: it was overwritten`,
      });
    }
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
      error({
        code: "non_canonical_key",
        key,
        message: under
          ? `${key} is not a key sealtrail writes under ${under}: a planted or renamed object`
          : `${key} is outside the archive's prefixes`,
      });
    }
  }

  if (listed > 0 && archiveKeys === 0) {
    const names = [...topLevel].join(", ");
    throw new NotAnArchiveError(
      `${source.description} has no ${ARCHIVE_ROOTS.join(" and no ")} at its root, so it is not a sealtrail ` +
        `archive (it holds ${listed} keys such as ${names}): is this the archive bucket, or the bucket's root?` +
        (topLevel.has(EVENTS_PREFIX)
          ? ` If it is, nothing links its ${EVENTS_PREFIX} objects: no link was ever written, or every link and checkpoint was removed.`
          : ""),
    );
  }

  // 2. Checkpoints: trusted signatures, an unbroken `prev` chain, history that only grows.
  checkpointSeqs.sort((a, b) => a - b);
  const firstSeq = state ? state.checkpoint.seq : 0;
  const toVerify = checkpointSeqs.filter((seq) => seq >= firstSeq);
  let verifiedCount = 0;
  const verified = await mapLimit(toVerify, concurrency, async (seq) => {
    const key = checkpointKey(seq);
    const bytes = await source.get(key);
    progress({ phase: "checkpoints", done: ++verifiedCount, total: toVerify.length });
    if (!bytes) {
      error({ code: "missing_checkpoint", key, seq, message: `${key} was listed but cannot be read` });
      return undefined;
    }
    try {
      const checkpoint = await verifyCheckpoint(bytes, options.trusted);
      if (checkpoint.payload.seq !== seq) {
        error({
          code: "bad_checkpoint",
          key,
          seq,
          message: `${key} holds checkpoint ${checkpoint.payload.seq}`,
        });
        return undefined;
      }
      return {
        key,
        seq,
        time: checkpoint.payload.time,
        kid: checkpoint.kid,
        payloadHash: checkpoint.payloadHash,
        prev: checkpoint.payload.prev,
        chains: checkpoint.payload.chains,
      } satisfies SignedCheckpoint;
    } catch (cause) {
      if (!(cause instanceof CheckpointError)) throw cause;
      error({ code: `checkpoint_${cause.code}`, key, seq, message: `${key}: ${cause.message}` });
      return undefined;
    }
  });
  const checkpoints = verified.filter((c): c is SignedCheckpoint => c !== undefined);
  stats.checkpoints = checkpoints.length;

  if (state) {
    const anchor = checkpoints.find((c) => c.seq === state.checkpoint.seq);
    const newest = checkpointSeqs[checkpointSeqs.length - 1];
    if (newest === undefined || newest < state.checkpoint.seq) {
      error({
        code: "rollback",
        seq: state.checkpoint.seq,
        message: `the newest checkpoint is ${newest ?? "none"}, but checkpoint ${state.checkpoint.seq} was verified before: the archive was rolled back`,
      });
    } else if (!anchor) {
      error({
        code: "rollback",
        key: checkpointKey(state.checkpoint.seq),
        seq: state.checkpoint.seq,
        message: `checkpoint ${state.checkpoint.seq}, verified before, is gone or no longer verifies`,
      });
    } else if (anchor.payloadHash !== state.checkpoint.payload_sha256) {
      error({
        code: "fork",
        key: anchor.key,
        seq: anchor.seq,
        message: `checkpoint ${anchor.seq} is not the one verified before: the signed history forked`,
      });
    }
  }

  let expectedSeq = firstSeq;
  let previous: SignedCheckpoint | undefined;
  for (const checkpoint of checkpoints) {
    for (; expectedSeq < checkpoint.seq; expectedSeq++) {
      const key = checkpointKey(expectedSeq);
      if (!checkpointSeqs.includes(expectedSeq)) {
        error({ code: "missing_checkpoint", key, seq: expectedSeq, message: `${key} is missing` });
      }
    }
    expectedSeq = checkpoint.seq + 1;
    // Where the previous checkpoint is missing or failed, that is already a finding of its own.
    const expectedPrev =
      checkpoint.seq === 0
        ? FIRST_CHECKPOINT_PREV
        : previous?.seq === checkpoint.seq - 1
          ? previous.payloadHash
          : undefined;
    if (expectedPrev !== undefined && checkpoint.prev !== expectedPrev) {
      error({
        code: "checkpoint_prev",
        key: checkpoint.key,
        seq: checkpoint.seq,
        message: `prev does not name checkpoint ${checkpoint.seq - 1}'s payload`,
      });
    }
    if (previous) compareCheckpoints(previous, checkpoint, error);
    previous = checkpoint;
  }
  const newest = checkpoints[checkpoints.length - 1];
  const now = (options.now ?? Date.now)();
  if (!newest && options.maxAgeMs !== undefined) {
    // No verified checkpoint at all (all removed, or none verifies) is the stalest archive there is.
    error({
      code: "stale",
      message: `no checkpoint verifies, so nothing shows the archive is newer than the allowed ${Math.round(options.maxAgeMs / 1000)} s`,
    });
  } else if (newest && options.maxAgeMs !== undefined && now - Date.parse(newest.time) > options.maxAgeMs) {
    error({
      code: "stale",
      key: newest.key,
      seq: newest.seq,
      message: `the newest checkpoint is from ${newest.time}, older than the allowed ${Math.round(options.maxAgeMs / 1000)} s`,
    });
  }

  // 3. Chains: each link names its predecessor, sits at its own key, and the signed trees match.
  const chainIds = new Set<string>([...linkKeys.keys(), ...Object.keys(state?.chains ?? {})]);
  for (const checkpoint of checkpoints) for (const id of Object.keys(checkpoint.chains)) chainIds.add(id);
  stats.chains = chainIds.size;
  const linked = new Map<string, { link: ChainLink; key: string }>();
  // Per chain, the links below this seq are what a trusted checkpoint signed (its tree head matched).
  const attestedSize = new Map<string, number>();
  const nextState: Record<string, { size: number; head: string; frontier: MerkleFrontierJSON }> = {};
  let linksRead = 0;
  const totalLinks = [...linkKeys.values()].reduce((sum, chain) => sum + chain.size, 0);
  const ordered = [...chainIds].sort((a, b) => Number(a) - Number(b));
  await mapLimit(ordered, 4, async (id) => {
    const keys = linkKeys.get(id) ?? new Map<number, string>();
    const resume = state?.chains[id];
    const from = resume?.size ?? 0;
    // A loop, not Math.max(...keys): spreading a chain of 100,000+ links overflows the call stack.
    let count = 0;
    for (const seq of keys.keys()) if (seq >= count) count = seq + 1;
    // An incremental run reads no link below `from`, but the listing still shows every one that was
    // verified before, so one removed since (from a local copy, where no delete marker shows) is found.
    for (let seq = 0; seq < Math.min(from, count); seq++) {
      if (!keys.has(seq)) {
        const key = linkKey(id, seq);
        error({
          code: "missing_link",
          key,
          chain: id,
          seq,
          message: `chain ${id}: link ${seq}, verified before, is missing`,
        });
      }
    }
    if (state && count < from) {
      error({
        code: "truncated_chain",
        key: checkpointKey(state.checkpoint.seq),
        chain: id,
        seq: state.checkpoint.seq,
        message: `checkpoint ${state.checkpoint.seq}, verified before, signed ${from} links of chain ${id}, the archive has ${count}`,
      });
    }
    const seqs = Array.from({ length: Math.max(0, count - from) }, (_, i) => from + i);
    const records = await mapLimit(seqs, Math.max(1, Math.floor(concurrency / 4)), async (seq) => {
      const key = keys.get(seq);
      progress({ phase: "links", done: ++linksRead, total: totalLinks });
      if (!key) return undefined;
      const bytes = await source.get(key);
      if (!bytes) return undefined;
      let link: ChainLink | undefined;
      try {
        link = parseLink(bytes);
      } catch (cause) {
        if (!(cause instanceof LinkFormatError)) throw cause;
        error({ code: "altered_link", key, chain: id, seq, message: `${key}: ${cause.message}` });
      }
      return { key, seq, hash: linkHash(bytes), link } satisfies LinkRecord;
    });
    stats.links += records.filter(Boolean).length;

    const frontier = resume ? MerkleFrontier.fromJSON(resume.frontier) : new MerkleFrontier();
    const leaves: Buffer[] = [];
    let head = resume?.head ?? GENESIS_PREV;
    const signedSizes = checkpoints
      .map((c) => ({ checkpoint: c, head: c.chains[id] }))
      .filter(
        (entry): entry is { checkpoint: SignedCheckpoint; head: ChainHead } => entry.head !== undefined,
      );
    let nextSigned = 0;
    while (signedSizes[nextSigned] && (signedSizes[nextSigned] as { head: ChainHead }).head.size <= from) {
      const entry = signedSizes[nextSigned++] as { checkpoint: SignedCheckpoint; head: ChainHead };
      if (entry.head.size === from && resume && entry.head.head !== resume.head) {
        error({
          code: "chain_mismatch",
          key: entry.checkpoint.key,
          chain: id,
          seq: entry.checkpoint.seq,
          message: `checkpoint ${entry.checkpoint.seq} signs chain ${id} with another head than was verified before`,
        });
      }
    }
    let broken = false;
    // Links below this size match a signed tree head: a mismatch narrows the damage to after it.
    let matchedSize = from;
    let mismatched = false;
    records.forEach((record, i) => {
      const seq = from + i;
      if (!record) {
        error({
          code: "missing_link",
          key: linkKey(id, seq),
          chain: id,
          seq,
          message: `chain ${id}: link ${seq} is missing`,
        });
        broken = true;
        return;
      }
      const { link } = record;
      if (link && (link.chain !== id || link.seq !== seq)) {
        error({
          code: "reordered_link",
          key: record.key,
          chain: id,
          seq,
          message: `${record.key} holds link ${link.chain}/${link.seq}: links were moved or swapped`,
        });
      } else if (link && link.prev !== head && !broken) {
        error({
          code: "broken_prev",
          key: record.key,
          chain: id,
          seq,
          message: `${record.key}: prev does not name link ${seq - 1}'s hash: a link before it was altered, removed or inserted`,
        });
      }
      broken = false;
      if (link && linked.has(link.batch.key)) {
        error({
          code: "duplicate_batch",
          key: record.key,
          chain: id,
          seq,
          message: `${record.key} names ${link.batch.key}, which another link already names: a batch was replayed`,
        });
      } else if (link) linked.set(link.batch.key, { link, key: record.key });
      head = record.hash;
      const leaf = chainLeafHash(record.hash);
      frontier.append(leaf);
      leaves.push(leaf);
      // Every checkpoint that signed this size must have signed exactly this tree.
      while (
        signedSizes[nextSigned] &&
        (signedSizes[nextSigned] as { head: ChainHead }).head.size === frontier.size
      ) {
        const entry = signedSizes[nextSigned++] as { checkpoint: SignedCheckpoint; head: ChainHead };
        if (entry.head.root !== frontier.root().toString("hex") || entry.head.head !== head) {
          error({
            code: "chain_mismatch",
            key: entry.checkpoint.key,
            chain: id,
            seq: entry.checkpoint.seq,
            message:
              `checkpoint ${entry.checkpoint.seq} signed chain ${id} at size ${entry.head.size} with another tree than its links give: ` +
              `one of links ${matchedSize}..${entry.head.size - 1} was altered, removed, reordered or inserted` +
              (matchedSize > 0 ? ` (links 0..${matchedSize - 1} match an earlier checkpoint)` : ""),
          });
          mismatched = true;
        } else if (!mismatched) {
          matchedSize = entry.head.size;
        }
      }
    });
    for (const entry of signedSizes.slice(nextSigned)) {
      error({
        code: "truncated_chain",
        key: entry.checkpoint.key,
        chain: id,
        seq: entry.checkpoint.seq,
        message: `checkpoint ${entry.checkpoint.seq} signed ${entry.head.size} links of chain ${id}, the archive has ${frontier.size}`,
      });
    }
    const signedSize = signedSizes[signedSizes.length - 1]?.head.size ?? 0;
    if (frontier.size > signedSize) {
      warn({
        code: "unsigned_links",
        chain: id,
        seq: signedSize,
        message: `chain ${id}: links ${signedSize}..${frontier.size - 1} are newer than the newest checkpoint`,
      });
    }
    checkOldestToNewest(id, signedSizes, leaves, from, error);
    attestedSize.set(id, matchedSize);
    nextState[id] = { size: frontier.size, head, frontier: frontier.toJSON() };
  });

  // 3b. Links overwritten: a replaced version named a batch no current link names. Its writer was
  // answered 201 (or it was planted); either way an acknowledged batch fell out of its chain.
  const overwritten = await findOverwrittenLinks(source, replacedLinks, linked, state, concurrency, error);

  // 4. Data objects: every linked object hashes to what its link says, line by line.
  const linkedObjects = [...linked.entries()];
  const events = new Map<
    string,
    {
      key: string;
      seq: number;
      chain: string;
      leafIndex: number;
      leafHash: string;
      record: Record<string, unknown>;
      linkHash?: string;
    }
  >();
  // A batch no signature fixes is parsed line by line whatever was asked.
  const keepEvents = options.index !== undefined;
  const forSigned: BatchCheckOptions = { keepEvents, records: options.records ?? false };
  const forUnsigned: BatchCheckOptions = { keepEvents, records: true };
  notes.push(
    forSigned.records || keepEvents
      ? "every line of every data object was parsed as a canonical event record"
      : "lines of data objects that a verified checkpoint covers and that match their links were read by " +
          "their fixed prefix (v, id, time) only, the signed Merkle root fixing the rest; every other line " +
          "was parsed; --records parses every line as an event record",
  );
  const check = options.checkBatch ?? (async (...args: Parameters<typeof checkBatch>) => checkBatch(...args));
  let objectsDone = 0;
  await mapLimit(linkedObjects, concurrency, async ([objectKey, { link, key }]) => {
    const bytes = await source.get(objectKey);
    progress({ phase: "objects", done: ++objectsDone, total: linkedObjects.length });
    if (!bytes) {
      error({
        code: "missing_object",
        key: objectKey,
        chain: link.chain,
        seq: link.seq,
        message: `${objectKey}, named by ${key}, is missing`,
      });
      return;
    }
    const signed = link.seq < (attestedSize.get(link.chain) ?? 0);
    const result = await check(bytes, link.batch, signed ? forSigned : forUnsigned);
    stats.objects++;
    stats.bytes += result.bytes;
    stats.events += link.batch.count;
    for (const problem of result.problems) {
      error({
        code: problem.code,
        key: objectKey,
        chain: link.chain,
        seq: link.seq,
        ...(problem.line !== undefined ? { line: problem.line } : {}),
        message: `${objectKey} (chain ${link.chain} seq ${link.seq})${problem.line !== undefined ? ` line ${problem.line}` : ""}: ${problem.message}`,
      });
    }
    for (const event of result.events) {
      events.set(event.id, { ...event, key: objectKey, seq: link.seq, chain: link.chain });
    }
  });
  if (!state) {
    for (const objectKey of objectKeys) {
      if (!linked.has(objectKey) && !overwritten.has(objectKey)) {
        warn({
          code: "unlinked_object",
          key: objectKey,
          message: source.seesVersions
            ? `${objectKey} is named by no version of any link: never acknowledged (a failed request, or planted); Athena's view ignores it`
            : `${objectKey} is named by no link in this copy: never acknowledged (a failed request, or planted), ` +
              "or its link was overwritten after it was acknowledged, which only --bucket can tell; Athena's view ignores it",
        });
      }
    }
  }

  // 5. The index, when given: every pointer item must agree with the archive it points into.
  if (options.index) await crossCheckIndex(options.index, events, state !== undefined, error, warn);
  else notes.push("the index was not checked (give --table to compare it with the archive)");

  const failed = findings.some((finding) => finding.severity === "error");
  const outcome: VerifyOutcome = failed
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
    checkpointsFound: toVerify.length,
    source: source.description,
    seesVersions: source.seesVersions,
    notes,
    stats,
    ...(newest ? { newestCheckpoint: { seq: newest.seq, time: newest.time, kid: newest.kid } } : {}),
    findings,
    ...(ok && newest
      ? {
          state: {
            v: 1,
            checkpoint: { seq: newest.seq, payload_sha256: newest.payloadHash, time: newest.time },
            chains: nextState,
          } satisfies VerifierState,
        }
      : {}),
  };
}

/** Consecutive checkpoints: never fewer chains, never a shorter chain, never an earlier time. */
function compareCheckpoints(
  before: SignedCheckpoint,
  after: SignedCheckpoint,
  error: (finding: Omit<Finding, "severity">) => void,
): void {
  if (after.time < before.time) {
    error({
      code: "checkpoint_time",
      key: after.key,
      seq: after.seq,
      message: `checkpoint ${after.seq} is dated before checkpoint ${before.seq}`,
    });
  }
  for (const [id, head] of Object.entries(before.chains)) {
    const later = after.chains[id];
    if (!later) {
      error({
        code: "chain_dropped",
        key: after.key,
        chain: id,
        seq: after.seq,
        message: `checkpoint ${after.seq} drops chain ${id}`,
      });
    } else if (later.size < head.size) {
      error({
        code: "chain_shrank",
        key: after.key,
        chain: id,
        seq: after.seq,
        message: `checkpoint ${after.seq} signs ${later.size} links of chain ${id}, checkpoint ${before.seq} signed ${head.size}`,
      });
    }
  }
}

/**
 * RFC 9162 2.1.4: the oldest and newest tree heads this run saw for a chain are consistent. The
 * per-size root checks already imply it; this is the check an auditor holding only two signed tree
 * heads would make, computed from the same leaves.
 */
function checkOldestToNewest(
  id: string,
  signed: readonly { checkpoint: SignedCheckpoint; head: ChainHead }[],
  leaves: readonly Buffer[],
  from: number,
  error: (finding: Omit<Finding, "severity">) => void,
): void {
  if (from !== 0) return;
  const oldest = signed[0];
  const newest = signed[signed.length - 1];
  if (!oldest || !newest || oldest === newest || newest.head.size > leaves.length) return;
  const proof = consistencyProof(leaves.slice(0, newest.head.size), oldest.head.size);
  const consistent = verifyConsistency({
    oldSize: oldest.head.size,
    newSize: newest.head.size,
    oldRoot: Buffer.from(oldest.head.root, "hex"),
    newRoot: Buffer.from(newest.head.root, "hex"),
    proof,
  });
  if (!consistent) {
    error({
      code: "inconsistent_checkpoints",
      key: newest.checkpoint.key,
      chain: id,
      seq: newest.checkpoint.seq,
      message: `chain ${id}: checkpoint ${newest.checkpoint.seq}'s tree does not extend checkpoint ${oldest.checkpoint.seq}'s`,
    });
  }
}

const INDEXED_FIELDS: ReadonlyArray<[string, (e: IndexedEvent) => unknown]> = [
  ["chain", (e) => e.chain],
  ["seq", (e) => e.seq],
  ["batch_key", (e) => e.key],
  ["leaf_index", (e) => e.leafIndex],
  ["leaf_hash", (e) => e.leafHash],
  ["time", (e) => e.record.time],
  ["tenant", (e) => e.record.tenant],
  ["action", (e) => e.record.action],
  ["outcome", (e) => e.record.outcome],
  ["actor_sub", (e) => (e.record.actor as { sub?: unknown } | null)?.sub],
];

interface IndexedEvent {
  readonly key: string;
  readonly seq: number;
  readonly chain: string;
  readonly leafIndex: number;
  readonly leafHash: string;
  readonly record: Record<string, unknown>;
}

async function crossCheckIndex(
  index: () => AsyncIterable<IndexEntry>,
  events: ReadonlyMap<string, IndexedEvent>,
  incremental: boolean,
  error: (finding: Omit<Finding, "severity">) => void,
  warn: (finding: Omit<Finding, "severity">) => void,
): Promise<void> {
  const seen = new Set<string>();
  for await (const entry of index()) {
    const event = events.get(entry.eventId);
    if (!event) {
      // Incremental runs only know the newer events; older pointers were checked before.
      if (!incremental) {
        error({
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
        error({
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
    warn({
      code: "not_indexed",
      message: `${missing.length} archived event(s) have no index item (reindex not yet run, or expired by TTL), e.g. ${missing.slice(0, 3).join(", ")}`,
    });
  }
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

/**
 * Reads every replaced link version and reports each whose batch no current link names: an
 * `overwritten_link` error naming the link key, the version and the batch. Returns those batches,
 * which are then not also reported as never acknowledged. An incremental run only judges links it
 * read (at or past its state's size): older ones were judged when they were read.
 */
async function findOverwrittenLinks(
  source: ArchiveSource,
  replaced: readonly { key: string; versionId: string }[],
  linked: ReadonlyMap<string, { link: ChainLink; key: string }>,
  state: VerifierState | undefined,
  concurrency: number,
  error: (finding: Omit<Finding, "severity">) => void,
): Promise<Set<string>> {
  const batches = new Set<string>();
  const getVersion = source.getVersion?.bind(source);
  if (!getVersion) return batches;
  const judged = replaced.flatMap(({ key, versionId }) => {
    const at = parseLinkKey(key);
    return at && at.seq >= (state?.chains[at.chain]?.size ?? 0) ? [{ key, versionId, ...at }] : [];
  });
  await mapLimit(judged, concurrency, async ({ key, versionId, chain, seq }) => {
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
    error({
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
