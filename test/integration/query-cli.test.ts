/**
 * `sealtrail query` and `sealtrail proof` as a user runs them: child processes against the real
 * query handler behind local mode's server (API Gateway's JWT authorizer rules), on the emulator.
 * Columns, hiding reads, dates and --since, the cursor hint, usage hints, refused tokens explained
 * from `www-authenticate`, the API's own refusals, and a stale local.json.
 * Exit 0 answered, 1 the API answered an error, 2 usage, configuration or network error.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COLUMN_NAMES } from "../../cli/columns";
import type { EventRecord } from "../../lambda/core/schema";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import { createQueryHandler, QUERY_ROUTES } from "../../lambda/handlers/query";
import { DEFAULT_SCOPES } from "../../lambda/runtime/config";
import {
  LOCAL_AUDIENCE,
  LOCAL_STATE_FILE,
  type LocalIssuer,
  type LocalState,
  loadOrCreateIssuerKey,
  localIssuer,
} from "../../local/issuer";
import { type LocalServer, startLocalServer } from "../../local/server";
import { postEventsEvent } from "../support/api-event";
import { createTestArchive, type TestArchive } from "../support/aws";
import { type CliRun, sealtrail as runCli } from "../support/cli";
import { testConfig } from "../support/config";

const PACKAGE = join(import.meta.dirname, "../../package.json");

/** The CLI in its own process (never blocking this one), with only the given state dir to go on. */
function sealtrail(args: readonly string[], stateDir: string): Promise<CliRun> {
  return runCli(args, {
    SEALTRAIL_STATE_DIR: stateDir,
    SEALTRAIL_API_URL: undefined,
    SEALTRAIL_TOKEN: undefined,
  });
}

/** local.json as `npm start` writes it, for an API at `apiUrl`. */
function writeLocalState(stateDir: string, apiUrl: string, issuer: string): void {
  const state: LocalState = {
    apiUrl,
    issuer,
    audience: LOCAL_AUDIENCE,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    s3Endpoint: "http://127.0.0.1:1",
    bucket: "unused",
    table: "unused",
    region: "us-east-1",
    jwksFile: join(stateDir, "checkpoint-jwks.json"),
    checkpointStateBucket: "unused",
  };
  writeFileSync(join(stateDir, LOCAL_STATE_FILE), JSON.stringify(state));
}

