import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CHAINS_PREFIX,
  CHECKPOINTS_PREFIX,
  checkpointKey,
  dataObjectKey,
  EVENTS_PREFIX,
  isChainId,
  linkKey,
  linkPrefix,
  parseCheckpointKey,
  parseDataObjectKey,
  parseLinkKey,
} from "../../lambda/core/paths";

const HASH = "0123456789abcdef".repeat(4);
const SEQ_1 = "00000000000000000001";

describe("prefixes", () => {
  it("are the top-level folders of the bucket", () => {
    expect([EVENTS_PREFIX, CHAINS_PREFIX, CHECKPOINTS_PREFIX]).toEqual([
      "events/",
      "chains/",
      "checkpoints/",
    ]);
  });
});

describe("isChainId", () => {
  it.each([
    { value: "0", ok: true },
    { value: "7", ok: true },
    { value: "15", ok: true },
    { value: "1023", ok: true },
    { value: "1024", ok: false },
    { value: "9999", ok: false },
    { value: "00", ok: false },
    { value: "01", ok: false },
    { value: "-1", ok: false },
    { value: "+1", ok: false },
    { value: "1.0", ok: false },
    { value: "1e2", ok: false },
    { value: " 1", ok: false },
    { value: "1\n", ok: false },
    { value: "", ok: false },
    { value: "a", ok: false },
    { value: "٣", ok: false },
    { value: 1, ok: false },
  ])("isChainId($value) is $ok", ({ value, ok }) => {
    expect(isChainId(value)).toBe(ok);
  });
});

