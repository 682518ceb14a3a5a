/**
 * Crypto-shredding end to end against the emulator (S3, DynamoDB and KMS): events go in through the
 * ingest handler with privacy on, keys are wrapped by a KMS key and pseudonyms derived from a KMS HMAC
 * key. A reader searches by the plain identifier and sees plaintext; after `POST /v1/subjects/erase`
 * the API shows markers, the key item holds no key, the proof bundle still verifies offline,
 * `sealtrail verify` passes, and a DuckDB read of the archive (the Athena contract) sees only
 * ciphertext and pseudonyms. A legal hold refuses erasure; an unknown subject is said so.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kmsClient } from "../../lambda/aws/clients";
import { EVENTS_COLUMNS } from "../../lambda/core/athena";
import { subjectKeyItemKey } from "../../lambda/core/index-items";
import { PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { DEFAULT_PRIVACY_POLICY } from "../../lambda/core/privacy/policy";
import { ERASED_MARKER } from "../../lambda/core/privacy/protect";
import { verifyProofBundle } from "../../lambda/core/proof";
import { routeParts, SUBJECT_ROUTES, type SubjectRouteKey } from "../../lambda/core/routes";
import type { EventRecord } from "../../lambda/core/schema";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import { createQueryHandler, type QueryHandler } from "../../lambda/handlers/query";
import { postEventsEvent, WRITE_CLAIMS } from "../support/api-event";
import { tableItems } from "../support/archive-state";
import { downloadArchive, loadArchiveTables, uncoveredPaths } from "../support/athena-duckdb";
import { createTestArchive, type TestArchive } from "../support/aws";
import { createTestSigner, type TestSigner } from "../support/checkpoint";
import { sealtrail } from "../support/cli";
import { testConfig } from "../support/config";
import { queryEvent, READ_CLAIMS } from "../support/query-event";

const ISS = "https://idp.test";
const event = (sub: string, ip: string) => ({
  action: "document.read",
  outcome: "success",
  actor: { sub, iss: ISS, session_id: `session-of-${sub}` },
  resource: { type: "document", id: "doc-7" },
  http: { source_ip: ip, user_agent: `${sub}-browser/2.0` },
  details: { secret: `${sub}'s diagnosis` },
});
const PLAINTEXTS = ["alice", "192.0.2.71", "diagnosis"];

function subjectEvent(
  route: SubjectRouteKey,
  body: unknown,
  scope: string,
): APIGatewayProxyEventV2WithJWTAuthorizer {
  const base = postEventsEvent({
    body: body as never,
    claims: { sub: "dpo", iss: "https://issuer.test", aud: "sealtrail", scope },
  });
  return { ...base, routeKey: route, rawPath: routeParts(route).path };
}

async function answer(query: QueryHandler, event: APIGatewayProxyEventV2WithJWTAuthorizer) {
  const result = await query(event);
  return { status: result.statusCode as number, body: JSON.parse(result.body as string) };
}

async function list(query: QueryHandler, filters: Record<string, string>): Promise<EventRecord[]> {
  const { status, body } = await answer(query, queryEvent("GET /v1/events", { query: filters }));
  expect(status, JSON.stringify(body)).toBe(200);
  return body.events as EventRecord[];
}

async function createKmsKeys(kms: KMSClient) {
  const wrap = await kms.send(
    new CreateKeyCommand({ KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT" }),
  );
  const mac = await kms.send(new CreateKeyCommand({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" }));
  return { wrapKeyId: wrap.KeyMetadata?.KeyId as string, pseudonymKeyId: mac.KeyMetadata?.KeyId as string };
}

describe("privacy on, against the emulator", () => {
  let archive: TestArchive;
  let query: QueryHandler;
  let signer: TestSigner;
  let aliceId: string;
  let work: string;
  let subject: string;

  beforeAll(async () => {
    archive = await createTestArchive({ objectLock: false });
    const kms = kmsClient(archive.target);
    const config = testConfig(archive, {
      chains: 2,
      privacy: {
        policy: DEFAULT_PRIVACY_POLICY,
        ...(await createKmsKeys(kms)),
        eraseScope: "sealtrail/erase",
        erasureHorizonDays: 7,
      },
    });
    const ingest = createIngestHandler(config, { kms });
    query = createQueryHandler(config, { kms });
    const result = await ingest(
      postEventsEvent({ body: { events: [event("alice", "192.0.2.71"), event("bob", "192.0.2.72")] } }),
    );
    expect(result.statusCode, result.body).toBe(201);
    aliceId = (JSON.parse(result.body as string) as { ids: string[] }).ids[0] as string;
    signer = await createTestSigner(archive);
    expect(await signer.run()).toMatchObject({ status: "signed" });
    work = mkdtempSync(join(tmpdir(), "sealtrail-privacy-"));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("a reader finds the subject by plain identifier and sees the plaintext", async () => {
    const [alice] = await list(query, { actor: "alice" });
    expect(alice).toMatchObject({
      id: aliceId,
      v: 3,
      actor: { sub: "alice", session_id: "session-of-alice" },
      reporter: { sub: WRITE_CLAIMS.sub },
      http: { source_ip: "192.0.2.71", user_agent: "alice-browser/2.0" },
      details: JSON.stringify({ secret: "alice's diagnosis" }),
    });
    expect((await list(query, { session_id: "session-of-bob" })).map((r) => r.actor.sub)).toEqual(["bob"]);
  });

  it("erasure destroys the key: markers in the API, no key in the table, proofs and verify still pass", async () => {
    const erased = await answer(
      query,
      subjectEvent(SUBJECT_ROUTES.erase, { sub: "alice", iss: ISS }, "sealtrail/erase"),
    );
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    expect(erased.body).toMatchObject({ status: "erased", subject: expect.stringMatching(/^sub1\./) });
    subject = erased.body.subject;

    const keyItem = (await tableItems(archive)).find(
      (item) =>
        item[PARTITION_KEY] === subjectKeyItemKey("default", subject)[PARTITION_KEY] &&
        item[SORT_KEY] === "key",
    );
    expect(keyItem).toMatchObject({ generation: expect.any(Number), erased_at: erased.body.erased_at });
    expect(keyItem).not.toHaveProperty("wrapped");

    // Still found by pseudonym; each personal field marked.
    const [alice] = await list(query, { actor: "alice" });
    expect(alice).toMatchObject({
      id: aliceId,
      actor: { sub: ERASED_MARKER, session_id: ERASED_MARKER },
      http: { source_ip: ERASED_MARKER },
      details: ERASED_MARKER,
      resource: { type: "document", id: "doc-7" },
    });
    const one = await answer(query, queryEvent("GET /v1/events/{id}", { id: aliceId }));
    expect(one.body).toMatchObject({ actor: { sub: ERASED_MARKER } });
    expect((await list(query, { actor: "bob" }))[0]?.actor.sub).toBe("bob");

    const proof = await answer(query, queryEvent("GET /v1/events/{id}/proof", { id: aliceId }));
    expect(proof.status).toBe(200);
    expect(await verifyProofBundle(proof.body, signer.trusted)).toMatchObject({
      ok: true,
      facts: { event: aliceId },
    });
    expect(JSON.stringify(proof.body)).not.toContain("alice");

    expect(await signer.run()).toMatchObject({ status: "signed" });
    const trust = join(work, "trust.json");
    writeFileSync(trust, JSON.stringify(signer.trustFile));
    const run = await sealtrail([
      "verify",
      "--bucket",
      archive.bucket,
      "--table",
      archive.table,
      "--endpoint",
      archive.target.endpoint as string,
      "--region",
      archive.target.region,
      "--trust",
      trust,
    ]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
  });

  it("Athena (DuckDB over the archive) sees only ciphertext and pseudonyms for personal fields", async () => {
    const root = join(work, "copy");
    await downloadArchive(archive, root, ["events/", "chains/"]);
    const instance = await DuckDBInstance.create(":memory:");
    const db: DuckDBConnection = await instance.connect();
    try {
      await loadArchiveTables(db, root, archive.bucket);
      const reader = await db.runAndReadAll(
        `SELECT to_json(actor) AS actor, to_json(http) AS http, details, to_json(privacy) AS privacy FROM events`,
      );
      const rows = reader.getRowObjectsJson();
      expect(rows.length).toBeGreaterThanOrEqual(2);
      const text = JSON.stringify(rows);
      for (const plain of PLAINTEXTS) expect(text).not.toContain(plain);
      expect(text).toContain("ps1.");
      expect(text).toContain("e1.");
      const sealed = await db.runAndReadAll(
        `SELECT count(*) AS n FROM events, unnest(privacy.fields) AS f(field) WHERE field.path = 'actor.sub'`,
      );
      expect(Number(sealed.getRowObjectsJson()[0]?.n)).toBeGreaterThanOrEqual(2);
    } finally {
      db.closeSync();
    }
    // Every key of a v3 line is a Glue column of the right type.
    const [alice] = await list(query, { actor: "alice" });
    expect(uncoveredPaths(alice, EVENTS_COLUMNS)).toEqual([]);
  });

  it("a legal hold refuses erasure (and only the admin scope places one); an unknown subject is said so", async () => {
    const hold = { sub: "bob", iss: ISS, held: true, reason: "litigation hold 2026-17" };
    expect((await answer(query, subjectEvent(SUBJECT_ROUTES.hold, hold, "sealtrail/erase"))).status).toBe(
      403,
    );
    expect((await answer(query, subjectEvent(SUBJECT_ROUTES.hold, hold, "sealtrail/admin"))).status).toBe(
      200,
    );
    const refused = await answer(
      query,
      subjectEvent(SUBJECT_ROUTES.erase, { sub: "bob", iss: ISS }, "sealtrail/erase"),
    );
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: "legal_hold" });
    expect((await list(query, { actor: "bob" }))[0]?.actor.sub).toBe("bob");

    const unknown = await answer(
      query,
      subjectEvent(SUBJECT_ROUTES.erase, { sub: "nobody" }, "sealtrail/erase"),
    );
    expect(unknown).toMatchObject({ status: 200, body: { status: "unknown_subject" } });
    // Without the erase scope: refused, and nothing is erased.
    const denied = await answer(
      query,
      subjectEvent(SUBJECT_ROUTES.erase, { sub: "bob", iss: ISS }, "sealtrail/read"),
    );
    expect(denied.status).toBe(403);
    expect((await list(query, { actor: "bob" }))[0]?.actor.sub).toBe("bob");
    expect(READ_CLAIMS.scope).toContain("sealtrail/read");
  });
});
