/**
 * The checkpoint run (DESIGN.md "Checkpoint run"). Once a minute: read each chain forward from the
 * head it signed last, check every link, extend each chain's tree, and sign checkpoint seq+1, but only
 * if the history it is about to sign extends the one it signed before. Anything else is a refusal:
 * nothing is signed and the caller raises an alarm.
 *
 * Its state (last seq, payload hash, per-chain size, head and tree frontier) lives in a store only the
 * signer can write. The archive is only trusted as far as it agrees with that state:
 * - the newest checkpoint it signed must still be there, one version, byte for byte;
 * - every chain it signed must still end where it signed it (same head link bytes, one version);
 * - every link after that must be one version, at the next seq, and name its predecessor's hash.
 *
 * Two runs at once (a retry, a test) are safe: the checkpoint is created with If-None-Match and the
 * state is replaced with If-Match, so one of them wins and the other signs nothing. A run that finds
 * its seq already taken adopts that checkpoint if, and only if, its own key signed it and it matches
 * the links; that is also how a run that crashed between the two writes is completed.
 */
import type { JWK } from "jose";
import type { PutOutcome } from "../archive/object-store";
import { type ArchiveSource, byKey, isSingleObject } from "../archive/source";
import {
  type CheckpointKey,
  type CheckpointPayload,
  chainLeafHash,
  checkpointPayloadHash,
  FIRST_CHECKPOINT_PREV,
  payloadBytesOf,
  signCheckpoint,
  verifyCheckpoint,
} from "../core/checkpoint";
import { GENESIS_PREV, LinkFormatError, linkHash, parseLink } from "../core/link";
import { mapLimit } from "../core/map-limit";
import { MerkleFrontier, type MerkleFrontierJSON } from "../core/merkle";
import { CHAINS_PREFIX, checkpointKey, isChainId, linkKey, linkPrefix, parseLinkKey } from "../core/paths";

/** One chain as the signer last signed it. */
export interface SignedChain {
  readonly size: number;
  readonly head: string;
  readonly frontier: MerkleFrontierJSON;
}

/** Everything the signer remembers between runs. */
export interface SignerState {
  readonly v: 1;
  readonly seq: number;
  readonly payload_sha256: string;
  readonly time: string;
  readonly chains: Readonly<Record<string, SignedChain>>;
}

export interface SignerStateStore {
  /** The state and an opaque version for a conditional save; undefined before the first checkpoint. */
  load(): Promise<{ state: SignerState; version: string } | undefined>;
  /** Saves only if the stored version is still `expected` (undefined: only if there is none). */
  save(state: SignerState, expected: string | undefined): Promise<"saved" | "conflict">;
}

export interface SignerDeps {
  readonly source: ArchiveSource;
  /** Creates the checkpoint object unless the key exists. */
  readonly putCheckpoint: (key: string, bytes: Buffer) => Promise<PutOutcome>;
  readonly state: SignerStateStore;
  readonly key: CheckpointKey;
  readonly now: () => number;
  /** At most this many new links per chain per run; the rest wait for the next run. @default 20000 */
  readonly maxNewLinksPerChain?: number;
  /** Link reads in flight. @default 32 */
  readonly concurrency?: number;
}

export type SignerOutcome =
  | { readonly status: "signed"; readonly seq: number; readonly newLinks: number; readonly chains: number }
  | { readonly status: "raced"; readonly seq: number; readonly detail: string }
  | { readonly status: "refused"; readonly reasons: readonly string[] };

/** Why the signer will not sign: the archive does not extend what it signed. */
class Refusal extends Error {}

