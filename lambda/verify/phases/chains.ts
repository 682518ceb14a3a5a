/**
 * Phase 3 of `verifyArchive`: the chains, link by link. Each link names its predecessor's hash and
 * sits at its own key; every verified checkpoint's tree head for a chain equals the tree of its links
 * at that size; the oldest and newest tree heads are RFC 9162 consistent. With `--state`, only links
 * from the saved size on are read, continuing from the saved head and tree frontier.
 *
 * Chains are verified four at a time; within one, links are read concurrently and then walked in
 * order (`ChainWalk`), synchronously, so the batches linked so far are one map for every chain.
 */
import { type ChainHead, chainLeafHash } from "../../core/checkpoint";
import { type ChainLink, GENESIS_PREV, LinkFormatError, linkHash, parseLink } from "../../core/link";
import { mapLimit } from "../../core/map-limit";
import {
  consistencyProof,
  MerkleFrontier,
  type MerkleFrontierJSON,
  verifyConsistency,
} from "../../core/merkle";
import { checkpointKey, linkKey } from "../../core/paths";
import type { Findings } from "../findings";
import type { VerifierState } from "../verifier";
import type { SignedCheckpoint } from "./checkpoints";
import type { VerifyRun } from "./run";

/** The link a data object's key is named by, and that link's own key. */
export type LinkedBatches = Map<string, { readonly link: ChainLink; readonly key: string }>;

export interface VerifiedChains {
  /** Every batch a current link names, by data object key. */
  readonly linked: LinkedBatches;
  /** Per chain, the links below this seq are what a trusted checkpoint signed (its tree head matched). */
  readonly attestedSize: ReadonlyMap<string, number>;
  /** Each chain as the next `--state` run continues from it. */
  readonly nextState: VerifierState["chains"];
}

interface LinkRecord {
  readonly key: string;
  readonly seq: number;
  readonly hash: string;
  /** Absent when the bytes are not a link (an `altered_link` finding says so). */
  readonly link?: ChainLink;
}

/** A checkpoint's tree head for one chain. */
interface SignedHead {
  readonly checkpoint: SignedCheckpoint;
  readonly head: ChainHead;
}

/**
 * Called once per chain as soon as it is walked, with the links whose batches `linked` keeps for it
 * and the chain's attested size: enough to check those data objects while other chains are still
 * being read.
 */
export type OnChainWalked = (links: readonly ChainLink[], attestedSize: number) => void;

export async function verifyChains(
  run: VerifyRun,
  linkKeys: ReadonlyMap<string, ReadonlyMap<number, string>>,
  checkpoints: readonly SignedCheckpoint[],
  state: VerifierState | undefined,
  onChainWalked?: OnChainWalked,
): Promise<VerifiedChains> {
  const chainIds = new Set<string>([...linkKeys.keys(), ...Object.keys(state?.chains ?? {})]);
  for (const checkpoint of checkpoints) for (const id of Object.keys(checkpoint.chains)) chainIds.add(id);
  run.stats.chains = chainIds.size;
  const linked: LinkedBatches = new Map();
  const attestedSize = new Map<string, number>();
  const nextState: Record<string, { size: number; head: string; frontier: MerkleFrontierJSON }> = {};
  const totalLinks = [...linkKeys.values()].reduce((sum, chain) => sum + chain.size, 0);
  let linksRead = 0;
  const onLinkRead = () => run.progress({ phase: "links", done: ++linksRead, total: totalLinks });
  const ordered = [...chainIds].sort((a, b) => Number(a) - Number(b));
  await mapLimit(ordered, 4, async (id) => {
    const keys = linkKeys.get(id) ?? new Map<number, string>();
    const resume = state?.chains[id];
    const from = resume?.size ?? 0;
    const count = linkCount(keys);
    checkVerifiedBefore(run.findings, id, keys, count, state?.checkpoint.seq, from);
    const records = await readLinks(run, id, keys, from, count, onLinkRead);
    run.stats.links += records.filter(Boolean).length;
    const signed = checkpoints
      .map((checkpoint) => ({ checkpoint, head: checkpoint.chains[id] }))
      .filter((entry): entry is SignedHead => entry.head !== undefined);
    const walk = new ChainWalk(run.findings, id, signed, from, resume, linked);
    for (const [i, record] of records.entries()) walk.append(from + i, record);
    walk.finish();
    attestedSize.set(id, walk.matchedSize);
    if (onChainWalked) {
      // A batch another chain named first stays that chain's (a duplicate_batch finding here).
      const links: ChainLink[] = [];
      for (const record of records) {
        const link = record?.link;
        if (link && linked.get(link.batch.key)?.link === link) links.push(link);
      }
      onChainWalked(links, walk.matchedSize);
    }
    nextState[id] = { size: walk.frontier.size, head: walk.head, frontier: walk.frontier.toJSON() };
  });
  return { linked, attestedSize, nextState };
}

