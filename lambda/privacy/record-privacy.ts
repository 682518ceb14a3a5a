/**
 * The privacy policy applied to records: sealing on the write path, opening on the read path, and
 * the pseudonyms a search uses. Data keys are cached per request only (a `PrivacySession`), so an
 * erasure takes effect on every Lambda environment at its next request; a tenant's pseudonym key is
 * cached by its adapter. Key material is never logged or put in an error.
 */
import { newDataKey } from "../core/privacy/field-cipher";
import { type PrivacyPolicy, SEARCHABLE_FIELDS, type SearchableField } from "../core/privacy/policy";
import { dataSubjectOf, protectRecord, revealRecord, type SubjectKey } from "../core/privacy/protect";
import { type DataSubject, fieldPseudonym, subjectPseudonym } from "../core/privacy/pseudonym";
import type { EventRecord } from "../core/schema";
import type { KeyWrapper, PseudonymKeys, SubjectKeyStore, SubjectRef } from "./ports";

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
  constructor(readonly deps: RecordPrivacyDeps) {}

  get policy(): PrivacyPolicy {
    return this.deps.policy;
  }

  /** A request's view: data keys fetched (or created) once per subject, forgotten with it. */
  session(): PrivacySession {
    return new PrivacySession(this.deps);
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
  private readonly keys = new Map<string, Promise<SubjectKey | undefined>>();

  constructor(private readonly deps: RecordPrivacyDeps) {}

  /** The records as they are stored: each sealed under its actor's data key (created on first use). */
  async protect(records: readonly EventRecord[]): Promise<EventRecord[]> {
    return Promise.all(
      records.map(async (record) => {
        const tenantKey = await this.deps.pseudonyms.forTenant(record.tenant);
        const ref = { tenant: record.tenant, subject: subjectPseudonym(tenantKey, dataSubjectOf(record)) };
        const key = (await this.cached(ref, true)) as SubjectKey;
        return protectRecord(record, this.deps.policy, tenantKey, key);
      }),
    );
  }

  /** The records as a reader sees them: sealed fields opened, or marked erased. */
  async reveal(records: readonly EventRecord[]): Promise<EventRecord[]> {
    return Promise.all(
      records.map(async (record) => {
        if (!record.privacy) return record;
        const key = await this.cached({ tenant: record.tenant, subject: record.privacy.subject }, false);
        return revealRecord(record, key);
      }),
    );
  }

  private cached(ref: SubjectRef, create: boolean): Promise<SubjectKey | undefined> {
    const name = JSON.stringify([ref.tenant, ref.subject, create]);
    let key = this.keys.get(name);
    if (!key) {
      key = create ? this.liveOrNew(ref) : this.live(ref);
      this.keys.set(name, key);
    }
    return key;
  }

  private async live(ref: SubjectRef): Promise<SubjectKey | undefined> {
    const stored = await this.deps.keys.liveKey(ref);
    if (!stored) return undefined;
    return {
      subject: ref.subject,
      generation: stored.generation,
      key: await this.deps.wrapper.unwrap(stored.wrapped, ref),
    };
  }

  private async liveOrNew(ref: SubjectRef): Promise<SubjectKey> {
    const existing = await this.live(ref);
    if (existing) return existing;
    const fresh = newDataKey();
    const stored = await this.deps.keys.createKey(
      ref,
      await this.deps.wrapper.wrap(fresh, ref),
      this.deps.now(),
    );
    // A concurrent writer may have stored its key first: then that one is the subject's key.
    const key = stored.created ? fresh : await this.deps.wrapper.unwrap(stored.wrapped, ref);
    return { subject: ref.subject, generation: stored.generation, key };
  }
}
