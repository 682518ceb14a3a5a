/**
 * Local mode with privacy on (`SEALTRAIL_PRIVACY='{}' npm start`), as a user runs it: the banner says
 * so, events are sealed (the key files appear in the state dir, owner-only), a reader sees and finds
 * them by the plain identifier, the erase route needs its own scope and then the reader sees markers,
 * and the OpenAPI document lists the data-subject routes.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERASED_MARKER } from "../../lambda/core/privacy/protect";
import { routeParts, SUBJECT_ROUTES } from "../../lambda/core/routes";
import type { EventRecord } from "../../lambda/core/schema";
import { DEFAULT_ERASE_SCOPE, DEFAULT_SCOPES } from "../../lambda/runtime/config";
import { PRIVACY_KEY_FILES } from "../../local/privacy-keys";
import { type LocalModeProcess, projectRoot, run, startNpmStart } from "./local-process";

const tsx = join(projectRoot, "node_modules", ".bin", "tsx");
const STARTUP_TIMEOUT_MS = 100_000;
const pathOf = (route: string) => routeParts(route).path;

describe("npm start with SEALTRAIL_PRIVACY", () => {
  let stateDir: string;
  let local: LocalModeProcess;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "sealtrail-local-privacy-"));
    local = await startNpmStart(stateDir, { SEALTRAIL_PRIVACY: "{}" });
    const token = async (scope: string) => {
      const result = await run(tsx, ["bin/token.ts", "--scope", scope], {
        env: { ...process.env, SEALTRAIL_STATE_DIR: stateDir },
      });
      expect(result.code, result.stderr).toBe(0);
      return result.stdout.trim();
    };
    tokens.write = await token(`${DEFAULT_SCOPES.write} ${DEFAULT_SCOPES.read}`);
    tokens.erase = await token(DEFAULT_ERASE_SCOPE);
  }, STARTUP_TIMEOUT_MS);

  afterAll(() => {
    local?.killGroup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const response = await fetch(`${local.state().apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const alice = async () => {
    const { status, body } = await call("GET", "/v1/events?actor=alice", tokens.write as string);
    expect(status).toBe(200);
    return body.events as EventRecord[];
  };

  it("says privacy is on, seals what it is sent and shows it opened, found by the plain identifier", async () => {
    expect(local.stdout()).toMatch(/privacy\s+on/);
    const sent = await call("POST", "/v1/events", tokens.write as string, {
      events: [
        {
          action: "document.read",
          outcome: "success",
          actor: { sub: "alice", iss: "https://idp.example" },
          http: { source_ip: "192.0.2.10" },
        },
      ],
    });
    expect(sent.status).toBe(201);
    for (const file of Object.values(PRIVACY_KEY_FILES)) {
      expect(statSync(join(stateDir, file)).mode & 0o777, file).toBe(0o600);
    }
    const [record] = await alice();
    expect(record).toMatchObject({ v: 3, actor: { sub: "alice" }, http: { source_ip: "192.0.2.10" } });
  });

  it("erases only with the erase scope, then shows markers", async () => {
    const subject = { sub: "alice", iss: "https://idp.example" };
    const refused = await call("POST", pathOf(SUBJECT_ROUTES.erase), tokens.write as string, subject);
    expect(refused.status).toBe(403);
    expect((await alice())[0]?.actor.sub).toBe("alice");

    const erased = await call("POST", pathOf(SUBJECT_ROUTES.erase), tokens.erase as string, subject);
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ status: "erased", subject: expect.stringMatching(/^sub1\./) });
    const [record] = await alice();
    expect(record?.actor.sub).toBe(ERASED_MARKER);
    expect(record?.http?.source_ip).toBe(ERASED_MARKER);
  });

  it("lists the data-subject routes in its OpenAPI document", async () => {
    const document = (await (await fetch(`${local.state().apiUrl}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    for (const route of Object.values(SUBJECT_ROUTES)) expect(document.paths).toHaveProperty([pathOf(route)]);
  });
});
