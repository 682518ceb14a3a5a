/**
 * Finds the newest checkpoint, `checkpoints/<seq, 20 digits>.jws`, by listing the bucket. Keys list
 * in seq order, but S3 lists forward only and a deployment writes one a minute, so a cold start
 * does not list them all: it gallops and bisects on `StartAfter` (about 2·log2(n) one-page listings)
 * to a known checkpoint near the end, then lists forward from it. Warm calls list forward from the
 * newest key seen. Non-canonical keys are ignored (the verifier reports them); nothing is decoded
 * or verified here: clients verify checkpoints with the published key.
 */
import type { ObjectReader } from "../archive/object-store";
import { CHECKPOINTS_PREFIX, checkpointKey, parseCheckpointKey } from "../core/paths";

export interface CheckpointRef {
  readonly key: string;
  readonly seq: number;
}

export class LatestCheckpointFinder {
  /** Newest checkpoint seen by this process: checkpoints are never removed, so it stays a lower bound. */
  private newestSeen: CheckpointRef | undefined;

  constructor(private readonly objects: ObjectReader) {}

  async find(): Promise<CheckpointRef | undefined> {
    let newest = this.newestSeen ?? (await this.nearTheEnd());
    if (newest === undefined) return undefined;
    for await (const key of this.objects.listKeys(CHECKPOINTS_PREFIX, newest.key)) {
      const parsed = parseCheckpointKey(key);
      if (parsed && parsed.seq > newest.seq) newest = { key, seq: parsed.seq };
    }
    if (this.newestSeen === undefined || newest.seq > this.newestSeen.seq) this.newestSeen = newest;
    return newest;
  }

  /** The checkpoint with the lowest seq, past any stray key that sorts before it. */
  private async firstCheckpoint(): Promise<CheckpointRef | undefined> {
    for await (const key of this.objects.listKeys(CHECKPOINTS_PREFIX)) {
      const parsed = parseCheckpointKey(key);
      if (parsed) return { key, seq: parsed.seq };
    }
    return undefined;
  }

  /** The first listed key after `startAfter`, when it is a checkpoint's. */
  private async firstAfter(startAfter: string): Promise<CheckpointRef | undefined> {
    for await (const key of this.objects.listKeys(CHECKPOINTS_PREFIX, startAfter)) {
      const parsed = parseCheckpointKey(key);
      return parsed ? { key, seq: parsed.seq } : undefined;
    }
    return undefined;
  }

  /**
   * An existing checkpoint at or below the newest: exactly the newest when the prefix holds only
   * canonical keys, else (a stray key answered a probe) an earlier one the forward listing starts from.
   */
  private async nearTheEnd(): Promise<CheckpointRef | undefined> {
    let known = await this.firstCheckpoint();
    if (known === undefined) return undefined;
    // Gallop: double until nothing canonical follows `bound`. Invariant: known.seq <= bound.
    let bound = Math.max(1, known.seq * 2);
    for (;;) {
      const after = await this.firstAfter(checkpointKey(bound));
      if (after === undefined) break;
      known = after;
      bound = Math.min(Number.MAX_SAFE_INTEGER, after.seq * 2);
    }
    // Bisect: `known` exists, nothing follows `bound`; each probe halves (known.seq, bound].
    while (known.seq < bound) {
      const middle = Math.floor((known.seq + bound) / 2);
      const after = await this.firstAfter(checkpointKey(middle));
      if (after === undefined) bound = middle;
      else known = after;
    }
    return known;
  }
}
