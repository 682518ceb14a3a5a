/**
 * Local mode over real HTTP, against the emulator: the authorizer stands in front of the real
 * ingest handler, a refused request writes nothing, and an accepted one gets a receipt.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import {
  DEFAULT_CHAINS,
  DEFAULT_LEASE_SECONDS,
  DEFAULT_SCOPES,
  type SealtrailConfig,
} from "../../lambda/runtime/config";
import { LOCAL_AUDIENCE, type LocalIssuer, loadOrCreateIssuerKey, localIssuer } from "../../local/issuer";
import { type LocalServer, type RouteHandler, startLocalServer } from "../../local/server";
import { createTestArchive, type TestArchive } from "../support/aws";
import { archiveContents, BAD_TOKENS, EXAMPLE_EVENTS } from "./support";

interface LocalApi {
  readonly archive: TestArchive;
  readonly server: LocalServer;
  readonly issuer: LocalIssuer;
  /** How many requests reached the ingest handler. */
  readonly calls: () => number;
  /** What the server logged, one entry per line. */
  readonly logged: string[];
  close(): Promise<void>;
}

/** The local server on a free port, routing POST /v1/events to the real ingest handler on a fresh archive. */
async function startLocalApi(): Promise<LocalApi> {
  const archive = await createTestArchive();
  const stateDir = mkdtempSync(join(tmpdir(), "sealtrail-e2e-"));
  const key = await loadOrCreateIssuerKey(stateDir);
  const config: SealtrailConfig = {
    bucket: archive.bucket,
    table: archive.table,
    chains: DEFAULT_CHAINS,
    scopes: DEFAULT_SCOPES,
    subjectIssuers: [],
    leaseSeconds: DEFAULT_LEASE_SECONDS,
    aws: archive.target,
  };
  const ingest = createIngestHandler(config);
  let calls = 0;
  const logged: string[] = [];
  const handler: RouteHandler = (event) => {
    calls++;
    return ingest(event);
  };
  const server = await startLocalServer({
    port: 0,
    issuer: { publicJwks: () => key.publicJwks() },
    audience: LOCAL_AUDIENCE,
    routes: { "POST /v1/events": { scopes: [DEFAULT_SCOPES.write], handler } },
    log: (line) => logged.push(line),
  });
  return {
    archive,
    server,
    issuer: localIssuer(key, { issuer: server.issuer }),
    calls: () => calls,
    logged,
    async close() {
      await server.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

function postEvents(
  api: LocalApi,
  authorization: string | undefined,
  body: string | Buffer = JSON.stringify(EXAMPLE_EVENTS),
) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (authorization !== undefined) headers.authorization = authorization;
  return fetch(`${api.server.url}/v1/events`, { method: "POST", headers, body });
}

describe("local HTTP API: refused requests write nothing", () => {
  let api: LocalApi;

  beforeAll(async () => {
    api = await startLocalApi();
  });

  afterAll(async () => {
    await api?.close();
  });

  it.each(BAD_TOKENS)("$name: $status, and nothing reaches the handler or the archive", async (bad) => {
    const authorization = await bad.authorization(api.issuer);

    const response = await postEvents(api, authorization);

    expect(response.status).toBe(bad.status);
    expect(await response.json()).toEqual({ message: bad.status === 401 ? "Unauthorized" : "Forbidden" });
    const challenge = response.headers.get("www-authenticate") ?? "";
    expect(challenge).toMatch(/^Bearer scope="[^"]*" error="[a-z_]+" error_description="[^"]+"$/);
    const requestId = response.headers.get("apigw-requestid");
    expect(requestId).toBeTruthy();
    // The console says why, as the header does, and never repeats any part of the credential.
    const [line, ...others] = api.logged.filter((entry) => entry.includes(`(request ${requestId})`));
    expect(others).toEqual([]);
    const reason = /error_description="([^"]+)"/.exec(challenge)?.[1] ?? "?";
    expect(line).toBe(`sealtrail: ${bad.status} POST /v1/events refused (request ${requestId}): ${reason}`);
    for (const part of (authorization ?? "").replace(/^\S+\s+/, "").split(".")) {
      if (part.length >= 8) expect(line).not.toContain(part);
    }
    expect(api.calls()).toBe(0);
    expect(await archiveContents(api.archive)).toEqual({ objects: [], items: 0 });
  });

  it("answers an unknown route with 404 Not Found and writes nothing", async () => {
    const token = await api.issuer.signToken({ scope: DEFAULT_SCOPES.write });

    const wrongPath = await fetch(`${api.server.url}/v1/event`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify(EXAMPLE_EVENTS),
    });
    const wrongMethod = await fetch(`${api.server.url}/v1/events`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify(EXAMPLE_EVENTS),
    });

    expect([wrongPath.status, wrongMethod.status]).toEqual([404, 404]);
    expect(await wrongPath.json()).toEqual({ message: "Not Found" });
    expect(api.calls()).toBe(0);
    expect(await archiveContents(api.archive)).toEqual({ objects: [], items: 0 });
  });

  it("answers a body over API Gateway's 10 MB limit with 413, even with a valid token, and writes nothing", async () => {
    const token = await api.issuer.signToken({ scope: DEFAULT_SCOPES.write });

    const response = await postEvents(api, `Bearer ${token}`, Buffer.alloc(10 * 1024 * 1024 + 1, 0x20));

    expect(response.status).toBe(413);
    expect(api.calls()).toBe(0);
    expect(await archiveContents(api.archive)).toEqual({ objects: [], items: 0 });
  });
});

describe("local HTTP API: an accepted request", () => {
  let api: LocalApi;

  beforeAll(async () => {
    api = await startLocalApi();
  });

  afterAll(async () => {
    await api?.close();
  });

  it("posts the example event with a valid token and gets a 201 receipt", async () => {
    const token = await api.issuer.signToken({ scope: [DEFAULT_SCOPES.write, DEFAULT_SCOPES.read] });

    const response = await postEvents(api, `Bearer ${token}`);

    const text = await response.text();
    expect({ status: response.status, body: text }).toMatchObject({ status: 201 });
    const receipt = JSON.parse(text);
    expect(receipt).toMatchObject({
      ids: [expect.any(String)],
      chain: expect.anything(),
      seq: expect.any(Number),
      link_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      batch: { key: expect.stringMatching(/^events\//), root: expect.any(String) },
      leaf_indexes: [0],
    });
    const contents = await archiveContents(api.archive);
    expect(contents.objects).toContain(receipt.batch.key);
    expect(contents.objects.some((key) => key.startsWith("chains/"))).toBe(true);
  });
});
