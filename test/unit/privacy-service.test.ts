/**
 * Crypto-shredding through the services (memory ports): with privacy on, the archive holds only
 * ciphertext and pseudonyms of personal fields; a reader sees them opened and can search by the plain
 * identifier; erasure makes them unreadable, is archived naming only the pseudonym, needs its own
 * scope, is refused under a legal hold, and leaves every batch, link and proof intact.
 */
import { gunzipSync } from "node:zlib";
import { beforeEach, describe, expect, it } from "vitest";
import type { EventList, Receipt } from "../../lambda/core/api-schema";
import { DEFAULT_PRIVACY_POLICY } from "../../lambda/core/privacy/policy";
import { ENCRYPTED_MARKER, ERASED_MARKER } from "../../lambda/core/privacy/protect";
import { type EventRecord, EventRecordSchema } from "../../lambda/core/schema";
import { type SubjectRequest, SubjectService } from "../../lambda/privacy/subject-service";
import { checkBatch } from "../../lambda/verify/batch-check";
import { committedBatch } from "../support/committed-batch";
import { testPrivacyKeys } from "../support/memory-privacy";
import { ingestRequest, type MemoryServices, memoryServices, queryRequest } from "../support/memory-services";

const PRIVACY = {
  policy: DEFAULT_PRIVACY_POLICY,
  eraseScope: "sealtrail/erase",
  erasureHorizonDays: 7,
};

const ISS = "https://idp.test";
const aliceEvent = {
  action: "document.read",
  outcome: "success",
  actor: { sub: "alice", iss: ISS, session_id: "sess-alice-1" },
  resource: { type: "document", id: "doc-1" },
  http: { source_ip: "192.0.2.44", user_agent: "Alice-Browser/1.0", method: "GET" },
  details: { note: "alice looked at the salary sheet" },
};
const bobEvent = {
  ...aliceEvent,
  actor: { sub: "bob", iss: ISS, session_id: "sess-bob-1" },
  details: { note: "bob" },
};

const PLAINTEXTS = ["alice", "sess-alice-1", "192.0.2.44", "Alice-Browser", "salary sheet", "svc-billing"];

async function seal(services: MemoryServices, events: readonly object[]): Promise<Receipt> {
  services.advance(1000);
  const answer = await services.ingest.ingest(
    ingestRequest({ body: JSON.stringify({ events }), requestId: `seal-${Math.random()}` }),
  );
  expect(answer.status).toBe(201);
  return answer.body as Receipt;
}

/** Every stored batch line of the archive, as text. */
function archivedLines(services: MemoryServices): string[] {
  return services.objects
    .keys("events/")
    .flatMap((key) =>
      gunzipSync(services.objects.versions.get(key)?.at(-1) as Buffer)
        .toString("utf8")
        .split("\n"),
    )
    .filter((line) => line.length > 0);
}

function subjectRequest(
  body: unknown,
  scope: string,
  requestId = `subject-${Math.random()}`,
): SubjectRequest {
  return {
    claims: { sub: "dpo", iss: "https://issuer.test", aud: "sealtrail", scope, tenant: "acme" },
    scopes: undefined,
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestId,
    sourceIp: "203.0.113.1",
    userAgent: "dpo-console/1.0",
  };
}

async function list(services: MemoryServices, query: string): Promise<EventRecord[]> {
  const answer = await services.query.listEvents(queryRequest(query));
  expect(answer.status).toBe(200);
  return (answer.body as EventList).events as EventRecord[];
}

