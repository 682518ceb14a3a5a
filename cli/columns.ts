/**
 * The columns `sealtrail query` can print as a table or CSV, each a field of the stored record
 * (lambda/core/schema.ts EventRecordSchema). The names are the documented `--columns` values.
 */
import { InvalidArgumentError } from "commander";
import type { EventRecord } from "../lambda/core/schema";

type Cell = (record: EventRecord) => string | number | boolean | null | undefined;

/** Column name → the record field it shows. Order here is the order of `--columns all`. */
export const COLUMNS = {
  time: (r) => r.time,
  occurred_at: (r) => r.occurred_at,
  id: (r) => r.id,
  action: (r) => r.action,
  outcome: (r) => r.outcome,
  actor: (r) => r.actor.sub,
  actor_iss: (r) => r.actor.iss,
  verified: (r) => r.actor.verified,
  session_id: (r) => r.actor.session_id,
  reporter: (r) => r.reporter.sub,
  source_ip: (r) => r.http?.source_ip,
  user_agent: (r) => r.http?.user_agent,
  method: (r) => r.http?.method,
  endpoint: (r) => r.http?.endpoint,
  status: (r) => r.http?.status,
  request_id: (r) => r.http?.request_id,
  resource_type: (r) => r.resource?.type,
  resource_id: (r) => r.resource?.id,
  reporter_ip: (r) => r.ingest.source_ip,
  tenant: (r) => r.tenant,
  details: (r) => r.details,
} as const satisfies Record<string, Cell>;

export type ColumnName = keyof typeof COLUMNS;

export const COLUMN_NAMES = Object.keys(COLUMNS) as ColumnName[];

/** Who did what, how it ended, from where, to what: answers "failed logins and their IPs" as it is. */
export const DEFAULT_COLUMNS: readonly ColumnName[] = [
  "time",
  "id",
  "action",
  "outcome",
  "actor",
  "verified",
  "source_ip",
  "resource_type",
  "resource_id",
];

const isColumnName = (name: string): name is ColumnName => Object.hasOwn(COLUMNS, name);

/** Parses `--columns a,b,c` (or `all`); a name that is not a column is a usage error listing them. */
export function parseColumns(text: string): ColumnName[] {
  if (text.trim() === "all") return [...COLUMN_NAMES];
  const names = text.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !isColumnName(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidArgumentError(
      `${unknown.map((name) => JSON.stringify(name)).join(", ")} ${unknown.length === 1 ? "is not a column" : "are not columns"}: give a comma-separated list of ${COLUMN_NAMES.join(", ")} (or all)`,
    );
  }
  return names as ColumnName[];
}

/** A cell's text: empty for a field the record does not have. */
export function cellText(column: ColumnName, record: EventRecord): string {
  const value = COLUMNS[column](record);
  return value === null || value === undefined ? "" : String(value);
}
