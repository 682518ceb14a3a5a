/**
 * Phase 2 of `verifyArchive`: the checkpoints. Each must be signed under a trusted key (in its `kid`
 * window) and sit at its own key; seqs have no gaps and `prev` chains them; a later one never has
 * fewer chains, a shorter chain or an earlier time. With `--state`, the archive must extend the
 * checkpoint verified before; with `--max-age`, the newest must be recent enough.
 */
import {
  type ChainHead,
  CheckpointError,
  FIRST_CHECKPOINT_PREV,
  verifyCheckpoint,
} from "../../core/checkpoint";
import { mapLimit } from "../../core/map-limit";
import { checkpointKey } from "../../core/paths";
import type { VerifyOptions } from "../verifier";
import type { VerifyRun } from "./run";

export interface SignedCheckpoint {
  readonly key: string;
  readonly seq: number;
  readonly time: string;
  readonly kid: string;
  readonly payloadHash: string;
  readonly prev: string;
  readonly chains: Readonly<Record<string, ChainHead>>;
}

export interface VerifiedCheckpoints {
  /** Checkpoint keys listed from the `--state` checkpoint on, whether they verify or not. */
  readonly found: number;
  /** Those that verified, ascending. */
  readonly checkpoints: readonly SignedCheckpoint[];
  readonly newest?: SignedCheckpoint;
}

export async function verifyCheckpoints(
  run: VerifyRun,
  options: Pick<VerifyOptions, "trusted" | "state" | "maxAgeMs" | "now">,
  checkpointSeqs: readonly number[],
): Promise<VerifiedCheckpoints> {
  const { state } = options;
  const firstSeq = state ? state.checkpoint.seq : 0;
  const toVerify = checkpointSeqs.filter((seq) => seq >= firstSeq);
  let verifiedCount = 0;
  const verified = await mapLimit(toVerify, run.concurrency, async (seq) => {
    const key = checkpointKey(seq);
    const bytes = await run.source.get(key);
    run.progress({ phase: "checkpoints", done: ++verifiedCount, total: toVerify.length });
    return checkSigned(run, options.trusted, key, seq, bytes);
  });
  const checkpoints = verified.filter((c): c is SignedCheckpoint => c !== undefined);
  run.stats.checkpoints = checkpoints.length;
  if (state) checkExtendsState(run, state.checkpoint, checkpoints, checkpointSeqs);
  checkSequence(run, checkpoints, checkpointSeqs, firstSeq);
  const newest = checkpoints[checkpoints.length - 1];
  if (options.maxAgeMs !== undefined) checkFreshness(run, newest, options.maxAgeMs, options.now ?? Date.now);
  return { found: toVerify.length, checkpoints, ...(newest ? { newest } : {}) };
}