export async function runCheckpoint(deps: SignerDeps): Promise<SignerOutcome> {
  const loaded = await deps.state.load();
  const state = loaded?.state;
  try {
    if (state) await checkNewestCheckpoint(deps, state);
    const chainIds = await chainsToSign(deps, state);
    const extended = await mapLimit(chainIds, 4, (id) => extendChain(deps, id, state?.chains[id]));
    const seq = state ? state.seq + 1 : 0;
    const nowIso = new Date(deps.now()).toISOString();
    const payload: CheckpointPayload = {
      v: 1,
      seq,
      prev: state?.payload_sha256 ?? FIRST_CHECKPOINT_PREV,
      // Never earlier than the checkpoint before it, even if this clock is behind.
      time: state && state.time > nowIso ? state.time : nowIso,
      chains: Object.fromEntries(
        extended.map((chain) => [chain.id, { size: chain.size, root: chain.root, head: chain.head }]),
      ),
    };
    const jws = await signCheckpoint(payload, deps.key);
    const created = await deps.putCheckpoint(checkpointKey(seq), Buffer.from(jws, "ascii"));
    if (created === "exists") return await adopt(deps, state, loaded?.version, seq);
    // Another run is writing this seq right now (S3's 409); the next run adopts what it wrote.
    if (created === "conflict")
      return { status: "raced", seq, detail: "another run is writing this checkpoint" };
    const next: SignerState = {
      v: 1,
      seq,
      payload_sha256: checkpointPayloadHash(payloadBytesOf(jws)),
      time: payload.time,
      chains: Object.fromEntries(
        extended.map((chain) => [chain.id, { size: chain.size, head: chain.head, frontier: chain.frontier }]),
      ),
    };
    if ((await deps.state.save(next, loaded?.version)) === "conflict") {
      return { status: "raced", seq, detail: "another run saved the signer state first" };
    }
    const newLinks = extended.reduce((sum, chain) => sum + chain.newLinks, 0);
    return { status: "signed", seq, newLinks, chains: extended.length };
  } catch (error) {
    if (error instanceof Refusal) return { status: "refused", reasons: [error.message] };
    throw error;
  }
}

async function checkNewestCheckpoint(deps: SignerDeps, state: SignerState): Promise<void> {
  const key = checkpointKey(state.seq);
  const histories: string[] = [];
  for await (const history of byKey(deps.source.list(key))) {
    if (history.key !== key) continue;
    if (!isSingleObject(history)) histories.push(`${history.entries.length} versions or delete markers`);
  }
  const bytes = await deps.source.get(key);
  if (!bytes)
    throw new Refusal(`${key}, the newest checkpoint signed, is missing or hidden behind a delete marker`);
  if (histories.length > 0) throw new Refusal(`${key} has ${histories.join(", ")}: it was rewritten`);
  if (checkpointPayloadHash(payloadBytesOf(bytes.toString("ascii"))) !== state.payload_sha256) {
    throw new Refusal(`${key} is not the checkpoint this signer signed`);
  }
}

/** Every chain signed before (none may disappear) plus every canonical chain id the bucket has now. */
async function chainsToSign(deps: SignerDeps, state: SignerState | undefined): Promise<string[]> {
  const ids = new Set(Object.keys(state?.chains ?? {}));
  for (const child of await deps.source.listChildren(CHAINS_PREFIX)) if (isChainId(child)) ids.add(child);
  return [...ids].sort((a, b) => Number(a) - Number(b));
}

interface ExtendedChain {
  readonly id: string;
  readonly size: number;
  readonly root: string;
  readonly head: string;
  readonly frontier: MerkleFrontierJSON;
  readonly newLinks: number;
}

/**
 * Reads chain `id` forward from `signed` (its last signed head) and extends its tree: to the newest
 * link, or to exactly `targetSize` when adopting a checkpoint. Throws Refusal on any break.
 */
