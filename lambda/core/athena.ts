/**
 * The Athena side of the archive (DESIGN.md "Search"), as pure data: the Glue columns of the `events`
 * and `links` tables, the `linked_events` view and the named queries over it. lib/search.ts turns these
 * into CloudFormation; the DuckDB contract test runs the same SQL over files the real ingest path wrote.
 *
 * Nothing here is hand-listed where a definition already exists: the events columns are generated from
 * EventRecordSchema (via zod's JSON Schema), the links columns from a canonical ChainLink, and the view's
 * column list from the tables' columns.
 */
import { Buffer } from "node:buffer";
import * as z from "zod";
import { type ChainLink, GENESIS_PREV, parseLink, serializeLink } from "./link";
import { CHAIN_ID_PATTERN, CHAINS_PREFIX, dataObjectKey, EVENTS_PARTITIONS, SEQ_DIGITS } from "./paths";
import { EventRecordSchema } from "./schema";

// ---------------------------------------------------------------------------------------------------
// Hive types
// ---------------------------------------------------------------------------------------------------

/** The Hive types the archive's JSON needs; anything else fails generation instead of guessing. */
export type HiveType =
  | { readonly kind: "string" | "int" | "bigint" | "boolean" | "double" }
  | { readonly kind: "array"; readonly item: HiveType }
  | { readonly kind: "struct"; readonly fields: readonly HiveField[] };

export interface HiveField {
  readonly name: string;
  readonly type: HiveType;
}

/** A Glue column as CloudFormation takes it: the Hive type as text (`struct<sub:string,…>`). */
export interface GlueColumn {
  readonly name: string;
  readonly type: string;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A JSON Schema node as zod's toJSONSchema writes it (only the members read here). */
interface JsonSchemaNode {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
  properties?: Record<string, JsonSchemaNode>;
  minimum?: number;
  maximum?: number;
  $ref?: string;
}

/**
 * The Hive type of a JSON Schema node. Nullability is dropped (every Hive column is nullable);
 * integers are `int` when the schema bounds them to 32 bits and `bigint` otherwise (zod's `.int()` is
 * bounded by ±2^53, so epoch-second claims like token_exp become bigint and survive 2038).
 */
export function hiveTypeOfJsonSchema(node: JsonSchemaNode, path = "$"): HiveType {
  if (node.$ref !== undefined) throw new Error(`${path}: $ref is not supported; inline the schema`);
  if (node.anyOf !== undefined) {
    const nonNull = node.anyOf.filter((member) => !(member.type === "null"));
    if (nonNull.length !== 1) throw new Error(`${path}: a union other than "T or null" has no Hive type`);
    return hiveTypeOfJsonSchema(nonNull[0] as JsonSchemaNode, path);
  }
  const types = (Array.isArray(node.type) ? node.type : [node.type]).filter((t) => t !== "null");
  if (types.length !== 1) throw new Error(`${path}: type ${JSON.stringify(node.type)} has no Hive type`);
  const type = types[0];
  switch (type) {
    case "string":
      return { kind: "string" };
    case "boolean":
      return { kind: "boolean" };
    case "integer":
      return { kind: fitsInt32(node.minimum, node.maximum) ? "int" : "bigint" };
    case "number":
      // z.literal(1) is `{type: "number", const: 1}`: an integer constant is an integer column.
      if (typeof node.const === "number" && Number.isInteger(node.const)) {
        return { kind: fitsInt32(node.const, node.const) ? "int" : "bigint" };
      }
      // z.literal([1, 2]) (the record version) is `{type: "number", enum: [1, 2]}`: likewise.
      if (node.enum?.length && node.enum.every((member) => Number.isInteger(member))) {
        const members = node.enum as number[];
        return { kind: fitsInt32(Math.min(...members), Math.max(...members)) ? "int" : "bigint" };
      }
      return { kind: "double" };
    case "array":
      if (node.items === undefined) throw new Error(`${path}: an array without items has no Hive type`);
      return { kind: "array", item: hiveTypeOfJsonSchema(node.items, `${path}[]`) };
    case "object":
      return {
        kind: "struct",
        fields: Object.entries(node.properties ?? {}).map(([name, child]) => ({
          name,
          type: hiveTypeOfJsonSchema(child, `${path}.${name}`),
        })),
      };
    default:
      throw new Error(`${path}: JSON Schema type ${String(type)} has no Hive type`);
  }
}

function fitsInt32(minimum: number | undefined, maximum: number | undefined): boolean {
  return minimum !== undefined && maximum !== undefined && minimum >= INT32_MIN && maximum <= INT32_MAX;
}

/** Hive's spelling, as Glue stores it: `array<string>`, `struct<a:string,b:bigint>`. */
export function renderHiveType(type: HiveType): string {
  switch (type.kind) {
    case "array":
      return `array<${renderHiveType(type.item)}>`;
    case "struct":
      return `struct<${type.fields.map((field) => `${field.name}:${renderHiveType(field.type)}`).join(",")}>`;
    default:
      return type.kind;
  }
}

/** Parses a Hive type string (the inverse of renderHiveType), so consumers can read Glue's own text. */
export function parseHiveType(text: string): HiveType {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`invalid Hive type "${text}" at ${at}: ${why}`);
  };
  const word = (): string => {
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at));
    if (!match) return fail("expected a name");
    at += match[0].length;
    return match[0];
  };
  const expect = (char: string) => {
    if (text[at] !== char) fail(`expected "${char}"`);
    at++;
  };
  const type = (): HiveType => {
    const name = word().toLowerCase();
    if (name === "array") {
      expect("<");
      const item = type();
      expect(">");
      return { kind: "array", item };
    }
    if (name === "struct") {
      expect("<");
      const fields: HiveField[] = [];
      do {
        if (fields.length > 0) expect(",");
        const fieldName = word();
        expect(":");
        fields.push({ name: fieldName, type: type() });
      } while (text[at] === ",");
      expect(">");
      return { kind: "struct", fields };
    }
    if (name === "string" || name === "int" || name === "bigint" || name === "boolean" || name === "double") {
      return { kind: name };
    }
    return fail(`unsupported type ${name}`);
  };
  const result = type();
  if (at !== text.length) fail("trailing text");
  return result;
}

