/** Pagination cursors: opaque, bound to tenant and filters, and refused after any change. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CursorBinding,
  canonicalJson,
  decodeCursor,
  encodeCursor,
  hmacSha256Key,
  InvalidCursorError,
  type MacKey,
  randomMacKey,
} from "../../lambda/core/cursor";

const key = hmacSha256Key(Buffer.alloc(32, 7));
const binding: CursorBinding = {
  tenant: "acme",
  filters: { actor: "alice", from: "2025-03-01T00:00:00.000Z" },
};
const position = { after: "2025-03-01T00:00:05.000Z#01JCEXAMPLE00000000000000" };

async function refused(promise: Promise<unknown>): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(InvalidCursorError);
}

describe("cursors", () => {
  it("round-trip: the position comes back for the same tenant and filters", async () => {
    const cursor = await encodeCursor(key, binding, position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(await decodeCursor(key, binding, cursor)).toEqual(position);
  });

  it("binds to the filters' values, not to the order their keys were written in", async () => {
    const cursor = await encodeCursor(key, binding, position);
    const reordered = { tenant: "acme", filters: { from: "2025-03-01T00:00:00.000Z", actor: "alice" } };
    expect(await decodeCursor(key, reordered, cursor)).toEqual(position);
    // An absent filter and an undefined one are the same query.
    const withUndefined = { tenant: "acme", filters: { ...binding.filters, action: undefined } };
    expect(await decodeCursor(key, withUndefined, cursor)).toEqual(position);
  });

  it("refuses every single-byte modification of a cursor", async () => {
    const bytes = Buffer.from(await encodeCursor(key, binding, position), "base64url");
    for (let i = 0; i < bytes.length; i++) {
      const modified = Buffer.from(bytes);
      modified[i] = (modified[i] as number) ^ 0x01;
      await refused(decodeCursor(key, binding, modified.toString("base64url")));
    }
  });

  it("refuses a truncated or extended cursor", async () => {
    const cursor = await encodeCursor(key, binding, position);
    const bytes = Buffer.from(cursor, "base64url");
    await refused(decodeCursor(key, binding, bytes.subarray(0, bytes.length - 1).toString("base64url")));
    await refused(decodeCursor(key, binding, Buffer.concat([bytes, Buffer.of(0x20)]).toString("base64url")));
    await refused(decodeCursor(key, binding, bytes.subarray(0, 33).toString("base64url")));
  });

  it("refuses a cursor of another query: other filter value, extra filter, missing filter, other range", async () => {
    const cursor = await encodeCursor(key, binding, position);
    for (const filters of [
      { actor: "bob", from: "2025-03-01T00:00:00.000Z" },
      { ...binding.filters, outcome: "success" },
      { actor: "alice" },
      { actor: "alice", from: "2025-03-01T00:00:00.001Z" },
      // The same text under another filter's name is another query.
      { action: "alice", from: "2025-03-01T00:00:00.000Z" },
    ]) {
      await refused(decodeCursor(key, { tenant: "acme", filters }, cursor));
    }
  });

  it("refuses a cursor of another tenant", async () => {
    const cursor = await encodeCursor(key, binding, position);
    await refused(decodeCursor(key, { ...binding, tenant: "globex" }, cursor));
  });

  it("refuses a cursor made with another key", async () => {
    const cursor = await encodeCursor(randomMacKey(), binding, position);
    await refused(decodeCursor(key, binding, cursor));
  });

  it("refuses text that is not canonical base64url", async () => {
    const cursor = await encodeCursor(key, binding, position);
    for (const text of ["", "not a cursor", `${cursor}=`, `${cursor}\n`, cursor.replaceAll("-", "+"), "AA"]) {
      await refused(decodeCursor(key, binding, text));
    }
    // A final character whose unused low bits differ decodes to the same bytes: still refused.
    const last = cursor.at(-1) as string;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const sibling = alphabet[alphabet.indexOf(last) ^ 1] as string;
    const variant = `${cursor.slice(0, -1)}${sibling}`;
    if (Buffer.from(variant, "base64url").equals(Buffer.from(cursor, "base64url"))) {
      await refused(decodeCursor(key, binding, variant));
    }
  });

  it("refuses an authentic tag over a payload that is not a position (format changes fail closed)", async () => {
    const forge = async (payload: string): Promise<string> => {
      // Build a cursor the way encodeCursor does, but around an arbitrary payload.
      const recorder: MacKey = {
        mac: async (message) => {
          captured = message;
          return key.mac(message);
        },
        verify: key.verify,
      };
      let captured: Uint8Array = new Uint8Array();
      await encodeCursor(recorder, binding, position);
      const prefix = Buffer.from(captured).subarray(
        0,
        captured.length - Buffer.byteLength(JSON.stringify(position)),
      );
      const tag = await key.mac(Buffer.concat([prefix, Buffer.from(payload)]));
      return Buffer.concat([Buffer.of(1), tag, Buffer.from(payload)]).toString("base64url");
    };
    expect(await decodeCursor(key, binding, await forge(JSON.stringify(position)))).toEqual(position);
    for (const payload of ["{", "[]", '{"after":""}', '{"after":"x","extra":1}', '{"after":5}']) {
      await refused(decodeCursor(key, binding, await forge(payload)));
    }
  });

  it("property: any change of tenant or of one filter value invalidates the cursor", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom("actor", "action", "outcome", "from", "to"),
          fc.string({ minLength: 1 }),
        ),
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1, maxLength: 100 }),
        async (filters, tenant, after) => {
          const bound = { tenant, filters };
          const cursor = await encodeCursor(key, bound, { after });
          expect(await decodeCursor(key, bound, cursor)).toEqual({ after });
          await refused(decodeCursor(key, { tenant: `${tenant}x`, filters }, cursor));
          const [name] = Object.keys(filters);
          if (name !== undefined) {
            await refused(
              decodeCursor(key, { tenant, filters: { ...filters, [name]: `${filters[name]}x` } }, cursor),
            );
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("needs a secret of at least 32 bytes", () => {
    expect(() => hmacSha256Key(Buffer.alloc(31))).toThrow(RangeError);
  });

  it("canonical JSON sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: null }], c: undefined } })).toBe(
      '{"a":{"d":[2,{"e":null,"f":1}]},"b":1}',
    );
  });
});
