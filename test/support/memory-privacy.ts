/**
 * The privacy layer's ports in memory: a key store with the DynamoDB adapter's semantics (one item
 * per subject, generations by creation time, destruction refused under a hold and replacing the
 * tenant's erasure epoch, destroyed keys leave only that they were erased), and in-process keys.
 */
import { randomUUID } from "node:crypto";
import { hmacSha256Key } from "../../lambda/core/cursor";
import { localKeyWrapper } from "../../lambda/privacy/local-key-wrapper";
import type {
  KeyDestruction,
  KeyWrapper,
  LegalHold,
  PseudonymKeys,
  StoredSubjectKey,
  SubjectKeyStore,
  SubjectRef,
} from "../../lambda/privacy/ports";
import { derivedPseudonymKeys } from "../../lambda/privacy/pseudonym-keys";

interface KeyItem {
  generation: number;
  wrapped?: Uint8Array;
  erasedAt?: string;
}

export class MemorySubjectKeyStore implements SubjectKeyStore {
  readonly items = new Map<string, KeyItem>();
  readonly holds = new Map<string, LegalHold>();
  /** Calls by method, so tests can see what a request cost. */
  readonly epochs = new Map<string, string>();
  readonly calls = { liveKeys: 0, createKey: 0, destroyKey: 0, erasureEpoch: 0 };

  private static id(ref: SubjectRef): string {
    return JSON.stringify([ref.tenant, ref.subject]);
  }

  async liveKeys(refs: readonly SubjectRef[]): Promise<(StoredSubjectKey | undefined)[]> {
    this.calls.liveKeys++;
    return refs.map((ref) => {
      const item = this.items.get(MemorySubjectKeyStore.id(ref));
      return item?.wrapped ? { generation: item.generation, wrapped: item.wrapped } : undefined;
    });
  }

  async createKey(ref: SubjectRef, wrapped: Uint8Array, nowMs: number) {
    this.calls.createKey++;
    const id = MemorySubjectKeyStore.id(ref);
    const item = this.items.get(id);
    if (item?.wrapped) return { generation: item.generation, wrapped: item.wrapped, created: false };
    // The creation time in ms, above every earlier generation (as the DynamoDB adapter does).
    const next = { generation: Math.max(nowMs, (item?.generation ?? 0) + 1), wrapped };
    this.items.set(id, next);
    return { generation: next.generation, wrapped, created: true };
  }

  async destroyKey(ref: SubjectRef, nowMs: number): Promise<KeyDestruction> {
    this.calls.destroyKey++;
    const id = MemorySubjectKeyStore.id(ref);
    const hold = this.holds.get(id);
    if (hold) return { kind: "held", hold };
    const item = this.items.get(id);
    if (!item) return { kind: "unknown" };
    if (!item.wrapped)
      return { kind: "already_erased", generation: item.generation, erasedAt: item.erasedAt as string };
    item.wrapped = undefined;
    item.erasedAt = new Date(nowMs).toISOString();
    this.epochs.set(ref.tenant, randomUUID());
    return { kind: "erased", generation: item.generation, erasedAt: item.erasedAt };
  }

  async erasureEpoch(tenant: string): Promise<string> {
    this.calls.erasureEpoch++;
    return this.epochs.get(tenant) ?? "";
  }

  async legalHold(ref: SubjectRef): Promise<LegalHold | undefined> {
    return this.holds.get(MemorySubjectKeyStore.id(ref));
  }

  async setLegalHold(ref: SubjectRef, hold: LegalHold | undefined): Promise<void> {
    const id = MemorySubjectKeyStore.id(ref);
    if (hold) this.holds.set(id, hold);
    else this.holds.delete(id);
  }
}

/** Fixed in-process keys: the wrapping key and the pseudonym master. */
export function testPrivacyKeys(seed = 1): { wrapper: KeyWrapper; pseudonyms: PseudonymKeys } {
  return {
    wrapper: localKeyWrapper(Buffer.alloc(32, seed)),
    pseudonyms: derivedPseudonymKeys(hmacSha256Key(Buffer.alloc(32, seed + 100))),
  };
}