/**
 * Presto/Trino's spelling of a Hive type, for the view's column list in its Presto-view JSON:
 * string → varchar, int → integer, array<T> → array(T), struct<a:T> → row(a T).
 */
export function prestoTypeOf(type: HiveType): string {
  switch (type.kind) {
    case "string":
      return "varchar";
    case "int":
      return "integer";
    case "array":
      return `array(${prestoTypeOf(type.item)})`;
    case "struct":
      return `row(${type.fields.map((field) => `${field.name} ${prestoTypeOf(field.type)}`).join(", ")})`;
    default:
      return type.kind;
  }
}

function columnsOf(type: HiveType, what: string): GlueColumn[] {
  if (type.kind !== "struct") throw new Error(`${what} is not an object`);
  return type.fields.map((field) => ({ name: field.name, type: renderHiveType(field.type) }));
}

// ---------------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------------

export const TABLE_NAMES = { events: "events", links: "links", view: "linked_events" } as const;

/**
 * The `events` table's columns: one per EventRecordSchema key, in stored order, snake_case as stored
 * (Athena lowercases names; the record's keys already are). Generated from the schema's JSON Schema
 * (output side: what is stored), so a new record field is a new column without anyone listing it.
 */
export const EVENTS_COLUMNS: readonly GlueColumn[] = columnsOf(
  hiveTypeOfJsonSchema(
    z.toJSONSchema(EventRecordSchema, { io: "output", unrepresentable: "throw" }) as JsonSchemaNode,
  ),
  "EventRecordSchema",
);

/**
 * Partition columns of `events`, from the key dataObjectKey (lambda/core/paths.ts) builds:
 * `events/dt=YYYY-MM-DD/hr=HH/…` (strings, as in the key).
 */
export const EVENTS_PARTITION_KEYS: readonly GlueColumn[] = [
  { name: EVENTS_PARTITIONS.date, type: "string" },
  { name: EVENTS_PARTITIONS.hour, type: "string" },
];

/**
 * A canonical link: typed as ChainLink, so a field added to the format fails to compile here until it
 * is given a value, and round-tripped through serializeLink/parseLink, which accept exactly the
 * format's keys. The links columns are read off this value, so they cover the format exactly.
 */
const SAMPLE_LINK: ChainLink = parseLink(
  serializeLink({
    v: 1,
    chain: "0",
    seq: 0,
    prev: GENESIS_PREV,
    time: "2026-01-01T00:00:00.000Z",
    batch: {
      key: dataObjectKey(new Date("2026-01-01T00:00:00.000Z"), "a".repeat(64)),
      sha256: "a".repeat(64),
      root: "b".repeat(64),
      count: 1,
      first_time: "2026-01-01T00:00:00.000Z",
      last_time: "2026-01-01T00:00:00.000Z",
    },
  }),
);