describe("data object keys", () => {
  it.each([
    { time: "2026-11-22T03:04:05.678Z", key: `events/dt=2026-11-22/hr=03/${HASH}.jsonl.gz` },
    { time: "2026-01-01T00:00:00.000Z", key: `events/dt=2026-01-01/hr=00/${HASH}.jsonl.gz` },
    { time: "2026-12-31T23:59:59.999Z", key: `events/dt=2026-12-31/hr=23/${HASH}.jsonl.gz` },
    { time: "2028-02-29T12:00:00.000Z", key: `events/dt=2028-02-29/hr=12/${HASH}.jsonl.gz` },
    { time: "1970-01-01T00:00:00.000Z", key: `events/dt=1970-01-01/hr=00/${HASH}.jsonl.gz` },
  ])("at $time is $key (UTC)", ({ time, key }) => {
    // Act
    const built = dataObjectKey(new Date(time), HASH);
    const parsed = parseDataObjectKey(built);

    // Assess
    expect(built).toBe(key);
    expect(parsed).toEqual({ date: time.slice(0, 10), hour: time.slice(11, 13), sha256: HASH });
  });

  it("uses the UTC hour whatever the host time zone", () => {
    // A time that is on another day in every zone west of UTC.
    expect(dataObjectKey(new Date(Date.UTC(2026, 0, 1, 0, 30)), HASH)).toBe(
      `events/dt=2026-01-01/hr=00/${HASH}.jsonl.gz`,
    );
  });

  it.each([
    { desc: "an invalid date", time: new Date(Number.NaN), hash: HASH },
    { desc: "a year past 9999", time: new Date("+010000-01-01T00:00:00.000Z"), hash: HASH },
    { desc: "a negative year", time: new Date("-000001-01-01T00:00:00.000Z"), hash: HASH },
    { desc: "a date string instead of a Date", time: "2026-01-01T00:00:00.000Z", hash: HASH },
    { desc: "upper-case hex", time: new Date(0), hash: HASH.toUpperCase() },
    { desc: "63 hex digits", time: new Date(0), hash: HASH.slice(1) },
    { desc: "65 hex digits", time: new Date(0), hash: `${HASH}0` },
    { desc: "a non-hex digit", time: new Date(0), hash: `${HASH.slice(1)}g` },
    { desc: "a path in the hash", time: new Date(0), hash: `../${HASH.slice(3)}` },
  ])("refuses $desc", ({ time, hash }) => {
    expect(() => dataObjectKey(time as Date, hash)).toThrow(RangeError);
  });

  it.each([
    { desc: "upper-case hex", key: `events/dt=2026-11-22/hr=03/${HASH.toUpperCase()}.jsonl.gz` },
    { desc: "63 hex digits", key: `events/dt=2026-11-22/hr=03/${HASH.slice(1)}.jsonl.gz` },
    { desc: "65 hex digits", key: `events/dt=2026-11-22/hr=03/${HASH}0.jsonl.gz` },
    { desc: "hour 24", key: `events/dt=2026-11-22/hr=24/${HASH}.jsonl.gz` },
    { desc: "a one-digit hour", key: `events/dt=2026-11-22/hr=3/${HASH}.jsonl.gz` },
    { desc: "month 13", key: `events/dt=2026-13-01/hr=03/${HASH}.jsonl.gz` },
    { desc: "month 00", key: `events/dt=2026-00-01/hr=03/${HASH}.jsonl.gz` },
    { desc: "day 00", key: `events/dt=2026-11-00/hr=03/${HASH}.jsonl.gz` },
    { desc: "November 31", key: `events/dt=2026-11-31/hr=03/${HASH}.jsonl.gz` },
    { desc: "February 29 of a common year", key: `events/dt=2026-02-29/hr=03/${HASH}.jsonl.gz` },
    { desc: "February 29 of 2100", key: `events/dt=2100-02-29/hr=03/${HASH}.jsonl.gz` },
    { desc: "a one-digit day", key: `events/dt=2026-11-2/hr=03/${HASH}.jsonl.gz` },
    { desc: "a basic-format date", key: `events/dt=20261122/hr=03/${HASH}.jsonl.gz` },
    { desc: "no hour partition", key: `events/dt=2026-11-22/${HASH}.jsonl.gz` },
    { desc: "an extra segment", key: `events/dt=2026-11-22/hr=03/x/${HASH}.jsonl.gz` },
    { desc: "a double slash", key: `events/dt=2026-11-22//hr=03/${HASH}.jsonl.gz` },
    { desc: "a dot-dot segment", key: `events/dt=2026-11-22/hr=03/../${HASH}.jsonl.gz` },
    { desc: "a leading slash", key: `/events/dt=2026-11-22/hr=03/${HASH}.jsonl.gz` },
    { desc: "a trailing slash", key: `events/dt=2026-11-22/hr=03/${HASH}.jsonl.gz/` },
    { desc: "another extension", key: `events/dt=2026-11-22/hr=03/${HASH}.json.gz` },
    { desc: "no extension", key: `events/dt=2026-11-22/hr=03/${HASH}` },
    { desc: "a trailing newline", key: `events/dt=2026-11-22/hr=03/${HASH}.jsonl.gz\n` },
    { desc: "upper-case prefix", key: `Events/dt=2026-11-22/hr=03/${HASH}.jsonl.gz` },
    { desc: "the partition folder", key: "events/dt=2026-11-22/hr=03/" },
    { desc: "a link key", key: `chains/0/${SEQ_1}.json` },
    { desc: "the empty string", key: "" },
  ])("parse rejects $desc", ({ key }) => {
    expect(parseDataObjectKey(key)).toBeUndefined();
  });

  it("round-trips for any time and hash (property)", () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date("0000-01-01T00:00:00.000Z"),
          max: new Date("9999-12-31T23:59:59.999Z"),
          noInvalidDate: true,
        }),
        fc.stringMatching(/^[0-9a-f]{64}$/),
        (time, hash) => {
          // Act
          const parsed = parseDataObjectKey(dataObjectKey(time, hash));

          // Assess
          expect(parsed).toEqual({
            date: time.toISOString().slice(0, 10),
            hour: time.toISOString().slice(11, 13),
            sha256: hash,
          });
        },
      ),
    );
  });
});

