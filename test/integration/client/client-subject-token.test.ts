/**
 * Per-event `subject_token`: verified like X-Sealtrail-Subject-Token (configured issuer, its JWKS,
 * a configured audience), accepted up to the leeway past `exp`, never stored; one bad token refuses
 * the whole request with its event index, and nothing is written.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventRecordSchema } from "../../../lambda/core/schema";
import { createIngestHandler, type IngestHandler } from "../../../lambda/handlers/ingest";
import { postEventsEvent, WRITE_CLAIMS } from "../../support/api-event";
import { objectVersions, readBatchLines, tableItems } from "../../support/archive-state";
import { createTestArchive, type TestArchive } from "../../support/aws";
import { testConfig } from "../../support/config";

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
const ISSUER = "https://idp.test";
const LEEWAY_SECONDS = 300;
const now = () => Math.floor(Date.now() / 1000);

describe("per-event subject tokens", () => {
  let archive: TestArchive;
  let ingest: IngestHandler;
  let jwks: Server;
  let key: SigningKey;
  let otherKey: SigningKey;

  beforeAll(async () => {
    archive = await createTestArchive();
    const pair = await generateKeyPair("ES256", { extractable: true });
    key = pair.privateKey;
    otherKey = (await generateKeyPair("ES256")).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "idp-1", alg: "ES256", use: "sig" };
    jwks = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
    const { port } = jwks.address() as AddressInfo;
    ingest = createIngestHandler(
      testConfig(archive, {
        subjectIssuers: [
          { issuer: ISSUER, jwksUrl: `http://127.0.0.1:${port}/jwks.json`, audiences: ["app-web"] },
        ],
        subjectTokenLeewaySeconds: LEEWAY_SECONDS,
      }),
    );
  });

  afterAll(async () => {
    await new Promise((resolve) => jwks.close(resolve));
  });

  function token(
    sub: string,
    options: { exp?: number; iss?: string; aud?: string; key?: SigningKey } = {},
  ): Promise<string> {
    return new SignJWT({ aud: options.aud ?? "app-web", azp: "web", jti: `jti-${sub}`, sid: `sid-${sub}` })
      .setProtectedHeader({ alg: "ES256", kid: "idp-1" })
      .setIssuer(options.iss ?? ISSUER)
      .setSubject(sub)
      .setIssuedAt(now() - 3600)
      .setExpirationTime(options.exp ?? now() + 300)
      .sign(options.key ?? key);
  }

  const event = (n: number, subject_token?: string) => ({
    action: "document.read",
    outcome: "success",
    resource: { type: "doc", id: String(n) },
    ...(subject_token ? { subject_token } : {}),
  });

  async function post(body: unknown, headers: Record<string, string> = {}) {
    const result = await ingest(postEventsEvent({ body, headers }));
    return { status: result.statusCode as number, body: JSON.parse(result.body as string) };
  }

  async function written() {
    const [events, chains, items] = await Promise.all([
      objectVersions(archive, "events/"),
      objectVersions(archive, "chains/"),
      tableItems(archive),
    ]);
    return { events, chains, items: items.length };
  }

  it("valid, and expired within the leeway: each event's actor is its own token's, verified, with token_exp; the token is not stored", async () => {
    const alice = await token("alice");
    const expiredExp = now() - 120;
    const bob = await token("bob", { exp: expiredExp });
    const result = await post({ events: [event(1, alice), event(2), event(3, bob), event(4, alice)] });
    expect(result.status).toBe(201);

    const lines = await readBatchLines(archive, result.body.batch.key);
    const records = lines.map((line) => EventRecordSchema.parse(JSON.parse(line)));
    expect(records.map((r) => [r.actor.sub, r.actor.verified])).toEqual([
      ["alice", true],
      [WRITE_CLAIMS.sub, true],
      ["bob", true],
      ["alice", true],
    ]);
    expect(records[2]?.actor).toMatchObject({
      token_id: "jti-bob",
      session_id: "sid-bob",
      azp: "web",
      token_exp: expiredExp,
    });
    const stored = lines.join("\n");
    for (const raw of [alice, bob]) {
      expect(stored).not.toContain(raw);
      expect(stored).not.toContain(raw.split(".")[2]);
    }
    expect(stored).not.toContain("subject_token");
  });

  it("a retry of a sealed request gets its first receipt even when its token no longer verifies, and writes nothing", async () => {
    const body = { events: [event(10, await token("carol"))] };
    const headers = { "idempotency-key": "retry-after-expiry" };
    const first = await post(body, headers);
    expect(first.status).toBe(201);
    const before = await written();

    // The same archive and table, served by an ingest that no longer trusts the token's issuer: to it
    // the token is as invalid as one expired past the leeway.
    const distrusting = createIngestHandler(testConfig(archive, { subjectIssuers: [] }));
    const retry = await distrusting(postEventsEvent({ body, headers }));
    expect(retry.statusCode).toBe(201);
    expect(JSON.parse(retry.body as string)).toEqual(first.body);
    expect(await written()).toEqual(before);

    // Without the key, or with another body, the refusal stands and still writes nothing.
    const fresh = await distrusting(postEventsEvent({ body, headers: { "idempotency-key": "another-key" } }));
    expect(fresh.statusCode).toBe(401);
    expect(await written()).toEqual(before);
  });

  it("issuer keys that cannot be fetched: 503 subject_keys_unavailable with Retry-After (retryable, never a refusal), and nothing written", async () => {
    const down = createServer((_req, res) => {
      res.statusCode = 500;
      res.end("down");
    });
    await new Promise<void>((resolve) => down.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = down.address() as AddressInfo;
      const DOWN = "https://down.test";
      const handler = createIngestHandler(
        testConfig(archive, {
          subjectIssuers: [
            { issuer: DOWN, jwksUrl: `http://127.0.0.1:${port}/jwks.json`, audiences: ["app-web"] },
          ],
        }),
      );
      const before = await written();
      const result = await handler(
        postEventsEvent({ body: { events: [event(20, await token("dan", { iss: DOWN }))] } }),
      );
      expect(result.statusCode).toBe(503);
      expect(JSON.parse(result.body as string)).toMatchObject({ code: "subject_keys_unavailable" });
      expect(result.headers?.["retry-after"]).toBe("5");
      expect(await written()).toEqual(before);
    } finally {
      await new Promise((resolve) => down.close(resolve));
    }
  });

  const refused: Array<{ name: string; make: () => Promise<string>; code: string; message: RegExp }> = [
    {
      name: "expired beyond the leeway",
      make: () => token("carol", { exp: now() - LEEWAY_SECONDS - 120 }),
      code: "invalid_subject_token",
      message: /expired more than 300 seconds ago/,
    },
    {
      name: "from an unconfigured issuer",
      make: () => token("carol", { iss: "https://evil.test" }),
      code: "invalid_subject_token",
      message: /issuer is not configured/,
    },
    {
      name: "for another audience",
      make: () => token("carol", { aud: "someone-else" }),
      code: "invalid_subject_token",
      message: /audience/,
    },
    {
      name: "forged (signed by another key)",
      make: () => token("carol", { key: otherKey }),
      code: "invalid_subject_token",
      message: /signature/,
    },
  ];

  it.each(
    refused,
  )("$name: the whole request is refused with the event's index, nothing written", async (c) => {
    const good = await token("dave");
    const bad = await c.make();
    const before = await written();

    const result = await post({ events: [event(1, good), event(2), event(3, bad)] });

    expect(result.status).toBe(401);
    expect(result.body.code).toBe(c.code);
    expect(result.body.errors).toMatchObject([{ index: 2, path: "events[2].subject_token", code: c.code }]);
    expect(result.body.message).toMatch(c.message);
    expect(JSON.stringify(result.body)).not.toContain(bad);
    expect(await written()).toEqual(before);
  });

  it("a subject token beside an actor, or in both the header and an event: 400 with the index, nothing written", async () => {
    const good = await token("erin");
    const before = await written();
    const withActor = await post({ events: [event(1), { ...event(2, good), actor: { sub: "mallory" } }] });
    const twice = await post({ events: [event(1), event(2, good)] }, { "x-sealtrail-subject-token": good });
    expect([withActor.status, withActor.body.code, withActor.body.errors[0].index]).toEqual([
      400,
      "actor_with_subject_token",
      1,
    ]);
    expect([twice.status, twice.body.code, twice.body.errors[0].index]).toEqual([
      400,
      "subject_token_twice",
      1,
    ]);
    expect(await written()).toEqual(before);
  });

  it("the header's token gets no leeway: it must be unexpired, as before", async () => {
    const before = await written();
    const expired = await token("frank", { exp: now() - 120 });
    const result = await post({ events: [event(1)] }, { "x-sealtrail-subject-token": expired });
    expect([result.status, result.body.code]).toEqual([401, "invalid_subject_token"]);
    expect(await written()).toEqual(before);
  });
});