/** One past the highest seq listed. A loop, not Math.max(...keys): spreading a chain of 100,000+ links overflows the call stack. */
function linkCount(keys: ReadonlyMap<number, string>): number {
  let count = 0;
  for (const seq of keys.keys()) if (seq >= count) count = seq + 1;
  return count;
}

/**
 * An incremental run reads no link below `from`, but the listing still shows every one that was
 * verified before, so one removed since (from a local copy, where no delete marker shows) is found.
 * `stateSeq` is the checkpoint the state was saved at, when there is one.
 */
function checkVerifiedBefore(
  findings: Findings,
  id: string,
  keys: ReadonlyMap<number, string>,
  count: number,
  stateSeq: number | undefined,
  from: number,
): void {
  for (let seq = 0; seq < Math.min(from, count); seq++) {
    if (!keys.has(seq)) {
      findings.error({
        code: "missing_link",
        key: linkKey(id, seq),
        chain: id,
        seq,
        message: `chain ${id}: link ${seq}, verified before, is missing`,
      });
    }
  }
  if (stateSeq !== undefined && count < from) {
    findings.error({
      code: "truncated_chain",
      key: checkpointKey(stateSeq),
      chain: id,
      seq: stateSeq,
      message: `checkpoint ${stateSeq}, verified before, signed ${from} links of chain ${id}, the archive has ${count}`,
    });
  }
}

/** Links `from`..`count - 1` in seq order; undefined where one is not listed or cannot be read. */
async function readLinks(
  run: VerifyRun,
  id: string,
  keys: ReadonlyMap<number, string>,
  from: number,
  count: number,
  onRead: () => void,
): Promise<(LinkRecord | undefined)[]> {
  const seqs = Array.from({ length: Math.max(0, count - from) }, (_, i) => from + i);
  // A quarter of the reads each: four chains are read at once.
  return mapLimit(seqs, Math.max(1, Math.floor(run.concurrency / 4)), async (seq) => {
    const key = keys.get(seq);
    onRead();
    if (!key) return undefined;
    const bytes = await run.source.get(key);
    if (!bytes) return undefined;
    let link: ChainLink | undefined;
    try {
      link = parseLink(bytes);
    } catch (cause) {
      if (!(cause instanceof LinkFormatError)) throw cause;
      run.findings.error({ code: "altered_link", key, chain: id, seq, message: `${key}: ${cause.message}` });
    }
    return { key, seq, hash: linkHash(bytes), link };
  });
}

/** One chain's links in seq order, against the tree heads the verified checkpoints signed for it. */
class ChainWalk {
  readonly frontier: MerkleFrontier;
  head: string;
  /** Links below this size match a signed tree head: a mismatch narrows the damage to after it. */
  matchedSize: number;
  private readonly leaves: Buffer[] = [];
  /** The next signed head to compare, in `signed`. */
  private next = 0;
  private mismatched = false;
  /** The previous link was missing: its successor's `prev` cannot be judged. */
  private broken = false;

  constructor(
    private readonly findings: Findings,
    private readonly id: string,
    private readonly signed: readonly SignedHead[],
    private readonly from: number,
    resume: VerifierState["chains"][string] | undefined,
    private readonly linked: LinkedBatches,
  ) {
    this.frontier = resume ? MerkleFrontier.fromJSON(resume.frontier) : new MerkleFrontier();
    this.head = resume?.head ?? GENESIS_PREV;
    this.matchedSize = from;
    // Heads at or below the size resumed from were compared before; only the one at it can be checked again.
    for (let entry = this.peek(); entry && entry.head.size <= from; entry = this.peek()) {
      this.next++;
      if (entry.head.size === from && resume && entry.head.head !== resume.head) {
        findings.error({
          code: "chain_mismatch",
          key: entry.checkpoint.key,
          chain: id,
          seq: entry.checkpoint.seq,
          message: `checkpoint ${entry.checkpoint.seq} signs chain ${id} with another head than was verified before`,
        });
      }
    }
  }