/** Hive type of a JSON value of the link format. `v` is the format version: a small int, like the record's. */
function hiveTypeOfValue(value: unknown, path: string): HiveType {
  if (typeof value === "string") return { kind: "string" };
  if (typeof value === "boolean") return { kind: "boolean" };
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return { kind: "double" };
    // seq and count are safe integers (up to 2^53): bigint. Only the version is an int.
    return { kind: path === "$.v" ? "int" : "bigint" };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error(`${path}: cannot type an empty array`);
    return { kind: "array", item: hiveTypeOfValue(value[0], `${path}[]`) };
  }
  if (typeof value === "object" && value !== null) {
    return {
      kind: "struct",
      fields: Object.entries(value).map(([name, child]) => ({
        name,
        type: hiveTypeOfValue(child, `${path}.${name}`),
      })),
    };
  }
  throw new Error(`${path}: ${String(value)} has no Hive type`);
}

/** The `links` table's columns, one per chain link key (`batch` a struct), generated from the format. */
export const LINKS_COLUMNS: readonly GlueColumn[] = columnsOf(hiveTypeOfValue(SAMPLE_LINK, "$"), "ChainLink");

// ---------------------------------------------------------------------------------------------------
// The view
// ---------------------------------------------------------------------------------------------------

/** Double-quoted SQL identifier (Presto, Trino and DuckDB alike). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The view's columns: every events column and the partition columns, nothing else (no link fields). */
export const LINKED_EVENTS_COLUMNS: readonly GlueColumn[] = [...EVENTS_COLUMNS, ...EVENTS_PARTITION_KEYS];

/**
 * A canonical link key as Athena's "$path" shows it: `s3://<bucket>/chains/<chain>/<20-digit seq>.json`.
 * Built from the pieces parseLinkKey's pattern is built from (lambda/core/paths.ts), spelled for a SQL
 * string literal: `[.]`, not a backslash, for a literal dot. The seq is not captured here; SEQ_PATH_PATTERN
 * captures it.
 */
const LINK_PATH_PATTERN = `^s3://[^/]+/${CHAINS_PREFIX}${CHAIN_ID_PATTERN}/[0-9]{${SEQ_DIGITS}}[.]json$`;
/** The chain directory of a link's "$path" (group 1: the chain, compared with the link's own `chain`). */
const CHAIN_PATH_PATTERN = `/${CHAINS_PREFIX}([0-9]+)/`;
/** The seq of a link's "$path" (group 1, compared with the link's own `seq`). */
const SEQ_PATH_PATTERN = `/([0-9]{${SEQ_DIGITS}})[.]json$`;

/**
 * `linked_events`: only the events whose data object a chain link names. An object under events/ that
 * no link names (a failed ingest's leftover, or one planted by someone with write access) is in the
 * `events` table but never in this view, so no named query sees it.
 *
 * The match is exact: the object's full "$path" (`s3://bucket/events/…/<sha256>.jsonl.gz`) must equal
 * the link's bucket prefix (taken from the link's own "$path": same bucket, no bucket name in the SQL)
 * plus the link's `batch.key`. Only links at a canonical key whose `chain` and `seq` agree with that key
 * count, so a stray JSON object elsewhere under chains/ vouches for nothing. A semi-join (IN), not a
 * join: an event appears once even if two links named its object.
 *
 * This is a filter, not a proof: `sealtrail verify` checks hashes, chains and checkpoints.
 */
export const LINKED_EVENTS_SQL: string = [
  "SELECT",
  LINKED_EVENTS_COLUMNS.map((column) => `  e.${quoteIdentifier(column.name)}`).join(",\n"),
  `FROM ${quoteIdentifier(TABLE_NAMES.events)} e`,
  `WHERE e."$path" IN (`,
  `  SELECT regexp_extract(l."$path", '^s3://[^/]+/') || l."batch"."key"`,
  `  FROM ${quoteIdentifier(TABLE_NAMES.links)} l`,
  `  WHERE regexp_like(l."$path", '${LINK_PATH_PATTERN}')`,
  `    AND regexp_extract(l."$path", '${CHAIN_PATH_PATTERN}', 1) = l."chain"`,
  `    AND CAST(regexp_extract(l."$path", '${SEQ_PATH_PATTERN}', 1) AS BIGINT) = l."seq"`,
  ")",
].join("\n");

