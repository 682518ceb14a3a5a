/**
 * The Athena contract on a real SQL engine: the archive's objects (as files, same keys) loaded into
 * DuckDB with exactly the Glue tables' column names and types, the view and named queries run with a
 * small, stated dialect adaptation.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { DuckDBConnection } from "@duckdb/node-api";
import {
  EVENTS_COLUMNS,
  EVENTS_PARTITION_KEYS,
  type GlueColumn,
  type HiveType,
  LINKS_COLUMNS,
  parseHiveType,
  quoteIdentifier,
  renderHiveType,
  TABLE_NAMES,
} from "../../lambda/core/athena";
import type { TestArchive } from "./aws";

/**
 * Hive (Glue) type → DuckDB type, for every type the tables use:
 * string → VARCHAR, int → INTEGER, bigint → BIGINT, boolean → BOOLEAN, double → DOUBLE,
 * array<T> → T[], struct<a:T,…> → STRUCT("a" T, …).
 */
export function duckDbTypeOf(type: HiveType): string {
  switch (type.kind) {
    case "string":
      return "VARCHAR";
    case "int":
      return "INTEGER";
    case "bigint":
      return "BIGINT";
    case "boolean":
      return "BOOLEAN";
    case "double":
      return "DOUBLE";
    case "array":
      return `${duckDbTypeOf(type.item)}[]`;
    case "struct":
      return `STRUCT(${type.fields.map((f) => `${quoteIdentifier(f.name)} ${duckDbTypeOf(f.type)}`).join(", ")})`;
  }
}

/**
 * Athena (engine 3, Trino) SQL → DuckDB SQL. The only differences the view and the named queries hit:
 *  1. regexp_like(s, p)          → regexp_matches(s, p)      same "p matches somewhere in s" meaning
 *  2. from_iso8601_timestamp(x)  → CAST(x AS TIMESTAMPTZ)    DuckDB parses ISO-8601 with Z or an offset
 *  3. current_timestamp          → TIMESTAMPTZ '<now>'        a fixed clock, so "last 7 days" is testable
 * Not rewritten: "$path" is a real column of the DuckDB tables holding what Athena's pseudo column holds
 * (s3://<bucket>/<key>, filled from read_json's filename at load); `?` placeholders, `||`,
 * regexp_extract, CAST(… AS DATE/VARCHAR/BIGINT), INTERVAL '7' DAY and row field access are the same.
 */
