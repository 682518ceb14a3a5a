/**
 * `sealtrail query`: searches events through the HTTP API (`GET /v1/events`) of a deployment or of
 * local mode, and prints them as a table, JSON or CSV.
 *
 * Where it connects: `--api`, else SEALTRAIL_API_URL, else local mode's `apiUrl` from
 * `<state dir>/local.json`. With what: `--token`, else SEALTRAIL_TOKEN, else, when the API is local
 * mode's, a short-lived read token signed with local mode's issuer key (the state dir holds it).
 * Exit codes: 0 answered, 1 the API answered an error, 2 usage, configuration or network error.
 */
import { Command, Option } from "commander";
import { MAX_PAGE_LIMIT } from "../lambda/core/api-schema";
import type { EventRecord } from "../lambda/core/schema";
import { READ_AUDIT_ACTION } from "../lambda/core/server-actions";
import { apiConnection, describeHttpError, getJson, HttpError } from "./api";
import { COLUMN_NAMES, type ColumnName, cellText, DEFAULT_COLUMNS, parseColumns } from "./columns";
import { CliError, EXIT } from "./exit";
import { wholeNumber } from "./numbers";
import { parseTime, sinceTime } from "./time-range";
import { withUsageHints } from "./usage";

/** CLI option (commander's camelCase of the flag) → query parameter of `GET /v1/events`. */
const FILTER_FLAGS = {
  actor: "actor",
  actorIss: "actor_iss",
  action: "action",
  resourceType: "resource_type",
  resourceId: "resource_id",
  outcome: "outcome",
  sessionId: "session_id",
  requestId: "request_id",
  from: "from",
  to: "to",
  tenant: "tenant",
} as const;
type FilterOption = keyof typeof FILTER_FLAGS;

/** `actorIss` → `--actor-iss`: commander's naming, reversed. */
const flagOf = (option: string) => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

type Format = "table" | "json" | "csv";

interface QueryOptions extends Partial<Record<FilterOption, string>> {
  readonly since?: string;
  readonly limit?: number;
  readonly cursor?: string;
  readonly all?: boolean;
  readonly format: Format;
  readonly columns: readonly ColumnName[];
  readonly hideAuditReads?: boolean;
  readonly api?: string;
  readonly token?: string;
}

