/**
 * IngestService against in-memory ports (test/support/memory-services.ts): what a sender relies on.
 * An accepted batch is sealed, its data object written once, its link appended and its events indexed;
 * a retry with the same Idempotency-Key gets the first receipt and writes nothing; every refusal
 * answers its code and writes nothing at all; an index failure after the link still acknowledges (the
 * reindex job indexes the link later); a storage failure acknowledges nothing and frees the key.
 * The emulator suite (test/integration/ingest.test.ts) covers the same rules through the handler.
 */
import { describe, expect, it } from "vitest";
import type { Receipt } from "../../lambda/core/api-schema";
import { readBatchLines } from "../../lambda/core/batch";
import { sha256Hex } from "../../lambda/core/hash";
import { parseLink } from "../../lambda/core/link";
import { leafHash, merkleRoot } from "../../lambda/core/merkle";
import { parseDataObjectKey } from "../../lambda/core/paths";
import type { EventRecord } from "../../lambda/core/schema";
import { reindexAllChains } from "../../lambda/ingest/reindex";
import { WRITE_CLAIMS } from "../support/api-event";
import { ingestRequest, type MemoryServices, memoryServices } from "../support/memory-services";

const BATCH = {
  events: [
    { action: "document.read", outcome: "success", resource: { type: "document", id: "42" } },
    { action: "document.delete", outcome: "failure", resource: { type: "document", id: "43" } },
  ],
};

/** Everything the services wrote: objects, index items and head hints, idempotency records. */
function written(services: MemoryServices) {
  return {
    objects: services.objects.keys(),
    versions: [...services.objects.versions.values()].reduce((sum, versions) => sum + versions.length, 0),
    items: services.index.items.size,
    hints: services.index.headHints.size,
    idempotency: services.idempotency.records.size,
  };
}

const NOTHING = { objects: [], versions: 0, items: 0, hints: 0, idempotency: 0 };

describe("IngestService: an accepted batch", () => {
  it("answers 201 with a receipt that names what the archive holds: data object, link, index", async () => {
    // Prepare
    const services = memoryServices();
    // Act
    const answer = await services.ingest.ingest(ingestRequest({ body: JSON.stringify(BATCH) }));
    // Assess
    expect(answer.status).toBe(201);
    const receipt = answer.body as Receipt;
    expect(receipt.ids).toHaveLength(2);
    expect(receipt.leaf_indexes).toEqual([0, 1]);
    // The data object: written once, under the hash of its bytes, its lines the two records.
    const data = services.objects.versions.get(receipt.batch.key) ?? [];
    expect(data).toHaveLength(1);
    const bytes = data[0] as Buffer;
    expect(receipt.batch.key).toContain(sha256Hex(bytes));
    const { lines } = readBatchLines(bytes);
    const records = lines.map((line) => JSON.parse(line.toString("utf8")) as EventRecord);
    expect(records.map((r) => [r.id, r.action, r.tenant])).toEqual([
      [receipt.ids[0], "document.read", "acme"],
      [receipt.ids[1], "document.delete", "acme"],
    ]);
    expect(records[0]?.reporter.sub).toBe(WRITE_CLAIMS.sub);
    expect(records[0]?.actor).toMatchObject({ sub: WRITE_CLAIMS.sub, verified: true });
    expect(merkleRoot(lines.map((line) => leafHash(line))).toString("hex")).toBe(receipt.batch.root);
    // The link: once, at seq 0 of its chain, naming the batch; the receipt holds its hash.
    const link = services.objects.versions.get(receipt.link_key) ?? [];
    expect(link).toHaveLength(1);
    expect(sha256Hex(link[0] as Buffer)).toBe(receipt.link_hash);
    expect(parseLink(link[0] as Buffer)).toMatchObject({
      chain: receipt.chain,
      seq: 0,
      batch: { key: receipt.batch.key, root: receipt.batch.root, count: 2 },
    });
    expect(services.objects.created).toEqual([receipt.batch.key, receipt.link_key]);
    // The index: a pointer per event, the link's marker and the head hint.
    const pointers = services.index.pointers();
    expect([...pointers.keys()].sort()).toEqual([...receipt.ids].sort());
    expect(pointers.get(receipt.ids[0] as string)).toMatchObject({
      tenant: "acme",
      chain: receipt.chain,
      seq: 0,
      leaf_index: 0,
      batch_key: receipt.batch.key,
    });
    expect(await services.index.indexedSeqs(receipt.chain, 0)).toEqual(new Set([0]));
    expect(await services.index.headHint(receipt.chain)).toBe(0);
  });

  it("appends each next batch to the chain after the link it holds", async () => {
    // Prepare
    const services = memoryServices({ chains: 1 });
    // Act
    const first = (await services.ingest.ingest(ingestRequest())).body as Receipt;
    services.advance(1000);
    const second = (await services.ingest.ingest(ingestRequest({ requestId: "r2" }))).body as Receipt;
    // Assess
    expect([first.seq, second.seq]).toEqual([0, 1]);
    const link = parseLink(services.objects.versions.get(second.link_key)?.[0] as Buffer);
    expect(link.prev).toBe(first.link_hash);
  });
});

