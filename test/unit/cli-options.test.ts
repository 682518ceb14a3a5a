/**
 * The pure parts of `sealtrail query`'s options: times and spans, column lists, usage hints, and
 * how a refused token is explained from `www-authenticate`.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { type ApiConnection, describeHttpError, HttpError } from "../../cli/api";
import { COLUMN_NAMES, parseColumns } from "../../cli/columns";
import { wholeNumber } from "../../cli/numbers";
import { rebuildIndexCommand } from "../../cli/rebuild-index";
import { parseTime, sinceTime } from "../../cli/time-range";
import { hintedUsageError } from "../../cli/usage";
import { verifyCommand } from "../../cli/verify";
import { MAX_PAGE_LIMIT } from "../../lambda/core/api-schema";

describe("--from / --to", () => {
  it.each([
    ["2026-12-01", "2026-12-01T00:00:00.000Z"],
    ["2024-02-29", "2024-02-29T00:00:00.000Z"],
    ["2026-12-01T09:30:00Z", "2026-12-01T09:30:00.000Z"],
    ["2026-12-01T09:30:00+01:00", "2026-12-01T08:30:00.000Z"],
    ["2026-12-01T09:30:00.5-02:00", "2026-12-01T11:30:00.500Z"],
  ])("%s is %s", (text, iso) => expect(parseTime(text)).toBe(iso));

  it.each(["2026-02-30", "2025-02-29", "2026-13-01"])("refuses %s, which is no calendar date", (text) =>
    expect(() => parseTime(text)).toThrow(/is not a calendar date/));

  it.each(["2026-12-01T09:30:00", "yesterday", "1733011200", "2026-12-1"])("refuses %s", (text) =>
    expect(() => parseTime(text)).toThrow(
      /must be a date, 2026-12-01 \(midnight UTC\), or an ISO-8601 time/,
    ));
});

describe("--since", () => {
  const now = new Date("2026-12-01T12:00:00.000Z");
  it.each([
    ["30s", "2026-12-01T11:59:30.000Z"],
    ["90m", "2026-12-01T10:30:00.000Z"],
    ["1h", "2026-12-01T11:00:00.000Z"],
    ["7d", "2026-11-24T12:00:00.000Z"],
    ["2w", "2026-11-17T12:00:00.000Z"],
  ])("%s before now", (text, iso) => expect(sinceTime(text, now)).toBe(iso));

  it.each(["1", "h", "1y", "-1h", "1.5h", "1 h"])("refuses %s", (text) =>
    expect(() => sinceTime(text, now)).toThrow(/must be a whole number and a unit/));

  it("refuses a span reaching back before 1970", () =>
    expect(() => sinceTime("999999999w", now)).toThrow(/before 1970/));
});

describe("--columns", () => {
  it("takes a comma-separated list, or all", () => {
    expect(parseColumns("time, source_ip,details")).toEqual(["time", "source_ip", "details"]);
    expect(parseColumns("all")).toEqual(COLUMN_NAMES);
  });

  it("names every unknown column and lists the valid ones", () => {
    expect(() => parseColumns("time,ip,who")).toThrow(
      `"ip", "who" are not columns: give a comma-separated list of ${COLUMN_NAMES.join(", ")} (or all)`,
    );
    expect(() => parseColumns("")).toThrow(/"" is not a column/);
  });
});

describe("usage hints", () => {
  const program = new Command("sealtrail");
  const query = new Command("query").option("--actor <sub>").option("--cursor <cursor>");
  program.addCommand(query);
  const hints = { "--user": "--actor <sub>" };

  it("answers a known mistake with the option meant, instead of commander's guess", () => {
    const text = hintedUsageError(query, "error: unknown option '--user'\n(Did you mean --cursor?)\n", hints);
    expect(text).toBe(
      "error: sealtrail query has no option --user: use --actor <sub>\n(sealtrail query takes --actor --cursor --help; see `sealtrail query --help`)\n",
    );
    expect(hintedUsageError(query, "error: unknown option '--user=alice'\n", hints)).toMatch(
      /no option --user: use --actor/,
    );
    expect(hintedUsageError(query, "error: unknown option '--url'\n", hints)).toMatch(/use --api <url>/);
  });

  it("keeps commander's spelling guess for a typo, and lists the options", () => {
    const text = hintedUsageError(query, "error: unknown option '--actr'\n(Did you mean --actor?)\n", hints);
    expect(text).toMatch(
      /^error: unknown option '--actr'\n\(Did you mean --actor\?\)\n\(sealtrail query takes /,
    );
  });

  it("leaves other errors alone", () => {
    expect(hintedUsageError(query, "error: missing required argument 'x'\n", hints)).toBe(
      "error: missing required argument 'x'\n",
    );
  });
});

describe("a refused request, explained", () => {
  const connection: ApiConnection = {
    api: "https://api.example",
    token: "t",
    apiSource: "--api",
    tokenSource: "SEALTRAIL_TOKEN",
  };
  const answer = (status: number, body: string, challenge?: string) =>
    describeHttpError(new HttpError(status, body, challenge, "https://api.example/v1/events", connection));

  it("takes the reason from www-authenticate, not the bare body", () => {
    expect(
      answer(
        401,
        '{"message":"Unauthorized"}',
        'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"',
      ),
    ).toMatch(
      /^the API refused the token from SEALTRAIL_TOKEN \(401 invalid_token\): the token does not have a valid audience; get a valid token/,
    );
    expect(
      answer(
        403,
        '{"message":"Forbidden"}',
        'Bearer scope="sealtrail/read" error="insufficient_scope" error_description="expected scopes: [sealtrail/read]"',
      ),
    ).toMatch(
      /\(403 insufficient_scope\): expected scopes: \[sealtrail\/read\]; the token needs the scope sealtrail\/read/,
    );
  });

  it("prints the handler's code and message, and says when the gateway gave no reason", () => {
    expect(answer(400, '{"code":"invalid_parameter","message":"the parameter limit must be …"}')).toBe(
      "the API answered 400 invalid_parameter: the parameter limit must be …",
    );
    expect(answer(401, '{"message":"Unauthorized"}')).toMatch(
      /did not say why \(no www-authenticate header\)/,
    );
    expect(answer(404, '{"message":"Not Found"}')).toMatch(/check that --api gives the API's base URL/);
  });

  it("never prints a control character the server sent", () => {
    expect(answer(500, "\u001b[2Jboom")).toBe("the API answered 500: \ufffd[2Jboom");
  });
});

describe("whole-number options (--concurrency, --workers, --index-ttl-days, --limit)", () => {
  /** The commands' own option tables, parsed as commander parses argv, stopping before any action. */
  const parse = (command: Command, args: string[]) => {
    const errors: string[] = [];
    command
      .exitOverride()
      .configureOutput({ writeErr: (text) => errors.push(text), outputError: (text) => errors.push(text) })
      .action(() => {});
    command.parse(args, { from: "user" });
    return { options: command.opts(), errors };
  };

  it("parse to numbers, with the defaults as numbers", () => {
    expect(parse(verifyCommand(), ["--dir", "d", "--trust", "t"]).options.concurrency).toBe(32);
    expect(parse(verifyCommand(), ["--concurrency", "4", "--workers", "0"]).options).toMatchObject({
      concurrency: 4,
      workers: 0,
    });
    const rebuild = parse(rebuildIndexCommand(), ["--bucket", "b", "--table", "t", "--index-ttl-days", "30"]);
    expect(rebuild.options).toMatchObject({ concurrency: 8, indexTtlDays: 30 });
  });

  it.each([
    [
      () => verifyCommand(),
      ["--concurrency", "0"],
      /--concurrency <n>.*'0' is invalid\. must be a whole number of at least 1/,
    ],
    [() => verifyCommand(), ["--workers", "-1"], /--workers <n>.*must be a whole number of at least 0/],
    [() => verifyCommand(), ["--concurrency", "12abc"], /'12abc' is invalid/],
    [
      () => rebuildIndexCommand(),
      ["--bucket", "b", "--table", "t", "--concurrency", "1.5"],
      /'1\.5' is invalid/,
    ],
    [
      () => rebuildIndexCommand(),
      ["--bucket", "b", "--table", "t", "--index-ttl-days", " 3"],
      /' 3' is invalid/,
    ],
  ])("refuse a bad value before anything runs: %#", (command, args, message) => {
    let errors: string[] = [];
    expect(() => {
      const c = command();
      c.exitOverride().configureOutput({
        writeErr: (t) => errors.push(t),
        outputError: (t) => errors.push(t),
      });
      c.action(() => {
        throw new Error("the action ran");
      });
      c.parse(args, { from: "user" });
    }).toThrow(CommanderError);
    errors = errors.map((e) => e.replaceAll("\n", " "));
    expect(errors.join("")).toMatch(message);
  });

  it("--limit is 1 to the API's page limit", () => {
    const limit = wholeNumber(1, MAX_PAGE_LIMIT);
    expect(limit(String(MAX_PAGE_LIMIT))).toBe(MAX_PAGE_LIMIT);
    expect(() => limit(String(MAX_PAGE_LIMIT + 1))).toThrow(
      `must be a whole number from 1 to ${MAX_PAGE_LIMIT}`,
    );
    expect(() => limit("")).toThrow(InvalidArgumentError);
  });
});
