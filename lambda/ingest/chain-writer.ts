/**
 * Appends links to hash chains in S3. S3 is the sequencer: link n is created with
 * `If-None-Match: *` only after this writer holds link n−1's bytes, so two writers can never both
 * create seq n, and a link's `prev` is always the hash of bytes that were really stored.
 *
 * One ChainWriter lives per Lambda environment. It leases one chain when it can (fewer collisions)
 * and remembers each chain's newest link it has seen; without a lease it shares a chain.
 *
 * A writer never races itself: concurrent appends through one writer (local mode sends every request
 * through one) wait for each other, one in flight per chain. Racing itself would lean on S3 alone to
 * refuse the second create, and an emulator whose create-only check is not atomic forks the chain.
 */

import type { ObjectStore } from "../archive/object-store";
import { type ChainLink, GENESIS_PREV, linkHash, parseLink, serializeLink } from "../core/link";
import { linkKey, linkPrefix, parseLinkKey } from "../core/paths";
import type { ChainLeases } from "./ports";
import { writeExactly } from "./write-exactly";

/**
 * The newest link of a chain as the writer knows it. Not a checkpoint's `ChainHead` (core/checkpoint.ts),
 * which is a chain's signed size, tree root and head hash.
 */
export interface ChainTip {
  readonly seq: number;
  /** SHA-256 hex of the link's stored bytes: the next link's `prev`. */
  readonly hash: string;
}

export interface AppendedLink {
  readonly link: ChainLink;
  readonly key: string;
  readonly bytes: Buffer;
  readonly hash: string;
}

export interface ChainWriterOptions {
  readonly objects: ObjectStore;
  readonly leases: ChainLeases;
  /** Newest seq written to a chain as last recorded in the index: a place to start reading, never trusted. */
  readonly headHint: (chain: string) => Promise<number | undefined>;
  readonly chainCount: number;
  /** Identifies this environment's leases. */
  readonly holder: string;
  readonly leaseMs: number;
  readonly now?: () => number;
  /** Seqs to advance past (collisions with other writers) before giving up. */
  readonly maxRounds?: number;
  readonly onWarning?: (message: string, detail: Record<string, unknown>) => void;
}

/** No link could be confirmed: nothing of this batch was acknowledged. */
export class ChainUnavailableError extends Error {
  constructor(
    readonly chain: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "ChainUnavailableError";
  }
}

