/**
 * The index as the query API reads it: one pointer by event id, and one page of a key-condition
 * Query on a GSI (never a Scan). lambda/aws/index-store.ts implements it on DynamoDB,
 * test/support/memory-archive.ts in memory. The archive bucket's port is lambda/archive/object-store.ts.
 */

/** One page of a Query on a GSI (or the table, without `indexName`) whose sort key is a string, read in ascending order. */
export interface IndexPageQuery {
  readonly indexName?: string;
  readonly partitionKey: { readonly name: string; readonly value: string };
  /** Inclusive bounds on the sort key; either may be absent. */
  readonly sortKey: { readonly name: string; readonly lower?: string; readonly upper?: string };
  /**
   * A FilterExpression over non-key attributes, with its own names and values (plan.ts writes only
   * `#fN = :fN` and `#fN IN (:fN, :fNb)` terms joined by AND).
   */
  readonly filter?: {
    readonly expression: string;
    readonly names: Readonly<Record<string, string>>;
    readonly values: Readonly<Record<string, unknown>>;
  };
  /** Items evaluated (before the filter), as DynamoDB's Limit. */
  readonly limit: number;
  readonly startKey?: Record<string, unknown>;
}

export interface IndexPage {
  readonly items: Record<string, unknown>[];
  /** Where the next page starts; absent when the partition's range is exhausted. */
  readonly lastEvaluatedKey?: Record<string, unknown>;
}

export interface EventIndex {
  /** The pointer item of one event, strongly consistent; undefined when not indexed. */
  eventPointer(eventId: string): Promise<Record<string, unknown> | undefined>;
  /** One page of a key-condition Query on a GSI or on the table. */
  queryIndexPage(query: IndexPageQuery): Promise<IndexPage>;
}
