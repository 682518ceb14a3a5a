/**
 * Unwrapped data keys kept between requests, so a warm function neither reads every subject's key item
 * nor calls KMS for every subject of every batch. An entry holds while its tenant's erasure epoch
 * (lambda/privacy/ports.ts) is the one it was stored under: every request reads that epoch (one
 * strongly consistent read per tenant), and every erasure replaces it in the transaction that destroys
 * the key, so an erased subject's key is never used at the next request of any function. Bounded in entries and in
 * age, so a revoked KMS grant also takes effect within `maxAgeMs`.
 */
import type { SubjectKey } from "../core/privacy/protect";
import type { SubjectRef } from "./ports";

export const UNWRAPPED_KEYS_MAX_ENTRIES = 10_000;
export const UNWRAPPED_KEYS_MAX_AGE_MS = 5 * 60_000;

interface Entry {
  readonly key: SubjectKey;
  readonly epoch: string;
  readonly storedAt: number;
}

export class UnwrappedKeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number,
    private readonly maxEntries = UNWRAPPED_KEYS_MAX_ENTRIES,
    private readonly maxAgeMs = UNWRAPPED_KEYS_MAX_AGE_MS,
  ) {}

  /** The subject's live key if it was kept under this erasure epoch, recently enough. */
  get(ref: SubjectRef, epoch: string): SubjectKey | undefined {
    const name = nameOf(ref);
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    if (entry.epoch !== epoch || this.now() - entry.storedAt >= this.maxAgeMs) {
      this.entries.delete(name);
      return undefined;
    }
    return entry.key;
  }

  /** Keeps the subject's live key, read (or created) while the tenant's epoch was `epoch`. */
  remember(ref: SubjectRef, epoch: string, key: SubjectKey): void {
    const name = nameOf(ref);
    this.entries.delete(name);
    this.entries.set(name, { key, epoch, storedAt: this.now() });
    // A Map iterates in insertion order: the first entry is the oldest.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

function nameOf(ref: SubjectRef): string {
  return JSON.stringify([ref.tenant, ref.subject]);
}