/** A port nothing listens on: one the OS gave out and that was closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The JSON output of a run that must have succeeded. */
function json(run: CliRun): { events: EventRecord[]; next_cursor?: string } {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

describe("sealtrail query and proof against the query API", () => {
  let archive: TestArchive;
  let server: LocalServer;
  let issuer: LocalIssuer;
  let stateDir: string;
  let ids: string[];

  beforeAll(async () => {
    archive = await createTestArchive({ objectLock: false });
    const config = testConfig(archive);
    const ingest = createIngestHandler(config);
    const events = [
      {
        action: "user.login",
        outcome: "failure",
        occurred_at: "2026-11-30T10:00:00Z",
        actor: { sub: "alice" },
        http: { source_ip: "203.0.113.5" },
        details: { attempt: 1 },
      },
      { action: "user.login", outcome: "failure", actor: { sub: "bob" }, http: { source_ip: "203.0.113.9" } },
      {
        action: "user.login",
        outcome: "success",
        actor: { sub: "alice" },
        http: { source_ip: "198.51.100.1" },
      },
      ...Array.from({ length: 5 }, (_, n) => ({
        action: "document.read",
        outcome: "success",
        details: { n },
      })),
    ];
    const result = await ingest(postEventsEvent({ body: { events } }));
    expect(result.statusCode, result.body as string).toBe(201);
    ids = (JSON.parse(result.body as string) as { ids: string[] }).ids;

    stateDir = mkdtempSync(join(tmpdir(), "sealtrail-query-cli-"));
    const key = await loadOrCreateIssuerKey(stateDir);
    const query = createQueryHandler(config);
    server = await startLocalServer({
      port: 0,
      issuer: { publicJwks: () => key.publicJwks() },
      audience: LOCAL_AUDIENCE,
      log: () => {},
      routes: Object.fromEntries(
        QUERY_ROUTES.map((routeKey) => [routeKey, { scopes: [DEFAULT_SCOPES.read], handler: query }]),
      ),
    });
    issuer = localIssuer(key, { issuer: server.issuer, audience: LOCAL_AUDIENCE });
    writeLocalState(stateDir, server.url, server.issuer);
  });

  afterAll(async () => {
    await server?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("--version prints package.json's version", async () => {
    const run = await sealtrail(["--version"], stateDir);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(
      (JSON.parse(readFileSync(PACKAGE, "utf8")) as { version: string }).version,
    );
  });

  it("answers 'failed logins and their IPs' with the default table", async () => {
    const run = await sealtrail(["query", "--action", "user.login", "--outcome", "failure"], stateDir);
    expect(run.code, run.stderr).toBe(0);
    const [header, ...rows] = run.stdout.trimEnd().split("\n");
    expect(header?.split(/\s+/)).toEqual([
      "TIME",
      "ID",
      "ACTION",
      "OUTCOME",
      "ACTOR",
      "VERIFIED",
      "SOURCE_IP",
      "RESOURCE_TYPE",
      "RESOURCE_ID",
    ]);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/user\.login\s+failure\s+alice\s+false\s+203\.0\.113\.5/);
    expect(rows[1]).toMatch(/user\.login\s+failure\s+bob\s+false\s+203\.0\.113\.9/);
  });

  it("--columns picks the CSV columns: occurred_at, the reporter and its IP, details", async () => {
    const columns = "actor,source_ip,occurred_at,reporter,reporter_ip,details";
    const run = await sealtrail(
      ["query", "--actor", "alice", "--outcome", "failure", "--format", "csv", "--columns", columns],
      stateDir,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(
      `${columns}\r\nalice,203.0.113.5,2026-11-30T10:00:00.000Z,svc-billing,198.51.100.7,"{""attempt"":1}"\r\n`,
    );
  });

  it("refuses an unknown column, listing the columns, and --columns with --format json", async () => {
    const unknown = await sealtrail(["query", "--columns", "time,ip"], stateDir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      `"ip" is not a column: give a comma-separated list of ${COLUMN_NAMES.join(", ")}`,
    );
    const withJson = await sealtrail(["query", "--columns", "time", "--format", "json"], stateDir);
    expect(withJson.code).toBe(2);
    expect(withJson.stderr).toMatch(
      /--columns chooses the table and CSV columns; --format json prints whole records/,
    );
  });

  it("--hide-audit-reads leaves out the archive's records of reads, and nothing else", async () => {
    // Every search above was archived as an audit.read event.
    const everything = json(await sealtrail(["query", "--format", "json", "--all"], stateDir));
    expect(everything.events.some((record) => record.action === "audit.read")).toBe(true);
    const run = await sealtrail(["query", "--format", "json", "--all", "--hide-audit-reads"], stateDir);
    expect(run.code, run.stderr).toBe(0);
    expect(json(run).events.map((record) => record.id)).toEqual(ids);
    const both = await sealtrail(["query", "--action", "audit.read", "--hide-audit-reads"], stateDir);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--hide-audit-reads hides every event of --action audit\.read/);
  });

  it("takes a date (midnight UTC) for --from and --to, and --since with a unit", async () => {
    const login = ["query", "--action", "user.login", "--format", "json"];
    const [first] = json(await sealtrail(login, stateDir)).events;
    const day = (first?.time as string).slice(0, 10);
    expect(first?.time).not.toBe(`${day}T00:00:00.000Z`);
    const nextDay = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

    expect(json(await sealtrail([...login, "--from", day], stateDir)).events).toHaveLength(3);
    expect(json(await sealtrail([...login, "--from", nextDay], stateDir)).events).toHaveLength(0);
    // --to is inclusive up to that midnight: the day's own events come after it.
    expect(json(await sealtrail([...login, "--to", day], stateDir)).events).toHaveLength(0);
    expect(json(await sealtrail([...login, "--to", nextDay], stateDir)).events).toHaveLength(3);
    expect(json(await sealtrail([...login, "--since", "1h"], stateDir)).events).toHaveLength(3);

    const badUnit = await sealtrail([...login, "--since", "1y"], stateDir);
    expect(badUnit.code).toBe(2);
    expect(badUnit.stderr).toMatch(/--since .*must be a whole number and a unit: s .*m .*h .*d .*w/);
    const both = await sealtrail([...login, "--since", "1h", "--from", day], stateDir);
    expect(both.code).toBe(2);
    const noZone = await sealtrail([...login, "--from", "2026-12-01T10:00"], stateDir);
    expect(noZone.code).toBe(2);
    expect(noZone.stderr).toMatch(
      /must be a date, 2026-12-01 \(midnight UTC\), or an ISO-8601 time with a zone/,
    );
  });

  it("prints the command for the next page with the same filters, --since as the --from it meant", async () => {
    const first = await sealtrail(
      ["query", "--action", "document.read", "--since", "1d", "--limit", "2", "--columns", "id"],
      stateDir,
    );
    expect(first.code, first.stderr).toBe(0);
    const hint =
      /^ {2}sealtrail (query --action document\.read --from (\S+) --limit 2 --columns id --cursor (\S+))$/m.exec(
        first.stderr,
      );
    expect(hint, first.stderr).not.toBeNull();
    const [, command, from, cursor] = hint as unknown as [string, string, string, string];
    expect(from).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const next = await sealtrail(command.split(" "), stateDir);
    expect(next.code, next.stderr).toBe(0);
    const page = (run: CliRun) => run.stdout.trimEnd().split("\n").slice(1);
    expect(page(first)).toEqual(ids.slice(3, 5));
    expect(page(next)).toEqual(ids.slice(5, 7));
    // Repeating --since instead resolves to another --from, which the cursor was not issued for.
    const resent = await sealtrail(
      ["query", "--action", "document.read", "--since", "1d", "--cursor", cursor],
      stateDir,
    );
    expect(resent.code).toBe(1);
    expect(resent.stderr).toMatch(/the API answered 400 invalid_cursor: .*same filters/);
  });

  it("answers an option people try with the one they meant, not commander's nearest spelling", async () => {
    const run = await sealtrail(["query", "--user", "alice"], stateDir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: sealtrail query has no option --user: use --actor <sub>/);
    expect(run.stderr).not.toMatch(/Did you mean/);
    expect(run.stderr).toMatch(/sealtrail query takes --actor .* --help/);
    const typo = await sealtrail(["query", "--actr", "alice"], stateDir);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/Did you mean --actor\?/);
  });

  it("says why the authorizer refused a token, from www-authenticate, and what to do (query and proof)", async () => {
    const expired = await issuer.signToken({
      scope: DEFAULT_SCOPES.read,
      now: new Date(Date.now() - 3 * 3_600_000),
      ttlSeconds: 60,
    });
    const run = await sealtrail(["query", "--token", expired], stateDir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^sealtrail query: the API refused the token from --token \(401 invalid_token\): the token has expired; get a valid token .*--token or SEALTRAIL_TOKEN/,
    );

    const writeOnly = await issuer.signToken({ scope: DEFAULT_SCOPES.write });
    for (const args of [["query"], ["proof", ids[0] as string]]) {
      const refused = await sealtrail([...args, "--token", writeOnly], stateDir);
      expect(refused.code, args[0]).toBe(1);
      expect(refused.stderr, args[0]).toMatch(
        new RegExp(
          `^sealtrail ${args[0]}: the API refused the token from --token \\(403 insufficient_scope\\): .*; the token needs the scope sealtrail/read`,
        ),
      );
      expect(refused.stdout, args[0]).toBe("");
    }
  });

  it("prints the API's own refusal in its words: code and message, exit 1", async () => {
    const run = await sealtrail(["query", "--outcome", "maybe"], stateDir);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'sealtrail query: the API answered 400 invalid_parameter: the parameter outcome must be one of success, failure, denied, error, unknown (given: "maybe")\n',
    );
  });

  it("says local mode is not running when local.json names an address nothing answers at", async () => {
    const stale = mkdtempSync(join(tmpdir(), "sealtrail-stale-"));
    try {
      await loadOrCreateIssuerKey(stale);
      const port = await closedPort();
      writeLocalState(stale, `http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`);
      for (const args of [["query"], ["proof", ids[0] as string]]) {
        const run = await sealtrail(args, stale);
        expect(run.code, args[0]).toBe(2);
        expect(run.stderr, args[0]).toMatch(
          /local mode is not running: nothing answers at .*Start it with `npm start`/,
        );
      }
      // An address given explicitly is the user's to check, not local mode's.
      const explicit = await sealtrail(
        ["query", "--api", `http://127.0.0.1:${port}`, "--token", "x.y.z"],
        stale,
      );
      expect(explicit.code).toBe(2);
      expect(explicit.stderr).toMatch(
        /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): check the URL given by --api/,
      );
    } finally {
      rmSync(stale, { recursive: true, force: true });
    }
  });
});