async function extendChain(
  deps: SignerDeps,
  id: string,
  signed: SignedChain | undefined,
  targetSize?: number,
): Promise<ExtendedChain> {
  const size = signed?.size ?? 0;
  const limit = targetSize !== undefined ? targetSize - size : (deps.maxNewLinksPerChain ?? 20_000);
  // The listing starts at the signed head (seq size-1), so a rewritten head shows up too.
  const marker = size >= 2 ? linkKey(id, size - 2) : undefined;
  const keys: string[] = [];
  let expectedSeq = Math.max(0, size - 1);
  for await (const history of byKey(deps.source.list(linkPrefix(id), marker))) {
    const parsed = parseLinkKey(history.key);
    if (!parsed || parsed.chain !== id) throw new Refusal(`${history.key} is not a canonical link key`);
    if (!isSingleObject(history)) {
      throw new Refusal(`${history.key} has ${history.entries.length} versions or delete markers`);
    }
    if (parsed.seq !== expectedSeq) {
      throw new Refusal(`chain ${id}: link ${expectedSeq} is missing (next key is ${history.key})`);
    }
    keys.push(history.key);
    expectedSeq++;
    if (expectedSeq - size >= limit) break;
  }
  if (size > 0 && keys[0] !== linkKey(id, size - 1)) {
    throw new Refusal(`chain ${id}: link ${size - 1}, the head signed last, is gone`);
  }
  if (targetSize !== undefined && expectedSeq < targetSize) {
    throw new Refusal(`chain ${id}: has ${expectedSeq} links, fewer than the ${targetSize} to adopt`);
  }

  const bodies = await mapLimit(keys, deps.concurrency ?? 32, async (key) => {
    const bytes = await deps.source.get(key);
    if (!bytes) throw new Refusal(`${key} was listed but cannot be read`);
    return bytes;
  });
  const frontier = signed ? MerkleFrontier.fromJSON(signed.frontier) : new MerkleFrontier();
  let head = signed?.head ?? GENESIS_PREV;
  bodies.forEach((bytes, i) => {
    const key = keys[i] as string;
    const hash = linkHash(bytes);
    if (signed && i === 0) {
      if (hash !== signed.head) throw new Refusal(`${key}, the head signed last, was replaced`);
      return;
    }
    let link: ReturnType<typeof parseLink>;
    try {
      link = parseLink(bytes);
    } catch (error) {
      if (error instanceof LinkFormatError) throw new Refusal(`${key} is not a valid link: ${error.message}`);
      throw error;
    }
    const expected = parseLinkKey(key);
    if (link.chain !== expected?.chain || link.seq !== expected.seq) {
      throw new Refusal(`${key} holds link ${link.chain}/${link.seq}`);
    }
    if (link.prev !== head) throw new Refusal(`${key}: prev does not name link ${link.seq - 1}'s hash`);
    frontier.append(chainLeafHash(hash));
    head = hash;
  });
  if (frontier.size === 0) throw new Refusal(`chain ${id} has no links`);
  return {
    id,
    size: frontier.size,
    root: frontier.root().toString("hex"),
    head,
    frontier: frontier.toJSON(),
    newLinks: frontier.size - size,
  };
}

/**
 * Checkpoint `seq` already exists: another run signed it, or this signer crashed after writing it. Take
 * it as the new state only if this key signed it, it follows the state, and every chain in it is what
 * the links give; anything else is a checkpoint this signer cannot stand behind.
 */
async function adopt(
  deps: SignerDeps,
  state: SignerState | undefined,
  version: string | undefined,
  seq: number,
): Promise<SignerOutcome> {
  const key = checkpointKey(seq);
  const bytes = await deps.source.get(key);
  if (!bytes) throw new Refusal(`${key} exists but cannot be read`);
  const own = { kid: deps.key.kid, jwk: deps.key.publicJwk as JWK };
  let verified: Awaited<ReturnType<typeof verifyCheckpoint>>;
  try {
    verified = await verifyCheckpoint(bytes.toString("ascii"), [own]);
  } catch (error) {
    throw new Refusal(`${key} exists and was not signed by this signer's key: ${(error as Error).message}`);
  }
  const payload = verified.payload;
  if (payload.prev !== (state?.payload_sha256 ?? FIRST_CHECKPOINT_PREV)) {
    throw new Refusal(`${key} exists but does not follow checkpoint ${seq - 1}`);
  }
  const ids = Object.keys(payload.chains);
  for (const id of Object.keys(state?.chains ?? {})) {
    if (!ids.includes(id)) throw new Refusal(`${key} exists but drops chain ${id}`);
  }
  const chains = await mapLimit(ids, 4, (id) =>
    extendChain(deps, id, state?.chains[id], payload.chains[id]?.size),
  );
  for (const chain of chains) {
    const signed = payload.chains[chain.id];
    if (signed?.root !== chain.root || signed.head !== chain.head) {
      throw new Refusal(`${key} exists but its chain ${chain.id} does not match the links`);
    }
  }
  const next: SignerState = {
    v: 1,
    seq,
    payload_sha256: verified.payloadHash,
    time: payload.time,
    chains: Object.fromEntries(
      chains.map((chain) => [chain.id, { size: chain.size, head: chain.head, frontier: chain.frontier }]),
    ),
  };
  const saved = await deps.state.save(next, version);
  return {
    status: "raced",
    seq,
    detail:
      saved === "saved" ? `adopted checkpoint ${seq}, signed by an earlier run` : "another run signed it",
  };
}
