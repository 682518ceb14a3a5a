/**
 * `sealtrail query`: searches events through the HTTP API (`GET /v1/events`) of a deployment or of
 * local mode, and prints them as a table, JSON or CSV.
 *
 * Where it connects: `--api`, else SEALTRAIL_API_URL, else local mode's `apiUrl` from
 * `<state dir>/local.json`. With what: `--token`, else SEALTRAIL_TOKEN, else, when the API is local
 * mode's, a short-lived read token signed with local mode's issuer key (the state dir holds it).
 * Exit codes: 0 answered, 1 the API answered an error, 2 usage, configuration or network error.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { MAX_PAGE_LIMIT } from "../core/api-schema";
import type { EventRecord } from "../core/schema";
import { apiConnection, getJson, HttpError } from "./api";
import { CliError, EXIT } from "./exit";

/** CLI flag → query parameter of `GET /v1/events`. */
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

type Format = "table" | "json" | "csv";

interface QueryOptions extends Partial<Record<keyof typeof FILTER_FLAGS, string>> {
  readonly limit?: number;
  readonly cursor?: string;
  readonly all?: boolean;
  readonly format: Format;
  readonly api?: string;
  readonly token?: string;
}

interface Page {
  readonly events: EventRecord[];
  readonly next_cursor?: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: neutralizing control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** Terminal-safe text: a record's values must not move the cursor or recolour the screen. */
const printable = (value: string) => value.replace(CONTROL, "\ufffd");

const COLUMNS: ReadonlyArray<readonly [string, (record: EventRecord) => string]> = [
  ["time", (r) => r.time],
  ["id", (r) => r.id],
  ["action", (r) => r.action],
  ["outcome", (r) => r.outcome],
  ["actor", (r) => r.actor.sub],
  ["verified", (r) => String(r.actor.verified)],
  ["resource_type", (r) => r.resource?.type ?? ""],
  ["resource_id", (r) => r.resource?.id ?? ""],
  ["session_id", (r) => r.actor.session_id ?? ""],
  ["request_id", (r) => r.http?.request_id ?? ""],
  ["tenant", (r) => r.tenant],
];

/** RFC 4180 quoting, and a leading quote for cells a spreadsheet would run as a formula. */
function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** Writes pages as they arrive: --all on a large result never holds it all in memory (but table widths). */
function printer(format: Format, write: (text: string) => void) {
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
        if (first) write(`${COLUMNS.map(([name]) => name).join(",")}\r\n`);
        first = false;
        for (const record of records)
          write(`${COLUMNS.map(([, get]) => csvCell(get(record))).join(",")}\r\n`);
      } else {
        for (const record of records) tableRows.push(COLUMNS.map(([, get]) => printable(get(record))));
      }
    },
    end(nextCursor: string | undefined) {
      if (format === "json") {
        const tail = nextCursor === undefined ? "" : `,"next_cursor":${JSON.stringify(nextCursor)}`;
        write(`${first ? '{"events":[' : "\n"}]${tail}}\n`);
      } else if (format === "table") {
        const header = COLUMNS.map(([name]) => name.toUpperCase());
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

function pageLimit(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > MAX_PAGE_LIMIT) {
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_PAGE_LIMIT}`);
  }
  return value;
}

async function runQuery(options: QueryOptions): Promise<number> {
  const { api, token } = await apiConnection(options);
  const parameters = new URLSearchParams();
  for (const [flag, name] of Object.entries(FILTER_FLAGS)) {
    const value = options[flag as keyof typeof FILTER_FLAGS];
    if (value !== undefined) parameters.set(name, value);
  }
  if (options.limit !== undefined) parameters.set("limit", String(options.limit));
  let cursor = options.cursor;
  // `sealtrail query … | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT.ok);
    throw error;
  });
  const out = printer(options.format, (text) => process.stdout.write(text));
  for (;;) {
    if (cursor !== undefined) parameters.set("cursor", cursor);
    const page = await getJson<Page>(api, token, "v1/events", parameters);
    out.page(page.events);
    cursor = page.next_cursor;
    if (!options.all || cursor === undefined) break;
  }
  out.end(cursor);
  if (cursor !== undefined && options.format !== "json") {
    process.stderr.write(`more events: --cursor ${cursor} (or --all)\n`);
  }
  return EXIT.ok;
}

export function queryCommand(): Command {
  return new Command("query")
    .description("Search archived events (GET /v1/events), oldest first, and print them.")
    .option("--actor <sub>", "the actor's subject")
    .option("--actor-iss <issuer>", "the actor's issuer (with --actor)")
    .option("--action <action>", "exact action, e.g. document.read")
    .option("--resource-type <type>", "resource type (with --resource-id)")
    .option("--resource-id <id>", "resource id (with --resource-type)")
    .option("--outcome <outcome>", "success, failure, denied, error or unknown")
    .option("--session-id <id>", "the actor's session")
    .option("--request-id <id>", "the audited action's request id")
    .option("--from <time>", "earliest time, inclusive (ISO-8601 with a zone)")
    .option("--to <time>", "latest time, inclusive (ISO-8601 with a zone)")
    .option("--tenant <tenant>", "another tenant (needs the admin scope)")
    .option("--limit <n>", `events per page, 1 to ${MAX_PAGE_LIMIT} (API default 100)`, pageLimit)
    .option("--cursor <cursor>", "continue after a previous page (same filters)")
    .option("--all", "follow next_cursor to the last page")
    .addOption(
      new Option("--format <format>", "output format").choices(["table", "json", "csv"]).default("table"),
    )
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
      try {
        process.exitCode = await runQuery(options);
      } catch (error) {
        if (error instanceof HttpError) {
          process.stderr.write(`sealtrail query: the API answered ${error.status}: ${error.body}\n`);
          process.exitCode = EXIT.httpError;
        } else {
          process.stderr.write(
            `sealtrail query: ${error instanceof CliError ? error.message : ((error as Error).stack ?? String(error))}\n`,
          );
          process.exitCode = EXIT.usage;
        }
      }
    });
}
