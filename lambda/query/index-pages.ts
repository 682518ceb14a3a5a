/**
 * Reads one page of a QueryPlan from the index, in ascending `<time>#<id>` order.
 *
 * Each GSI partition is read as a lazy stream of Query pages. A plan over several partitions (the
 * sharded time index) is merged k-way: the smallest head goes first. Sort keys are unique (the
 * event id is part of them) and totally ordered, so once the merge has emitted key K every item
 * ≤ K of every partition has been emitted: the position "after K" alone resumes every partition,
 * which is all a cursor needs to carry.
 */
import type { QueryPlan } from "./plan";
import type { EventIndex } from "./ports";

export type IndexItemRecord = Record<string, unknown>;

export interface IndexPageResult {
  readonly items: readonly IndexItemRecord[];
  /** True when at least one more matching item exists after the page. */
  readonly more: boolean;
}

/** DynamoDB evaluates at most this many items per Query page here, whatever the page size. */
const MAX_QUERY_LIMIT = 1000;

class PartitionStream {
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

function sortKeyOf(item: IndexItemRecord, name: string): string {
  const value = item[name];
  if (typeof value !== "string") throw new Error(`an index item has no string ${name}`);
  return value;
}

/**
 * Up to `limit` items after `after` (a sort key, exclusive), in order, and whether more exist.
 * Resuming from an inclusive lower bound and dropping the one item equal to `after` works on any
 * DynamoDB-compatible store, unlike an ExclusiveStartKey built for an item that may not exist.
 */
export async function readIndexPage(
  store: EventIndex,
  plan: QueryPlan,
  after: string | undefined,
  limit: number,
): Promise<IndexPageResult> {
  const lower = after !== undefined && (plan.lower === undefined || after > plan.lower) ? after : plan.lower;
  // One extra item per page tells whether there is more. Shards hash events evenly, so each starts
  // with its share of the page and some slack; a shard that runs dry reads on, in doubling pages.
  // Resuming re-reads the previous page's last item (dropped): one more to evaluate.
  const perPartition = Math.ceil((limit + 1) / plan.partitions.length) + (after === undefined ? 0 : 1);
  const pageSize = Math.min(MAX_QUERY_LIMIT, plan.partitions.length > 1 ? perPartition + 8 : perPartition);
  const streams = plan.partitions.map(
    (partition) => new PartitionStream(store, plan, partition, lower, after, pageSize),
  );
  const sortKey = plan.index.sortKey;
  const items: IndexItemRecord[] = [];
  for (;;) {
    const heads = await Promise.all(streams.map((stream) => stream.peek()));
    let next = -1;
    heads.forEach((head, i) => {
      if (head === undefined) return;
      const best = next < 0 ? undefined : (heads[next] as IndexItemRecord);
      if (best === undefined || sortKeyOf(head, sortKey) < sortKeyOf(best, sortKey)) next = i;
    });
    if (next < 0) return { items, more: false };
    if (items.length === limit) return { items, more: true };
    items.push((streams[next] as PartitionStream).take() as IndexItemRecord);
  }
}
