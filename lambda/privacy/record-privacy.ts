/**
 * The privacy policy applied to records: sealing on the write path, opening on the read path, and
 * the pseudonyms a search uses. Each request (a `PrivacySession`) reads its tenants' erasure epochs,
 * under which unwrapped keys are kept between requests, so an erasure takes effect on every Lambda
 * environment at its next request; a tenant's pseudonym key is cached by its adapter. Key material
 * is never logged or put in an error.
 */
import { newDataKey } from "../core/privacy/field-cipher";
import { type PrivacyPolicy, SEARCHABLE_FIELDS, type SearchableField } from "../core/privacy/policy";
import { dataSubjectOf, protectRecord, revealRecord, type SubjectKey } from "../core/privacy/protect";
import { type DataSubject, fieldPseudonym, subjectPseudonym } from "../core/privacy/pseudonym";
import type { EventRecord } from "../core/schema";
import type { KeyWrapper, PseudonymKeys, StoredSubjectKey, SubjectKeyStore, SubjectRef } from "./ports";
import { UnwrappedKeyCache } from "./unwrapped-keys";

export interface RecordPrivacyDeps {
  readonly policy: PrivacyPolicy;
  readonly keys: SubjectKeyStore;
  readonly wrapper: KeyWrapper;
  readonly pseudonyms: PseudonymKeys;
  readonly now: () => number;
}

/** A search filter of the query API that a searchable field answers. */
export type SearchableFilter = (typeof SEARCHABLE_FIELDS)[SearchableField];

export class RecordPrivacy {
  private readonly unwrapped: UnwrappedKeyCache;

  constructor(readonly deps: RecordPrivacyDeps) {
    this.unwrapped = new UnwrappedKeyCache(deps.now);
  }

  get policy(): PrivacyPolicy {
    return this.deps.policy;
  }

  /**
   * A request's view: each tenant's erasure epoch read once per request (so an erasure takes effect at
   * every function's next request), unwrapped keys kept between requests under it (UnwrappedKeyCache).
   */
  session(): PrivacySession {
    return new PrivacySession(this.deps, this.unwrapped);
  }

  /** The subject's name in the key store: its pseudonym under the tenant's key. */
  async subjectRef(tenant: string, subject: DataSubject): Promise<SubjectRef> {
    return { tenant, subject: subjectPseudonym(await this.deps.pseudonyms.forTenant(tenant), subject) };
  }

  /**
   * Filters on sealed fields that a search cannot answer (personal, not searchable): their values
   * exist only as ciphertext.
   */
  unsearchableFilters(filters: Readonly<Record<string, unknown>>): string[] {
    const personal = new Set<string>(this.deps.policy.personal);
    const searchable = new Set<string>(this.deps.policy.searchable);
    return (Object.entries(SEARCHABLE_FIELDS) as [SearchableField, SearchableFilter][])
      .filter(
        ([field, filter]) => filters[filter] !== undefined && personal.has(field) && !searchable.has(field),
      )
      .map(([, filter]) => filter);
  }

  /**
   * The pseudonym each searchable filter given is also indexed under: records sealed under the
   * policy are indexed by pseudonym, records written before it by the plain value.
   */
  async searchAliases(
    tenant: string,
    filters: Readonly<Partial<Record<SearchableFilter, string>>>,
  ): Promise<Partial<Record<SearchableFilter, string>>> {
    const aliases: Partial<Record<SearchableFilter, string>> = {};
    const given = this.deps.policy.searchable.filter(
      (field) => filters[SEARCHABLE_FIELDS[field]] !== undefined,
    );
    if (given.length === 0) return aliases;
    const tenantKey = await this.deps.pseudonyms.forTenant(tenant);
    for (const field of given) {
      const filter = SEARCHABLE_FIELDS[field];
      aliases[filter] = fieldPseudonym(tenantKey, field, filters[filter] as string);
    }
    return aliases;
  }
}

export class PrivacySession {
  /** This request's data keys by subject: what the store held when the request first needed them. */
  private readonly keys = new Map<string, Promise<SubjectKey | undefined>>();
  /** This request's erasure epoch of each tenant it touches. */
  private readonly epochs = new Map<string, Promise<string>>();

  constructor(
    private readonly deps: RecordPrivacyDeps,
    private readonly unwrapped: UnwrappedKeyCache,
  ) {}