describe("IngestService: Idempotency-Key", () => {
  it("a retry with the same key and body gets the first receipt and writes nothing", async () => {
    // Prepare
    const services = memoryServices();
    const request = ingestRequest({ body: JSON.stringify(BATCH), idempotencyKey: "order-7" });
    const first = await services.ingest.ingest(request);
    const before = written(services);
    // Act
    services.advance(5000);
    const again = await services.ingest.ingest({ ...request, requestId: "retry-of-1" });
    // Assess
    expect(first.status).toBe(201);
    expect(again).toEqual({ status: 201, body: first.body, headers: { "idempotent-replayed": "true" } });
    expect(written(services)).toEqual(before);
  });

  it("the same key with another body → 422 idempotency_key_reused, nothing written", async () => {
    // Prepare
    const services = memoryServices();
    await services.ingest.ingest(ingestRequest({ idempotencyKey: "order-7" }));
    const before = written(services);
    // Act
    const answer = await services.ingest.ingest(
      ingestRequest({ idempotencyKey: "order-7", body: JSON.stringify(BATCH) }),
    );
    // Assess
    expect([answer.status, (answer.body as { code: string }).code]).toEqual([422, "idempotency_key_reused"]);
    expect(written(services)).toEqual(before);
  });

  it("keys are per reporter: another caller's same key seals its own batch", async () => {
    // Prepare
    const services = memoryServices();
    const first = await services.ingest.ingest(ingestRequest({ idempotencyKey: "k" }));
    // Act
    const other = await services.ingest.ingest(
      ingestRequest({ idempotencyKey: "k", claims: { ...WRITE_CLAIMS, sub: "svc-other", tenant: "acme" } }),
    );
    // Assess
    expect(other.status).toBe(201);
    expect((other.body as Receipt).ids).not.toEqual((first.body as Receipt).ids);
  });
});

