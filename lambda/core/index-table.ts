/**
 * The DynamoDB index table, defined once. The CDK construct (lib/) and the emulator provisioning
 * helper (lambda/aws/provision.ts) both build the table from this; runtime code uses the names.
 *
 * Every item has a string partition key `pk` and sort key `sk`. Two kinds of item answer searches:
 * - one event pointer per event (lookup by id, and by request id through the `by-request` GSI);
 * - postings (index format 2): per batch, one item per distinct actor, session, resource and action
 *   (and one for the time order), in the table itself, naming the batch and the leaf indexes it holds.
 * Each key that names a value starts with the tenant, so one tenant's query can never read another's
 * items. Pointers written before postings existed carry the legacy GSI keys below; a search still
 * reads those GSIs, so such an index keeps answering until it is rebuilt (docs/design.md).
 */

export const PARTITION_KEY = "pk";
export const SORT_KEY = "sk";
/** Epoch seconds; DynamoDB TTL deletes pointer items after it (the archive stays the truth). */
export const TTL_ATTRIBUTE = "expires_at";

/**
 * DynamoDB's limits on one key attribute value, in UTF-8 bytes, for the table and every GSI alike. An
 * item whose key exceeds one is refused whole, so the key builders (index-items.ts) stay within them.
 */
export const KEY_SIZE_LIMITS = { partitionKeyBytes: 2048, sortKeyBytes: 1024 } as const;

export interface GlobalIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
}

/** The attribute every GSI sorts on: `<record time>#<event id>`. */
export const TIME_SORT_KEY = "time_key";

export const GLOBAL_INDEXES = {
  /** Request ids are unique per event in access logs: a per-event key, on the pointer item. */
  request: { indexName: "by-request", partitionKey: "request_key", sortKey: TIME_SORT_KEY },
  // Legacy (index format 1): written by no current writer, read for pointers that still carry them.
  actor: { indexName: "by-actor", partitionKey: "actor_key", sortKey: TIME_SORT_KEY },
  action: { indexName: "by-action", partitionKey: "action_key", sortKey: TIME_SORT_KEY },
  resource: { indexName: "by-resource", partitionKey: "resource_key", sortKey: TIME_SORT_KEY },
  session: { indexName: "by-session", partitionKey: "session_key", sortKey: TIME_SORT_KEY },
  /** Sharded so that one tenant's write rate is spread over TIME_SHARDS partitions. */
  time: { indexName: "by-time", partitionKey: "time_shard_key", sortKey: TIME_SORT_KEY },
} as const satisfies Record<string, GlobalIndexDefinition>;

export type GlobalIndexName = keyof typeof GLOBAL_INDEXES;

/** Number of partitions of the legacy time index per tenant. */
export const TIME_SHARDS = 8;

/**
 * Partitions per tenant of the action and time postings: every event of a tenant has an action and a
 * time, so those keys would take all of its writes. A batch's postings go to the shard its chain and
 * seq hash to. Changing it requires a rebuild of the index.
 */
export const POSTING_SHARDS = 8;

/**
 * Entries per posting item at most: a batch's postings of one key are split past it, so an item stays
 * far below DynamoDB's 400 KB item limit (an entry is about 55 bytes).
 */
export const POSTING_ENTRIES_PER_ITEM = 1000;

/** Every key attribute with its DynamoDB type: all strings. */
export function keyAttributeNames(): string[] {
  const names = new Set<string>([PARTITION_KEY, SORT_KEY]);
  for (const gsi of Object.values(GLOBAL_INDEXES)) {
    names.add(gsi.partitionKey);
    names.add(gsi.sortKey);
  }
  return [...names];
}