  /** The records as they are stored: each sealed under its actor's data key (created on first use). */
  async protect(records: readonly EventRecord[]): Promise<EventRecord[]> {
    const tenantKeys = new Map<string, Uint8Array>();
    for (const tenant of new Set(records.map((record) => record.tenant)))
      tenantKeys.set(tenant, await this.deps.pseudonyms.forTenant(tenant));
    const refs = records.map((record) => ({
      tenant: record.tenant,
      subject: subjectPseudonym(tenantKeys.get(record.tenant) as Uint8Array, dataSubjectOf(record)),
    }));
    const keys = await this.keysOf(refs, true);
    return records.map((record, i) =>
      protectRecord(
        record,
        this.deps.policy,
        tenantKeys.get(record.tenant) as Uint8Array,
        keys[i] as SubjectKey,
      ),
    );
  }

  /** The records as a reader sees them: sealed fields opened, or marked erased. */
  async reveal(records: readonly EventRecord[]): Promise<EventRecord[]> {
    const sealed = records.filter((record) => record.privacy);
    const keys = await this.keysOf(
      sealed.map((record) => ({ tenant: record.tenant, subject: record.privacy?.subject as string })),
      false,
    );
    const byRecord = new Map(sealed.map((record, i) => [record, keys[i]]));
    return records.map((record) => (record.privacy ? revealRecord(record, byRecord.get(record)) : record));
  }

  /**
   * Each ref's key, in order: from the function's cache while the tenant's erasure epoch is unchanged;
   * the rest read from the store in one request and unwrapped (or, with `create`, created when they
   * have no live key).
   */
  private async keysOf(refs: readonly SubjectRef[], create: boolean): Promise<(SubjectKey | undefined)[]> {
    const nameOf = (ref: SubjectRef) => JSON.stringify([ref.tenant, ref.subject, create]);
    const unseen = [...new Map(refs.map((ref) => [nameOf(ref), ref])).entries()].filter(
      ([name]) => !this.keys.has(name),
    );
    if (unseen.length > 0) {
      // One read per tenant: epochOf keeps each tenant's promise for the request.
      const epochs = await Promise.all(unseen.map(([, ref]) => this.epochOf(ref.tenant)));
      const missed: [string, SubjectRef, string][] = [];
      for (const [i, [name, ref]] of unseen.entries()) {
        const epoch = epochs[i] as string;
        const kept = this.unwrapped.get(ref, epoch);
        if (kept) this.keys.set(name, Promise.resolve(kept));
        else missed.push([name, ref, epoch]);
      }
      if (missed.length > 0) {
        const live = this.deps.keys.liveKeys(missed.map(([, ref]) => ref));
        missed.forEach(([name, ref, epoch], i) => {
          this.keys.set(
            name,
            live.then((stored) => this.resolved(ref, epoch, stored[i], create)),
          );
        });
      }
    }
    return Promise.all(refs.map((ref) => this.keys.get(nameOf(ref)) as Promise<SubjectKey | undefined>));
  }

  /** The tenant's erasure epoch, read once per request. */
  private epochOf(tenant: string): Promise<string> {
    let epoch = this.epochs.get(tenant);
    if (!epoch) {
      epoch = this.deps.keys.erasureEpoch(tenant);
      this.epochs.set(tenant, epoch);
    }
    return epoch;
  }

  private async resolved(
    ref: SubjectRef,
    epoch: string,
    stored: StoredSubjectKey | undefined,
    create: boolean,
  ): Promise<SubjectKey | undefined> {
    if (stored) return this.opened(ref, epoch, stored);
    if (!create) return undefined;
    const fresh = newDataKey();
    const created = await this.deps.keys.createKey(
      ref,
      await this.deps.wrapper.wrap(fresh, ref),
      this.deps.now(),
    );
    // A concurrent writer may have stored its key first: then that one is the subject's key.
    if (!created.created) return this.opened(ref, epoch, created);
    const key = { subject: ref.subject, generation: created.generation, key: fresh };
    this.unwrapped.remember(ref, epoch, key);
    return key;
  }

  private async opened(ref: SubjectRef, epoch: string, stored: StoredSubjectKey): Promise<SubjectKey> {
    const key = {
      subject: ref.subject,
      generation: stored.generation,
      key: await this.deps.wrapper.unwrap(stored.wrapped, ref),
    };
    this.unwrapped.remember(ref, epoch, key);
    return key;
  }
}
