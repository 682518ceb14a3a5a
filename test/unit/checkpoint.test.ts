/** The checkpoint format: canonical payloads, ES256 JWS under trusted keys only, DER conversion. */
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkpointKeyFromPrivateJwk, generateCheckpointPrivateJwk } from "../../lambda/checkpoint/local-key";
import {
  type CheckpointKey,
  type CheckpointPayload,
  ecdsaDerToJose,
  FIRST_CHECKPOINT_PREV,
  parseCheckpointPayload,
  parseTrustedKeys,
  serializeCheckpointPayload,
  signCheckpoint,
  trustFileOf,
  verifyCheckpoint,
} from "../../lambda/core/checkpoint";

const HASH_A = "a".repeat(64);
const HASH_B = "b".repeat(64);

function payload(overrides: Partial<CheckpointPayload> = {}): CheckpointPayload {
  return {
    v: 1,
    seq: 3,
    prev: FIRST_CHECKPOINT_PREV,
    time: "2026-11-22T06:00:00.000Z",
    chains: { "10": { size: 2, root: HASH_A, head: HASH_B }, "2": { size: 5, root: HASH_B, head: HASH_A } },
    ...overrides,
  };
}

async function newKey(): Promise<CheckpointKey> {
  return checkpointKeyFromPrivateJwk(generateCheckpointPrivateJwk());
}

function b64(text: string): string {
  return Buffer.from(text).toString("base64url");
}

describe("checkpoint payload", () => {
  it("has one byte form: fixed key order, chains in numeric order", () => {
    const bytes = serializeCheckpointPayload(payload());
    expect(bytes.toString()).toBe(
      `{"v":1,"seq":3,"prev":"${FIRST_CHECKPOINT_PREV}","time":"2026-11-22T06:00:00.000Z","chains":{"2":{"size":5,"root":"${HASH_B}","head":"${HASH_A}"},"10":{"size":2,"root":"${HASH_A}","head":"${HASH_B}"}}}`,
    );
    expect(parseCheckpointPayload(bytes)).toEqual(payload());
  });

  it.each([
    ["whitespace", (text: string) => text.replace(":1,", ": 1,")],
    ["key order", (text: string) => text.replace('{"v":1,"seq":3', '{"seq":3,"v":1')],
    ["an extra member", (text: string) => text.replace('{"v":1', '{"x":0,"v":1')],
    ["a non-canonical chain id", (text: string) => text.replace('"2":', '"02":')],
    ["an empty chain", (text: string) => text.replace('"size":5', '"size":0')],
    ["upper-case hex", (text: string) => text.replace(HASH_A, HASH_A.toUpperCase())],
  ])("refuses %s", (_name, change) => {
    const text = change(serializeCheckpointPayload(payload()).toString());
    expect(() => parseCheckpointPayload(Buffer.from(text))).toThrow();
  });
});