/** The checkpoint at `key`, if it verifies under a trusted key and is the one its key names. */
async function checkSigned(
  run: VerifyRun,
  trusted: VerifyOptions["trusted"],
  key: string,
  seq: number,
  bytes: Buffer | undefined,
): Promise<SignedCheckpoint | undefined> {
  if (!bytes) {
    run.findings.error({
      code: "missing_checkpoint",
      key,
      seq,
      message: `${key} was listed but cannot be read`,
    });
    return undefined;
  }
  try {
    const checkpoint = await verifyCheckpoint(bytes, trusted);
    if (checkpoint.payload.seq !== seq) {
      run.findings.error({
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
    };
  } catch (cause) {
    if (!(cause instanceof CheckpointError)) throw cause;
    run.findings.error({ code: `checkpoint_${cause.code}`, key, seq, message: `${key}: ${cause.message}` });
    return undefined;
  }
}

/** `--state`: the checkpoint verified before is still there, unchanged, and not the newest gone. */
function checkExtendsState(
  run: VerifyRun,
  before: NonNullable<VerifyOptions["state"]>["checkpoint"],
  checkpoints: readonly SignedCheckpoint[],
  checkpointSeqs: readonly number[],
): void {
  const anchor = checkpoints.find((c) => c.seq === before.seq);
  const newest = checkpointSeqs[checkpointSeqs.length - 1];
  if (newest === undefined || newest < before.seq) {
    run.findings.error({
      code: "rollback",
      seq: before.seq,
      message: `the newest checkpoint is ${newest ?? "none"}, but checkpoint ${before.seq} was verified before: the archive was rolled back`,
    });
  } else if (!anchor) {
    run.findings.error({
      code: "rollback",
      key: checkpointKey(before.seq),
      seq: before.seq,
      message: `checkpoint ${before.seq}, verified before, is gone or no longer verifies`,
    });
  } else if (anchor.payloadHash !== before.payload_sha256) {
    run.findings.error({
      code: "fork",
      key: anchor.key,
      seq: anchor.seq,
      message: `checkpoint ${anchor.seq} is not the one verified before: the signed history forked`,
    });
  }
}

/** No seq missing from `firstSeq` on, each `prev` naming its predecessor, history that only grows. */
function checkSequence(
  run: VerifyRun,
  checkpoints: readonly SignedCheckpoint[],
  checkpointSeqs: readonly number[],
  firstSeq: number,
): void {
  let expectedSeq = firstSeq;
  let previous: SignedCheckpoint | undefined;
  for (const checkpoint of checkpoints) {
    for (; expectedSeq < checkpoint.seq; expectedSeq++) {
      const key = checkpointKey(expectedSeq);
      if (!checkpointSeqs.includes(expectedSeq)) {
        run.findings.error({
          code: "missing_checkpoint",
          key,
          seq: expectedSeq,
          message: `${key} is missing`,
        });
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
      run.findings.error({
        code: "checkpoint_prev",
        key: checkpoint.key,
        seq: checkpoint.seq,
        message: `prev does not name checkpoint ${checkpoint.seq - 1}'s payload`,
      });
    }
    if (previous) compareCheckpoints(run, previous, checkpoint);
    previous = checkpoint;
  }
}

/** Consecutive checkpoints: never fewer chains, never a shorter chain, never an earlier time. */
function compareCheckpoints(run: VerifyRun, before: SignedCheckpoint, after: SignedCheckpoint): void {
  if (after.time < before.time) {
    run.findings.error({
      code: "checkpoint_time",
      key: after.key,
      seq: after.seq,
      message: `checkpoint ${after.seq} is dated before checkpoint ${before.seq}`,
    });
  }
  for (const [id, head] of Object.entries(before.chains)) {
    const later = after.chains[id];
    if (!later) {
      run.findings.error({
        code: "chain_dropped",
        key: after.key,
        chain: id,
        seq: after.seq,
        message: `checkpoint ${after.seq} drops chain ${id}`,
      });
    } else if (later.size < head.size) {
      run.findings.error({
        code: "chain_shrank",
        key: after.key,
        chain: id,
        seq: after.seq,
        message: `checkpoint ${after.seq} signs ${later.size} links of chain ${id}, checkpoint ${before.seq} signed ${head.size}`,
      });
    }
  }
}

/** `--max-age`: the newest verified checkpoint is recent enough. */
function checkFreshness(
  run: VerifyRun,
  newest: SignedCheckpoint | undefined,
  maxAgeMs: number,
  now: () => number,
): void {
  const allowed = `${Math.round(maxAgeMs / 1000)} s`;
  if (!newest) {
    // No verified checkpoint at all (all removed, or none verifies) is the stalest archive there is.
    run.findings.error({
      code: "stale",
      message: `no checkpoint verifies, so nothing shows the archive is newer than the allowed ${allowed}`,
    });
  } else if (now() - Date.parse(newest.time) > maxAgeMs) {
    run.findings.error({
      code: "stale",
      key: newest.key,
      seq: newest.seq,
      message: `the newest checkpoint is from ${newest.time}, older than the allowed ${allowed}`,
    });
  }
}
