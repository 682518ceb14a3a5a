/**
 * QueryService against in-memory ports (test/support/memory-services.ts), with the real ingest service
 * archiving each read's `audit.read` event: what an auditor relies on. A search returns the stored
 * records that match, in time order, page by page; another tenant's events are never returned, nor
 * their existence revealed; a cursor that was changed is refused; a read that cannot be audited
 * answers no data. The emulator suite (test/integration/query.test.ts) covers the handler end to end.
 */
import type { JWK } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../../lambda/checkpoint/local-key";
import { runCheckpoint } from "../../lambda/checkpoint/signer";
import type { EventList, Receipt } from "../../lambda/core/api-schema";
import { indexedMarkerKey } from "../../lambda/core/index-items";
import { PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { verifyProofBundle } from "../../lambda/core/proof";
import type { EventRecord } from "../../lambda/core/schema";
import { WRITE_CLAIMS } from "../support/api-event";
import { MemorySignerStateStore } from "../support/memory-archive";
import {
  ingestRequest,
  type MemoryServices,
  memoryServices,
  queryRequest,
  readClaims,
} from "../support/memory-services";

/** Seals `events` for `tenant` and returns the ids, in order. */
async function seal(services: MemoryServices, tenant: string, events: readonly object[]): Promise<string[]> {
  services.advance(1000);
  const answer = await services.ingest.ingest(
    ingestRequest({
      body: JSON.stringify({ events }),
      claims: { ...WRITE_CLAIMS, tenant },
      requestId: `seal-${tenant}-${Math.random()}`,
    }),
  );
  expect(answer.status).toBe(201);
  return (answer.body as Receipt).ids;
}

const codeOf = (answer: { body: unknown }) => (answer.body as { code?: string }).code;

describe("QueryService", () => {
  let services: MemoryServices;
  let acmeReads: string[];
  let acmeDeletes: string[];
  let otherReads: string[];

  beforeEach(async () => {
    services = memoryServices();
    acmeReads = [
      ...(await seal(services, "acme", [
        { action: "document.read", outcome: "success", resource: { type: "document", id: "1" } },
        { action: "document.read", outcome: "success", resource: { type: "document", id: "2" } },
      ])),
      ...(await seal(services, "acme", [{ action: "document.read", outcome: "failure" }])),
    ];
    acmeDeletes = await seal(services, "acme", [{ action: "document.delete", outcome: "success" }]);
    otherReads = await seal(services, "other", [
      { action: "document.read", outcome: "success", resource: { type: "document", id: "1" } },
    ]);
  });

  it("lists the caller's tenant's events that match a filter, as stored, in time order", async () => {
    // Act
    const answer = await services.query.listEvents(queryRequest("action=document.read"));
    // Assess
    expect(answer.status).toBe(200);
    const { events, next_cursor } = answer.body as EventList;
    expect(events.map((event) => event.id)).toEqual(acmeReads);
    expect(events.every((event) => event.tenant === "acme" && event.action === "document.read")).toBe(true);
    expect(next_cursor).toBeUndefined();
  });

  it("combines filters: a selective GSI key and the rest as a filter", async () => {
    // Act
    const answer = await services.query.listEvents(queryRequest("action=document.read&outcome=failure"));
    // Assess
    expect((answer.body as EventList).events.map((event) => event.id)).toEqual([acmeReads[2]]);
  });

  it("without a selective filter, reads the sharded time index: every event of the tenant, no other's", async () => {
    // Act
    const answer = await services.query.listEvents(queryRequest("limit=100"));
    // Assess
    const ids = (answer.body as EventList).events.map((event) => event.id);
    expect(ids).toEqual(expect.arrayContaining([...acmeReads, ...acmeDeletes]));
    expect(ids).not.toContain(otherReads[0]);
    const records = (answer.body as EventList).events as EventRecord[];
    expect(records.every((record) => record.tenant === "acme")).toBe(true);
  });

  it("pages with a cursor that resumes exactly after the last event", async () => {
    // Act
    const first = await services.query.listEvents(queryRequest("action=document.read&limit=2"));
    const cursor = (first.body as EventList).next_cursor as string;
    const second = await services.query.listEvents(
      queryRequest(`action=document.read&limit=2&cursor=${encodeURIComponent(cursor)}`),
    );
    // Assess
    expect((first.body as EventList).events.map((event) => event.id)).toEqual(acmeReads.slice(0, 2));
    expect(typeof cursor).toBe("string");
    expect((second.body as EventList).events.map((event) => event.id)).toEqual(acmeReads.slice(2));
    expect((second.body as EventList).next_cursor).toBeUndefined();
  });

  it("refuses a cursor that was changed, or reused with other filters or another tenant (400 invalid_cursor)", async () => {
    // Prepare
    const first = await services.query.listEvents(
      queryRequest("action=document.read&limit=1", readClaims("acme", { admin: true })),
    );
    const cursor = (first.body as EventList).next_cursor as string;
    // One character in the middle changed: in the MAC'd position, not in the padding bits of the last.
    const middle = Math.floor(cursor.length / 2);
    const tampered = `${cursor.slice(0, middle)}${cursor[middle] === "A" ? "B" : "A"}${cursor.slice(middle + 1)}`;
    const admin = readClaims("acme", { admin: true });
    // Act
    const answers = await Promise.all([
      services.query.listEvents(queryRequest(`action=document.read&limit=1&cursor=${tampered}`, admin)),
      services.query.listEvents(queryRequest(`action=document.delete&limit=1&cursor=${cursor}`, admin)),
      services.query.listEvents(
        queryRequest(`action=document.read&limit=1&tenant=other&cursor=${cursor}`, admin),
      ),
    ]);
    // Assess
    expect(answers.map((answer) => [answer.status, codeOf(answer)])).toEqual([
      [400, "invalid_cursor"],
      [400, "invalid_cursor"],
      [400, "invalid_cursor"],
    ]);
  });

  it("never reveals another tenant's event: get and proof answer 404 as for a missing one", async () => {
    // Act
    const get = await services.query.getEvent(queryRequest(), otherReads[0]);
    const proof = await services.query.eventProof(queryRequest(), otherReads[0]);
    const missing = await services.query.getEvent(queryRequest(), "01JZZZZZZZZZZZZZZZZZZZZZZZ");
    // Assess
    expect([get.status, codeOf(get)]).toEqual([404, "event_not_found"]);
    expect([proof.status, codeOf(proof)]).toEqual([404, "event_not_found"]);
    expect(get.body).toEqual({ ...(missing.body as object), message: expect.any(String) });
  });

  it("reads another tenant only with the admin scope", async () => {
    // Act
    const refused = await services.query.listEvents(queryRequest("tenant=other"));
    const admitted = await services.query.listEvents(
      queryRequest("tenant=other", readClaims("acme", { admin: true })),
    );
    // Assess
    expect([refused.status, codeOf(refused)]).toEqual([403, "missing_scope"]);
    expect((admitted.body as EventList).events.map((event) => event.id)).toEqual(otherReads);
  });

  it("returns one event by id, as stored", async () => {
    // Act
    const answer = await services.query.getEvent(queryRequest(), acmeDeletes[0]);
    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: acmeDeletes[0], action: "document.delete", tenant: "acme" });
  });

  it("archives an audit.read event for each answered read, in the reader's tenant", async () => {
    // Prepare
    const before = services.index.pointers().size;
    // Act
    await services.query.getEvent(queryRequest(), acmeDeletes[0]);
    // Assess
    const audits = [...services.index.pointers().values()].filter((item) => item.action === "audit.read");
    expect(services.index.pointers().size).toBe(before + 1);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ tenant: "acme", actor_sub: "reader-acme" });
  });

  it("answers no data when the read cannot be audited (503 audit_unavailable)", async () => {
    // Prepare: the archive refuses every write; reads still work.
    services.objects.putIfAbsent = async () => {
      throw new Error("injected: access denied");
    };
    // Act
    const answer = await services.query.listEvents(queryRequest("action=document.read"));
    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([503, "audit_unavailable"]);
    expect(JSON.stringify(answer.body)).not.toContain(acmeReads[0] as string);
  });

  it("refuses a caller without the read scope (403) and one without claims (401)", async () => {
    // Act
    const noScope = await services.query.listEvents(
      queryRequest("", { ...readClaims("acme"), scope: "sealtrail/write" }),
    );
    const noClaims = await services.query.listEvents(queryRequest("", null));
    // Assess
    expect([noScope.status, codeOf(noScope)]).toEqual([403, "missing_scope"]);
    expect([noClaims.status, codeOf(noClaims)]).toEqual([401, "missing_claims"]);
  });

  it("answers 404 no_checkpoint before any checkpoint is signed", async () => {
    // Act
    const answer = await services.query.latestCheckpoint(queryRequest());
    // Assess
    expect([answer.status, codeOf(answer)]).toEqual([404, "no_checkpoint"]);
  });

  describe("proofs", () => {
    async function signCheckpoint() {
      const key = await checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
      const outcome = await runCheckpoint({
        source: services.objects,
        putCheckpoint: (objectKey, bytes) => services.objects.putIfAbsent(objectKey, bytes),
        state: new MemorySignerStateStore(),
        key,
        now: () => Date.now(),
      });
      expect(outcome.status).toBe("signed");
      return [{ kid: key.kid, jwk: key.publicJwk as JWK }];
    }

    it("answers 409 not_checkpointed until a checkpoint covers the event's link", async () => {
      // Act
      const answer = await services.query.eventProof(queryRequest(), acmeDeletes[0]);
      // Assess
      expect([answer.status, codeOf(answer)]).toEqual([409, "not_checkpointed"]);
    });

    it("then a bundle that verifies offline and names the event", async () => {
      // Prepare
      const trusted = await signCheckpoint();
      // Act
      const answer = await services.query.eventProof(queryRequest(), acmeDeletes[0]);
      // Assess
      expect(answer.status).toBe(200);
      const verdict = await verifyProofBundle(answer.body, trusted);
      expect(verdict).toMatchObject({ ok: true, facts: { event: acmeDeletes[0] } });
    });

    it("a wrong marker in the index is not trusted: the link hashes come from the archive", async () => {
      // Prepare
      const trusted = await signCheckpoint();
      const target = services.index.pointers().get(acmeDeletes[0] as string);
      const marker = indexedMarkerKey(String(target?.chain), 0);
      const id = JSON.stringify([marker[PARTITION_KEY], marker[SORT_KEY]]);
      const item = services.index.items.get(id);
      expect(item?.link_hash).toMatch(/^[0-9a-f]{64}$/);
      services.index.items.set(id, { ...item, link_hash: "0".repeat(64) } as never);
      // Act
      const answer = await services.query.eventProof(queryRequest(), acmeDeletes[0]);
      // Assess
      expect(answer.status).toBe(200);
      expect(await verifyProofBundle(answer.body, trusted)).toMatchObject({ ok: true });
    });
  });
});
