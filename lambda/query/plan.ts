/**
 * Which DynamoDB Queries serve a search. Never a Scan.
 *
 * - A request id is a per-event key: one Query of the `by-request` GSI of the pointer items, with the
 *   time range as the sort-key condition and every other filter as a FilterExpression (planQuery).
 * - Anything else reads postings (planPostings): the partitions of the most selective dimension given
 *   (session, resource, actor, action; else time), over the time range, merged in order
 *   (search-pages.ts); the other filters are matched on the records read back. Beside them, the same
 *   search on the legacy GSIs (planQuery), which answer for pointers indexed before postings existed.
 */
import {
  compositeKey,
  POINTER_FIELDS,
  POSTING_DIMENSIONS,
  type PostingDimension,
  postingPartitionKey,
} from "../core/index-items";
import { GLOBAL_INDEXES, type GlobalIndexDefinition, POSTING_SHARDS, TIME_SHARDS } from "../core/index-table";
import type { EventFilters } from "./params";

export interface FilterExpression {
  readonly expression: string;
  readonly names: Readonly<Record<string, string>>;
  readonly values: Readonly<Record<string, unknown>>;
}

export interface QueryPlan {
  readonly index: GlobalIndexDefinition;
  /** GSI partition key values: one, or TIME_SHARDS for the time index. */
  readonly partitions: readonly string[];
  /** Inclusive bounds on the GSI sort key, `<time>#<id>`. */
  readonly lower?: string;
  readonly upper?: string;
  readonly filter?: FilterExpression;
}

/** Pointer-item attribute holding each filter's value (lambda/core/index-items.ts). */
const FILTER_ATTRIBUTES = {
  actor: POINTER_FIELDS.actorSub,
  actor_iss: POINTER_FIELDS.actorIss,
  action: POINTER_FIELDS.action,
  resource_type: POINTER_FIELDS.resourceType,
  resource_id: POINTER_FIELDS.resourceId,
  outcome: POINTER_FIELDS.outcome,
  session_id: POINTER_FIELDS.sessionId,
  request_id: POINTER_FIELDS.requestId,
} as const satisfies Partial<Record<keyof EventFilters, string>>;

export type FilterName = keyof typeof FILTER_ATTRIBUTES;

/**
 * Selective filters, most selective first: a request id names one request, a session a few
 * dozen events, a resource or an actor more, an action the most. The first one given picks the GSI.
 */
const SELECTIVE: ReadonlyArray<{
  readonly index: GlobalIndexDefinition;
  readonly uses: readonly FilterName[];
}> = [
  { index: GLOBAL_INDEXES.request, uses: ["request_id"] },
  { index: GLOBAL_INDEXES.session, uses: ["session_id"] },
  { index: GLOBAL_INDEXES.resource, uses: ["resource_type", "resource_id"] },
  { index: GLOBAL_INDEXES.actor, uses: ["actor"] },
  { index: GLOBAL_INDEXES.action, uses: ["action"] },
];

/**
 * The upper sort-key bound of a time: `<time>#<id>` ≤ `<time>$` for every id, because "$" sorts
 * right after "#", and every later time (same fixed-width ISO form) sorts after it.
 */
function upperBoundOf(time: string): string {
  return `${time}$`;
}

/** Every combination of one value per filter, in order: the partitions a keyed search reads. */
function combinations(choices: readonly (readonly string[])[]): string[][] {
  return choices.reduce<string[][]>(
    (partial, values) => partial.flatMap((prefix) => values.map((value) => [...prefix, value])),
    [[]],
  );
}

/**
 * The plan of a search. `aliases` gives a second value a filter also matches: the keyed pseudonym
 * under which records sealed by a privacy policy are indexed (lambda/privacy/record-privacy.ts),
 * beside the plain value records written before it carry. An aliased key filter reads both GSI
 * partitions, merged in order; an aliased FilterExpression term matches either value.
 */
export type FilterAliases = Readonly<Partial<Record<FilterName, string>>>;

/** The posting partitions and sort-key range a search reads, and the time range its entries must fall in. */
export interface PostingPlan {
  readonly dimension: PostingDimension;
  readonly partitions: readonly string[];
  /** Inclusive bounds on the posting sort key, `<entries' time>#…`. */
  readonly lower?: string;
  readonly upper?: string;
  readonly from?: string;
  readonly to?: string;
}

/** A filter's value, and the alias (a privacy pseudonym) it also matches. */
function valuesOf(filters: EventFilters, aliases: FilterAliases, name: FilterName): string[] {
  const alias = aliases[name];
  return alias === undefined ? [filters[name] as string] : [filters[name] as string, alias];
}

/** Most selective first, as for the GSIs; time when no dimension's filters are given. */
const POSTING_ORDER: readonly PostingDimension[] = ["session", "resource", "actor", "action", "time"];

/** The postings plan of a search; undefined for a search by request id (planQuery serves it). */
export function planPostings(
  tenant: string,
  filters: EventFilters,
  aliases: FilterAliases = {},
): PostingPlan | undefined {
  if (filters.request_id !== undefined) return undefined;
  const dimension = POSTING_ORDER.find((name) =>
    POSTING_DIMENSIONS[name].filters.every((filter) => filters[filter] !== undefined),
  ) as PostingDimension;
  const { filters: keyed, sharded } = POSTING_DIMENSIONS[dimension];
  const valueSets = combinations(keyed.map((name) => valuesOf(filters, aliases, name)));
  const shards = sharded ? Array.from({ length: POSTING_SHARDS }, (_, shard) => shard) : [undefined];
  return {
    dimension,
    partitions: valueSets.flatMap((values) =>
      shards.map((shard) => postingPartitionKey(tenant, dimension, values, shard)),
    ),
    // A posting's entries share the time it sorts by, so the time range bounds the postings exactly.
    lower: filters.from,
    upper: filters.to === undefined ? undefined : upperBoundOf(filters.to),
    from: filters.from,
    to: filters.to,
  };
}

export function planQuery(tenant: string, filters: EventFilters, aliases: FilterAliases = {}): QueryPlan {
  const selective = SELECTIVE.find(({ uses }) => uses.every((name) => filters[name] !== undefined));
  const keyed = new Set<FilterName>(selective?.uses ?? []);
  const partitions = selective
    ? combinations(selective.uses.map((name) => valuesOf(filters, aliases, name))).map((parts) =>
        compositeKey(tenant, ...parts),
      )
    : Array.from({ length: TIME_SHARDS }, (_, shard) => compositeKey(tenant, String(shard)));

  const conditions: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  for (const name of Object.keys(FILTER_ATTRIBUTES) as FilterName[]) {
    const value = filters[name];
    if (value === undefined || keyed.has(name)) continue;
    const i = conditions.length;
    names[`#f${i}`] = FILTER_ATTRIBUTES[name];
    const alias = aliases[name];
    if (alias === undefined) {
      values[`:f${i}`] = value;
      conditions.push(`#f${i} = :f${i}`);
    } else {
      values[`:f${i}`] = value;
      values[`:f${i}b`] = alias;
      conditions.push(`#f${i} IN (:f${i}, :f${i}b)`);
    }
  }

  return {
    index: selective?.index ?? GLOBAL_INDEXES.time,
    partitions,
    lower: filters.from,
    upper: filters.to === undefined ? undefined : upperBoundOf(filters.to),
    filter: conditions.length > 0 ? { expression: conditions.join(" AND "), names, values } : undefined,
  };
}
