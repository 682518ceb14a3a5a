/**
 * Local mode in-process for the middleware suites: the local server with the real ingest and query
 * handlers on a fresh archive, the local issuer standing in for the apps' identity provider (its tokens
 * are also accepted by sealtrail as subject tokens), a checkpoint signer, and readers of what was stored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose";
import type { EventRecord } from "../../../lambda/core/schema";
import { createIngestHandler } from "../../../lambda/handlers/ingest";
import { createQueryHandler, QUERY_ROUTES } from "../../../lambda/handlers/query";
import { DEFAULT_SCOPES, type SealtrailConfig } from "../../../lambda/runtime/config";
import { LOCAL_AUDIENCE, type LocalIssuer, loadOrCreateIssuerKey, localIssuer } from "../../../local/issuer";
import { type LocalServer, startLocalServer } from "../../../local/server";
import { objectVersions, readObject, tableItems } from "../../support/archive-state";
import { createTestArchive, type TestArchive } from "../../support/aws";
import { createTestSigner, type TestSigner } from "../../support/checkpoint";
import { testConfig } from "../../support/config";

export interface LocalSealtrail {
  readonly archive: TestArchive;
  readonly server: LocalServer;
  /** Signs both sealtrail's machine tokens and the apps' user tokens. */
  readonly issuer: LocalIssuer;
  readonly signer: TestSigner;
  /** A token with the write scope, for createAuditClient. */
  writeToken(): Promise<string>;
  /** GET on the query API with a read token; the parsed JSON answer. */
  get(path: string): Promise<{ status: number; body: unknown }>;
  /** Every record matching a query (all pages). */
  search(params: Record<string, string>): Promise<EventRecord[]>;
  /** Every stored byte, decompressed, as text: each object version and each table item. */
  storedText(): Promise<string>;
  /** Verifies a user token as an app would (issuer, audience, signature): its claims. */
  verifyUserToken(token: string): Promise<JWTPayload>;
  close(): Promise<void>;
}

export async function startLocalSealtrail(): Promise<LocalSealtrail> {
  const archive = await createTestArchive();
  const stateDir = mkdtempSync(join(tmpdir(), "sealtrail-middleware-"));
  const key = await loadOrCreateIssuerKey(stateDir);
  const handlers: {
    ingest?: ReturnType<typeof createIngestHandler>;
    query?: ReturnType<typeof createQueryHandler>;
  } = {};
  const starting = { statusCode: 503, body: '{"message":"Starting"}' };
  const server = await startLocalServer({
    port: 0,
    issuer: { publicJwks: () => key.publicJwks() },
    audience: LOCAL_AUDIENCE,
    routes: {
      "POST /v1/events": {
        scopes: [DEFAULT_SCOPES.write],
        handler: async (event) => (handlers.ingest ? handlers.ingest(event) : starting),
      },
      ...Object.fromEntries(
        QUERY_ROUTES.map((routeKey) => [
          routeKey,
          {
            scopes: [DEFAULT_SCOPES.read],
            handler: async (event: Parameters<NonNullable<typeof handlers.query>>[0]) =>
              handlers.query ? handlers.query(event) : starting,
          },
        ]),
      ),
    },
  });
  // As in `npm start`: forwarded user tokens of the local issuer are verified as subject tokens.
  const config: SealtrailConfig = testConfig(archive, {
    subjectIssuers: [{ issuer: server.issuer, jwksUrl: server.jwksUrl, audiences: [LOCAL_AUDIENCE] }],
  });
  handlers.ingest = createIngestHandler(config);
  handlers.query = createQueryHandler(config);
  const issuer = localIssuer(key, { issuer: server.issuer });
  const signer = await createTestSigner(archive);
  const jwks = createRemoteJWKSet(new URL(server.jwksUrl));

  const get = async (path: string) => {
    const token = await issuer.signToken({ scope: DEFAULT_SCOPES.read, sub: "auditor" });
    const response = await fetch(new URL(path, server.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: await response.json() };
  };

  return {
    archive,
    server,
    issuer,
    signer,
    writeToken: () => issuer.signToken({ scope: DEFAULT_SCOPES.write, sub: "app-service" }),
    get,
    async search(params) {
      const records: EventRecord[] = [];
      let cursor: string | undefined;
      do {
        const query = new URLSearchParams({ ...params, limit: "1000", ...(cursor ? { cursor } : {}) });
        const { status, body } = await get(`/v1/events?${query}`);
        if (status !== 200) throw new Error(`search ${query} answered ${status}: ${JSON.stringify(body)}`);
        const page = body as { events: EventRecord[]; next_cursor?: string };
        records.push(...page.events);
        cursor = page.next_cursor;
      } while (cursor);
      return records;
    },
    async storedText() {
      const keys = (await objectVersions(archive)).filter((name) => !name.startsWith("delete-marker:"));
      const texts = await Promise.all(
        keys.map(async (name) => {
          const bytes = await readObject(archive, name);
          return name.endsWith(".gz") ? gunzipSync(bytes).toString("utf8") : bytes.toString("utf8");
        }),
      );
      return [...texts, JSON.stringify(await tableItems(archive))].join("\n");
    },
    async verifyUserToken(token) {
      const { payload } = await jwtVerify(token, jwks, { issuer: server.issuer, audience: LOCAL_AUDIENCE });
      return payload;
    },
    async close() {
      await server.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** A user's token as the apps' identity provider would issue it: a session, roles, an authorized party. */
export function userToken(sealtrail: LocalSealtrail, sub: string, sessionId: string): Promise<string> {
  return sealtrail.issuer.signToken({
    scope: "documents:read",
    sub,
    extraClaims: { sid: sessionId, roles: ["editor"], azp: "documents-web" },
  });
}