interface Page {
  readonly events: EventRecord[];
  readonly next_cursor?: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: neutralizing control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A table cell longer than this is cut (with …): one long `details` would push every row off screen. */
const MAX_TABLE_CELL = 80;

/** Terminal-safe text: a record's values must not move the cursor or recolour the screen. */
function tableCell(value: string): string {
  const safe = value.replace(CONTROL, "\ufffd");
  return safe.length > MAX_TABLE_CELL ? `${safe.slice(0, MAX_TABLE_CELL - 1)}…` : safe;
}

/** RFC 4180 quoting, and a leading quote for cells a spreadsheet would run as a formula. */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** Writes pages as they arrive: --all on a large result never holds it all in memory (but table widths). */
function printer(format: Format, columns: readonly ColumnName[], write: (text: string) => void) {
  let first = true;
  const tableRows: string[][] = [];
  return {
    page(records: readonly EventRecord[]) {
      if (format === "json") {
        for (const record of records) {
          write(`${first ? '{"events":[\n' : ",\n"}${JSON.stringify(record)}`);
          first = false;
        }
      } else if (format === "csv") {
        if (first) write(`${columns.join(",")}\r\n`);
        first = false;
        for (const record of records)
          write(`${columns.map((column) => csvCell(cellText(column, record))).join(",")}\r\n`);
      } else {
        for (const record of records)
          tableRows.push(columns.map((column) => tableCell(cellText(column, record))));
      }
    },
    end(nextCursor: string | undefined) {
      if (format === "json") {
        const tail = nextCursor === undefined ? "" : `,"next_cursor":${JSON.stringify(nextCursor)}`;
        write(`${first ? '{"events":[' : "\n"}]${tail}}\n`);
      } else if (format === "table") {
        const header = columns.map((name) => name.toUpperCase());
        const widths = header.map((name, i) =>
          Math.max(name.length, ...tableRows.map((row) => row[i]?.length ?? 0)),
        );
        for (const row of [header, ...tableRows]) {
          write(
            `${row
              .map((cell, i) => cell.padEnd(widths[i] as number))
              .join("  ")
              .trimEnd()}\n`,
          );
        }
      }
    },
  };
}

/** A word the shell passes through as one argument, quoted only when it needs to be. */
const shellWord = (word: string) =>
  /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;

/**
 * The command that fetches the next page: a cursor is valid only with the filters it was issued
 * for, so the hint repeats them, `--since` as the `--from` it resolved to.
 */
function continuation(
  options: QueryOptions,
  from: string | undefined,
  explicit: ReadonlySet<string>,
  cursor: string,
) {
  const words = ["sealtrail", "query"];
  for (const option of Object.keys(FILTER_FLAGS) as FilterOption[]) {
    const value = option === "from" ? from : options[option];
    if (value !== undefined) words.push(flagOf(option), value);
  }
  if (options.limit !== undefined) words.push("--limit", String(options.limit));
  if (options.format !== "table") words.push("--format", options.format);
  if (explicit.has("columns")) words.push("--columns", options.columns.join(","));
  if (options.hideAuditReads) words.push("--hide-audit-reads");
  if (options.api !== undefined) words.push("--api", options.api);
  words.push("--cursor", cursor);
  return words.map(shellWord).join(" ");
}

async function runQuery(options: QueryOptions, explicit: ReadonlySet<string>): Promise<number> {
  if (options.hideAuditReads && options.action === READ_AUDIT_ACTION) {
    throw new CliError(
      `--hide-audit-reads hides every event of --action ${READ_AUDIT_ACTION}: give one or the other`,
    );
  }
  if (options.format === "json" && explicit.has("columns")) {
    throw new CliError(
      "--columns chooses the table and CSV columns; --format json prints whole records: drop one",
    );
  }
  const connection = await apiConnection(options);
  const from = options.since ?? options.from;
  const parameters = new URLSearchParams();
  for (const [option, name] of Object.entries(FILTER_FLAGS)) {
    const value = option === "from" ? from : options[option as FilterOption];
    if (value !== undefined) parameters.set(name, value);
  }
  if (options.limit !== undefined) parameters.set("limit", String(options.limit));
  let cursor = options.cursor;
  // `sealtrail query … | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT.ok);
    throw error;
  });
  const out = printer(options.format, options.columns, (text) => process.stdout.write(text));
  // Hidden on this side: the API has no "every action but" filter, so a page may show fewer rows.
  const shown = (record: EventRecord) => !options.hideAuditReads || record.action !== READ_AUDIT_ACTION;
  for (;;) {
    if (cursor !== undefined) parameters.set("cursor", cursor);
    const page = await getJson<Page>(connection, "v1/events", parameters);
    out.page(page.events.filter(shown));
    cursor = page.next_cursor;
    if (!options.all || cursor === undefined) break;
  }
  out.end(cursor);
  if (cursor !== undefined && options.format !== "json") {
    process.stderr.write(
      `more events: the next page is\n  ${continuation(options, from, explicit, cursor)}\n(a cursor works only with the filters of its search; --all fetches every page)\n`,
    );
  }
  return EXIT.ok;
}

/** Options people try on `query`, and the one that does what they meant. */
const QUERY_HINTS = {
  "--user": "--actor <sub> (the actor's subject)",
  "--username": "--actor <sub> (the actor's subject)",
  "--sub": "--actor <sub> (the actor's subject)",
  "--subject": "--actor <sub> (the actor's subject)",
  "--principal": "--actor <sub> (the actor's subject)",
  "--issuer": "--actor-iss <issuer>",
  "--iss": "--actor-iss <issuer>",
  "--type": "--resource-type <type> with --resource-id <id>",
  "--resource": "--resource-type <type> with --resource-id <id>",
  "--result": "--outcome <outcome>",
  "--status": "--outcome <outcome> (success, failure, denied, error or unknown)",
  "--session": "--session-id <id>",
  "--request": "--request-id <id>",
  "--start": "--from <time>",
  "--after": "--from <time>",
  "--end": "--to <time>",
  "--until": "--to <time>",
  "--before": "--to <time>",
  "--page-size": "--limit <n>",
  "--size": "--limit <n>",
  "--count": "--limit <n>",
  "--max": "--limit <n>",
  "-n": "--limit <n>",
  "--next": "--cursor <cursor>",
  "--page": "--cursor <cursor>",
  "--output": "--format <format> (table, json or csv)",
  "-o": "--format <format> (table, json or csv)",
  "--json": "--format json",
  "--csv": "--format csv",
  "--fields": `--columns <list> (${COLUMN_NAMES.join(",")})`,
  "--column": `--columns <list> (${COLUMN_NAMES.join(",")})`,
  "--hide-reads": "--hide-audit-reads",
  "--no-reads": "--hide-audit-reads",
} as const;

