/**
 * One page of `GET /v1/events`: the events that match, in ascending `<time>#<id>` order, and whether
 * more exist.
 *
 * Every partition a search reads (posting partitions, and GSI partitions of pointer items) is a lazy
 * stream in sort-key order; the streams are merged k-way, the smallest head first. Sort keys are unique
 * (the event id is part of them) and totally ordered, so once the merge has emitted key K every event
 * ≤ K of every partition has been emitted: the position "after K" alone resumes every partition, which
 * is all a cursor needs to carry. An event found both as a legacy pointer and in a posting (an index
 * part way through its rebuild) has the same key in both, and is returned once.
 *
 * A posted event's record is matched, once read, on the filters its posting is not keyed by; a pointer
 * read from a GSI was matched by DynamoDB's FilterExpression on its own attributes.
 */
import type { ObjectReader } from "../archive/object-store";
import { POSTING_DIMENSIONS, SEARCHED_VALUES, searchedValue } from "../core/index-items";
import { TIME_SORT_KEY } from "../core/index-table";
import type { EventRecord } from "../core/schema";
import { MAX_QUERY_LIMIT, PartitionStream } from "./index-pages";
import type { EventFilters } from "./params";
import type { FilterAliases, FilterName, PostingPlan, QueryPlan } from "./plan";
import { IntegrityError, recordPointerOf } from "./pointers";
import type { EventIndex } from "./ports";
import { type Candidate, PostingStream } from "./posting-stream";
import { type FetchedRecord, fetchRecords } from "./records";

export interface SearchPlan {
  /** The pointer GSI Queries: by request id, or the legacy GSIs beside postings. */
  readonly pointers: QueryPlan;
  /** Absent for a search by request id. */
  readonly postings?: PostingPlan;
  readonly filters: EventFilters;
  readonly aliases: FilterAliases;
}

export interface SearchHit extends FetchedRecord {
  readonly sortKey: string;
}

export interface SearchPage {
  readonly hits: readonly SearchHit[];
  /** True when at least one more matching event exists after the page. */
  readonly more: boolean;
}

interface CandidateStream {
  peek(): Promise<Candidate | undefined>;
  take(): Candidate | undefined;
}

/** A GSI partition's pointer items as candidates: already matched by the FilterExpression. */
class PointerCandidates implements CandidateStream {
  private head: Candidate | undefined;

  constructor(private readonly items: PartitionStream) {}

  async peek(): Promise<Candidate | undefined> {
    if (this.head !== undefined) return this.head;
    const item = await this.items.peek();
    if (item === undefined) return undefined;
    const sortKey = item[TIME_SORT_KEY];
    if (typeof sortKey !== "string") {
      throw new IntegrityError(`an index item has no string ${TIME_SORT_KEY}`, { pk: item.pk });
    }
    this.head = { sortKey, pointer: recordPointerOf(item), unmatched: false };
    return this.head;
  }

  take(): Candidate | undefined {
    const head = this.head;
    this.head = undefined;
    this.items.take();
    return head;
  }
}

/** The k-way merge of the streams, without repeats. */
class MergedCandidates {
  private last: string | undefined;

  constructor(private readonly streams: readonly CandidateStream[]) {}

  async next(): Promise<Candidate | undefined> {
    for (;;) {
      const heads = await Promise.all(this.streams.map((stream) => stream.peek()));
      let best = -1;
      heads.forEach((head, i) => {
        const current = best < 0 ? undefined : heads[best];
        if (head !== undefined && (current === undefined || head.sortKey < current.sortKey)) best = i;
      });
      if (best < 0) return undefined;
      const taken = (this.streams[best] as CandidateStream).take() as Candidate;
      if (taken.sortKey === this.last) continue;
      this.last = taken.sortKey;
      return taken;
    }
  }

  async take(count: number): Promise<Candidate[]> {
    const taken: Candidate[] = [];
    while (taken.length < count) {
      const candidate = await this.next();
      if (candidate === undefined) break;
      taken.push(candidate);
    }
    return taken;
  }
}