  append(seq: number, record: LinkRecord | undefined): void {
    const { findings, id } = this;
    if (!record) {
      findings.error({
        code: "missing_link",
        key: linkKey(id, seq),
        chain: id,
        seq,
        message: `chain ${id}: link ${seq} is missing`,
      });
      this.broken = true;
      return;
    }
    const { link } = record;
    if (link && (link.chain !== id || link.seq !== seq)) {
      findings.error({
        code: "reordered_link",
        key: record.key,
        chain: id,
        seq,
        message: `${record.key} holds link ${link.chain}/${link.seq}: links were moved or swapped`,
      });
    } else if (link && link.prev !== this.head && !this.broken) {
      findings.error({
        code: "broken_prev",
        key: record.key,
        chain: id,
        seq,
        message: `${record.key}: prev does not name link ${seq - 1}'s hash: a link before it was altered, removed or inserted`,
      });
    }
    this.broken = false;
    if (link && this.linked.has(link.batch.key)) {
      findings.error({
        code: "duplicate_batch",
        key: record.key,
        chain: id,
        seq,
        message: `${record.key} names ${link.batch.key}, which another link already names: a batch was replayed`,
      });
    } else if (link) this.linked.set(link.batch.key, { link, key: record.key });
    this.head = record.hash;
    const leaf = chainLeafHash(record.hash);
    this.frontier.append(leaf);
    this.leaves.push(leaf);
    this.compareSignedHeads();
  }

  /** Every checkpoint that signed the size reached must have signed exactly this tree. */
  private compareSignedHeads(): void {
    const size = this.frontier.size;
    for (let entry = this.peek(); entry && entry.head.size === size; entry = this.peek()) {
      this.next++;
      if (entry.head.root !== this.frontier.root().toString("hex") || entry.head.head !== this.head) {
        this.findings.error({
          code: "chain_mismatch",
          key: entry.checkpoint.key,
          chain: this.id,
          seq: entry.checkpoint.seq,
          message:
            `checkpoint ${entry.checkpoint.seq} signed chain ${this.id} at size ${entry.head.size} with another tree than its links give: ` +
            `one of links ${this.matchedSize}..${entry.head.size - 1} was altered, removed, reordered or inserted` +
            (this.matchedSize > 0 ? ` (links 0..${this.matchedSize - 1} match an earlier checkpoint)` : ""),
        });
        this.mismatched = true;
      } else if (!this.mismatched) {
        this.matchedSize = entry.head.size;
      }
    }
  }

  /** After the last link: signed sizes the links never reached, links no checkpoint signed yet. */
  finish(): void {
    const { findings, id, frontier } = this;
    for (const entry of this.signed.slice(this.next)) {
      findings.error({
        code: "truncated_chain",
        key: entry.checkpoint.key,
        chain: id,
        seq: entry.checkpoint.seq,
        message: `checkpoint ${entry.checkpoint.seq} signed ${entry.head.size} links of chain ${id}, the archive has ${frontier.size}`,
      });
    }
    const signedSize = this.signed[this.signed.length - 1]?.head.size ?? 0;
    if (frontier.size > signedSize) {
      findings.warn({
        code: "unsigned_links",
        chain: id,
        seq: signedSize,
        message: `chain ${id}: links ${signedSize}..${frontier.size - 1} are newer than the newest checkpoint`,
      });
    }
    this.checkOldestToNewest();
  }

  /**
   * RFC 9162 2.1.4: the oldest and newest tree heads this run saw for a chain are consistent. The
   * per-size root checks already imply it; this is the check an auditor holding only two signed tree
   * heads would make, computed from the same leaves.
   */
  private checkOldestToNewest(): void {
    if (this.from !== 0) return;
    const oldest = this.signed[0];
    const newest = this.signed[this.signed.length - 1];
    if (!oldest || !newest || oldest === newest || newest.head.size > this.leaves.length) return;
    const proof = consistencyProof(this.leaves.slice(0, newest.head.size), oldest.head.size);
    const consistent = verifyConsistency({
      oldSize: oldest.head.size,
      newSize: newest.head.size,
      oldRoot: Buffer.from(oldest.head.root, "hex"),
      newRoot: Buffer.from(newest.head.root, "hex"),
      proof,
    });
    if (!consistent) {
      this.findings.error({
        code: "inconsistent_checkpoints",
        key: newest.checkpoint.key,
        chain: this.id,
        seq: newest.checkpoint.seq,
        message: `chain ${this.id}: checkpoint ${newest.checkpoint.seq}'s tree does not extend checkpoint ${oldest.checkpoint.seq}'s`,
      });
    }
  }

  private peek(): SignedHead | undefined {
    return this.signed[this.next];
  }
}