describe("signed checkpoints", () => {
  it("verify under the trusted key, with the kid as the key's thumbprint", async () => {
    const key = await newKey();
    const jws = await signCheckpoint(payload(), key);
    const verified = await verifyCheckpoint(jws, await parseTrustedKeys(trustFileOf(key)));
    expect(verified.payload).toEqual(payload());
    expect(verified.kid).toBe(key.kid);
    expect(verified.payloadBytes).toEqual(serializeCheckpointPayload(payload()));
  });

  it("fail under any other key, even with the signer's kid", async () => {
    const key = await newKey();
    const other = await newKey();
    const jws = await signCheckpoint(payload(), other);
    await expect(verifyCheckpoint(jws, await parseTrustedKeys(trustFileOf(key)))).rejects.toMatchObject({
      code: "unknown_key",
    });
    const [, body, signature] = jws.split(".");
    const header = b64(JSON.stringify({ alg: "ES256", kid: key.kid, typ: "sealtrail-checkpoint+jws" }));
    await expect(
      verifyCheckpoint(`${header}.${body}.${signature}`, await parseTrustedKeys(trustFileOf(key))),
    ).rejects.toMatchObject({ code: "bad_signature" });
  });

  it("fail when the payload changes", async () => {
    const key = await newKey();
    const [header, , signature] = (await signCheckpoint(payload(), key)).split(".");
    const forged = b64(serializeCheckpointPayload(payload({ seq: 4 })).toString());
    await expect(
      verifyCheckpoint(`${header}.${forged}.${signature}`, await parseTrustedKeys(trustFileOf(key))),
    ).rejects.toMatchObject({ code: "bad_signature" });
  });

  it.each([
    ["alg none", { alg: "none", typ: "sealtrail-checkpoint+jws" }],
    ["alg HS256", { alg: "HS256", typ: "sealtrail-checkpoint+jws" }],
    ["no typ", { alg: "ES256" }],
    ["another typ", { alg: "ES256", typ: "JWT" }],
  ])("refuse a header with %s", async (_name, header) => {
    const key = await newKey();
    const [, body, signature] = (await signCheckpoint(payload(), key)).split(".");
    const forged = `${b64(JSON.stringify({ ...header, kid: key.kid }))}.${body}.${signature}`;
    await expect(verifyCheckpoint(forged, await parseTrustedKeys(trustFileOf(key)))).rejects.toMatchObject({
      code: "bad_header",
    });
  });

  it("refuse a second base64url spelling of the same signature", async () => {
    const key = await newKey();
    const jws = await signCheckpoint(payload(), key);
    // 64 bytes are 86 characters with 2 spare bits in the last one.
    const last = jws.at(-1) as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
    await expect(
      verifyCheckpoint(`${jws.slice(0, -1)}${sibling}`, await parseTrustedKeys(trustFileOf(key))),
    ).rejects.toMatchObject({ code: "not_jws" });
  });

  it("refuse a checkpoint dated outside its key's validity window", async () => {
    const key = await newKey();
    const jws = await signCheckpoint(payload({ time: "2020-01-01T00:00:00.000Z" }), key);
    const trusted = await parseTrustedKeys(trustFileOf(key, "2026-01-01T00:00:00Z"));
    await expect(verifyCheckpoint(jws, trusted)).rejects.toMatchObject({ code: "key_not_valid" });
  });
});

describe("trust files", () => {
  it("refuse a private key and a kid that is not the key's thumbprint", async () => {
    const key = await newKey();
    const [jwk] = trustFileOf(key).keys as Record<string, unknown>[];
    await expect(parseTrustedKeys({ keys: [{ ...jwk, d: "secret" }] })).rejects.toThrow(/public keys only/);
    await expect(parseTrustedKeys({ keys: [{ ...jwk, kid: "other" }] })).rejects.toThrow(/thumbprint/);
    await expect(parseTrustedKeys({ keys: [] })).rejects.toThrow(/trust file/);
  });
});

describe("ecdsaDerToJose (KMS signatures)", () => {
  it("converts DER signatures, short r and s included, to r ‖ s that verify", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    // DER: 0x30 len 0x02 len(r) r 0x02 len(s) s. An integer below 2^248 takes fewer than 32 bytes: about
    // 1 signature in 128 has one. Sign until 5 such have converted and verified (a fixed count of
    // signatures would sometimes hold none), bounded far beyond what that takes.
    let short = 0;
    for (let i = 0; short < 5 && i < 100_000; i++) {
      const message = Buffer.from(`message ${i}`);
      const der = sign("sha256", message, { key: privateKey, dsaEncoding: "der" });
      const rLength = der[3] as number;
      const sLength = der[5 + rLength] as number;
      if (rLength < 32 || sLength < 32) short++;
      const jose = ecdsaDerToJose(der);
      expect(jose).toHaveLength(64);
      expect(verify("sha256", message, { key: publicKey, dsaEncoding: "ieee-p1363" }, jose)).toBe(true);
    }
    expect(short).toBe(5);
  });

  it.each([
    ["not a SEQUENCE", [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]],
    ["a wrong length", [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]],
    ["trailing bytes", [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]],
    ["an integer longer than the curve", [0x30, 0x26, 0x02, 0x21, ...Array(33).fill(1), 0x02, 0x01, 0x01]],
  ])("refuses %s", (_name, bytes) => {
    expect(() => ecdsaDerToJose(Uint8Array.from(bytes))).toThrow(/DER/);
  });
});
