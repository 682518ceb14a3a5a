/**
 * The ports of the privacy layer: where data keys are kept (the one mutable store, never the
 * archive), what wraps them (KMS in AWS, a local key in local mode), and where a tenant's pseudonym
 * key comes from. Adapters: lambda/aws/subject-key-store.ts, lambda/aws/kms-key-wrapper.ts,
 * lambda/aws/kms-mac-key.ts with lambda/privacy/pseudonym-keys.ts; local/privacy-keys.ts; in-memory fakes in test/support/.
 */

/** A data subject within a tenant, named by its pseudonym (lambda/core/privacy/pseudonym.ts). */
export interface SubjectRef {
  readonly tenant: string;
  readonly subject: string;
}

/** A live data key as stored: wrapped, never in plaintext. */
export interface StoredSubjectKey {
  readonly generation: number;
  readonly wrapped: Uint8Array;
}

/** What destroying a subject's key found. */
export type KeyDestruction =
  | { readonly kind: "erased"; readonly generation: number; readonly erasedAt: string }
  | { readonly kind: "already_erased"; readonly generation: number; readonly erasedAt: string }
  | { readonly kind: "unknown" }
  /** Nothing destroyed: the subject is under a legal hold. */
  | { readonly kind: "held"; readonly hold: LegalHold };

export interface LegalHold {
  readonly reason: string;
  readonly placedAt: string;
  readonly placedBy: string;
}

export interface SubjectKeyStore {
  /**
   * Each subject's live key, in the order of `refs`; undefined where it never had one or it was
   * destroyed. Strongly consistent; one round trip for a batch's subjects where the store allows.
   */
  liveKeys(refs: readonly SubjectRef[]): Promise<(StoredSubjectKey | undefined)[]>;
  /**
   * The tenant's erasure epoch: a random token replaced whenever one of its subjects' keys is
   * destroyed, so a function may keep unwrapped keys while it reads the same one (strongly consistent;
   * a token, not a counter, so a restored table never brings back one a function kept keys under).
   */
  erasureEpoch(tenant: string): Promise<string>;
  /**
   * Stores `wrapped` as the subject's next key generation unless a live key exists, and returns the
   * key that is live afterwards: ours (`created`), or the one a concurrent writer stored first. A
   * generation is the key's creation time in ms, above every earlier one of the subject: a key created
   * after the store lost its items (a restore) never takes the generation of a key that sealed records.
   */
  createKey(
    ref: SubjectRef,
    wrapped: Uint8Array,
    nowMs: number,
  ): Promise<StoredSubjectKey & { readonly created: boolean }>;
  /**
   * In one atomic step, unless the subject is under a legal hold: destroys the live key (its wrapped
   * bytes are deleted, the item keeps only that it was erased and when) and replaces the tenant's
   * erasure epoch.
   */
  destroyKey(ref: SubjectRef, nowMs: number): Promise<KeyDestruction>;
  legalHold(ref: SubjectRef): Promise<LegalHold | undefined>;
  /** Places (`hold`) or releases (undefined) a legal hold. */
  setLegalHold(ref: SubjectRef, hold: LegalHold | undefined): Promise<void>;
}

/** Wraps data keys; `ref` is bound to the wrapping (KMS encryption context), so a key cannot be moved. */
export interface KeyWrapper {
  wrap(key: Uint8Array, ref: SubjectRef): Promise<Uint8Array>;
  unwrap(wrapped: Uint8Array, ref: SubjectRef): Promise<Uint8Array>;
}

/** Each tenant's pseudonym key (32 bytes or more). */
export interface PseudonymKeys {
  forTenant(tenant: string): Promise<Uint8Array>;
}
