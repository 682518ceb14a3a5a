/**
 * Unwrapped data keys kept between requests, so a warm function does not call KMS for every subject
 * of every batch. Safe for erasure because an entry is only ever found through the wrapped key that
 * the store holds now: every request still reads each subject's key item (strongly consistent), and
 * an erased subject's item holds no wrapped key, so its cached plaintext is never looked up again and
 * ages out. Bounded in entries and in age, so a revoked KMS grant also takes effect within `maxAgeMs`.
 */
import type { StoredSubjectKey, SubjectRef } from "./ports";

export const UNWRAPPED_KEYS_MAX_ENTRIES = 10_000;
export const UNWRAPPED_KEYS_MAX_AGE_MS = 5 * 60_000;

interface Entry {
  readonly key: Uint8Array;
  readonly storedAt: number;
}

function nameOf(ref: SubjectRef, stored: StoredSubjectKey): string {
  return JSON.stringify([
    ref.tenant,
    ref.subject,
    stored.generation,
    Buffer.from(stored.wrapped).toString("base64"),
  ]);
}

export class UnwrappedKeyCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly now: () => number,
    private readonly maxEntries = UNWRAPPED_KEYS_MAX_ENTRIES,
    private readonly maxAgeMs = UNWRAPPED_KEYS_MAX_AGE_MS,
  ) {}

  /** The plaintext of `stored`, unwrapping it with `unwrap` unless a fresh entry holds it. */
  async get(
    ref: SubjectRef,
    stored: StoredSubjectKey,
    unwrap: () => Promise<Uint8Array>,
  ): Promise<Uint8Array> {
    const entry = this.entries.get(nameOf(ref, stored));
    if (entry && this.now() - entry.storedAt < this.maxAgeMs) return entry.key;
    const key = await unwrap();
    this.remember(ref, stored, key);
    return key;
  }

  /** Keeps `key`, the plaintext of `stored` (a key just created, so never unwrapped). */
  remember(ref: SubjectRef, stored: StoredSubjectKey, key: Uint8Array): void {
    const name = nameOf(ref, stored);
    this.entries.delete(name);
    this.entries.set(name, { key, storedAt: this.now() });
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
