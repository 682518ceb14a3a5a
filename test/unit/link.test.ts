import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ChainLink,
  GENESIS_PREV,
  LinkFormatError,
  type LinkFormatErrorCode,
  linkHash,
  parseLink,
  serializeLink,
} from "../../lambda/core/link";
import { dataObjectKey } from "../../lambda/core/paths";

const OBJECT_HASH = "ab".repeat(32);
const ROOT = "cd".repeat(32);
const PREV = "ef".repeat(32);
const KEY = `events/dt=2026-11-22/hr=03/${OBJECT_HASH}.jsonl.gz`;

function makeLink(overrides: Partial<ChainLink> = {}, batch: Partial<ChainLink["batch"]> = {}): ChainLink {
  return {
    v: 1,
    chain: "3",
    seq: 7,
    prev: PREV,
    time: "2026-11-22T03:04:05.678Z",
    ...overrides,
    batch: {
      key: KEY,
      sha256: OBJECT_HASH,
      root: ROOT,
      count: 12,
      first_time: "2026-11-22T03:04:05.001Z",
      last_time: "2026-11-22T03:04:05.500Z",
      ...batch,
    },
  };
}

const CANONICAL =
  `{"v":1,"chain":"3","seq":7,"prev":"${PREV}","time":"2026-11-22T03:04:05.678Z",` +
  `"batch":{"key":"${KEY}","sha256":"${OBJECT_HASH}","root":"${ROOT}","count":12,` +
  `"first_time":"2026-11-22T03:04:05.001Z","last_time":"2026-11-22T03:04:05.500Z"}}`;

/** The canonical text with one substring replaced (the first occurrence, which must exist). */
function edited(from: string, to: string): string {
  expect(CANONICAL).toContain(from);
  return CANONICAL.replace(from, to);
}

function parseError(bytes: Uint8Array): LinkFormatError | undefined {
  try {
    parseLink(bytes);
    return undefined;
  } catch (error) {
    if (error instanceof LinkFormatError) return error;
    throw error;
  }
}

describe("serializeLink", () => {
  it("writes compact JSON with the keys in format order", () => {
    // Act
    const bytes = serializeLink(makeLink());

    // Assess
    expect(bytes.toString("utf8")).toBe(CANONICAL);
  });

  it("ignores the key order of the object it is given", () => {
    // Prepare: every key, top level and batch, in reverse order.
    const link = makeLink();
    const reversed = Object.fromEntries(
      Object.entries(link)
        .reverse()
        .map(([key, value]) =>
          key === "batch"
            ? [key, Object.fromEntries(Object.entries(value as object).reverse())]
            : [key, value],
        ),
    ) as unknown as ChainLink;

    // Act / Assess
    expect(Object.keys(reversed)[0]).toBe("batch");
    expect(serializeLink(reversed).toString("utf8")).toBe(CANONICAL);
  });

  it("writes only the format's keys", () => {
    // Prepare
    const link = { ...makeLink(), extra: "x", batch: { ...makeLink().batch, more: 1 } } as ChainLink;

    // Act / Assess
    expect(serializeLink(link).toString("utf8")).toBe(CANONICAL);
  });

  it("writes seq 0 with the genesis prev", () => {
    // Act
    const bytes = serializeLink(makeLink({ seq: 0, prev: GENESIS_PREV }));

    // Assess
    expect(GENESIS_PREV).toBe("0".repeat(64));
    expect(parseLink(bytes).prev).toBe(GENESIS_PREV);
  });

  it.each([
    { desc: "seq -1", link: makeLink({ seq: -1 }), code: "invalid_value" },
    { desc: "a fractional seq", link: makeLink({ seq: 1.5 }), code: "invalid_value" },
    { desc: "an unsafe seq", link: makeLink({ seq: 2 ** 53 }), code: "invalid_value" },
    { desc: "chain 01", link: makeLink({ chain: "01" }), code: "invalid_value" },
    { desc: "a Date-less time", link: makeLink({ time: "yesterday" }), code: "invalid_value" },
    { desc: "v 2", link: makeLink({ v: 2 as 1 }), code: "invalid_value" },
    { desc: "count 0", link: makeLink({}, { count: 0 }), code: "invalid_value" },
    { desc: "a numeric chain", link: makeLink({ chain: 3 as unknown as string }), code: "wrong_shape" },
    {
      desc: "a missing batch",
      link: { ...makeLink(), batch: undefined } as unknown as ChainLink,
      code: "wrong_shape",
    },
  ])("refuses to write $desc", ({ link, code }) => {
    expect(() => serializeLink(link)).toThrow(expect.objectContaining({ name: "LinkFormatError", code }));
  });
});