const LINK_CONTENT_TYPE = "application/json";
/** Backoff after losing a race grows up to 2^this round trips. */
const MAX_CONTENTION_LEVEL = 6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ChainWriter {
  private readonly heads = new Map<string, ChainTip>();
  /** Per chain, the end of the queue of appends through this writer: each one waits for the last. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The lease decision under way, shared by concurrent appends so they take one lease, not one each. */
  private choosing: Promise<string> | undefined;
  /** How often this writer lost a race recently; decays as it wins. */
  private contention = 0;
  /** Moving average of a link put's round trip, the unit of backoff. */
  private roundTripMs = 20;
  private lease: { chain: string; until: number } | undefined;
  private sharedChain: { chain: string; retryLeaseAt: number } | undefined;
  private readonly now: () => number;
  private readonly chains: readonly string[];

  constructor(private readonly options: ChainWriterOptions) {
    this.now = options.now ?? Date.now;
    this.chains = Array.from({ length: options.chainCount }, (_, i) => String(i));
  }

  /** Appends a link naming `batch` and returns it once S3 holds exactly these bytes. */
  async append(batch: ChainLink["batch"]): Promise<AppendedLink> {
    const chain = await this.chooseChainOnce();
    return this.oneAtATime(chain, () => this.appendTo(chain, batch));
  }

  /**
   * Runs `work` once every earlier append to `chain` through this writer has settled, so the head it
   * builds on is the one the previous append left, never one another append is about to replace.
   */
  private async oneAtATime<T>(chain: string, work: () => Promise<T>): Promise<T> {
    const previous = this.inFlight.get(chain) ?? Promise.resolve();
    let done!: () => void;
    const current = new Promise<void>((resolve) => {
      done = resolve;
    });
    this.inFlight.set(chain, current);
    await previous;
    try {
      return await work();
    } finally {
      done();
      if (this.inFlight.get(chain) === current) this.inFlight.delete(chain);
    }
  }

  private async appendTo(chain: string, batch: ChainLink["batch"]): Promise<AppendedLink> {
    let head = this.heads.get(chain) ?? (await this.readHead(chain));
    const maxRounds = this.options.maxRounds ?? 200;
    for (let round = 0; round < maxRounds; round++) {
      const link: ChainLink = {
        v: 1,
        chain,
        seq: head ? head.seq + 1 : 0,
        prev: head ? head.hash : GENESIS_PREV,
        time: new Date(this.now()).toISOString(),
        batch,
      };
      const bytes = serializeLink(link);
      const key = linkKey(chain, link.seq);
      const stored = await this.writeLink(chain, key, bytes);
      if (stored === "ours") {
        this.contention = Math.max(0, this.contention - 1);
        const hash = linkHash(bytes);
        this.remember(chain, { seq: link.seq, hash });
        return { link, key, bytes, hash };
      }
      // Another writer holds this seq: build on its link, whose bytes we now hold.
      head = this.headFromStored(chain, link.seq, stored);
      this.remember(chain, head);
      this.contention = Math.min(MAX_CONTENTION_LEVEL, this.contention + 1);
      if (round > 0) {
        // Losing twice in a row: others write this chain too. Back off (binary exponential, scaled by
        // S3's observed round trip) so fewer writers race for each seq, then jump to the end.
        await sleep(Math.random() * this.roundTripMs * 2 ** this.contention);
        head = (await this.readHead(chain, head.seq)) ?? head;
        this.remember(chain, head);
      }
    }
    throw new ChainUnavailableError(
      chain,
      `chain ${chain} is too contended: gave up after ${maxRounds} seqs`,
    );
  }

  /** The shared create rule (write-exactly.ts); any failure gives the chain up and forgets its head. */
  private async writeLink(chain: string, key: string, bytes: Buffer): Promise<"ours" | Buffer> {
    try {
      return await writeExactly(this.options.objects, key, bytes, LINK_CONTENT_TYPE, {
        onRoundTrip: (ms) => {
          this.roundTripMs = 0.8 * this.roundTripMs + 0.2 * ms;
        },
      });
    } catch (error) {
      this.forget(chain);
      throw new ChainUnavailableError(chain, `could not write ${key}`, { cause: error });
    }
  }

  private headFromStored(chain: string, seq: number, bytes: Buffer): ChainTip {
    let link: ChainLink;
    try {
      link = parseLink(bytes);
    } catch (error) {
      this.forget(chain);
      throw new ChainUnavailableError(
        chain,
        `${linkKey(chain, seq)} is not a valid link; the chain needs an audit`,
        {
          cause: error,
        },
      );
    }
    if (link.chain !== chain || link.seq !== seq) {
      this.forget(chain);
      throw new ChainUnavailableError(
        chain,
        `${linkKey(chain, seq)} names chain ${link.chain} seq ${link.seq}`,
      );
    }
    return { seq, hash: linkHash(bytes) };
  }

  /**
   * Finds a chain's newest link from S3: lists from the hint (or `fromSeq`) onward and reads the
   * last canonical key. A hint past the real end finds nothing, so the whole chain is listed.
   */
  async readHead(chain: string, fromSeq?: number): Promise<ChainTip | undefined> {
    let start = fromSeq;
    if (start === undefined) {
      try {
        start = await this.options.headHint(chain);
      } catch (error) {
        this.options.onWarning?.("head hint unavailable; listing the chain", { chain, error: String(error) });
      }
    }
    const prefix = linkPrefix(chain);
    let last =
      start && start > 0 ? await this.lastLinkKey(chain, prefix, linkKey(chain, start - 1)) : undefined;
    last ??= await this.lastLinkKey(chain, prefix, undefined);
    if (!last) return undefined;
    const bytes = await this.options.objects.get(last.key);
    if (!bytes) throw new ChainUnavailableError(chain, `${last.key} was listed but cannot be read`);
    return this.headFromStored(chain, last.seq, bytes);
  }

  private async lastLinkKey(
    chain: string,
    prefix: string,
    startAfter: string | undefined,
  ): Promise<{ key: string; seq: number } | undefined> {
    let last: { key: string; seq: number } | undefined;
    for await (const key of this.options.objects.listKeys(prefix, startAfter)) {
      // Keys that are not canonical links of this chain are the verifier's findings, never a head.
      const parsed = parseLinkKey(key);
      if (parsed && parsed.chain === chain) last = { key, seq: parsed.seq };
    }
    return last;
  }

  private remember(chain: string, head: ChainTip): void {
    const known = this.heads.get(chain);
    if (!known || known.seq < head.seq) this.heads.set(chain, head);
  }

  private forget(chain: string): void {
    this.heads.delete(chain);
  }

  /** chooseChain, once at a time: concurrent appends share the decision (and the lease) under way. */
  private chooseChainOnce(): Promise<string> {
    this.choosing ??= this.chooseChain().finally(() => {
      this.choosing = undefined;
    });
    return this.choosing;
  }

  /** This environment's leased chain; without a free lease, a shared chain (lease retried later). */
  private async chooseChain(): Promise<string> {
    const { leases, holder, leaseMs } = this.options;
    const now = this.now();
    try {
      if (this.lease) {
        if (this.lease.until - now > leaseMs / 2) return this.lease.chain;
        if (await leases.renew(this.lease.chain, holder, now, leaseMs)) {
          this.lease = { chain: this.lease.chain, until: now + leaseMs };
          return this.lease.chain;
        }
        this.lease = undefined;
      }
      if (!this.sharedChain || this.sharedChain.retryLeaseAt <= now) {
        const chain = await leases.acquire(holder, this.chains, now, leaseMs);
        if (chain !== undefined) {
          this.lease = { chain, until: now + leaseMs };
          this.sharedChain = undefined;
          return chain;
        }
      }
    } catch (error) {
      // Leases only spread load; without the table we still write safely to a shared chain.
      this.options.onWarning?.("chain lease unavailable; sharing a chain", { error: String(error) });
    }
    if (!this.sharedChain || this.sharedChain.retryLeaseAt <= now) {
      const chain = this.chains[Math.floor(Math.random() * this.chains.length)] as string;
      this.sharedChain = { chain, retryLeaseAt: now + Math.min(30_000, leaseMs / 4) };
    }
    return this.sharedChain.chain;
  }
}
