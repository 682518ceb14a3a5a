/**
 * `npm start` and `npm run token` as a user runs them: child processes, real HTTP, real signals.
 * SEALTRAIL_STATE_DIR keeps each run's .sealtrail/ in a temporary directory. Every child process
 * is asynchronous (./local-process.ts): a blocked event loop starves this test's own connections.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint, decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SCOPES } from "../../lambda/runtime/config";
import {
  acceptsConnections,
  type LocalModeProcess,
  projectRoot,
  run,
  runningInGroup,
  shell,
  startNpmStart,
} from "./local-process";
import { EXAMPLE_EVENTS } from "./support";

const tsx = join(projectRoot, "node_modules", ".bin", "tsx");
const STARTUP_TIMEOUT_MS = 100_000;
const STOP_TIMEOUT_MS = 20_000;

function runToken(stateDir: string, args: string[]) {
  return run(tsx, ["bin/token.ts", ...args], { env: { ...process.env, SEALTRAIL_STATE_DIR: stateDir } });
}

/** The printed lines that start with `prefix`. */
function printed(local: LocalModeProcess, prefix: string): string[] {
  return local
    .stdout()
    .split("\n")
    .filter((line) => line.startsWith(prefix));
}

/** After a stop: the API and the emulator no longer answer, and nothing npm started still runs. */
async function expectEverythingStopped(local: LocalModeProcess, apiUrl: string, s3Endpoint: string) {
  await expect.poll(() => runningInGroup(local.pid), { timeout: STOP_TIMEOUT_MS, interval: 200 }).toEqual([]);
  expect(await acceptsConnections(apiUrl)).toBe(false);
  // Only a moto local mode started itself is stopped with it; an AWS_ENDPOINT_URL endpoint is not its own.
  if (!process.env.AWS_ENDPOINT_URL) expect(await acceptsConnections(s3Endpoint)).toBe(false);
}