describe("parseLink", () => {
  it("round-trips the canonical bytes", () => {
    // Prepare
    const bytes = Buffer.from(CANONICAL, "utf8");

    // Act
    const link = parseLink(bytes);

    // Assess
    expect(link).toEqual(makeLink());
    expect(serializeLink(link).equals(bytes)).toBe(true);
  });

  it("accepts any Uint8Array view, not only Buffers", () => {
    // Prepare
    const canonical = Buffer.from(CANONICAL, "utf8");
    const backing = new Uint8Array(canonical.length + 10);
    backing.set(canonical, 5);

    // Act / Assess
    expect(parseLink(backing.subarray(5, 5 + canonical.length))).toEqual(makeLink());
  });

  it("returns a fresh object (no reference into a shared parse)", () => {
    // Prepare
    const bytes = serializeLink(makeLink());
    const first = parseLink(bytes);

    // Act
    first.batch.count = 99;

    // Assess
    expect(parseLink(bytes).batch.count).toBe(12);
  });

  const cases: { desc: string; text?: string; bytes?: Uint8Array; code: LinkFormatErrorCode }[] = [
    // Encoding
    {
      desc: "invalid UTF-8 (a lone 0xff)",
      bytes: Buffer.from([...Buffer.from(CANONICAL).subarray(0, 20), 0xff]),
      code: "not_utf8",
    },
    {
      desc: "an overlong UTF-8 encoding of '{'",
      bytes: Buffer.concat([Buffer.from([0xc1, 0xbb]), Buffer.from(CANONICAL).subarray(1)]),
      code: "not_utf8",
    },
    { desc: "a UTF-8 byte order mark", text: `\ufeff${CANONICAL}`, code: "not_canonical" },
    // Not JSON, or not an object
    { desc: "the empty input", text: "", code: "not_json" },
    { desc: "truncated JSON", text: CANONICAL.slice(0, -1), code: "not_json" },
    { desc: "a JSON array", text: `[${CANONICAL}]`, code: "wrong_shape" },
    { desc: "a JSON string", text: JSON.stringify(CANONICAL), code: "wrong_shape" },
    { desc: "JSON null", text: "null", code: "wrong_shape" },
    // Whitespace and layout
    { desc: "a trailing newline", text: `${CANONICAL}\n`, code: "not_canonical" },
    { desc: "a trailing CRLF", text: `${CANONICAL}\r\n`, code: "not_canonical" },
    { desc: "a leading space", text: ` ${CANONICAL}`, code: "not_canonical" },
    { desc: "a space after a colon", text: edited('"v":1', '"v": 1'), code: "not_canonical" },
    { desc: "a space after a comma", text: edited(',"chain"', ', "chain"'), code: "not_canonical" },
    { desc: "pretty-printed JSON", text: JSON.stringify(makeLink(), null, 2), code: "not_canonical" },
    // Keys
    { desc: "an extra top-level key", text: edited('{"v":1,', '{"v":1,"x":0,'), code: "wrong_shape" },
    { desc: "an extra batch key", text: edited('"count":12,', '"count":12,"x":0,'), code: "wrong_shape" },
    { desc: "a __proto__ key", text: edited('{"v":1,', '{"v":1,"__proto__":{},'), code: "wrong_shape" },
    {
      desc: "top-level keys reordered",
      text: edited('"v":1,"chain":"3"', '"chain":"3","v":1'),
      code: "not_canonical",
    },
    {
      desc: "batch keys reordered",
      text: edited(
        `"sha256":"${OBJECT_HASH}","root":"${ROOT}"`,
        `"root":"${ROOT}","sha256":"${OBJECT_HASH}"`,
      ),
      code: "not_canonical",
    },
    { desc: "a duplicate key, same value", text: edited('"v":1,', '"v":1,"v":1,'), code: "not_canonical" },
    {
      desc: "a duplicate key, a later value winning",
      text: edited('"seq":7,', '"seq":8,"seq":7,'),
      code: "not_canonical",
    },
    { desc: "a key spelled with an escape", text: edited('"seq"', '"s\\u0065q"'), code: "not_canonical" },
    {
      desc: "a batch that is null",
      text: CANONICAL.replace(/"batch":\{.*\}\}$/, '"batch":null}'),
      code: "wrong_shape",
    },
    // Values
    { desc: "v 2", text: edited('"v":1', '"v":2'), code: "invalid_value" },
    { desc: 'v "1"', text: edited('"v":1', '"v":"1"'), code: "wrong_shape" },
    { desc: "v 1.0", text: edited('"v":1', '"v":1.0'), code: "not_canonical" },
    { desc: "chain 03", text: edited('"chain":"3"', '"chain":"03"'), code: "invalid_value" },
    { desc: "chain 1024", text: edited('"chain":"3"', '"chain":"1024"'), code: "invalid_value" },
    { desc: "a numeric chain", text: edited('"chain":"3"', '"chain":3'), code: "wrong_shape" },
    {
      desc: "a chain spelled with an escape",
      text: edited('"chain":"3"', '"chain":"\\u0033"'),
      code: "not_canonical",
    },
    { desc: "seq -1", text: edited('"seq":7', '"seq":-1'), code: "invalid_value" },
    {
      desc: "seq -0",
      text: edited('"seq":7', '"seq":-0').replace(`"prev":"${PREV}"`, `"prev":"${GENESIS_PREV}"`),
      code: "not_canonical",
    },
    { desc: "seq 7.0", text: edited('"seq":7', '"seq":7.0'), code: "not_canonical" },
    { desc: "seq 7e0", text: edited('"seq":7', '"seq":7e0'), code: "not_canonical" },
    { desc: "seq 2^53", text: edited('"seq":7', '"seq":9007199254740992'), code: "invalid_value" },
    { desc: 'seq "7"', text: edited('"seq":7', '"seq":"7"'), code: "wrong_shape" },
    { desc: "upper-case prev", text: edited(PREV, PREV.toUpperCase()), code: "invalid_value" },
    { desc: "a 63-digit prev", text: edited(PREV, PREV.slice(1)), code: "invalid_value" },
    { desc: "seq 0 without the genesis prev", text: edited('"seq":7', '"seq":0'), code: "invalid_value" },
    { desc: "the genesis prev after seq 0", text: edited(PREV, GENESIS_PREV), code: "invalid_value" },
    {
      desc: "a time without milliseconds",
      text: edited('"time":"2026-11-22T03:04:05.678Z"', '"time":"2026-11-22T03:04:05Z"'),
      code: "invalid_value",
    },
    { desc: "a time with microseconds", text: edited("05.678Z", "05.678000Z"), code: "invalid_value" },
    { desc: "a time with an offset", text: edited("05.678Z", "05.678+00:00"), code: "invalid_value" },
    { desc: "a time with a lower-case z", text: edited("05.678Z", "05.678z"), code: "invalid_value" },
    {
      desc: "a time with a space for T",
      text: edited("2026-11-22T03:04:05.678Z", "2026-11-22 03:04:05.678Z"),
      code: "invalid_value",
    },
    {
      desc: "an impossible time (Feb 30)",
      text: edited("2026-11-22T03:04:05.678Z", "2026-02-30T03:04:05.678Z"),
      code: "invalid_value",
    },
    {
      desc: "an impossible time (hour 24)",
      text: edited("2026-11-22T03:04:05.678Z", "2026-11-22T24:00:00.000Z"),
      code: "invalid_value",
    },
    {
      desc: "a numeric time",
      text: edited('"time":"2026-11-22T03:04:05.678Z"', '"time":1795316710310'),
      code: "wrong_shape",
    },
    { desc: "a non-canonical batch key", text: edited("hr=03", "hr=3"), code: "invalid_value" },
    {
      desc: "a batch key outside events/",
      text: edited(KEY, `chains/0/${"0".repeat(20)}.json`),
      code: "invalid_value",
    },
    {
      desc: "a batch sha256 other than the key's",
      text: edited(`"sha256":"${OBJECT_HASH}"`, `"sha256":"${ROOT}"`),
      code: "invalid_value",
    },
    {
      desc: "an upper-case batch sha256",
      text: edited(`"sha256":"${OBJECT_HASH}"`, `"sha256":"${OBJECT_HASH.toUpperCase()}"`),
      code: "invalid_value",
    },
    { desc: "an upper-case root", text: edited(ROOT, ROOT.toUpperCase()), code: "invalid_value" },
    { desc: "a short root", text: edited(ROOT, ROOT.slice(2)), code: "invalid_value" },
    { desc: "count 0", text: edited('"count":12', '"count":0'), code: "invalid_value" },
    { desc: "count 1.5", text: edited('"count":12', '"count":1.5'), code: "invalid_value" },
    { desc: 'count "12"', text: edited('"count":12', '"count":"12"'), code: "wrong_shape" },
    {
      desc: "first_time after last_time",
      text: edited('"first_time":"2026-11-22T03:04:05.001Z"', '"first_time":"2026-11-22T03:04:05.501Z"'),
      code: "invalid_value",
    },
    { desc: "a non-canonical last_time", text: edited("05.500Z", "05.5Z"), code: "invalid_value" },
  ];

  it.each(cases)("rejects $desc ($code)", ({ text, bytes, code }) => {
    // Prepare
    const input = bytes ?? Buffer.from(text as string, "utf8");

    // Act
    const error = parseError(input);

    // Assess
    expect(error, "was accepted").toBeInstanceOf(LinkFormatError);
    expect(error?.code).toBe(code);
    expect(error?.message.length).toBeGreaterThan(10);
  });

  it.each(["v", "chain", "seq", "prev", "time", "batch"])("rejects a link without %s", (key) => {
    // Prepare
    const value = JSON.parse(CANONICAL) as Record<string, unknown>;
    delete value[key];

    // Act / Assess
    expect(parseError(Buffer.from(JSON.stringify(value)))?.code).toBe("wrong_shape");
  });

  it.each([
    "key",
    "sha256",
    "root",
    "count",
    "first_time",
    "last_time",
  ])("rejects a batch without %s", (key) => {
    // Prepare
    const value = JSON.parse(CANONICAL) as { batch: Record<string, unknown> };
    delete value.batch[key];

    // Act / Assess
    expect(parseError(Buffer.from(JSON.stringify(value)))?.code).toBe("wrong_shape");
  });

  it("rejects a surrogate encoded as UTF-8 bytes (CESU-8), which is not UTF-8", () => {
    // Prepare: ED A0 80 would decode to U+D800.
    const bytes = Buffer.concat([
      Buffer.from(CANONICAL.slice(0, CANONICAL.indexOf('"3"') + 1)),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from(CANONICAL.slice(CANONICAL.indexOf('"3"') + 2)),
    ]);

    // Act / Assess
    expect(parseError(bytes)?.code).toBe("not_utf8");
  });

  it("is an Error named LinkFormatError", () => {
    const error = parseError(Buffer.from("{}"));
    expect(error).toBeInstanceOf(Error);
    expect(error?.name).toBe("LinkFormatError");
  });
});