/** The first filter `record` fails, or undefined when it matches them all (either value of an alias). */
export function failedFilter(
  record: EventRecord,
  filters: EventFilters,
  aliases: FilterAliases,
  names: readonly FilterName[],
): FilterName | undefined {
  return names.find((name) => {
    const wanted = filters[name];
    if (wanted === undefined) return false;
    const value = searchedValue(record, name);
    return value === null || (value !== wanted && value !== aliases[name]);
  });
}

const SEARCH_FILTERS = Object.keys(SEARCHED_VALUES) as FilterName[];

function streamsOf(
  index: EventIndex,
  plan: SearchPlan,
  tenant: string,
  after: string | undefined,
  limit: number,
) {
  const { pointers, postings, filters } = plan;
  const lower =
    after !== undefined && (pointers.lower === undefined || after > pointers.lower) ? after : pointers.lower;
  // Each partition starts with its share of the page and some slack; one that runs dry reads on, in
  // doubling pages. Resuming re-reads the previous page's last item (dropped): one more to evaluate.
  const share = (partitions: number) =>
    Math.min(
      MAX_QUERY_LIMIT,
      Math.ceil((limit + 1) / partitions) + (after === undefined ? 0 : 1) + (partitions > 1 ? 8 : 0),
    );
  const streams: CandidateStream[] = pointers.partitions.map(
    (partition) =>
      new PointerCandidates(
        new PartitionStream(index, pointers, partition, lower, after, share(pointers.partitions.length)),
      ),
  );
  if (postings) {
    const keyed = new Set<string>(postingFilterNames(postings));
    const residual = SEARCH_FILTERS.some((name) => filters[name] !== undefined && !keyed.has(name));
    // A posting holds many entries: a few postings per partition fill most pages.
    const postingsPerPage = Math.max(1, Math.ceil(share(postings.partitions.length) / 16));
    for (const partition of postings.partitions) {
      streams.push(new PostingStream(index, postings, partition, tenant, after, residual, postingsPerPage));
    }
  }
  return new MergedCandidates(streams);
}

function postingFilterNames(postings: PostingPlan): readonly FilterName[] {
  return POSTING_DIMENSIONS[postings.dimension].filters;
}

export interface SearchDeps {
  readonly index: EventIndex;
  readonly objects: ObjectReader;
}

/**
 * The matching events after `after`, at most `limit`, and whether more exist. Records are read in
 * rounds of the candidates still needed, so a page costs one read per batch object it draws on.
 */
export async function readSearchPage(
  deps: SearchDeps,
  plan: SearchPlan,
  tenant: string,
  after: string | undefined,
  limit: number,
): Promise<SearchPage> {
  const merged = streamsOf(deps.index, plan, tenant, after, limit);
  const keyed = plan.postings ? postingFilterNames(plan.postings) : [];
  const matching = async (candidates: readonly Candidate[]): Promise<SearchHit[]> => {
    const fetched = await fetchRecords(
      deps.objects,
      candidates.map((candidate) => candidate.pointer),
      tenant,
    );
    const hits: SearchHit[] = [];
    candidates.forEach((candidate, i) => {
      const { record, bytes } = fetched[i] as FetchedRecord;
      if ("batchRoot" in candidate.pointer) {
        // A posting names events by its key: a record that does not carry it is a corrupt index.
        const wrongKey = failedFilter(record, plan.filters, plan.aliases, keyed);
        if (wrongKey !== undefined) {
          throw new IntegrityError("a posting names an event that does not carry its key", {
            event_id: record.id,
            filter: wrongKey,
          });
        }
        if (candidate.unmatched && failedFilter(record, plan.filters, plan.aliases, SEARCH_FILTERS)) return;
      }
      hits.push({ sortKey: candidate.sortKey, record, bytes });
    });
    return hits;
  };

  const hits: SearchHit[] = [];
  while (hits.length < limit) {
    const candidates = await merged.take(limit - hits.length);
    if (candidates.length === 0) return { hits, more: false };
    hits.push(...(await matching(candidates)));
  }
  // Is there one more? A candidate that needs no matching is one; others are read until one matches.
  for (;;) {
    const candidates = await merged.take(limit);
    if (candidates.length === 0) return { hits, more: false };
    if (candidates.some((candidate) => !candidate.unmatched)) return { hits, more: true };
    if ((await matching(candidates)).length > 0) return { hits, more: true };
  }
}