export function queryCommand(): Command {
  const command = new Command("query")
    .description("Search archived events (GET /v1/events), oldest first, and print them.")
    .option("--actor <sub>", "the actor's subject")
    .option("--actor-iss <issuer>", "the actor's issuer (with --actor)")
    .option("--action <action>", "exact action, e.g. document.read")
    .option("--resource-type <type>", "resource type (with --resource-id)")
    .option("--resource-id <id>", "resource id (with --resource-type)")
    .option("--outcome <outcome>", "success, failure, denied, error or unknown")
    .option("--session-id <id>", "the actor's session")
    .option("--request-id <id>", "the audited action's request id")
    .addOption(
      new Option(
        "--from <time>",
        "earliest time, inclusive: 2026-12-01 (midnight UTC) or ISO-8601 with a zone",
      ).argParser(parseTime),
    )
    .addOption(
      new Option(
        "--to <time>",
        "latest time, inclusive: 2026-12-01 (midnight UTC) or ISO-8601 with a zone",
      ).argParser(parseTime),
    )
    .addOption(
      new Option("--since <duration>", "from that long ago until now: 30m, 1h, 7d (units s m h d w)")
        .argParser((text) => sinceTime(text))
        .conflicts("from"),
    )
    .option("--tenant <tenant>", "another tenant (needs the admin scope)")
    .option(
      "--limit <n>",
      `events per page, 1 to ${MAX_PAGE_LIMIT} (API default 100)`,
      wholeNumber(1, MAX_PAGE_LIMIT),
    )
    .option("--cursor <cursor>", "continue after a previous page (give the same filters)")
    .option("--all", "follow next_cursor to the last page")
    .addOption(
      new Option("--format <format>", "output format").choices(["table", "json", "csv"]).default("table"),
    )
    .addOption(
      new Option(
        "--columns <list>",
        `table and CSV columns, comma-separated, or all: ${COLUMN_NAMES.join(", ")}`,
      )
        .argParser(parseColumns)
        .default(DEFAULT_COLUMNS, DEFAULT_COLUMNS.join(",")),
    )
    .option("--hide-audit-reads", `leave out ${READ_AUDIT_ACTION} events (the archive's records of reads)`)
    .option("--api <url>", "API base URL (default: $SEALTRAIL_API_URL, else local mode's)")
    .option(
      "--token <token>",
      "bearer token with the read scope (default: $SEALTRAIL_TOKEN, else local mode's issuer)",
    )
    .allowExcessArguments(false)
    .exitOverride((error) => {
      // Commander has printed the problem; help and version are not errors.
      const ok =
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.help" ||
        error.code === "commander.version";
      process.exit(ok ? EXIT.ok : EXIT.usage);
    })
    .action(async (options: QueryOptions) => {
      const explicit = new Set(
        Object.keys(options).filter((name) => command.getOptionValueSource(name) === "cli"),
      );
      try {
        process.exitCode = await runQuery(options, explicit);
      } catch (error) {
        if (error instanceof HttpError) {
          process.stderr.write(`sealtrail query: ${describeHttpError(error)}\n`);
          process.exitCode = EXIT.httpError;
        } else {
          process.stderr.write(
            `sealtrail query: ${error instanceof CliError ? error.message : ((error as Error).stack ?? String(error))}\n`,
          );
          process.exitCode = EXIT.usage;
        }
      }
    });
  return withUsageHints(command, QUERY_HINTS);
}