describe("link keys", () => {
  it.each([
    { chain: "0", seq: 0, key: "chains/0/00000000000000000000.json" },
    { chain: "15", seq: 1, key: `chains/15/${SEQ_1}.json` },
    { chain: "1023", seq: 123456789, key: "chains/1023/00000000000123456789.json" },
    { chain: "7", seq: Number.MAX_SAFE_INTEGER, key: "chains/7/00009007199254740991.json" },
  ])("chain $chain seq $seq is $key", ({ chain, seq, key }) => {
    // Act
    const built = linkKey(chain, seq);

    // Assess
    expect(built).toBe(key);
    expect(built.startsWith(linkPrefix(chain))).toBe(true);
    expect(parseLinkKey(built)).toEqual({ chain, seq });
  });

  it("lists a chain's links under its own prefix only", () => {
    // "chains/1/" must not be a prefix of chain 10's keys.
    expect(linkPrefix("1")).toBe("chains/1/");
    expect(linkKey("10", 0).startsWith(linkPrefix("1"))).toBe(false);
  });

  it.each([
    { chain: "01", seq: 0 },
    { chain: "1024", seq: 0 },
    { chain: "-1", seq: 0 },
    { chain: "", seq: 0 },
    { chain: "a", seq: 0 },
    { chain: "0/..", seq: 0 },
    { chain: "0", seq: -1 },
    { chain: "0", seq: 1.5 },
    { chain: "0", seq: Number.NaN },
    { chain: "0", seq: Number.POSITIVE_INFINITY },
    { chain: "0", seq: 2 ** 53 },
  ])("refuses chain $chain seq $seq", ({ chain, seq }) => {
    expect(() => linkKey(chain, seq)).toThrow(RangeError);
  });

  it.each(["01", "1024", "", " 0", "0 "])("linkPrefix refuses %j", (chain) => {
    expect(() => linkPrefix(chain)).toThrow(/not canonical/);
  });

  it.each([
    { desc: "a leading zero in the chain", key: `chains/01/${SEQ_1}.json` },
    { desc: "chain 1024", key: `chains/1024/${SEQ_1}.json` },
    { desc: "a negative chain", key: `chains/-1/${SEQ_1}.json` },
    { desc: "19 digits", key: "chains/0/0000000000000000001.json" },
    { desc: "21 digits", key: "chains/0/000000000000000000001.json" },
    { desc: "an unpadded seq", key: "chains/0/1.json" },
    { desc: "a seq past 2^53 - 1", key: "chains/0/00009007199254740992.json" },
    { desc: "a signed seq", key: "chains/0/+0000000000000000001.json" },
    { desc: "upper-case extension", key: `chains/0/${SEQ_1}.JSON` },
    { desc: "another extension", key: `chains/0/${SEQ_1}.jsonl` },
    { desc: "an extra segment", key: `chains/0/x/${SEQ_1}.json` },
    { desc: "a dot-dot segment", key: `chains/0/../${SEQ_1}.json` },
    { desc: "a trailing slash", key: `chains/0/${SEQ_1}.json/` },
    { desc: "a leading slash", key: `/chains/0/${SEQ_1}.json` },
    { desc: "a double slash", key: `chains//0/${SEQ_1}.json` },
    { desc: "a trailing newline", key: `chains/0/${SEQ_1}.json\n` },
    { desc: "the chain folder", key: "chains/0/" },
    { desc: "a checkpoint key", key: `checkpoints/${SEQ_1}.jws` },
  ])("parse rejects $desc", ({ key }) => {
    expect(parseLinkKey(key)).toBeUndefined();
  });

  it("round-trips for any chain and seq (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1023 }), fc.maxSafeNat(), (chainNumber, seq) => {
        // Prepare
        const chain = String(chainNumber);

        // Act
        const key = linkKey(chain, seq);

        // Assess
        expect(key).toMatch(/^chains\/(0|[1-9][0-9]*)\/[0-9]{20}\.json$/);
        expect(parseLinkKey(key)).toEqual({ chain, seq });
      }),
    );
  });

  it("sort in seq order as byte strings, the order S3 lists keys in", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
        const [keyA, keyB] = [linkKey("3", a), linkKey("3", b)];
        expect(keyA < keyB).toBe(a < b);
      }),
    );
  });
});