describe("privacy on", () => {
  let services: MemoryServices;
  beforeEach(() => {
    services = memoryServices({ privacy: PRIVACY });
  });

  it("stores no personal field in plaintext, only ciphertext and pseudonyms, in v3 records that verify", async () => {
    const receipt = await seal(services, [aliceEvent, bobEvent]);
    const lines = archivedLines(services);
    for (const line of lines) for (const plain of PLAINTEXTS) expect(line).not.toContain(plain);
    const stored = EventRecordSchema.parse(JSON.parse(lines[0] as string));
    expect(stored.v).toBe(3);
    expect(stored.actor.sub).toMatch(/^ps1\./);
    expect(stored.actor.session_id).toMatch(/^ps1\./);
    expect(stored.reporter.sub).toBe(ENCRYPTED_MARKER);
    expect(stored.http?.source_ip).toBe(ENCRYPTED_MARKER);
    expect(stored.details).toBe(ENCRYPTED_MARKER);
    // Not personal by default: kept as sent.
    expect(stored.resource).toEqual({ type: "document", id: "doc-1" });
    // Every personal field that has a value (the reporter has no session).
    expect(stored.privacy?.fields.map((field) => field.path)).toEqual(
      DEFAULT_PRIVACY_POLICY.personal.filter((path) => path !== "reporter.session_id"),
    );
    // The index holds the same pseudonyms, never the plain identifiers.
    const indexed = JSON.stringify([...services.index.items.values()]);
    for (const plain of ["alice", "sess-alice-1", "192.0.2.44"]) expect(indexed).not.toContain(plain);
    // The batch verifies as any other: the leaves commit to the ciphertext.
    // The batch verifies as any other, in both passes: the leaves commit to the ciphertext, and a v3
    // line is in its canonical form.
    const { bytes, batch } = committedBatch(lines);
    expect(batch.root).toBe(receipt.batch.root);
    for (const records of [false, true]) {
      expect(checkBatch(bytes, batch, { keepEvents: false, records }).problems).toEqual([]);
    }
  });

  it("shows a reader the plaintext, found by the plain identifier", async () => {
    await seal(services, [aliceEvent, bobEvent]);
    const found = await list(services, "actor=alice");
    expect(found).toHaveLength(1);
    expect(found[0]?.actor.sub).toBe("alice");
    expect(found[0]?.actor.session_id).toBe("sess-alice-1");
    expect(found[0]?.reporter.sub).toBe("svc-billing");
    expect(found[0]?.http?.source_ip).toBe("192.0.2.44");
    expect(JSON.parse(found[0]?.details as string)).toEqual(aliceEvent.details);
    expect((await list(services, "session_id=sess-bob-1")).map((r) => r.actor.sub)).toEqual(["bob"]);
    // Filters on the pseudonym as a second condition too (session picks the index, actor filters).
    expect(await list(services, "session_id=sess-bob-1&actor=alice")).toEqual([]);
  });

  it("reads the tenant's erasure epoch once per request, and a subject's key item only when it is not kept", async () => {
    await seal(services, [aliceEvent, aliceEvent, aliceEvent]);
    const keys = services.privacy?.keys;
    const before = { ...keys?.calls };
    await seal(
      services,
      Array.from({ length: 50 }, () => aliceEvent),
    );
    expect((keys?.calls.erasureEpoch ?? 0) - (before.erasureEpoch ?? 0)).toBe(1);
    expect((keys?.calls.liveKeys ?? 0) - (before.liveKeys ?? 0)).toBe(0);
    await seal(services, [bobEvent, aliceEvent]);
    expect((keys?.calls.liveKeys ?? 0) - (before.liveKeys ?? 0)).toBe(1);
  });

  it("erases a subject: markers for the reader, still found by pseudonym, archived naming only the pseudonym", async () => {
    await seal(services, [aliceEvent, bobEvent]);
    const subjects = services.privacy?.subjects;
    const answer = await subjects?.erase(subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"));
    expect(answer?.status).toBe(200);
    const body = answer?.body as {
      status: string;
      subject: string;
      erased_at: string;
      unrecoverable_after: string;
    };
    expect(body.status).toBe("erased");
    expect(Date.parse(body.unrecoverable_after) - Date.parse(body.erased_at)).toBe(7 * 86_400_000);

    const [alice] = await list(services, "actor=alice");
    expect(alice?.actor.sub).toBe(ERASED_MARKER);
    expect(alice?.http?.source_ip).toBe(ERASED_MARKER);
    expect(alice?.details).toBe(ERASED_MARKER);
    expect(alice?.resource?.id).toBe("doc-1");
    const [bob] = await list(services, "actor=bob");
    expect(bob?.actor.sub).toBe("bob");

    const erased = await list(services, "action=subject.erased");
    expect(erased).toHaveLength(1);
    expect(erased[0]?.resource).toEqual({ type: "data_subject", id: body.subject });
    for (const line of archivedLines(services)) expect(line).not.toContain("alice");

    const again = await subjects?.erase(subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"));
    expect(again?.body).toMatchObject({ status: "already_erased", erased_at: body.erased_at });
  });

  it("seals the erasure request before destroying anything: if archiving fails, no key is destroyed", async () => {
    await seal(services, [aliceEvent]);
    const privacy = services.privacy as NonNullable<MemoryServices["privacy"]>;
    const failing = new SubjectService({
      config: { ...services.config, privacy: { ...PRIVACY } },
      privacy: privacy.records,
      keys: privacy.keys,
      archive: async () => {
        throw new Error("archive down");
      },
      now: () => Date.now(),
      logger: { info() {}, warn() {}, error() {} },
    });
    const answer = await failing.erase(subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"));
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ code: "audit_unavailable" });
    expect(privacy.keys.calls.destroyKey).toBe(0);
    expect((await list(services, "actor=alice"))[0]?.actor.sub).toBe("alice");

    // Through the real archive, the request is sealed before the erasure, both naming the pseudonym.
    await privacy.subjects.erase(subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"));
    const [requested] = await list(services, "action=subject.erase_requested");
    const [erased] = await list(services, "action=subject.erased");
    expect(requested?.resource).toEqual(erased?.resource);
    expect((requested?.id as string) < (erased?.id as string)).toBe(true);
  });

  it("erases again by pseudonym after the key store is restored to a point before the erasure", async () => {
    await seal(services, [aliceEvent]);
    const privacy = services.privacy as NonNullable<MemoryServices["privacy"]>;
    // The store as a point-in-time restore would bring it back: alice's key still live.
    const backup = new Map([...privacy.keys.items].map(([id, item]) => [id, { ...item }]));
    const first = await privacy.subjects.erase(subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"));
    const subject = (first.body as { subject: string }).subject;
    for (const [id, item] of backup) privacy.keys.items.set(id, item);
    expect((await list(services, "actor=alice"))[0]?.actor.sub).toBe("alice");

    // The archive names the erased subject by pseudonym: erase it again by that name.
    const [erased] = await list(services, "action=subject.erased");
    expect(erased?.resource?.id).toBe(subject);
    const again = await privacy.subjects.erase(subjectRequest({ subject }, "sealtrail/erase"));
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: "erased", subject });
    expect((await list(services, "actor=alice"))[0]?.actor.sub).toBe(ERASED_MARKER);

    // A hold by pseudonym refuses it too; a malformed pseudonym is not a subject.
    await privacy.subjects.hold(subjectRequest({ subject, held: true, reason: "case 7" }, "sealtrail/admin"));
    expect((await privacy.keys.legalHold({ tenant: "acme", subject }))?.reason).toBe("case 7");
    const malformed = await privacy.subjects.erase(subjectRequest({ subject: "alice" }, "sealtrail/erase"));
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ code: "invalid_request" });
  });

  it("never puts key material in a log line, on success or failure", async () => {
    await seal(services, [aliceEvent, bobEvent]);
    await list(services, "actor=alice");
    const privacy = services.privacy as NonNullable<MemoryServices["privacy"]>;
    await privacy.subjects.erase(subjectRequest({ sub: "bob", iss: ISS }, "sealtrail/erase"));
    // Failures too: the key store, then the wrapper, refuse while a batch is sealed.
    const liveKeys = privacy.keys.liveKeys.bind(privacy.keys);
    privacy.keys.liveKeys = async () => {
      throw new Error("key store down");
    };
    const down = await services.ingest.ingest(
      ingestRequest({ body: JSON.stringify({ events: [aliceEvent] }) }),
    );
    expect(down.status).toBe(503);
    privacy.keys.liveKeys = liveKeys;

    // Every secret the layer holds: the test keys' masters, each tenant key and each live data key.
    const { wrapper, pseudonyms } = testPrivacyKeys();
    const secrets: Uint8Array[] = [
      Buffer.alloc(32, 1),
      Buffer.alloc(32, 101),
      await pseudonyms.forTenant("acme"),
    ];
    for (const [id, item] of privacy.keys.items) {
      const [tenant, subject] = JSON.parse(id) as [string, string];
      if (item.wrapped) secrets.push(await wrapper.unwrap(item.wrapped, { tenant, subject }));
    }
    expect(secrets.length).toBeGreaterThan(3);
    const logged = JSON.stringify(services.logger.lines);
    expect(logged).toContain("key store down");
    for (const secret of secrets) {
      for (const encoding of ["hex", "base64", "base64url"] as const) {
        expect(logged).not.toContain(Buffer.from(secret).toString(encoding).slice(0, 16));
      }
    }
  });

  it("refuses an erasure when a hold is placed between its check and the destruction", async () => {
    await seal(services, [aliceEvent]);
    const privacy = services.privacy as NonNullable<MemoryServices["privacy"]>;
    await privacy.subjects.hold(
      subjectRequest({ sub: "alice", iss: ISS, held: true, reason: "incident 43" }, "sealtrail/admin"),
    );
    // The service's own check misses the hold, as if it were placed just after it.
    privacy.keys.legalHold = async () => undefined;
    const answer = await privacy.subjects.erase(
      subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"),
    );
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ code: "legal_hold" });
    expect((await list(services, "actor=alice"))[0]?.actor.sub).toBe("alice");
    expect(await list(services, "action=subject.erase_refused")).toHaveLength(1);
    expect(await list(services, "action=subject.erased")).toHaveLength(0);
  });

  it("says so for an unknown subject, and archives the request", async () => {
    const answer = await services.privacy?.subjects.erase(
      subjectRequest({ sub: "nobody" }, "sealtrail/erase"),
    );
    expect(answer?.status).toBe(200);
    expect(answer?.body).toMatchObject({ status: "unknown_subject" });
    expect(await list(services, "action=subject.erased")).toHaveLength(1);
  });

  it("a subject seen again after erasure gets a new key; the old records stay erased", async () => {
    await seal(services, [aliceEvent]);
    await services.privacy?.subjects.erase(subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"));
    await seal(services, [aliceEvent]);
    const found = await list(services, "actor=alice");
    expect(found.map((record) => record.actor.sub)).toEqual([ERASED_MARKER, "alice"]);
  });

  it("refuses erasure without the erase scope, and nothing is written or destroyed", async () => {
    await seal(services, [aliceEvent]);
    const objectsBefore = services.objects.created.length;
    const answer = await services.privacy?.subjects.erase(
      subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/read sealtrail/admin"),
    );
    expect(answer?.status).toBe(403);
    expect(services.objects.created.length).toBe(objectsBefore);
    expect(services.privacy?.keys.calls.destroyKey).toBe(0);
    expect((await list(services, "actor=alice"))[0]?.actor.sub).toBe("alice");
  });

  it("refuses erasure under a legal hold (archived), until an admin releases it", async () => {
    await seal(services, [aliceEvent]);
    const subjects = services.privacy?.subjects;
    const held = await subjects?.hold(
      subjectRequest({ sub: "alice", iss: ISS, held: true, reason: "incident 42" }, "sealtrail/admin"),
    );
    expect(held?.status).toBe(200);
    // Only the admin scope places a hold.
    expect(
      (await subjects?.hold(subjectRequest({ sub: "alice", iss: ISS, held: false }, "sealtrail/erase")))
        ?.status,
    ).toBe(403);

    const refused = await subjects?.erase(subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"));
    expect(refused?.status).toBe(409);
    expect(refused?.body).toMatchObject({ code: "legal_hold" });
    expect(services.privacy?.keys.calls.destroyKey).toBe(0);
    expect((await list(services, "actor=alice"))[0]?.actor.sub).toBe("alice");
    expect(await list(services, "action=subject.erase_refused")).toHaveLength(1);
    expect(await list(services, "action=subject.hold_placed")).toHaveLength(1);

    await subjects?.hold(subjectRequest({ sub: "alice", iss: ISS, held: false }, "sealtrail/admin"));
    const erased = await subjects?.erase(subjectRequest({ sub: "alice", iss: ISS }, "sealtrail/erase"));
    expect(erased?.body).toMatchObject({ status: "erased" });
  });

  it("refuses a search on a personal field the policy does not keep searchable", async () => {
    const strict = memoryServices({
      privacy: { ...PRIVACY, policy: { personal: ["actor.sub", "resource.id"], searchable: ["actor.sub"] } },
    });
    await seal(strict, [aliceEvent]);
    const answer = await strict.query.listEvents(queryRequest("resource_type=document&resource_id=doc-1"));
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "filter_not_searchable", parameter: "resource_id" });
  });
});

describe("records written before privacy was turned on", () => {
  it("are still found by the plain identifier, beside the sealed ones, in order", async () => {
    const plain = memoryServices();
    const oldReceipt = await seal(plain, [aliceEvent]);
    // The same stores, now with privacy on: rebuild the services over them.
    const services = memoryServices({ privacy: PRIVACY });
    for (const [key, versions] of plain.objects.versions) services.objects.versions.set(key, versions);
    for (const [key, item] of plain.index.items) services.index.items.set(key, item);
    services.advance(10_000);
    await seal(services, [aliceEvent]);
    const found = await list(services, "actor=alice");
    expect(found.map((record) => [record.v, record.actor.sub])).toEqual([
      [2, "alice"],
      [3, "alice"],
    ]);
    expect(found[0]?.id).toBe(oldReceipt.ids[0]);
  });
});
