/**
 * The ingest handler against the emulator: every rule of the write path, and for every rejection,
 * that nothing was written to the bucket or the table.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../lambda/core/hash";
import { parseLink } from "../../lambda/core/link";
import { leafHash, merkleRoot } from "../../lambda/core/merkle";
import { EventRecordSchema, RECORD_VERSION } from "../../lambda/core/schema";
import { createIngestHandler, type IngestHandler } from "../../lambda/handlers/ingest";
import { postEventsEvent, WRITE_CLAIMS } from "../support/api-event";
import { readBatchLines, readObject, snapshot, tableItems } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";
import { testConfig } from "../support/config";

type SigningKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

const EXAMPLE = {
  events: [{ action: "document.read", outcome: "success", resource: { type: "document", id: "42" } }],
};

function parse(result: Awaited<ReturnType<IngestHandler>>): {
  status: number;
  body: Record<string, unknown>;
} {
  return { status: result.statusCode as number, body: JSON.parse(result.body as string) };
}

describe("POST /v1/events", () => {
  let archive: TestArchive;
  let ingest: IngestHandler;
  // A subject-token issuer serving its JWKS over HTTP, as a real identity provider does.
  let jwksServer: Server;
  let jwksFetches = 0;
  let subjectKey: SigningKey;
  let otherKey: SigningKey;
  const subjectIssuer = "https://idp.test";

  beforeAll(async () => {
    archive = await createTestArchive();
    const pair = await generateKeyPair("RS256", { extractable: true });
    subjectKey = pair.privateKey;
    otherKey = (await generateKeyPair("RS256")).privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "idp-1", alg: "RS256", use: "sig" };
    jwksServer = createServer((_req, res) => {
      jwksFetches++;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
    const { port } = jwksServer.address() as AddressInfo;
    ingest = createIngestHandler(
      testConfig(archive, {
        subjectIssuers: [
          { issuer: subjectIssuer, jwksUrl: `http://127.0.0.1:${port}/jwks.json`, audiences: ["app-web"] },
        ],
      }),
    );
  });

  afterAll(async () => {
    await new Promise((resolve) => jwksServer.close(resolve));
  });

  async function subjectToken(
    claims: Record<string, unknown>,
    options: { key?: SigningKey; exp?: string | number; kid?: string } = {},
  ) {
    return new SignJWT({
      aud: "app-web",
      azp: "web-client",
      jti: "subject-jti-9",
      sid: "session-77",
      ...claims,
    })
      .setProtectedHeader({ alg: "RS256", kid: options.kid ?? "idp-1" })
      .setIssuer(subjectIssuer)
      .setSubject((claims.sub as string) ?? "alice")
      .setIssuedAt()
      .setExpirationTime(options.exp ?? "5m")
      .sign(options.key ?? subjectKey);
  }

  describe("accepts a valid batch and seals it", () => {
    it("answers 201 with a receipt that matches what S3 holds", async () => {
      const result = parse(await ingest(postEventsEvent({ body: EXAMPLE })));

      expect(result.status).toBe(201);
      const receipt = result.body as {
        ids: string[];
        chain: string;
        seq: number;
        link_key: string;
        link_hash: string;
        batch: { key: string; root: string; count: number };
        leaf_indexes: number[];
      };
      expect(receipt.ids).toHaveLength(1);
      expect(receipt.leaf_indexes).toEqual([0]);
      const linkBytes = await readObject(archive, receipt.link_key);
      expect(sha256Hex(linkBytes)).toBe(receipt.link_hash);
      const link = parseLink(linkBytes);
      expect(link).toMatchObject({
        chain: receipt.chain,
        seq: receipt.seq,
        batch: { key: receipt.batch.key, root: receipt.batch.root, count: 1 },
      });
      const data = await readObject(archive, receipt.batch.key);
      expect(sha256Hex(data)).toBe(link.batch.sha256);
      expect(receipt.batch.key).toMatch(/^events\/dt=\d{4}-\d{2}-\d{2}\/hr=\d{2}\/[0-9a-f]{64}\.jsonl\.gz$/);
      const lines = await readBatchLines(archive, receipt.batch.key);
      expect(merkleRoot(lines.map((line) => leafHash(Buffer.from(line)))).toString("hex")).toBe(
        receipt.batch.root,
      );
      const record = EventRecordSchema.parse(JSON.parse(lines[0] as string));
      expect(record).toMatchObject({
        v: RECORD_VERSION,
        id: receipt.ids[0],
        action: "document.read",
        tenant: "default",
        resource: { type: "document", id: "42" },
      });
    });

    it("records the caller as a verified actor when the body names none", async () => {
      const result = parse(await ingest(postEventsEvent({ body: EXAMPLE })));
      const lines = await readBatchLines(archive, (result.body.batch as { key: string }).key);
      const record = JSON.parse(lines[0] as string);

      expect(record.actor).toEqual(record.reporter);
      expect(record.reporter).toMatchObject({
        sub: WRITE_CLAIMS.sub,
        iss: WRITE_CLAIMS.iss,
        token_id: WRITE_CLAIMS.jti,
        token_exp: 1790003600,
        client_id: "billing-service",
        aud: ["sealtrail"],
        scopes: ["sealtrail/write"],
        verified: true,
      });
      expect(record.ingest).toMatchObject({ source_ip: "198.51.100.7", user_agent: "test-agent/1.0" });
    });

    it("records an actor named in the body as asserted by the reporter (verified: false)", async () => {
      const body = {
        events: [{ action: "user.login", outcome: "failure", actor: { sub: "mallory", session_id: "s-1" } }],
      };
      const result = parse(await ingest(postEventsEvent({ body })));
      const record = JSON.parse(
        (await readBatchLines(archive, (result.body.batch as { key: string }).key))[0] as string,
      );

      expect(record.actor).toMatchObject({
        sub: "mallory",
        session_id: "s-1",
        verified: false,
        token_id: null,
      });
      expect(record.reporter.sub).toBe(WRITE_CLAIMS.sub);
    });

    it("takes the actor from a verified subject token, with azp, aud and jti, and caches the issuer's keys", async () => {
      const token = await subjectToken({ sub: "alice" });
      const before = jwksFetches;

      const first = parse(
        await ingest(postEventsEvent({ body: EXAMPLE, headers: { "x-sealtrail-subject-token": token } })),
      );
      const second = parse(
        await ingest(postEventsEvent({ body: EXAMPLE, headers: { "x-sealtrail-subject-token": token } })),
      );

      expect([first.status, second.status]).toEqual([201, 201]);
      const record = JSON.parse(
        (await readBatchLines(archive, (first.body.batch as { key: string }).key))[0] as string,
      );
      expect(record.actor).toMatchObject({
        sub: "alice",
        iss: subjectIssuer,
        azp: "web-client",
        aud: ["app-web"],
        token_id: "subject-jti-9",
        session_id: "session-77",
        verified: true,
      });
      expect(jwksFetches - before).toBe(1);
      // No raw token is ever stored.
      const stored = (await readBatchLines(archive, (first.body.batch as { key: string }).key)).join("\n");
      expect(stored).not.toContain(token.split(".")[2]);
    });

    it("never writes the caller's or the subject's raw token to a log line", async () => {
      const lines: string[] = [];
      const write = process.stdout.write.bind(process.stdout);
      const previous = process.env.POWERTOOLS_LOG_LEVEL;
      process.env.POWERTOOLS_LOG_LEVEL = "DEBUG";
      const logged = createIngestHandler(testConfig(archive, { subjectIssuers: [] }));
      process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        lines.push(String(chunk));
        return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof process.stdout.write;
      const rawToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMifQ.bG9nLXNlY3JldC1zaWduYXR1cmU";
      try {
        await logged(postEventsEvent({ body: EXAMPLE, headers: { authorization: `Bearer ${rawToken}` } }));
        await logged(postEventsEvent({ body: EXAMPLE, headers: { "x-sealtrail-subject-token": rawToken } }));
      } finally {
        process.stdout.write = write;
        process.env.POWERTOOLS_LOG_LEVEL = previous;
      }

      expect(lines.join("")).toContain("events sealed");
      expect(lines.join("")).not.toContain("bG9nLXNlY3JldC1zaWduYXR1cmU");
    });

    it("never stores the caller's raw token", async () => {
      const rawToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMifQ.c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ";
      const result = parse(
        await ingest(postEventsEvent({ body: EXAMPLE, headers: { authorization: `Bearer ${rawToken}` } })),
      );

      expect(result.status).toBe(201);
      const stored = (await readBatchLines(archive, (result.body.batch as { key: string }).key)).join("\n");
      expect(stored).not.toContain("c2lnbmF0dXJlLXNlY3JldC12YWx1ZQ");
    });

    it("writes a pointer item per event with tenant-first GSI keys, then the link's indexed marker", async () => {
      const body = {
        events: [
          {
            action: "document.update",
            outcome: "success",
            resource: { type: "document", id: "7" },
            actor: { sub: "bob", session_id: "sess-b" },
            http: { request_id: "req-1" },
          },
          { action: "document.delete", outcome: "denied", resource: { type: "document", id: "7" } },
        ],
      };
      const result = parse(await ingest(postEventsEvent({ body })));
      const ids = result.body.ids as string[];

      const items = await tableItems(archive);
      const pointers = items.filter((item) => ids.includes(item.event_id as string));
      expect(pointers).toHaveLength(2);
      const first = pointers.find((item) => item.event_id === ids[0]) as Record<string, unknown>;
      expect(first).toMatchObject({
        request_key: "default#req-1",
        chain: result.body.chain,
        seq: result.body.seq,
        leaf_index: 0,
      });
      // Index format 2: no legacy GSI keys on the pointer; the batch's postings name the tenant first.
      for (const legacy of ["actor_key", "action_key", "resource_key", "session_key", "time_shard_key"]) {
        expect(first).not.toHaveProperty(legacy);
      }
      const postings = items.filter((item) => String(item.pk).startsWith("posting#"));
      expect(postings.map((item) => String(item.pk).split("#").slice(0, 3).join("#"))).toEqual(
        expect.arrayContaining([
          "posting#actor#default",
          "posting#action#default",
          "posting#resource#default",
          "posting#session#default",
          "posting#time#default",
        ]),
      );
      expect(
        items.some(
          (item) => item.pk === `indexed#${result.body.chain}` && Number(item.sk) === result.body.seq,
        ),
      ).toBe(true);
    });
  });

  describe("rejects, and writes nothing", () => {
    const base = { action: "document.read", outcome: "success" };
    const cases: Array<{
      name: string;
      status: number;
      code: string;
      path?: string;
      event: Parameters<typeof postEventsEvent>[0];
    }> = [
      { name: "malformed JSON", status: 400, code: "malformed_json", event: { rawBody: '{"events":[' } },
      { name: "an empty body", status: 400, code: "empty_body", event: { rawBody: "" } },
      { name: "a body that is an array", status: 400, code: "invalid_body", event: { body: [base] } },
      { name: "no events array", status: 400, code: "missing_events", event: { body: { event: [base] } } },
      {
        name: "an empty events array",
        status: 400,
        code: "invalid_event_count",
        event: { body: { events: [] } },
      },
      {
        name: "1001 events",
        status: 400,
        code: "invalid_event_count",
        event: { body: { events: Array(1001).fill(base) } },
      },
      {
        name: "a wrong type",
        status: 400,
        code: "invalid_field",
        path: "events[0].outcome",
        event: { body: { events: [{ ...base, outcome: 3 }] } },
      },
      {
        name: "a missing action",
        status: 400,
        code: "missing_field",
        path: "events[0].action",
        event: { body: { events: [{ outcome: "success" }] } },
      },
      {
        name: "an unknown field",
        status: 400,
        code: "unknown_field",
        path: "events[0].colour",
        event: { body: { events: [{ ...base, colour: "red" }] } },
      },
      {
        name: "an invalid date",
        status: 400,
        code: "invalid_field",
        path: "events[0].occurred_at",
        event: { body: { events: [{ ...base, occurred_at: "2026-02-30T25:00:00Z" }] } },
      },
      {
        name: "a date without time zone",
        status: 400,
        code: "invalid_field",
        path: "events[0].occurred_at",
        event: { body: { events: [{ ...base, occurred_at: "2026-01-01T10:00:00" }] } },
      },
      {
        name: "a control character in a field",
        status: 400,
        code: "invalid_field",
        path: "events[0].resource.id",
        event: { body: { events: [{ ...base, resource: { type: "doc", id: "a\u0000b" } }] } },
      },
      {
        name: "a lone surrogate",
        status: 400,
        code: "invalid_unicode",
        path: "events[0].resource.id",
        event: {
          rawBody: '{"events":[{"action":"a","outcome":"success","resource":{"type":"d","id":"\\ud800"}}]}',
        },
      },
      {
        name: "invalid UTF-8 bytes",
        status: 400,
        code: "invalid_utf8",
        event: { rawBody: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString("base64"), isBase64Encoded: true },
      },
      {
        name: "a __proto__ key",
        status: 400,
        code: "forbidden_key",
        path: "events[0].details.__proto__",
        event: {
          rawBody: '{"events":[{"action":"a","outcome":"success","details":{"__proto__":{"admin":true}}}]}',
        },
      },
      {
        name: "a constructor key",
        status: 400,
        code: "forbidden_key",
        path: "events[0].details.constructor",
        event: { body: { events: [{ ...base, details: { constructor: { prototype: 1 } } }] } },
      },
      {
        name: "a body that sets verified",
        status: 400,
        code: "forbidden_field",
        path: "events[0].actor.verified",
        event: { body: { events: [{ ...base, actor: { sub: "x", verified: true } }] } },
      },
      {
        name: "a body that sets reporter",
        status: 400,
        code: "forbidden_field",
        path: "events[0].reporter",
        event: { body: { events: [{ ...base, reporter: { sub: "x" } }] } },
      },
      {
        name: "a body that sets tenant",
        status: 400,
        code: "forbidden_field",
        path: "events[0].tenant",
        event: { body: { events: [{ ...base, tenant: "other" }] } },
      },
      {
        name: "a body that sets id",
        status: 400,
        code: "forbidden_field",
        path: "events[0].id",
        event: { body: { events: [{ ...base, id: "01HX" }] } },
      },
      {
        name: "a body that sets time",
        status: 400,
        code: "forbidden_field",
        path: "events[0].time",
        event: { body: { events: [{ ...base, time: "2020-01-01T00:00:00Z" }] } },
      },
      {
        name: "an oversized event",
        status: 413,
        code: "event_too_large",
        path: "events[0]",
        event: { body: { events: [{ ...base, details: "x".repeat(40_000) }] } },
      },
      {
        name: "oversized details",
        status: 413,
        code: "details_too_large",
        path: "events[0].details",
        event: { body: { events: [{ ...base, details: { a: "x".repeat(20_000) } }] } },
      },
      {
        name: "an oversized body",
        status: 413,
        code: "body_too_large",
        event: { rawBody: JSON.stringify({ events: [base], pad: "x".repeat(5 * 1024 * 1024) }) },
      },
      {
        name: "one bad event among good ones (all-or-nothing)",
        status: 400,
        code: "invalid_field",
        path: "events[2].outcome",
        event: { body: { events: [base, base, { ...base, outcome: "maybe" }, base] } },
      },
      {
        name: "invalid UTF-8 in a text body (a raw unpaired surrogate)",
        status: 400,
        code: "invalid_utf8",
        event: { rawBody: `{"events":[{"action":"a","outcome":"success","details":"\udc80"}]}` },
      },
      {
        name: "a wrong type reported as such, not as missing",
        status: 400,
        code: "invalid_field",
        path: "events[0].action",
        event: { body: { events: [{ action: 123, outcome: "success" }] } },
      },
      {
        name: "a status sent as a string",
        status: 400,
        code: "invalid_field",
        path: "events[0].http.status",
        event: { body: { events: [{ ...base, http: { status: "200" } }] } },
      },
      {
        name: "an integer a double cannot hold",
        status: 400,
        code: "imprecise_number",
        path: "events[0].details.amount",
        event: {
          rawBody:
            '{"events":[{"action":"a","outcome":"success","details":{"amount":12345678901234567890}}]}',
        },
      },
      {
        name: "a number that would be stored as 0",
        status: 400,
        code: "imprecise_number",
        path: "events[0].details[0]",
        event: { rawBody: '{"events":[{"action":"a","outcome":"success","details":[1e-400]}]}' },
      },
      {
        name: "a duplicate key (JSON.parse would keep the last)",
        status: 400,
        code: "duplicate_key",
        path: "events[0].details.role",
        event: {
          rawBody: '{"events":[{"action":"a","outcome":"success","details":{"role":"user","role":"admin"}}]}',
        },
      },
      {
        name: "an occurred_at that would be stored as year +010000",
        status: 400,
        code: "time_out_of_range",
        path: "events[0].occurred_at",
        event: { body: { events: [{ ...base, occurred_at: "9999-12-31T23:59:59-23:59" }] } },
      },
      {
        name: "details nested 2,000 deep",
        status: 400,
        code: "nesting_too_deep",
        event: {
          rawBody: `{"events":[{"action":"a","outcome":"success","details":${"[".repeat(2000)}${"]".repeat(2000)}}]}`,
        },
      },
      {
        name: "a body nested 5,000 deep",
        status: 400,
        code: "nesting_too_deep",
        event: { rawBody: `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}` },
      },
      {
        name: "a gzip-labelled body",
        status: 415,
        code: "unsupported_content_encoding",
        event: { body: EXAMPLE, headers: { "content-encoding": "gzip" } },
      },
      {
        name: "a body labelled as plain text",
        status: 415,
        code: "unsupported_content_type",
        event: { body: EXAMPLE, headers: { "content-type": "text/plain" } },
      },
      { name: "no claims", status: 401, code: "missing_claims", event: { claims: null } },
      {
        name: "a token without the write scope",
        status: 403,
        code: "missing_scope",
        event: { claims: { ...WRITE_CLAIMS, scope: "sealtrail/read" } },
      },
      {
        name: "a sub flattened from an array",
        status: 401,
        code: "claim_not_single",
        event: { claims: { ...WRITE_CLAIMS, sub: "[alice bob]" } },
      },
      {
        name: "a token without sub",
        status: 401,
        code: "missing_claim",
        event: { claims: { iss: WRITE_CLAIMS.iss, scope: "sealtrail/write" } },
      },
      {
        name: "a bad Idempotency-Key",
        status: 400,
        code: "invalid_idempotency_key",
        event: { headers: { "idempotency-key": "has space" } },
      },
    ];

    it.each(cases)("$name → $status $code", async ({ status, code, path, event }) => {
      const isolated = await createTestArchive();
      const handler = createIngestHandler(testConfig(isolated));

      const result = parse(await handler(postEventsEvent(event)));

      expect(result.status).toBe(status);
      expect(result.body.code).toBe(code);
      expect(typeof result.body.message).toBe("string");
      if (path) {
        const errors = result.body.errors as Array<{ path: string; index?: number; code: string }>;
        expect(errors.map((e) => e.path)).toContain(path);
        const match = /^events\[(\d+)\]/.exec(path);
        if (match) expect(errors.find((e) => e.path === path)?.index).toBe(Number(match[1]));
      }
      expect(await snapshot(isolated)).toEqual({ objects: [], items: 0 });
    });

    it("accepts scopes from `scp` and refuses the tenant claim when it is a flattened list", async () => {
      const isolated = await createTestArchive();
      const handler = createIngestHandler(testConfig(isolated, { tenantClaim: "tenant" }));

      const ok = parse(
        await handler(
          postEventsEvent({ claims: { sub: "svc", scp: "[sealtrail/write other]", tenant: "acme" } }),
        ),
      );
      const before = await snapshot(isolated);
      const listTenant = parse(
        await handler(
          postEventsEvent({ claims: { sub: "svc", scope: "sealtrail/write", tenant: "[acme evil]" } }),
        ),
      );
      const noTenant = parse(
        await handler(postEventsEvent({ claims: { sub: "svc", scope: "sealtrail/write" } })),
      );

      expect(ok.status).toBe(201);
      expect([listTenant.status, listTenant.body.code]).toEqual([401, "claim_not_single"]);
      expect([noTenant.status, noTenant.body.code]).toEqual([401, "missing_claim"]);
      expect(await snapshot(isolated)).toEqual(before);
    });

    const badSubjects: Array<{ name: string; token: () => Promise<string> }> = [
      {
        name: "expired",
        token: () => subjectToken({ sub: "alice" }, { exp: Math.floor(Date.now() / 1000) - 120 }),
      },
      { name: "signed by another key", token: () => subjectToken({ sub: "alice" }, { key: otherKey }) },
      { name: "with an unknown kid", token: () => subjectToken({ sub: "alice" }, { kid: "nope" }) },
      { name: "for another audience", token: () => subjectToken({ sub: "alice", aud: "someone-else" }) },
      {
        name: "from an unconfigured issuer",
        token: async () =>
          new SignJWT({ sub: "alice", aud: "app-web" })
            .setProtectedHeader({ alg: "RS256", kid: "idp-1" })
            .setIssuer("https://evil.test")
            .setExpirationTime("5m")
            .sign(subjectKey),
      },
      { name: "that is not a JWT", token: async () => "not-a-jwt" },
      {
        name: "with alg none",
        token: async () =>
          `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ iss: subjectIssuer, sub: "alice", aud: "app-web", exp: 9999999999 })).toString("base64url")}.`,
      },
    ];

    it.each(badSubjects)("a subject token $name → 401 invalid_subject_token", async ({ token }) => {
      const before = await snapshot(archive);

      const result = parse(
        await ingest(
          postEventsEvent({ body: EXAMPLE, headers: { "x-sealtrail-subject-token": await token() } }),
        ),
      );

      expect([result.status, result.body.code]).toEqual([401, "invalid_subject_token"]);
      expect(await snapshot(archive)).toEqual(before);
    });

    it("a subject token together with an actor in the body → 400", async () => {
      const before = await snapshot(archive);
      const body = { events: [{ action: "a", outcome: "success", actor: { sub: "x" } }] };

      const result = parse(
        await ingest(
          postEventsEvent({
            body,
            headers: { "x-sealtrail-subject-token": await subjectToken({ sub: "alice" }) },
          }),
        ),
      );

      expect([result.status, result.body.code]).toEqual([400, "actor_with_subject_token"]);
      expect(await snapshot(archive)).toEqual(before);
    });
  });

  describe("Idempotency-Key", () => {
    it("returns the first receipt for a retry with the same body and writes nothing", async () => {
      const isolated = await createTestArchive();
      const handler = createIngestHandler(testConfig(isolated));
      const headers = { "idempotency-key": "order-1234" };

      const first = parse(await handler(postEventsEvent({ body: EXAMPLE, headers })));
      const afterFirst = await snapshot(isolated);
      const retry = parse(await handler(postEventsEvent({ body: EXAMPLE, headers })));

      expect(first.status).toBe(201);
      expect(retry).toEqual(first);
      expect(await snapshot(isolated)).toEqual(afterFirst);
    });

    it("refuses the same key with another body (422) and writes nothing", async () => {
      const isolated = await createTestArchive();
      const handler = createIngestHandler(testConfig(isolated));
      const headers = { "idempotency-key": "order-5678" };
      await handler(postEventsEvent({ body: EXAMPLE, headers }));
      const before = await snapshot(isolated);

      const result = parse(
        await handler(
          postEventsEvent({ body: { events: [{ action: "other", outcome: "success" }] }, headers }),
        ),
      );

      expect([result.status, result.body.code]).toEqual([422, "idempotency_key_reused"]);
      expect(await snapshot(isolated)).toEqual(before);
    });

    it("keys are per reporter: another caller's same key is independent", async () => {
      const isolated = await createTestArchive();
      const handler = createIngestHandler(testConfig(isolated));
      const headers = { "idempotency-key": "shared-key" };

      const a = parse(await handler(postEventsEvent({ body: EXAMPLE, headers })));
      const b = parse(
        await handler(
          postEventsEvent({
            body: { events: [{ action: "x", outcome: "success" }] },
            headers,
            claims: { ...WRITE_CLAIMS, sub: "svc-other" },
          }),
        ),
      );

      expect([a.status, b.status]).toEqual([201, 201]);
      expect(b.body.ids).not.toEqual(a.body.ids);
    });
  });
});
