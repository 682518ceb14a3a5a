/**
 * Field encryption and pseudonyms (lambda/core/privacy/): a sealed field opens only under its key and
 * in its place, never repeats, does not show a short value's length, and refuses any change.
 */
import { describe, expect, it } from "vitest";
import {
  newDataKey,
  openField,
  PAD_BYTES,
  SealedFieldError,
  sealField,
} from "../../lambda/core/privacy/field-cipher";
import { DEFAULT_PRIVACY_POLICY, PrivacyPolicySchema } from "../../lambda/core/privacy/policy";
import {
  eventKey,
  fieldAssociatedData,
  protectRecord,
  revealRecord,
} from "../../lambda/core/privacy/protect";
import { fieldPseudonym, subjectPseudonym } from "../../lambda/core/privacy/pseudonym";
import { buildRecord } from "../../lambda/core/record";
import { testPrincipal } from "../support/principal";

const key = newDataKey();
const aad = fieldAssociatedData("acme", "01JCEXAMP00000000000000001", "actor.sub");

describe("sealed fields", () => {
  it("round-trip, including empty-looking and multi-byte text", () => {
    for (const value of ["alice", "ü🙂 ünïcödé", "x".repeat(5000), "192.0.2.1"]) {
      expect(openField(key, aad, sealField(key, aad, value))).toBe(value);
    }
  });

  it("use a fresh nonce each time: the same value never seals the same way", () => {
    const sealed = new Set(Array.from({ length: 50 }, () => sealField(key, aad, "alice")));
    expect(sealed.size).toBe(50);
  });

  it("refuse another place: the tenant, the event and the field path are bound", () => {
    const sealed = sealField(key, aad, "alice");
    for (const elsewhere of [
      fieldAssociatedData("other", "01JCEXAMP00000000000000001", "actor.sub"),
      fieldAssociatedData("acme", "01JCEXAMP00000000000000002", "actor.sub"),
      fieldAssociatedData("acme", "01JCEXAMP00000000000000001", "reporter.sub"),
    ]) {
      expect(() => openField(key, elsewhere, sealed)).toThrow(SealedFieldError);
    }
  });

  it("refuse another key and any changed byte", () => {
    const sealed = sealField(key, aad, "alice");
    expect(() => openField(newDataKey(), aad, sealed)).toThrow(SealedFieldError);
    const bytes = Buffer.from(sealed.slice(3), "base64url");
    for (const at of [0, 12, bytes.length - 1]) {
      const changed = Buffer.from(bytes);
      changed[at] = (changed[at] as number) ^ 1;
      expect(() => openField(key, aad, `e1.${changed.toString("base64url")}`)).toThrow(SealedFieldError);
    }
    expect(() => openField(key, aad, "alice")).toThrow(SealedFieldError);
  });

  it("pad short values: every identifier up to 28 bytes seals to the same length", () => {
    const lengths = new Set(
      Array.from({ length: 28 }, (_, i) => sealField(key, aad, "a".repeat(i + 1)).length),
    );
    expect(lengths.size).toBe(1);
    expect(sealField(key, aad, "a".repeat(PAD_BYTES)).length).toBeGreaterThan([...lengths][0] as number);
  });
});

describe("pseudonyms", () => {
  const tenantKey = Buffer.alloc(32, 1);

  it("are stable per tenant key, field and value, and differ otherwise", () => {
    const alice = fieldPseudonym(tenantKey, "actor.sub", "alice");
    expect(fieldPseudonym(tenantKey, "actor.sub", "alice")).toBe(alice);
    expect(fieldPseudonym(Buffer.alloc(32, 2), "actor.sub", "alice")).not.toBe(alice);
    expect(fieldPseudonym(tenantKey, "actor.session_id", "alice")).not.toBe(alice);
    expect(fieldPseudonym(tenantKey, "actor.sub", "alicf")).not.toBe(alice);
    expect(alice).not.toContain("alice");
  });

  it("name a subject by issuer and subject, a missing issuer apart from any named one", () => {
    const withIssuer = subjectPseudonym(tenantKey, { iss: "https://issuer.test", sub: "alice" });
    expect(subjectPseudonym(tenantKey, { iss: null, sub: "alice" })).not.toBe(withIssuer);
    expect(subjectPseudonym(tenantKey, { iss: "https://issuer.test", sub: "alice" })).toBe(withIssuer);
  });
});

describe("the privacy policy", () => {
  it("defaults to the issue's personal and searchable fields", () => {
    expect(DEFAULT_PRIVACY_POLICY).toEqual({
      personal: [
        "actor.sub",
        "actor.session_id",
        "reporter.sub",
        "reporter.session_id",
        "http.source_ip",
        "http.user_agent",
        "details",
      ],
      searchable: ["actor.sub", "actor.session_id"],
    });
  });

  it("refuses a searchable field that is not personal, and fields it cannot seal", () => {
    expect(PrivacyPolicySchema.safeParse({ personal: ["details"], searchable: ["actor.sub"] }).success).toBe(
      false,
    );
    expect(PrivacyPolicySchema.safeParse({ personal: ["actor.roles"] }).success).toBe(false);
    expect(
      PrivacyPolicySchema.safeParse({ personal: ["resource.id"], searchable: ["resource.id"] }).success,
    ).toBe(true);
  });
});

describe("a record's fields", () => {
  const record = (id: string) =>
    buildRecord(
      { action: "document.read", outcome: "success", actor: { sub: "svc-robot", iss: "https://idp.test" } },
      {
        id,
        time: "2026-12-07T10:00:00.000Z",
        reporter: testPrincipal({ sub: "svc-robot" }),
        tenant: "acme",
        ingest: { request_id: "r", source_ip: null, user_agent: null },
      },
    );
  const subjectKey = { subject: "sub1.robot", generation: 1, key };

  it("are sealed under a key of their own event, derived from the subject's key", () => {
    const first = protectRecord(
      record("01JCEXAMP00000000000000001"),
      DEFAULT_PRIVACY_POLICY,
      key,
      subjectKey,
    );
    const sealed = first.privacy?.fields.find((field) => field.path === "actor.sub")?.ciphertext as string;
    const place = fieldAssociatedData("acme", first.id, "actor.sub");
    // Not under the subject's key itself: under the event's key, which differs per event and tenant.
    expect(() => openField(key, place, sealed)).toThrow(SealedFieldError);
    expect(openField(eventKey(key, "acme", first.id), place, sealed)).toBe("svc-robot");
    expect(eventKey(key, "acme", "01JCEXAMP00000000000000002")).not.toEqual(eventKey(key, "acme", first.id));
    expect(eventKey(key, "other", first.id)).not.toEqual(eventKey(key, "acme", first.id));
    expect(revealRecord(first, subjectKey).actor.sub).toBe("svc-robot");
  });
});