/** The JSON Athena stores (base64) in a view's ViewOriginalText. */
export interface PrestoViewDefinition {
  readonly originalSql: string;
  readonly catalog: string;
  readonly schema: string;
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>;
}

export const PRESTO_VIEW_PREFIX = "/* Presto View: ";
export const PRESTO_VIEW_SUFFIX = " */";
/** ViewExpandedText of every Athena (Presto) view. */
export const PRESTO_VIEW_EXPANDED_TEXT = "/* Presto View */";
/** Athena's name for the Glue Data Catalog. */
export const ATHENA_CATALOG = "awsdatacatalog";

/** The Presto-view definition of `linked_events` in `database`. */
export function linkedEventsView(database: string): PrestoViewDefinition {
  return {
    originalSql: LINKED_EVENTS_SQL,
    catalog: ATHENA_CATALOG,
    schema: database,
    columns: LINKED_EVENTS_COLUMNS.map((column) => ({
      name: column.name,
      type: prestoTypeOf(parseHiveType(column.type)),
    })),
  };
}

/**
 * ViewOriginalText of an Athena view created through Glue rather than `CREATE VIEW`: the view's JSON,
 * base64-encoded, inside `/* Presto View: … *\/` (the form Athena itself writes and Trino reads).
 */
export function encodePrestoView(view: PrestoViewDefinition): string {
  return `${PRESTO_VIEW_PREFIX}${Buffer.from(JSON.stringify(view), "utf8").toString("base64")}${PRESTO_VIEW_SUFFIX}`;
}

// ---------------------------------------------------------------------------------------------------
// Named queries
// ---------------------------------------------------------------------------------------------------

export interface QueryParameter {
  readonly name: string;
  readonly description: string;
  readonly example: string;
}

/**
 * A saved query over `linked_events`. Parameters are Athena's positional `?` execution parameters
 * (the console asks for them in order; the API takes ExecutionParameters), listed in order in
 * `parameters`. Every parameter is a string literal value: '2026-01-31', 'alice'.
 */
export interface NamedQuery {
  readonly name: string;
  readonly description: string;
  readonly parameters: readonly QueryParameter[];
  readonly sql: string;
}

/** Actions that count as a login: the last segment of the action is one of these words. */
export const LOGIN_ACTION_PATTERN = "(^|[._:/-])(login|logon|signin|sign_in|sign-in|authenticate)$";
/** Actions that count as a permission change: a segment names permissions, roles, grants or policies. */
export const PERMISSION_ACTION_PATTERN =
  "(^|[._:/-])(permission|permissions|role|roles|grant|grants|revoke|policy|policies|acl|acls|privilege|privileges)([._:/-]|$)";

const FIRST_DATE: QueryParameter = {
  name: "first_date",
  description: "first UTC day to read, YYYY-MM-DD (partition dt: prunes what Athena scans)",
  example: "2026-11-01",
};
const LAST_DATE: QueryParameter = {
  name: "last_date",
  description: "last UTC day to read, YYYY-MM-DD (inclusive)",
  example: "2026-11-30",
};

/** `dt` between the two date parameters: partition projection turns this into the S3 prefixes read. */
const DATE_RANGE = `${EVENTS_PARTITIONS.date} BETWEEN ? AND ?`;

