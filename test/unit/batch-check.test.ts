import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { linkBatchOf, sealBatch } from "../../lambda/core/batch";
import type { ChainLink } from "../../lambda/core/link";
import { buildRecord, serializeRecord } from "../../lambda/core/record";
import type { EventRecord } from "../../lambda/core/schema";
import { createUlidGenerator } from "../../lambda/core/ulid";
import { checkBatch, sealedBatchBytes } from "../../lambda/verify/batch-check";
import { committedBatch } from "../support/committed-batch";
import { testPrincipal } from "../support/principal";

const RECEIVED = Date.parse("2026-11-22T03:00:00.000Z");
const reporter = testPrincipal({ sub: "svc-orders" });

/** `count` records as the ingest path builds them: ascending ULIDs, times 1 ms apart. */
function records(count: number): EventRecord[] {
  let clock = RECEIVED;
  const ulid = createUlidGenerator(() => clock);
  return Array.from({ length: count }, (_, i) => {
    clock = RECEIVED + i;
    return buildRecord(
      { action: "order.update", outcome: "success", details: JSON.stringify({ line: i, note: "ü ✓" }) },
      {
        id: ulid(),
        time: new Date(clock).toISOString(),
        reporter,
        tenant: "acme",
        ingest: { request_id: `r-${i}`, source_ip: "192.0.2.1", user_agent: null },
      },
    );
  });
}

const linesOf = (batch: EventRecord[]) => batch.map((record) => serializeRecord(record));

