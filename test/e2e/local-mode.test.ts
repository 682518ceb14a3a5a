/**
 * `npm start` and `npm run token` as a user runs them: child processes, real HTTP, real signals.
 * SEALTRAIL_STATE_DIR keeps each run's .sealtrail/ in a temporary directory.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { calculateJwkThumbprint, decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_SCOPES } from "../../lambda/config";
import type { LocalState } from "../../lambda/local/issuer";
import { EXAMPLE_EVENTS } from "./support";

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const tsx = join(projectRoot, "node_modules", ".bin", "tsx");
const STARTUP_TIMEOUT_MS = 90_000;

/** The pids of every process below `root`, from ps. */
function descendantsOf(root: number): number[] {
  const table = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const [pid, ppid] of table) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function acceptsConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function runToken(
  stateDir: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      tsx,
      ["bin/token.ts", ...args],
      { cwd: projectRoot, env: { ...process.env, SEALTRAIL_STATE_DIR: stateDir } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
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

describe("npm start (bin/local.ts) as a child process", () => {
  let stateDir: string;
  let child: ChildProcess;
  let stdout = "";
  let stderr = "";
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "sealtrail-local-"));
    child = spawn(tsx, ["bin/local.ts"], {
      cwd: projectRoot,
      // A checkpoint every second instead of every minute, so the archive is verifiable within the test.
      env: { ...process.env, PORT: "0", SEALTRAIL_STATE_DIR: stateDir, SEALTRAIL_CHECKPOINT_SECONDS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`local mode did not start in time.\nstdout:\n${stdout}\nstderr:\n${stderr}`)),
        STARTUP_TIMEOUT_MS,
      );
      const check = () => {
        if (stdout.includes("Ctrl-C")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", check);
      exited.then(({ code }) => {
        clearTimeout(timer);
        reject(
          new Error(`local mode exited with ${code} during startup.\nstdout:\n${stdout}\nstderr:\n${stderr}`),
        );
      });
    });
  }, STARTUP_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      for (const pid of [child.pid as number, ...descendantsOf(child.pid as number)]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  const state = (): LocalState => JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8"));

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
    expect(stdout).toContain(written.bucket);
    // Only a moto it started itself is in memory; an external endpoint (AWS_ENDPOINT_URL) keeps its state.
    if (!process.env.AWS_ENDPOINT_URL) expect(stdout).toMatch(/in memory/);
  });

  it("serves the issuer's JWKS, whose key signed the printed token", async () => {
    const jwks = (await (await fetch(state().jwksUrl)).json()) as { keys: Array<Record<string, string>> };
    const printedToken = stdout.split("\n").find((line) => /^ey[\w-]+\.[\w-]+\.[\w-]+$/.test(line)) ?? "";

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
    const curl = stdout.split("\n").find((line) => line.startsWith("curl "));
    expect(curl).toBeDefined();
    expect(curl).toContain(JSON.stringify(EXAMPLE_EVENTS));

    const output = execFileSync("bash", ["-c", `${curl} -w '\\n%{http_code}'`], { encoding: "utf8" });

    const [body, status] = [
      output.slice(0, output.lastIndexOf("\n")),
      output.slice(output.lastIndexOf("\n") + 1),
    ];
    expect({ status, body }).toMatchObject({ status: "201" });
    expect(JSON.parse(body)).toMatchObject({ ids: [expect.any(String)], leaf_indexes: [0] });
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
  });

  it("signs checkpoints with its own key, and the printed verify line verifies the archive", async () => {
    const trust = JSON.parse(readFileSync(state().jwksFile, "utf8")) as {
      keys: Array<Record<string, string>>;
    };
    expect(trust.keys).toHaveLength(1);
    expect(trust.keys[0]).not.toHaveProperty("d");
    expect(existsSync(join(stateDir, "checkpoint-key.json"))).toBe(true);
    const verifyLine = stdout.split("\n").find((line) => line.includes("npx sealtrail verify")) as string;
    expect(verifyLine).toContain(`--trust`);
    // The curl test above wrote an event; wait until a checkpoint covers it.
    await expect
      .poll(
        () => {
          try {
            return execFileSync("bash", ["-c", verifyLine], { cwd: projectRoot, encoding: "utf8" });
          } catch (error) {
            return String((error as { stdout?: string }).stdout ?? error);
          }
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toMatch(/^VERIFIED: \d+ checkpoints, 1 chains, [1-9]\d* links/m);
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
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          tsx,
          ["bin/sealtrail.ts", ...args],
          { cwd: projectRoot, env: { ...process.env, SEALTRAIL_STATE_DIR: stateDir } },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      });
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

    const second = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        tsx,
        ["bin/local.ts"],
        { cwd: projectRoot, env: { ...process.env, PORT: port, SEALTRAIL_STATE_DIR: stateDir } },
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
      );
    });

    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`port ${port} .*already in use`));
  });

  it("stops on SIGINT with exit 0 and leaves no child process or open port behind", async () => {
    const { apiUrl, s3Endpoint } = state();
    const family = descendantsOf(child.pid as number);
    expect(family.length).toBeGreaterThan(0);

    child.kill("SIGINT");
    const { code } = await exited;

    expect(code).toBe(0);
    await expect.poll(() => family.filter(alive), { timeout: 10_000 }).toEqual([]);
    expect(await acceptsConnections(apiUrl)).toBe(false);
    if (!process.env.AWS_ENDPOINT_URL) expect(await acceptsConnections(s3Endpoint)).toBe(false);
  });
});