export const NAMED_QUERIES: readonly NamedQuery[] = [
  {
    name: "actions_by_user_in_time_range",
    description: "Everything one user (actor sub) did between two instants, oldest first.",
    parameters: [
      { name: "actor_sub", description: "the actor's subject (actor.sub)", example: "alice" },
      { ...FIRST_DATE, description: `${FIRST_DATE.description}: the UTC date of from` },
      { ...LAST_DATE, description: `${LAST_DATE.description}: the UTC date of to` },
      { name: "from", description: "ISO-8601 instant, inclusive", example: "2026-11-01T00:00:00Z" },
      { name: "to", description: "ISO-8601 instant, exclusive", example: "2026-12-01T00:00:00Z" },
    ],
    sql: `SELECT "time", "action", "outcome", "resource"."type" AS resource_type, "resource"."id" AS resource_id,
  "actor"."iss" AS actor_iss, "actor"."session_id" AS session_id, "actor"."verified" AS actor_verified,
  "http"."source_ip" AS source_ip, "tenant", "id"
FROM linked_events
WHERE "actor"."sub" = ?
  AND ${DATE_RANGE}
  AND from_iso8601_timestamp("time") >= from_iso8601_timestamp(?)
  AND from_iso8601_timestamp("time") < from_iso8601_timestamp(?)
ORDER BY "time", "id"`,
  },
  {
    name: "who_accessed_resource",
    description: "Who acted on one resource (type and id), with what action and outcome, oldest first.",
    parameters: [
      { name: "resource_type", description: "resource.type", example: "document" },
      { name: "resource_id", description: "resource.id", example: "42" },
      FIRST_DATE,
      LAST_DATE,
    ],
    sql: `SELECT "actor"."sub" AS actor_sub, "actor"."iss" AS actor_iss, "actor"."verified" AS actor_verified,
  "action", "outcome", "time", "id"
FROM linked_events
WHERE "resource"."type" = ?
  AND "resource"."id" = ?
  AND ${DATE_RANGE}
ORDER BY "time", "id"`,
  },
  {
    name: "failed_logins_by_source_ip",
    description:
      "Failed or denied logins per source IP of the audited request (http.source_ip; NULL when the " +
      `reporter sent none), most first. A login is an action matching ${LOGIN_ACTION_PATTERN}.`,
    parameters: [FIRST_DATE, LAST_DATE],
    sql: `SELECT "http"."source_ip" AS source_ip, count(*) AS failed_logins,
  count(DISTINCT "actor"."sub") AS actors, min("time") AS first_time, max("time") AS last_time
FROM linked_events
WHERE "outcome" IN ('failure', 'denied')
  AND regexp_like("action", '${LOGIN_ACTION_PATTERN}')
  AND ${DATE_RANGE}
GROUP BY "http"."source_ip"
ORDER BY failed_logins DESC, source_ip`,
  },
  {
    name: "permission_changes_last_7_days",
    description:
      "Permission, role, grant and policy changes of the last 7 days (any outcome), oldest first. A " +
      `permission change is an action matching ${PERMISSION_ACTION_PATTERN}.`,
    parameters: [],
    sql: `SELECT "time", "action", "outcome", "actor"."sub" AS actor_sub, "actor"."verified" AS actor_verified,
  "resource"."type" AS resource_type, "resource"."id" AS resource_id, "details", "id"
FROM linked_events
WHERE regexp_like("action", '${PERMISSION_ACTION_PATTERN}')
  AND ${EVENTS_PARTITIONS.date} >= CAST(CAST(current_timestamp - INTERVAL '7' DAY AS DATE) AS VARCHAR)
  AND from_iso8601_timestamp("time") >= current_timestamp - INTERVAL '7' DAY
ORDER BY "time", "id"`,
  },
  {
    name: "unverified_actors",
    description:
      "Events whose actor was asserted by the reporter, not proven by a token (actor.verified = false), " +
      "with the reporter that asserted it, oldest first.",
    parameters: [FIRST_DATE, LAST_DATE],
    sql: `SELECT "actor"."sub" AS actor_sub, "actor"."iss" AS actor_iss, "reporter"."sub" AS reporter_sub,
  "reporter"."client_id" AS reporter_client_id, "action", "outcome", "time", "id"
FROM linked_events
WHERE "actor"."verified" = false
  AND ${DATE_RANGE}
ORDER BY "time", "id"`,
  },
  {
    name: "session_timeline",
    description: "One session's events (actor.session_id) in order, with the audited HTTP request of each.",
    parameters: [
      { name: "session_id", description: "actor.session_id", example: "sess-7f3a" },
      FIRST_DATE,
      LAST_DATE,
    ],
    sql: `SELECT "time", "action", "outcome", "actor"."sub" AS actor_sub, "resource"."type" AS resource_type,
  "resource"."id" AS resource_id, "http"."method" AS method, "http"."endpoint" AS endpoint,
  "http"."status" AS status, "http"."source_ip" AS source_ip, "id"
FROM linked_events
WHERE "actor"."session_id" = ?
  AND ${DATE_RANGE}
ORDER BY "time", "id"`,
  },
];

/** The text saved in Athena: a header documenting each `?` in order, then the SQL. */
export function namedQueryText(query: NamedQuery): string {
  const header = [
    `-- ${query.name}: ${query.description}`,
    ...(query.parameters.length === 0
      ? ["-- No parameters."]
      : [
          "-- Parameters, in order (Athena asks for each placeholder when the query runs):",
          ...query.parameters.map(
            (p, i) => `--   ${i + 1}. ${p.name}: ${p.description}; e.g. '${p.example}'`,
          ),
        ]),
  ];
  return `${header.join("\n")}\n${query.sql}`;
}
