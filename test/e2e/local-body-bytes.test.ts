/**
 * Local mode hands the ingest handler a body's exact bytes: bytes that are not UTF-8 are refused
 * with 400 invalid_utf8 and nothing is written, never sealed with U+FFFD in their place; a valid
 * body arrives unchanged.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import { DEFAULT_SCOPES } from "../../lambda/runtime/config";
import { LOCAL_AUDIENCE, type LocalIssuer, loadOrCreateIssuerKey, localIssuer } from "../../local/issuer";
import { type LocalServer, startLocalServer } from "../../local/server";
import { readBatchLines, snapshot } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { testConfig } from "../support/config";

describe("local mode: the body's exact bytes reach the handler", () => {
  let archive: TestArchive;
  let server: LocalServer;
  let issuer: LocalIssuer;
  let stateDir: string;
  const received: APIGatewayProxyEventV2WithJWTAuthorizer[] = [];

  beforeAll(async () => {
    archive = await createTestArchive();
    stateDir = mkdtempSync(join(tmpdir(), "sealtrail-bytes-"));
    const key = await loadOrCreateIssuerKey(stateDir);
    const ingest = createIngestHandler(testConfig(archive));
    server = await startLocalServer({
      port: 0,
      issuer: { publicJwks: () => key.publicJwks() },
      audience: LOCAL_AUDIENCE,
      routes: {
        "POST /v1/events": {
          scopes: [DEFAULT_SCOPES.write],
          handler: (event) => {
            received.push(event);
            return ingest(event);
          },
        },
      },
      log: () => {},
    });
    issuer = localIssuer(key, { issuer: server.issuer });
  });

  afterAll(async () => {
    await server?.close();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  async function post(body: Buffer) {
    const token = await issuer.signToken({ scope: DEFAULT_SCOPES.write });
    const response = await fetch(`${server.url}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it("refuses bytes that are not UTF-8 with 400 invalid_utf8, and writes nothing", async () => {
    const before = await snapshot(archive);
    const bytes = Buffer.concat([
      Buffer.from('{"events":[{"action":"a","outcome":"success","details":"'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"}]}'),
    ]);

    const answer = await post(bytes);

    expect([answer.status, answer.body.code]).toEqual([400, "invalid_utf8"]);
    expect(received.at(-1)?.isBase64Encoded).toBe(true);
    expect(Buffer.from(received.at(-1)?.body ?? "", "base64")).toEqual(bytes);
    expect(await snapshot(archive)).toEqual(before);
  });

  it("hands a UTF-8 body over as text and seals exactly its characters", async () => {
    const details = "é 😀 \ufffd \u2028";
    const text = JSON.stringify({ events: [{ action: "a", outcome: "success", details }] });

    const answer = await post(Buffer.from(text));

    expect(answer.status).toBe(201);
    expect(received.at(-1)).toMatchObject({ body: text, isBase64Encoded: false });
    const [line] = await readBatchLines(archive, (answer.body.batch as { key: string }).key);
    expect(JSON.parse(line as string).details).toBe(JSON.stringify(details));
  });
});