describe("npm run token without local mode", () => {
  it("prints nothing on stdout, explains on stderr and exits 2", async () => {
    const empty = mkdtempSync(join(tmpdir(), "sealtrail-token-"));
    try {
      const result = await runToken(empty, ["--scope", DEFAULT_SCOPES.write]);

      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(/npm start/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("npm start as a child process", () => {
  let stateDir: string;
  let local: LocalModeProcess;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "sealtrail-local-"));
    // A checkpoint every second instead of every minute, so the archive is verifiable within the test.
    local = await startNpmStart(stateDir, { SEALTRAIL_CHECKPOINT_SECONDS: "1" });
  }, STARTUP_TIMEOUT_MS);

  afterAll(async () => {
    local?.killGroup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const state = () => local.state();
  const stdout = () => local.stdout();
  const cli = (args: string[]) =>
    run(tsx, ["bin/sealtrail.ts", ...args], { env: { ...process.env, SEALTRAIL_STATE_DIR: stateDir } });

  it("writes local.json with exactly the documented fields", () => {
    const written = state();

    expect(Object.keys(written).sort()).toEqual(
      [
        "apiUrl",
        "audience",
        "bucket",
        "checkpointStateBucket",
        "issuer",
        "jwksFile",
        "jwksUrl",
        "region",
        "s3Endpoint",
        "table",
      ].sort(),
    );
    expect(written.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(written).toMatchObject({
      issuer: written.apiUrl,
      audience: "sealtrail-local",
      jwksUrl: `${written.apiUrl}/.well-known/jwks.json`,
    });
    expect(stdout()).toContain(written.bucket);
    // Only a moto it started itself is in memory; an external endpoint (AWS_ENDPOINT_URL) keeps its state.
    if (!process.env.AWS_ENDPOINT_URL) expect(stdout()).toMatch(/in memory/);
  });

  it("serves the issuer's JWKS, whose key signed the printed token", async () => {
    const jwks = (await (await fetch(state().jwksUrl)).json()) as { keys: Array<Record<string, string>> };
    const printedToken =
      stdout()
        .split("\n")
        .find((line) => /^ey[\w-]+\.[\w-]+\.[\w-]+$/.test(line)) ?? "";

    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(key?.kid).toBe(await calculateJwkThumbprint({ kty: "RSA", n: key?.n, e: key?.e }));
    expect(printedToken.split(".")[0]).toBeTruthy();
    expect(JSON.parse(Buffer.from(printedToken.split(".")[0] ?? "", "base64url").toString()).kid).toBe(
      key?.kid,
    );
    expect(decodeJwt(printedToken).scope).toBe(`${DEFAULT_SCOPES.write} ${DEFAULT_SCOPES.read}`);
    expect(existsSync(join(stateDir, "issuer-key.json"))).toBe(true);
  });

  it("accepts the printed curl line's request with a 201 receipt", async () => {
    const [curl] = printed(local, "curl ");
    expect(curl).toBeDefined();
    expect(curl).toContain(JSON.stringify(EXAMPLE_EVENTS));

    const { stdout: output } = await shell(`${curl} -w '\\n%{http_code}'`);

    const [body, status] = [
      output.slice(0, output.lastIndexOf("\n")),
      output.slice(output.lastIndexOf("\n") + 1),
    ];
    expect({ status, body }).toMatchObject({ status: "201" });
    expect(JSON.parse(body)).toMatchObject({ ids: [expect.any(String)], leaf_indexes: [0] });
  });

  it("prints export lines for API and TOKEN that the README's curl example works with", async () => {
    const exports = printed(local, "export ");
    expect(exports).toEqual([
      expect.stringMatching(/^export API='http:\/\/127\.0\.0\.1:\d+'$/),
      expect.stringMatching(/^export TOKEN='ey[\w-]+\.[\w-]+\.[\w-]+'$/),
      expect.stringMatching(/^export AWS_ENDPOINT_URL='[^']+' AWS_REGION='[^']+'/),
    ]);

    // As README.md "Sending events" shows it, with the exports pasted into the shell first.
    const { stdout: output } = await shell(
      [
        ...exports,
        `curl -sS -o /dev/null -w '%{http_code}' -X POST "$API/v1/events" -H "authorization: Bearer $TOKEN" ` +
          `-H 'content-type: application/json' -d '${JSON.stringify(EXAMPLE_EVENTS)}'`,
      ].join("\n"),
    );

    expect(output).toBe("201");
  });

  it("npm run token prints exactly one token, which the running API accepts or refuses by its scope", async () => {
    const write = await runToken(stateDir, [
      "--scope",
      `${DEFAULT_SCOPES.write} ${DEFAULT_SCOPES.read}`,
      "--sub",
      "alice",
    ]);
    const readOnly = await runToken(stateDir, ["--scope", DEFAULT_SCOPES.read, "--ttl", "60"]);

    expect(write).toMatchObject({ code: 0, stderr: "" });
    expect(write.stdout).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = decodeJwt(write.stdout.trim());
    expect(claims).toMatchObject({ sub: "alice", iss: state().issuer, aud: "sealtrail-local" });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600);
    const post = (token: string) =>
      fetch(`${state().apiUrl}/v1/events`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(EXAMPLE_EVENTS),
      });
    expect((await post(readOnly.stdout.trim())).status).toBe(403);
    expect((await post(write.stdout.trim())).status).toBe(201);
    // The refusal is on local mode's console: the reason, never the token.
    await expect
      .poll(() => local.stderr())
      .toMatch(/403 POST \/v1\/events refused \(request [^)]+\): the token has none of the route's scopes/);
    expect(local.stderr()).not.toContain(readOnly.stdout.trim().split(".")[2]);
  });

  it("signs checkpoints with its own key, and the printed verify line verifies the archive", async () => {
    const trust = JSON.parse(readFileSync(state().jwksFile, "utf8")) as {
      keys: Array<Record<string, string>>;
    };
    expect(trust.keys).toHaveLength(1);
    expect(trust.keys[0]).not.toHaveProperty("d");
    expect(existsSync(join(stateDir, "checkpoint-key.json"))).toBe(true);
    const verifyLine = stdout()
      .split("\n")
      .find((line) => line.includes("npx sealtrail verify --bucket")) as string;
    expect(verifyLine).toContain(`--trust`);

    // The tests above wrote events; wait until a checkpoint covers them.
    await expect
      .poll(async () => (await shell(verifyLine)).stdout, { timeout: 60_000, interval: 1000 })
      .toMatch(/^VERIFIED: \d+ checkpoints, 1 chains, [1-9]\d* links/m);
  });

  it("copies the bucket with the printed export and aws s3 sync lines, and the printed verify --dir line verifies the copy", async (context) => {
    const [sync] = printed(local, "aws s3 sync ");
    const verifyDir = printed(local, "npx sealtrail verify --dir ")[0] ?? "";
    expect(sync).toMatch(new RegExp(`^aws s3 sync s3://${state().bucket} \\./sealtrail-copy$`));
    expect(verifyDir).toContain("--dir ./sealtrail-copy");
    // The printed lines are checked above either way; running them needs the user's own aws CLI, which
    // no project dependency provides (this machine image has it, so here it runs).
    if ((await run("aws", ["--version"])).code !== 0) context.skip("the aws CLI is not installed here");
    const copyParent = mkdtempSync(join(tmpdir(), "sealtrail-copy-"));
    try {
      // Only the printed lines make this work, not a profile or endpoint of the user's; keys the
      // user set (local mode then prints none) are the ones local mode's own clients use too.
      const awsExports = printed(local, "export AWS_");
      const ownKeys = awsExports.some((line) => line.includes("AWS_ACCESS_KEY_ID="))
        ? []
        : ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_") || ownKeys.includes(name)),
      );
      const copied = await shell([...awsExports, `${sync} --only-show-errors`].join("\n"), {
        cwd: copyParent,
        env,
      });
      expect(copied).toMatchObject({ code: 0, stderr: "" });
      // The trust path is printed relative to where npm start ran (the project root).
      const verified = await shell(verifyDir.replace("./sealtrail-copy", join(copyParent, "sealtrail-copy")));

      expect(verified.code).toBe(0);
      expect(verified.stdout).toMatch(/^VERIFIED: [1-9]\d* checkpoints, 1 chains, [1-9]\d* links/m);
    } finally {
      rmSync(copyParent, { recursive: true, force: true });
    }
  });

  it("serves /openapi.json without a token; `sealtrail query` finds the event, `proof` fetches a bundle `verify-proof` accepts", async () => {
    const document = (await (await fetch(`${state().apiUrl}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(document.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        "/v1/events",
        "/v1/events/{id}",
        "/v1/events/{id}/proof",
        "/v1/checkpoints/latest",
      ]),
    );
    const found = await cli(["query", "--action", "document.read", "--format", "json"]);
    expect(found).toMatchObject({ code: 0 });
    const [event] = (JSON.parse(found.stdout) as { events: Array<{ id: string }> }).events;
    expect(event?.id).toEqual(expect.any(String));
    const bundle = join(stateDir, "proof.json");
    // A checkpoint covers the event within a second or two (SEALTRAIL_CHECKPOINT_SECONDS=1).
    await expect
      .poll(async () => (await cli(["proof", event?.id as string, "--out", bundle])).code, {
        timeout: 30_000,
      })
      .toBe(0);
    const checked = await cli(["verify-proof", bundle, "--trust", state().jwksFile]);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(new RegExp(`^VERIFIED: event ${event?.id}`, "m"));
  });

  it("refuses to start a second time on the same port, with a clear message and exit 1", async () => {
    const port = new URL(state().apiUrl).port;

    const second = await run("npm", ["start"], {
      env: { ...process.env, PORT: port, SEALTRAIL_STATE_DIR: stateDir, npm_config_update_notifier: "false" },
    });

    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`port ${port} .*already in use`));
  });

  it("stops everything it started on SIGINT to the npm process, and npm exits 0", async () => {
    const { apiUrl, s3Endpoint } = state();
    expect((await runningInGroup(local.pid)).length).toBeGreaterThan(1);

    process.kill(local.pid, "SIGINT");

    expect(await local.exited).toEqual({ code: 0, signal: null });
    await expectEverythingStopped(local, apiUrl, s3Endpoint);
  });
});

// SIGINT is the last test above. SIGTERM is what process managers send, SIGHUP a closed terminal
// (npm does not forward it and dies), SIGKILL leaves local mode nothing to catch: its parent watch
// stops it when npm is gone.
describe.each(["SIGTERM", "SIGHUP", "SIGKILL"] as const)("npm start and %s to the npm process", (signal) => {
  let stateDir: string;
  let local: LocalModeProcess;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "sealtrail-local-"));
    local = await startNpmStart(stateDir);
  }, STARTUP_TIMEOUT_MS);

  afterAll(() => {
    local?.killGroup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("stops the API, the emulator and every process npm started", async () => {
    const { apiUrl, s3Endpoint } = local.state();
    expect(await acceptsConnections(apiUrl)).toBe(true);

    process.kill(local.pid, signal);

    const ended = await local.exited;
    if (signal === "SIGTERM") expect(ended).toEqual({ code: 0, signal: null });
    await expectEverythingStopped(local, apiUrl, s3Endpoint);
    expect(local.stderr()).toMatch(/sealtrail: stopped\./);
  });
});