describe("links (properties)", () => {
  const hash = fc.stringMatching(/^[0-9a-f]{64}$/);
  const time = fc.date({ min: new Date(0), max: new Date("2200-01-01"), noInvalidDate: true });
  const link: fc.Arbitrary<ChainLink> = fc
    .record({
      chain: fc.integer({ min: 0, max: 1023 }).map(String),
      seq: fc.maxSafeNat(),
      prev: hash.filter((value) => value !== GENESIS_PREV),
      time,
      objectTime: time,
      objectHash: hash,
      root: hash,
      count: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      times: fc.tuple(time, time).map(([a, b]) => (a <= b ? [a, b] : [b, a])),
    })
    .map((r) => ({
      v: 1 as const,
      chain: r.chain,
      seq: r.seq,
      prev: r.seq === 0 ? GENESIS_PREV : r.prev,
      time: r.time.toISOString(),
      batch: {
        key: dataObjectKey(r.objectTime, r.objectHash),
        sha256: r.objectHash,
        root: r.root,
        count: r.count,
        first_time: (r.times[0] as Date).toISOString(),
        last_time: (r.times[1] as Date).toISOString(),
      },
    }));

  it("parse(serialize(link)) is the link, and serialize(parse(bytes)) the same bytes", () => {
    fc.assert(
      fc.property(link, (original) => {
        // Act
        const bytes = serializeLink(original);
        const parsed = parseLink(bytes);

        // Assess
        expect(parsed).toEqual(original);
        expect(serializeLink(parsed).equals(bytes)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("any change of one byte is rejected or changes the hash (never a second spelling of the same link)", () => {
    fc.assert(
      fc.property(link, fc.nat(), fc.integer({ min: 1, max: 255 }), (original, at, mask) => {
        // Prepare
        const bytes = serializeLink(original);
        const tampered = Buffer.from(bytes);
        const i = at % tampered.length;
        tampered[i] = (tampered[i] as number) ^ mask;

        // Act
        let parsed: ChainLink | undefined;
        try {
          parsed = parseLink(tampered);
        } catch (error) {
          expect(error).toBeInstanceOf(LinkFormatError);
        }

        // Assess: whatever still parses is a different link with different bytes and hash.
        if (parsed) {
          expect(parsed).not.toEqual(original);
          expect(linkHash(tampered)).not.toBe(linkHash(bytes));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("linkHash", () => {
  it("is the SHA-256 hex of the exact bytes", () => {
    // Prepare
    const bytes = serializeLink(makeLink());

    // Act / Assess
    expect(linkHash(bytes)).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(linkHash(Buffer.from(`${CANONICAL}\n`))).not.toBe(linkHash(bytes));
  });
});
