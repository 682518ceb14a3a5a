/**
 * The DynamoDB index table, defined once. The CDK construct (lib/) and the emulator provisioning
 * helper (lambda/aws/provision.ts) both build the table from this; runtime code uses the names.
 *
 * Every item has a string partition key `pk` and sort key `sk`. Event pointers carry the GSI
 * attributes below; each GSI partition key starts with the tenant so one tenant's query can never
 * read another's items, and each GSI sorts by `<time>#<event id>` (ISO time, then ULID).
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
  actor: { indexName: "by-actor", partitionKey: "actor_key", sortKey: TIME_SORT_KEY },
  action: { indexName: "by-action", partitionKey: "action_key", sortKey: TIME_SORT_KEY },
  resource: { indexName: "by-resource", partitionKey: "resource_key", sortKey: TIME_SORT_KEY },
  session: { indexName: "by-session", partitionKey: "session_key", sortKey: TIME_SORT_KEY },
  request: { indexName: "by-request", partitionKey: "request_key", sortKey: TIME_SORT_KEY },
  /** Sharded so that one tenant's write rate is spread over TIME_SHARDS partitions. */
  time: { indexName: "by-time", partitionKey: "time_shard_key", sortKey: TIME_SORT_KEY },
} as const satisfies Record<string, GlobalIndexDefinition>;

export type GlobalIndexName = keyof typeof GLOBAL_INDEXES;

/** Number of partitions of the time index per tenant. Changing it requires a reindex. */
export const TIME_SHARDS = 8;

/** Every key attribute with its DynamoDB type: all strings. */
export function keyAttributeNames(): string[] {
  const names = new Set<string>([PARTITION_KEY, SORT_KEY]);
  for (const gsi of Object.values(GLOBAL_INDEXES)) {
    names.add(gsi.partitionKey);
    names.add(gsi.sortKey);
  }
  return [...names];
}
