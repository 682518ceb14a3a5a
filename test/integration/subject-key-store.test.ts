/**
 * The DynamoDB key store (lambda/aws/subject-key-store.ts) against the emulator: a batch's keys read in
 * order whatever BatchGetItem's order and limits, duplicates and unknown subjects included; a destroyed
 * key leaves no wrapped bytes and the next key is a new generation; legal holds placed and released.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { documentClient } from "../../lambda/aws/index-store";
import { DynamoSubjectKeyStore } from "../../lambda/aws/subject-key-store";
import { subjectKeyItemKey } from "../../lambda/core/index-items";
import { PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { tableItems } from "../support/archive-state";
import { createTestArchive, type TestArchive } from "../support/aws";

const NOW = Date.parse("2026-12-07T10:00:00.000Z");
const ref = (subject: string) => ({ tenant: "acme", subject });
const wrappedOf = (n: number) => new Uint8Array([1, 2, 3, n % 256, Math.floor(n / 256)]);

describe("DynamoSubjectKeyStore", () => {
  let archive: TestArchive;
  let store: DynamoSubjectKeyStore;

  beforeAll(async () => {
    archive = await createTestArchive();
    store = new DynamoSubjectKeyStore(documentClient(archive.dynamo), archive.table);
  });

  it("reads more than one BatchGetItem's keys back in the order asked, with duplicates and unknowns", async () => {
    const subjects = Array.from({ length: 130 }, (_, i) => `sub1.many-${i}`);
    for (const [i, subject] of subjects.entries()) {
      const created = await store.createKey(ref(subject), wrappedOf(i), NOW);
      expect(created).toMatchObject({ generation: NOW, created: true });
    }
    const asked = [...subjects].reverse().concat(["sub1.nobody", subjects[7] as string]);
    const live = await store.liveKeys(asked.map(ref));
    expect(live).toHaveLength(asked.length);
    asked.forEach((subject, i) => {
      const n = subjects.indexOf(subject);
      if (n < 0) expect(live[i], subject).toBeUndefined();
      else expect(live[i], subject).toEqual({ generation: NOW, wrapped: wrappedOf(n) });
    });
    expect(await store.liveKeys([])).toEqual([]);
  });

  it("keeps the first key when a second writer races it, and gives a later generation after destruction", async () => {
    const alice = ref("sub1.alice");
    expect(await store.createKey(alice, wrappedOf(1), NOW)).toMatchObject({ generation: NOW, created: true });
    expect(await store.createKey(alice, wrappedOf(2), NOW)).toEqual({
      generation: NOW,
      wrapped: wrappedOf(1),
      created: false,
    });
    expect(await store.destroyKey(alice, NOW + 1000)).toEqual({
      kind: "erased",
      generation: NOW,
      erasedAt: new Date(NOW + 1000).toISOString(),
    });
    expect(await store.liveKeys([alice])).toEqual([undefined]);
    const item = (await tableItems(archive)).find(
      (i) =>
        i[PARTITION_KEY] === subjectKeyItemKey(alice.tenant, alice.subject)[PARTITION_KEY] &&
        i[SORT_KEY] === subjectKeyItemKey(alice.tenant, alice.subject)[SORT_KEY],
    );
    expect(item).toBeDefined();
    expect(item).not.toHaveProperty("wrapped");
    expect((await store.destroyKey(alice, NOW + 2000)).kind).toBe("already_erased");
    expect(await store.createKey(alice, wrappedOf(3), NOW + 3000)).toMatchObject({
      generation: NOW + 3000,
      created: true,
    });
    // A clock behind the last generation still gives a later one.
    await store.destroyKey(alice, NOW + 4000);
    expect(await store.createKey(alice, wrappedOf(4), NOW)).toMatchObject({
      generation: NOW + 3001,
      created: true,
    });
    expect(await store.liveKeys([alice])).toEqual([{ generation: NOW + 3001, wrapped: wrappedOf(4) }]);
  });

  it("replaces the tenant's erasure epoch with each destruction, and only then", async () => {
    const carol = { tenant: "epoch-tenant", subject: "sub1.carol" };
    expect(await store.erasureEpoch("epoch-tenant")).toBe("");
    await store.createKey(carol, wrappedOf(5), NOW);
    expect(await store.erasureEpoch("epoch-tenant")).toBe("");
    expect((await store.destroyKey(carol, NOW + 1)).kind).toBe("erased");
    const first = await store.erasureEpoch("epoch-tenant");
    expect(first).not.toBe("");
    expect((await store.destroyKey(carol, NOW + 2)).kind).toBe("already_erased");
    expect(await store.erasureEpoch("epoch-tenant")).toBe(first);
    expect(await store.erasureEpoch("other-tenant")).toBe("");
  });

  it("refuses to destroy a held subject's key, atomically with the hold", async () => {
    const dave = ref("sub1.dave");
    await store.createKey(dave, wrappedOf(6), NOW);
    const hold = { reason: "incident 9", placedAt: new Date(NOW).toISOString(), placedBy: "admin" };
    await store.setLegalHold(dave, hold);
    const epoch = await store.erasureEpoch("acme");
    expect(await store.destroyKey(dave, NOW + 1)).toEqual({ kind: "held", hold });
    expect(await store.liveKeys([dave])).toEqual([{ generation: NOW, wrapped: wrappedOf(6) }]);
    expect(await store.erasureEpoch("acme")).toBe(epoch);
    await store.setLegalHold(dave, undefined);
    expect((await store.destroyKey(dave, NOW + 2)).kind).toBe("erased");
  });

  it("says a subject it never saw is unknown", async () => {
    expect(await store.destroyKey(ref("sub1.stranger"), NOW)).toEqual({ kind: "unknown" });
  });

  it("places and releases a legal hold", async () => {
    const bob = ref("sub1.bob");
    expect(await store.legalHold(bob)).toBeUndefined();
    const hold = { reason: "case 42", placedAt: new Date(NOW).toISOString(), placedBy: "admin" };
    await store.setLegalHold(bob, hold);
    expect(await store.legalHold(bob)).toEqual(hold);
    await store.setLegalHold(bob, undefined);
    expect(await store.legalHold(bob)).toBeUndefined();
  });
});