export function toDuckDbDialect(sql: string, now: string): string {
  const rewritten = sql
    .replace(/\bregexp_like\(/g, "regexp_matches(")
    .replace(/\bfrom_iso8601_timestamp\(([^()]*)\)/g, "CAST($1 AS TIMESTAMPTZ)")
    .replace(/\bcurrent_timestamp\b/g, `TIMESTAMPTZ '${now}'`);
  if (/from_iso8601_timestamp|regexp_like|current_timestamp/.test(rewritten)) {
    throw new Error(`an Athena function was left unadapted in:\n${rewritten}`);
  }
  return rewritten;
}

/** Writes every object under `prefixes` to `root/<key>`: the bucket as a directory tree. */
export async function downloadArchive(
  archive: TestArchive,
  root: string,
  prefixes: readonly string[],
): Promise<string[]> {
  const keys: string[] = [];
  for (const prefix of prefixes) {
    let token: string | undefined;
    do {
      const page = await archive.s3.send(
        new ListObjectsV2Command({ Bucket: archive.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) keys.push(object.Key as string);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  for (const key of keys) {
    const object = await archive.s3.send(new GetObjectCommand({ Bucket: archive.bucket, Key: key }));
    const bytes = await (
      object.Body as { transformToByteArray(): Promise<Uint8Array> }
    ).transformToByteArray();
    const path = join(root, key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, bytes);
  }
  return keys.sort();
}

/** read_json's `columns` argument for Glue columns: {'name': 'DUCKDB TYPE', …}. */
function columnsArgument(columns: readonly GlueColumn[]): string {
  return `{${columns.map((c) => `'${c.name}': '${duckDbTypeOf(parseHiveType(c.type)).replace(/'/g, "''")}'`).join(", ")}}`;
}

const sqlString = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * Creates the tables `events` and `links` from the files under `root`, with exactly the Glue columns
 * (names and types) plus what Athena adds: `events`' partition columns dt and hr (strings, from the
 * key, as partition projection yields them) and a "$path" column `s3://<bucket>/<key>`.
 *
 * As in Athena, every file under a partition's prefix is read (events/dt=…/hr=…/*) and every file under
 * chains/, recursively; events are gzip JSON lines, links plain JSON. Keys a table does not name are
 * ignored by read_json, as by the SerDe: that is why the contract test checks key coverage itself.
 */
export async function loadArchiveTables(
  connection: DuckDBConnection,
  root: string,
  bucket: string,
): Promise<void> {
  const s3Path = `${sqlString(`s3://${bucket}/`)} || substr(filename, ${root.length + 2})`;
  const names = (columns: readonly GlueColumn[]) => columns.map((c) => quoteIdentifier(c.name)).join(", ");
  const hiveTypes = `{${EVENTS_PARTITION_KEYS.map((k) => `'${k.name}': '${duckDbTypeOf(parseHiveType(k.type))}'`).join(", ")}}`;
  await connection.run(`SET TimeZone = 'UTC'`);
  await connection.run(
    `CREATE TABLE ${quoteIdentifier(TABLE_NAMES.events)} AS
     SELECT ${names(EVENTS_COLUMNS)}, ${names(EVENTS_PARTITION_KEYS)}, ${s3Path} AS "$path"
     FROM read_json(${sqlString(join(root, "events", "dt=*", "hr=*", "*"))},
       format = 'newline_delimited', compression = 'gzip', columns = ${columnsArgument(EVENTS_COLUMNS)},
       filename = true, hive_partitioning = true, hive_types = ${hiveTypes})`,
  );
  await connection.run(
    `CREATE TABLE ${quoteIdentifier(TABLE_NAMES.links)} AS
     SELECT ${names(LINKS_COLUMNS)}, ${s3Path} AS "$path"
     FROM read_json(${sqlString(join(root, "chains", "**"))},
       format = 'newline_delimited', compression = 'uncompressed', columns = ${columnsArgument(LINKS_COLUMNS)},
       filename = true)`,
  );
}

/**
 * Every key path of `value` (a parsed record line) that the columns do not cover, or cover with a type
 * the value cannot have: `actor.verified: not in the table`. Nested objects must be structs with that
 * field, arrays arrays, integers int/bigint (int within 32 bits), strings string, booleans boolean.
 * null is any type. Empty when the table can hold every field of the value.
 */
export function uncoveredPaths(value: unknown, columns: readonly GlueColumn[]): string[] {
  const root: HiveType = {
    kind: "struct",
    fields: columns.map((c) => ({ name: c.name, type: parseHiveType(c.type) })),
  };
  const problems = new Set<string>();
  walk(value, root, "", problems);
  return [...problems];
}

function walk(value: unknown, type: HiveType | undefined, path: string, problems: Set<string>): void {
  if (type === undefined) {
    problems.add(`${path}: not in the table`);
    return;
  }
  if (value === null || value === undefined) return;
  const wrong = (what: string) =>
    problems.add(`${path}: ${what} value, but the column type is ${renderHiveType(type)}`);
  if (Array.isArray(value)) {
    if (type.kind !== "array") return void wrong("array");
    for (const item of value) walk(item, type.item, `${path}[]`, problems);
    return;
  }
  switch (typeof value) {
    case "object": {
      if (type.kind !== "struct") return void wrong("object");
      for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
        const field = type.fields.find((f) => f.name === key);
        walk(child, field?.type, path === "" ? key : `${path}.${key}`, problems);
      }
      return;
    }
    case "string":
      if (type.kind !== "string") wrong("string");
      return;
    case "boolean":
      if (type.kind !== "boolean") wrong("boolean");
      return;
    case "number": {
      const number = value as number;
      const fits =
        type.kind === "double" ||
        (type.kind === "bigint" && Number.isSafeInteger(number)) ||
        (type.kind === "int" && Number.isInteger(number) && number >= -(2 ** 31) && number < 2 ** 31);
      if (!fits) wrong(`number ${number}`);
      return;
    }
    default:
      wrong(typeof value);
  }
}
