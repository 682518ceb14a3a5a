/**
 * How the privacy layer gets data keys: one key-store read per request for all of a batch's subjects,
 * each key unwrapped once per process (UnwrappedKeyCache), and an erasure that takes effect at the next
 * request even while the erased key's plaintext is still cached.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_PRIVACY_POLICY } from "../../lambda/core/privacy/policy";
import { ERASED_MARKER } from "../../lambda/core/privacy/protect";
import { buildRecord } from "../../lambda/core/record";
import type { EventRecord } from "../../lambda/core/schema";
import type { KeyWrapper, SubjectRef } from "../../lambda/privacy/ports";
import { RecordPrivacy } from "../../lambda/privacy/record-privacy";
import { UNWRAPPED_KEYS_MAX_AGE_MS, UnwrappedKeyCache } from "../../lambda/privacy/unwrapped-keys";
import { MemorySubjectKeyStore, testPrivacyKeys } from "../support/memory-privacy";
import { testPrincipal } from "../support/principal";

const ISS = "https://idp.test";

function recordOf(sub: string, n: number): EventRecord {
  return buildRecord(
    {
      action: "document.read",
      outcome: "success",
      actor: { sub, iss: ISS, session_id: `sess-${sub}` },
      http: { source_ip: "192.0.2.1" },
    },
    {
      id: `01JKEYS${String(n).padStart(19, "0")}`,
      time: "2026-12-07T10:00:00.000Z",
      reporter: testPrincipal({ sub: "svc" }),
      tenant: "acme",
      ingest: { request_id: `r-${n}`, source_ip: null, user_agent: null },
    },
  );
}

/** A RecordPrivacy over memory keys that counts what it asks of the wrapper. */
function counted() {
  let nowMs = Date.parse("2026-12-07T10:00:00.000Z");
  const keys = new MemorySubjectKeyStore();
  const { wrapper, pseudonyms } = testPrivacyKeys();
  const calls = { wrap: 0, unwrap: 0 };
  const countingWrapper: KeyWrapper = {
    wrap: (key, ref) => {
      calls.wrap++;
      return wrapper.wrap(key, ref);
    },
    unwrap: (wrapped, ref) => {
      calls.unwrap++;
      return wrapper.unwrap(wrapped, ref);
    },
  };
  const privacy = new RecordPrivacy({
    policy: DEFAULT_PRIVACY_POLICY,
    keys,
    wrapper: countingWrapper,
    pseudonyms,
    now: () => nowMs,
  });
  return { privacy, keys, calls, advance: (ms: number) => (nowMs += ms) };
}

const batchOf = (subjects: string[], size: number) =>
  Array.from({ length: size }, (_, i) => recordOf(subjects[i % subjects.length] as string, i));

describe("data keys of a request", () => {
  it("are read for all of a batch's subjects in one store request, each created once", async () => {
    const { privacy, keys, calls } = counted();
    const sealed = await privacy.session().protect(batchOf(["alice", "bob", "carol"], 60));
    expect(keys.calls.liveKeys).toBe(1);
    expect(keys.calls.erasureEpoch).toBe(1);
    expect(keys.calls.createKey).toBe(3);
    expect(calls.wrap).toBe(3);
    expect(new Set(sealed.map((record) => record.privacy?.subject)).size).toBe(3);
  });

  it("are kept by the function: the next request reads only the tenant's erasure epoch, and unwraps nothing", async () => {
    const { privacy, keys, calls } = counted();
    await privacy.session().protect(batchOf(["alice", "bob"], 10));
    const sealed = await privacy.session().protect(batchOf(["alice", "bob"], 10));
    await privacy.session().reveal(sealed);
    expect(keys.calls.liveKeys).toBe(1);
    expect(keys.calls.erasureEpoch).toBe(3);
    expect(calls.unwrap).toBe(0);
    // A fresh function (a new RecordPrivacy) over the same store reads and unwraps each subject once.
    const fresh = new RecordPrivacy({ ...privacy.deps, keys });
    const opened = await fresh.session().reveal(sealed);
    expect(opened.map((record) => record.actor.sub)).toEqual(sealed.map((_, i) => (i % 2 ? "bob" : "alice")));
    expect(keys.calls.liveKeys).toBe(2);
    expect(calls.unwrap).toBe(2);
  });

  it("are read and unwrapped again once the kept key is older than the cache's age limit", async () => {
    const { privacy, keys, calls, advance } = counted();
    const sealed = await privacy.session().protect(batchOf(["alice"], 2));
    await privacy.session().reveal(sealed);
    expect(calls.unwrap).toBe(0);
    advance(UNWRAPPED_KEYS_MAX_AGE_MS);
    const [opened] = await privacy.session().reveal(sealed);
    expect(opened?.actor.sub).toBe("alice");
    expect(keys.calls.liveKeys).toBe(2);
    expect(calls.unwrap).toBe(1);
  });

  it("stop opening records at the first request after an erasure, though the function kept the key", async () => {
    const { privacy, keys, advance } = counted();
    const sealed = await privacy.session().protect(batchOf(["alice", "bob"], 4));
    expect((await privacy.session().reveal(sealed)).map((r) => r.actor.sub)).toEqual([
      "alice",
      "bob",
      "alice",
      "bob",
    ]);
    // The destruction replaces the tenant's erasure epoch in the same step.
    const alice = sealed[0]?.privacy?.subject as string;
    const epoch = await keys.erasureEpoch("acme");
    expect((await keys.destroyKey({ tenant: "acme", subject: alice }, Date.now())).kind).toBe("erased");
    expect(await keys.erasureEpoch("acme")).not.toBe(epoch);
    const after = await privacy.session().reveal(sealed);
    expect(after.map((r) => r.actor.sub)).toEqual([ERASED_MARKER, "bob", ERASED_MARKER, "bob"]);
    // Alice seen again gets a new generation, never the destroyed key.
    advance(1000);
    const [again] = await privacy.session().protect(batchOf(["alice"], 1));
    expect(again?.privacy?.key).toBeGreaterThan(sealed[0]?.privacy?.key as number);
    expect((await privacy.session().reveal([again as EventRecord]))[0]?.actor.sub).toBe("alice");
    expect((await privacy.session().reveal(sealed))[0]?.actor.sub).toBe(ERASED_MARKER);
  });
});

describe("UnwrappedKeyCache", () => {
  const ref = (subject: string): SubjectRef => ({ tenant: "acme", subject });
  const key = (subject: string) => ({ subject, generation: 1, key: new Uint8Array(32) });

  it("keeps at most its entry limit, dropping the oldest first", () => {
    const cache = new UnwrappedKeyCache(() => 0, 2);
    for (const name of ["a", "b", "c"]) cache.remember(ref(name), "e0", key(name));
    expect(cache.size).toBe(2);
    expect(cache.get(ref("a"), "e0")).toBeUndefined();
    expect(cache.get(ref("b"), "e0")?.subject).toBe("b");
    expect(cache.get(ref("c"), "e0")?.subject).toBe("c");
  });

  it("finds an entry only under the epoch it was kept under", () => {
    const cache = new UnwrappedKeyCache(() => 0);
    cache.remember(ref("a"), "e3", key("a"));
    expect(cache.get(ref("a"), "e3")?.subject).toBe("a");
    expect(cache.get(ref("a"), "e4")).toBeUndefined();
    // And, once dropped for a newer epoch, not under the old one either.
    expect(cache.get(ref("a"), "e3")).toBeUndefined();
  });
});
