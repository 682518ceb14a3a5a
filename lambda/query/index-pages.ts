/**
 * One GSI partition of a QueryPlan as a lazy stream of pointer items in ascending `<time>#<id>` order,
 * read in Query pages that double (filters can be sparse). search-pages.ts merges these streams.
 */
import type { QueryPlan } from "./plan";
import type { EventIndex } from "./ports";

export type IndexItemRecord = Record<string, unknown>;

/** DynamoDB evaluates at most this many items per Query page here, whatever the page size. */
export const MAX_QUERY_LIMIT = 1000;

export class PartitionStream {
  private buffer: IndexItemRecord[] = [];
  private startKey: Record<string, unknown> | undefined;
  private exhausted = false;

  constructor(
    private readonly store: EventIndex,
    private readonly plan: QueryPlan,
    private readonly partition: string,
    /** Inclusive lower bound; the item equal to `skip` (the previous page's last) is dropped. */
    private readonly lower: string | undefined,
    private readonly skip: string | undefined,
    /** Items evaluated by the first Query; each further one doubles it (filters can be sparse). */
    private pageSize: number,
  ) {}

  /** The next item without consuming it; undefined once the partition's range is read. */
  async peek(): Promise<IndexItemRecord | undefined> {
    // A filtered page can be empty and still have a successor: read until an item or the end.
    while (this.buffer.length === 0 && !this.exhausted) await this.fetch();
    return this.buffer[0];
  }

  take(): IndexItemRecord | undefined {
    return this.buffer.shift();
  }

  private async fetch(): Promise<void> {
    const { index, upper, filter } = this.plan;
    const page = await this.store.queryIndexPage({
      indexName: index.indexName,
      partitionKey: { name: index.partitionKey, value: this.partition },
      sortKey: { name: index.sortKey, lower: this.lower, upper },
      filter,
      limit: this.pageSize,
      startKey: this.startKey,
    });
    const sortKey = index.sortKey;
    this.buffer.push(...page.items.filter((item) => item[sortKey] !== this.skip));
    this.startKey = page.lastEvaluatedKey;
    this.exhausted = page.lastEvaluatedKey === undefined;
    this.pageSize = Math.min(MAX_QUERY_LIMIT, this.pageSize * 2);
  }
}
