/**
 * One posting partition of a PostingPlan as a lazy stream of events in ascending `<time>#<id>` order.
 *
 * Posting items sort by their entries' time, then by batch, so postings of concurrent batches at the
 * same time interleave by event id. The stream expands postings into a sorted buffer and hands out its
 * smallest entry only once no unread posting can hold a smaller one: once the next unread posting is
 * of a later time, or none is left. Only the writer's invariant (one time per posting item) is
 * relied on for order; entries of several times in one item would still come out in order, as long
 * as none is earlier than the time the item sorts by.
 */

import { POSTING_FIELDS, type PostingEntry, parsePostingEntries } from "../core/index-items";
import { PARTITION_KEY, SORT_KEY } from "../core/index-table";
import { MAX_QUERY_LIMIT } from "./index-pages";
import type { PostingPlan } from "./plan";
import { IntegrityError, type RecordPointer } from "./pointers";
import type { EventIndex } from "./ports";

/** An event a search may return: where it sorts, and where its record is. */
export interface Candidate {
  readonly sortKey: string;
  readonly pointer: RecordPointer;
  /** True when its record must still be matched on the search's other filters once read. */
  readonly unmatched: boolean;
}

type Item = Record<string, unknown>;

function postingField(item: Item, field: string): string {
  const value = item[field];
  if (typeof value === "string" && value.length > 0) return value;
  throw new IntegrityError(`an index item is not a complete posting (${field})`, {
    pk: item[PARTITION_KEY],
    sk: item[SORT_KEY],
  });
}

/** The time part of a sort key: `<time>#…` for an event and for a posting alike. */
function timeOfSortKey(sortKey: string): string {
  return sortKey.split("#")[0] as string;
}

/** The time a posting item sorts by. */
function firstTimeOf(item: Item): string {
  return timeOfSortKey(postingField(item, SORT_KEY));
}

function bySortKey(a: Candidate, b: Candidate): number {
  return a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0;
}

export class PostingStream {
  private unread: Item[] = [];
  /** Expanded entries not yet taken, ascending. */
  private buffer: Candidate[] = [];
  private startKey: Record<string, unknown> | undefined;
  private exhausted = false;

  constructor(
    private readonly store: EventIndex,
    private readonly plan: PostingPlan,
    private readonly partition: string,
    private readonly tenant: string,
    /** Only entries after this sort key (the previous page's last) are read. */
    private readonly after: string | undefined,
    /** Whether the search has filters besides the posting's own key and time. */
    private readonly residual: boolean,
    /** Postings read by the first Query; each further one doubles it. */
    private pageSize: number,
  ) {}

  async peek(): Promise<Candidate | undefined> {
    for (;;) {
      if (this.unread.length === 0 && !this.exhausted) {
        await this.fetch();
        continue;
      }
      const next = this.unread[0];
      const head = this.buffer[0];
      if (head !== undefined && (next === undefined || timeOfSortKey(head.sortKey) < firstTimeOf(next))) {
        return head;
      }
      if (next === undefined) return undefined;
      this.unread.shift();
      this.expand(next);
    }
  }

  take(): Candidate | undefined {
    return this.buffer.shift();
  }

  private expand(item: Item): void {
    const tenant = postingField(item, POSTING_FIELDS.tenant);
    const batchKey = postingField(item, POSTING_FIELDS.batchKey);
    const batchRoot = postingField(item, POSTING_FIELDS.batchRoot);
    const entries = parsePostingEntries(postingField(item, POSTING_FIELDS.entries));
    if (entries === undefined || tenant !== this.tenant) {
      throw new IntegrityError("a posting's entries or tenant are not what its key says", {
        pk: item[PARTITION_KEY],
        sk: item[SORT_KEY],
      });
    }
    const { from, to } = this.plan;
    const wanted = entries.filter(
      (entry: PostingEntry) =>
        (from === undefined || entry.time >= from) &&
        (to === undefined || entry.time <= to) &&
        (this.after === undefined || entry.sortKey > this.after),
    );
    if (wanted.length === 0) return;
    const candidates = wanted.map(
      (entry): Candidate => ({
        sortKey: entry.sortKey,
        pointer: {
          eventId: entry.eventId,
          tenant,
          batchKey,
          leafIndex: entry.leafIndex,
          batchRoot,
          time: entry.time,
        },
        unmatched: this.residual,
      }),
    );
    this.buffer = [...this.buffer, ...candidates].sort(bySortKey);
  }

  private async fetch(): Promise<void> {
    const { upper } = this.plan;
    // Resuming after an event: no posting of an earlier time holds a later event.
    const resume = this.after === undefined ? undefined : timeOfSortKey(this.after);
    const lower =
      resume !== undefined && (this.plan.lower === undefined || resume > this.plan.lower)
        ? resume
        : this.plan.lower;
    const page = await this.store.queryIndexPage({
      partitionKey: { name: PARTITION_KEY, value: this.partition },
      sortKey: { name: SORT_KEY, lower, upper },
      limit: this.pageSize,
      startKey: this.startKey,
    });
    this.unread.push(...page.items);
    this.startKey = page.lastEvaluatedKey;
    this.exhausted = page.lastEvaluatedKey === undefined;
    this.pageSize = Math.min(MAX_QUERY_LIMIT, this.pageSize * 2);
  }
}