describe("checkBatch", () => {
  it.each([1, 2, 3, 100, 1000])("accepts a sealed batch of %i records in the sealed-batch pass", (count) => {
    const batch = records(count);
    const sealed = sealBatch(batch, new Date(RECEIVED));
    const textBytes = linesOf(batch).reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);

    // The pass that does not parse lines accepts it by itself (no fallback to the thorough pass)...
    expect(sealedBatchBytes(sealed.bytes, linkBatchOf(sealed))).toBe(textBytes);
    // ...and so do both modes of checkBatch.
    for (const parseEveryLine of [false, true]) {
      const options = { keepEvents: false, records: parseEveryLine };
      expect(checkBatch(sealed.bytes, linkBatchOf(sealed), options)).toEqual({
        problems: [],
        bytes: textBytes,
        events: [],
      });
    }
  });

  it("keepEvents returns each event's id, leaf index, leaf hash and record", () => {
    const batch = records(3);
    const sealed = sealBatch(batch, new Date(RECEIVED));
    const result = checkBatch(sealed.bytes, linkBatchOf(sealed), { keepEvents: true });
    expect(result.problems).toEqual([]);
    expect(result.events.map((event) => [event.id, event.leafIndex, event.leafHash])).toEqual(
      batch.map((record, i) => [record.id, i, sealed.leafHashes[i]]),
    );
    expect(result.events[1]?.record).toEqual(JSON.parse(linesOf(batch)[1] as string));
  });

  // Batches whose bytes match their link exactly, but whose lines are wrong on their face: the
  // sealed-batch pass must not accept them, and the thorough pass names the line.
  const [a, b, c] = linesOf(records(3)) as [string, string, string];
  it.each<[string, () => ReturnType<typeof committedBatch>, object]>([
    ["two lines swapped", () => committedBatch([a, c, b]), { code: "line_order", line: 3 }],
    ["a line twice", () => committedBatch([a, b, b]), { code: "duplicate_line", line: 3 }],
    [
      "a time after the link's last_time",
      () => committedBatch([a, b, c], { times: ["2026-11-22T03:00:00.000Z", "2026-11-22T03:00:00.001Z"] }),
      { code: "bad_line", line: 3 },
    ],
    ["a line that is not JSON", () => committedBatch([a, "not json", c]), { code: "bad_line", line: 2 }],
    [
      "a line that is not a record",
      () => committedBatch([a, '{"v":1,"id":"x"}', c]),
      { code: "bad_line", line: 2, message: expect.stringMatching(/not an event record/) },
    ],
    [
      "a line with the record's prefix and whitespace before its key",
      () => committedBatch([a, b.replace('"action":', ' "action":'), c]),
      { code: "bad_line", line: 2 },
    ],
    [
      "no newline after the last line",
      () => committedBatch([a, b], { text: Buffer.from(`${a}\n${b}`) }),
      { code: "bad_line", line: 2 },
    ],
  ])("%s: the sealed-batch pass refuses it, the thorough pass names it", (_, make, problem) => {
    const { bytes, batch } = make();
    expect(sealedBatchBytes(bytes, batch)).toBeUndefined();
    expect(checkBatch(bytes, batch, { keepEvents: false }).problems).toContainEqual(
      expect.objectContaining(problem),
    );
  });

  it("a committed line valid on its face but not a record is found with records: true", () => {
    // The signed root fixes these bytes: only the writer could have put them there.
    const odd = `${b.slice(0, b.indexOf('"action":'))}"action":"x"}`;
    const { bytes, batch } = committedBatch([a, odd, c]);
    expect(checkBatch(bytes, batch, { keepEvents: false }).problems).toEqual([]);
    expect(checkBatch(bytes, batch, { keepEvents: false, records: true }).problems).toEqual([
      expect.objectContaining({
        code: "bad_line",
        line: 2,
        message: expect.stringMatching(/not an event record/),
      }),
    ]);
  });

  it("a gzip member with an optional header field is left to the thorough pass, which accepts it", () => {
    // FNAME set and a file name after the fixed header: valid gzip that sealBatch never writes.
    const named = (text: Buffer) => {
      const plain = gzipSync(text);
      const header = Buffer.from(plain.subarray(0, 10));
      header[3] = 0x08;
      return Buffer.concat([header, Buffer.from("batch.jsonl\0"), plain.subarray(10)]);
    };
    const { bytes, batch } = committedBatch([a, b, c], { gzip: named });
    expect(sealedBatchBytes(bytes, batch)).toBeUndefined();
    expect(checkBatch(bytes, batch, { keepEvents: false }).problems).toEqual([]);
  });

  it.each<[string, (gzip: Buffer) => Buffer]>([
    [
      "bytes between the deflate stream and the trailer",
      (gz) => splice(gz, gz.length - 8, Buffer.from("xx")),
    ],
    ["bytes after the trailer", (gz) => Buffer.concat([gz, Buffer.from("xx")])],
    [
      "a trailer whose size is wrong",
      (gz) => withUint32At(gz, gz.length - 4, gz.readUInt32LE(gz.length - 4) + 1),
    ],
    ["a truncated stream", (gz) => Buffer.concat([gz.subarray(0, gz.length - 20), gz.subarray(-8)])],
    [
      "a trailer whose CRC-32 is wrong",
      (gz) => withUint32At(gz, gz.length - 8, gz.readUInt32LE(gz.length - 8) ^ 1),
    ],
  ])("%s: the sealed-batch pass refuses the object even when its link names its hash", (_, damage) => {
    const { bytes, batch } = committedBatch([a, b, c], { gzip: (text) => damage(gzipSync(text)) });
    expect(sealedBatchBytes(bytes, batch)).toBeUndefined();
  });

  it("an object with a wrong CRC-32 is reported by the thorough pass, whose gunzip refuses it", () => {
    const badCrc = (text: Buffer) => {
      const gz = gzipSync(text);
      return withUint32At(gz, gz.length - 8, gz.readUInt32LE(gz.length - 8) ^ 1);
    };
    const { bytes, batch } = committedBatch([a, b, c], { gzip: badCrc });
    expect(checkBatch(bytes, batch, { keepEvents: false }).problems).toEqual([
      expect.objectContaining({
        code: "altered_object",
        message: expect.stringMatching(/not a gzip stream/),
      }),
    ]);
  });

  it.each<[string, (batch: ChainLink["batch"]) => ChainLink["batch"], string]>([
    ["another object hash", (batch) => ({ ...batch, sha256: "0".repeat(64) }), "altered_object"],
    // Far more lines than the object can hold: refused before any buffer is sized by it.
    ["a count of 2^40", (batch) => ({ ...batch, count: 2 ** 40 }), "batch_mismatch"],
    ["another count", (batch) => ({ ...batch, count: batch.count + 1 }), "batch_mismatch"],
    ["another root", (batch) => ({ ...batch, root: "0".repeat(64) }), "batch_mismatch"],
  ])("a link with %s: refused and reported", (_, alter, code) => {
    const sealed = sealBatch(records(5), new Date(RECEIVED));
    const batch = alter(linkBatchOf(sealed));
    expect(sealedBatchBytes(sealed.bytes, batch)).toBeUndefined();
    expect(checkBatch(sealed.bytes, batch, { keepEvents: false }).problems).toContainEqual(
      expect.objectContaining({ code }),
    );
  });
});

function splice(bytes: Buffer, at: number, insert: Buffer): Buffer {
  return Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(at)]);
}

function withUint32At(bytes: Buffer, at: number, value: number): Buffer {
  const copy = Buffer.from(bytes);
  copy.writeUInt32LE(value >>> 0, at);
  return copy;
}