describe("checkpoint keys", () => {
  it.each([
    { seq: 0, key: "checkpoints/00000000000000000000.jws" },
    { seq: 42, key: "checkpoints/00000000000000000042.jws" },
    { seq: Number.MAX_SAFE_INTEGER, key: "checkpoints/00009007199254740991.jws" },
  ])("seq $seq is $key", ({ seq, key }) => {
    expect(checkpointKey(seq)).toBe(key);
    expect(parseCheckpointKey(key)).toEqual({ seq });
  });

  it.each([-1, 0.5, Number.NaN, 2 ** 53])("refuses seq %d", (seq) => {
    expect(() => checkpointKey(seq)).toThrow(RangeError);
  });

  it.each([
    { desc: "19 digits", key: "checkpoints/0000000000000000001.jws" },
    { desc: "21 digits", key: "checkpoints/000000000000000000001.jws" },
    { desc: "a seq past 2^53 - 1", key: "checkpoints/99999999999999999999.jws" },
    { desc: "another extension", key: `checkpoints/${SEQ_1}.json` },
    { desc: "an extra segment", key: `checkpoints/x/${SEQ_1}.jws` },
    { desc: "a dot-dot segment", key: `checkpoints/../${SEQ_1}.jws` },
    { desc: "a trailing slash", key: `checkpoints/${SEQ_1}.jws/` },
    { desc: "a leading slash", key: `/checkpoints/${SEQ_1}.jws` },
    { desc: "a trailing newline", key: `checkpoints/${SEQ_1}.jws\n` },
    { desc: "the folder", key: "checkpoints/" },
    { desc: "a link key", key: `chains/0/${SEQ_1}.json` },
  ])("parse rejects $desc", ({ key }) => {
    expect(parseCheckpointKey(key)).toBeUndefined();
  });

  it("round-trips for any seq (property)", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (seq) => {
        expect(parseCheckpointKey(checkpointKey(seq))).toEqual({ seq });
      }),
    );
  });
});

describe("parsers accept only what builders produce (property)", () => {
  const validKey = fc.oneof(
    fc
      .tuple(fc.integer({ min: 0, max: 1023 }), fc.maxSafeNat())
      .map(([chain, seq]) => linkKey(String(chain), seq)),
    fc.maxSafeNat().map((seq) => checkpointKey(seq)),
    fc
      .tuple(
        fc.date({ min: new Date(0), max: new Date("2100-01-01"), noInvalidDate: true }),
        fc.stringMatching(/^[0-9a-f]{64}$/),
      )
      .map(([time, hash]) => dataObjectKey(time, hash)),
  );
  /** A valid key with one character inserted, deleted or replaced: the near misses an attacker would try. */
  const nearMiss = fc
    .tuple(
      validKey,
      fc.nat(),
      fc.constantFrom("insert", "delete", "replace"),
      fc.constantFrom(..."0159afAF/.-+ \n\u0000é"),
    )
    .map(([key, at, edit, char]) => {
      const i = at % (key.length + 1);
      if (edit === "insert") return key.slice(0, i) + char + key.slice(i);
      if (edit === "delete") return key.slice(0, i) + key.slice(i + 1);
      return key.slice(0, i) + char + key.slice(i + 1);
    });

  it("any key a parser accepts is rebuilt byte for byte", () => {
    fc.assert(
      fc.property(fc.oneof(validKey, nearMiss), (key) => {
        // Act
        const link = parseLinkKey(key);
        const checkpoint = parseCheckpointKey(key);
        const data = parseDataObjectKey(key);

        // Assess
        if (link) expect(linkKey(link.chain, link.seq)).toBe(key);
        if (checkpoint) expect(checkpointKey(checkpoint.seq)).toBe(key);
        if (data)
          expect(dataObjectKey(new Date(`${data.date}T${data.hour}:00:00.000Z`), data.sha256)).toBe(key);
      }),
      { numRuns: 3000 },
    );
  });
});
