/**
 * The batch format's one reader (lambda/core/batch.ts), used by reindex, the proof builder, the query
 * path and the verifier's thorough pass: it gives back exactly the line bytes sealBatch hashed, says
 * when the last line has no newline, and the verifier's fast path accepts nothing it would read
 * differently.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { linkBatchOf, readBatchLines, sealBatch, splitBatchLines } from "../../lambda/core/batch";
import { sha256Hex } from "../../lambda/core/hash";
import { leafHash, merkleRoot } from "../../lambda/core/merkle";
import { dataObjectKey } from "../../lambda/core/paths";
import { buildRecord, serializeRecord } from "../../lambda/core/record";
import type { EventRecord } from "../../lambda/core/schema";
import { createUlidGenerator } from "../../lambda/core/ulid";
import { sealedBatchBytes } from "../../lambda/verify/batch-check";
import { testPrincipal } from "../support/principal";

const RECEIVED = Date.parse("2026-11-22T03:00:00.000Z");

function records(details: readonly string[]): EventRecord[] {
  let clock = RECEIVED;
  const ulid = createUlidGenerator(() => clock);
  return details.map((text, i) => {
    clock = RECEIVED + i;
    return buildRecord(
      { action: "order.update", outcome: "success", details: JSON.stringify({ text }) },
      {
        id: ulid(),
        time: new Date(clock).toISOString(),
        reporter: testPrincipal({ sub: "svc" }),
        tenant: "acme",
        ingest: { request_id: `r-${i}`, source_ip: null, user_agent: null },
      },
    );
  });
}

describe("splitBatchLines", () => {
  it.each([
    ["", [], true],
    ["a\n", ["a"], true],
    ["a\nb\n", ["a", "b"], true],
    ["a\n\n", ["a", ""], true],
    ["a", ["a"], false],
    ["a\nb", ["a", "b"], false],
    ["\n", [""], true],
  ])("%j is the lines %j, terminated: %s", (text, lines, terminated) => {
    const result = splitBatchLines(Buffer.from(text));
    expect(result.lines.map(String)).toEqual(lines);
    expect(result.terminated).toBe(terminated);
  });

  it("keeps the bytes of a line that is not UTF-8, so it hashes to what was stored", () => {
    const line = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const { lines } = splitBatchLines(Buffer.concat([line, Buffer.from("\n")]));
    expect(lines).toEqual([line]);
  });
});

describe("readBatchLines reads back what sealBatch wrote", () => {
  it("every line's bytes, in order, with the sealed count and root", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "grapheme", maxLength: 30 }), { minLength: 1, maxLength: 20 }),
        (texts) => {
          const batch = records(texts);
          const sealed = sealBatch(batch, new Date(RECEIVED));
          const { lines, terminated } = readBatchLines(sealed.bytes);
          expect(terminated).toBe(true);
          expect(lines.map(String)).toEqual(batch.map(serializeRecord));
          expect(lines.map((line) => leafHash(line).toString("hex"))).toEqual(sealed.leafHashes);
          expect(merkleRoot(lines.map(leafHash)).toString("hex")).toBe(sealed.root);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("throws on an object that is not gzip", () => {
    expect(() => readBatchLines(Buffer.from("not gzip"))).toThrow();
  });
});

describe("the verifier's fast path, against the reader", () => {
  it("accepts an object only when the reader reads the same lines: terminated, with the link's count and root", () => {
    const sealed = sealBatch(records(["a", "b", "c"]), new Date(RECEIVED));
    const inflated = gunzipSync(sealed.bytes);
    const mutation = fc.oneof(
      fc.record({ at: fc.nat({ max: inflated.length - 1 }), byte: fc.constantFrom(0x0a, 0x7d, 0x20, 0x00) }),
      fc.constant("drop the last newline" as const),
      fc.constant("add an unterminated line" as const),
      fc.constant("as sealed" as const),
    );
    let accepted = 0;
    fc.assert(
      fc.property(mutation, (change) => {
        let text = Buffer.from(inflated);
        if (change === "drop the last newline") text = text.subarray(0, -1);
        else if (change === "add an unterminated line") text = Buffer.concat([text, text.subarray(0, 40)]);
        else if (change !== "as sealed") text[change.at] = change.byte;
        const object = gzipSync(text);
        const read = readBatchLines(object);
        // The link a signer would have covered, had the writer stored these bytes, by the reader's count.
        const digest = sha256Hex(object);
        const link = {
          ...linkBatchOf(sealed),
          key: dataObjectKey(new Date(RECEIVED), digest),
          sha256: digest,
          count: read.lines.length,
          root: merkleRoot(read.lines.map(leafHash)).toString("hex"),
        };
        // Accepted implies terminated (so an unterminated object is never accepted).
        if (sealedBatchBytes(object, link) !== undefined) {
          accepted++;
          expect(read.terminated).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    // The property is not vacuous: the untouched batch (and harmless changes) pass the fast path.
    expect(accepted).toBeGreaterThan(0);
  });
});