describe("IngestService: refusals write nothing", () => {
  const refusals: {
    name: string;
    request: Parameters<typeof ingestRequest>[0];
    status: number;
    code: string;
  }[] = [
    { name: "no claims", request: { claims: undefined }, status: 401, code: "missing_claims" },
    {
      name: "no write scope",
      request: { claims: { ...WRITE_CLAIMS, scope: "sealtrail/read", tenant: "acme" } },
      status: 403,
      code: "missing_scope",
    },
    {
      name: "no tenant claim",
      request: { claims: { ...WRITE_CLAIMS } },
      status: 401,
      code: "missing_claim",
    },
    {
      name: "a tenant claim that is a flattened list",
      request: { claims: { ...WRITE_CLAIMS, tenant: "[acme evil]" } },
      status: 401,
      code: "claim_not_single",
    },
    {
      name: "a body that is not JSON",
      request: { body: "{not json" },
      status: 400,
      code: "malformed_json",
    },
    {
      name: "an event that sets `verified`",
      request: {
        body: JSON.stringify({
          events: [{ action: "a.b", outcome: "success", actor: { sub: "x", verified: true } }],
        }),
      },
      status: 400,
      code: "forbidden_field",
    },
    {
      name: "a forged erasure (subject.* is written by sealtrail only)",
      request: {
        body: JSON.stringify({
          events: [
            { action: "document.read", outcome: "success" },
            {
              action: "subject.erased",
              outcome: "success",
              resource: { type: "data_subject", id: "sub1.x" },
            },
          ],
        }),
      },
      status: 400,
      code: "reserved_action",
    },
    {
      name: "a forged read trail (audit.read)",
      request: { body: JSON.stringify({ events: [{ action: "audit.read", outcome: "success" }] }) },
      status: 400,
      code: "reserved_action",
    },
    {
      name: "no events",
      request: { body: JSON.stringify({ events: [] }) },
      status: 400,
      code: "invalid_event_count",
    },
    {
      name: "an Idempotency-Key with a space",
      request: { idempotencyKey: "two words" },
      status: 400,
      code: "invalid_idempotency_key",
    },
    {
      name: "a subject token that is not a JWT",
      request: { subjectToken: "not-a-jwt" },
      status: 401,
      code: "invalid_subject_token",
    },
  ];

  it.each(refusals)("$name → $status $code", async ({ request, status, code }) => {
    // Prepare
    const services = memoryServices();
    // Act
    const answer = await services.ingest.ingest(ingestRequest({ idempotencyKey: "k", ...request }));
    // Assess
    expect([answer.status, (answer.body as { code: string }).code]).toEqual([status, code]);
    expect(written(services)).toEqual(NOTHING);
  });
});

describe("IngestService: failures", () => {
  it("an index failure after the link still acknowledges; the reindex job indexes the link later", async () => {
    // Prepare
    const services = memoryServices();
    services.index.unavailable = new Error("injected: the table is unavailable");
    // Act
    const answer = await services.ingest.ingest(ingestRequest({ body: JSON.stringify(BATCH) }));
    // Assess
    expect(answer.status).toBe(201);
    const receipt = answer.body as Receipt;
    expect(services.objects.created).toEqual([receipt.batch.key, receipt.link_key]);
    expect(services.index.pointers().size).toBe(0);
    expect(services.logger.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "indexing deferred to the reindex job" }),
    );
    // The table is back: the reindex job finds the unmarked link and indexes its events.
    services.index.unavailable = undefined;
    const reindexed = await reindexAllChains({
      objects: services.objects,
      index: services.index,
      chainCount: services.config.chains,
    });
    expect(reindexed.linksIndexed).toBe(1);
    expect([...services.index.pointers().keys()].sort()).toEqual([...receipt.ids].sort());
  });

  it("a data object that cannot be written → 503, nothing acknowledged, and the key is free again", async () => {
    // Prepare
    const services = memoryServices();
    const put = services.objects.putIfAbsent.bind(services.objects);
    services.objects.putIfAbsent = async () => {
      throw new Error("injected: access denied");
    };
    // Act
    const failed = await services.ingest.ingest(ingestRequest({ idempotencyKey: "k" }));
    services.objects.putIfAbsent = put;
    const retried = await services.ingest.ingest(ingestRequest({ idempotencyKey: "k", requestId: "r2" }));
    // Assess
    expect([failed.status, (failed.body as { code: string }).code]).toEqual([503, "storage_unavailable"]);
    expect(retried.status).toBe(201);
    const receipt = retried.body as Receipt;
    expect(services.objects.keys()).toEqual([receipt.batch.key, receipt.link_key].sort());
    expect(parseDataObjectKey(receipt.batch.key)).toBeDefined();
  });

  it("a replay whose first link the archive does not hold → 503 receipt_unconfirmed, nothing written", async () => {
    // Prepare
    const services = memoryServices();
    const first = (await services.ingest.ingest(ingestRequest({ idempotencyKey: "k" }))).body as Receipt;
    services.objects.versions.delete(first.link_key);
    const before = written(services);
    // Act
    const answer = await services.ingest.ingest(ingestRequest({ idempotencyKey: "k", requestId: "r2" }));
    // Assess
    expect([answer.status, (answer.body as { code: string }).code]).toEqual([503, "receipt_unconfirmed"]);
    expect(written(services)).toEqual(before);
  });
});
