import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createUlidGenerator, ulid } from "../../lambda/core/ulid";
import { isUlid, ulidTime } from "../support/ulid";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const MAX_TIME = 2 ** 48 - 1;
const fixedRandom = (byte: number) => (n: number) => new Uint8Array(n).fill(byte);

/** The 80-bit random part as a BigInt, to check increments exactly. */
function randomPart(id: string): bigint {
  let value = 0n;
  for (const char of id.slice(10)) value = value * 32n + BigInt(CROCKFORD.indexOf(char));
  return value;
}

describe("ULID format", () => {
  it.each([
    // The example of the ULID specification: time 1469918176385 is 01ARYZ6S41.
    { time: 1469918176385, byte: 0x00, id: "01ARYZ6S410000000000000000" },
    { time: 1469918176385, byte: 0xff, id: "01ARYZ6S41ZZZZZZZZZZZZZZZZ" },
    { time: 0, byte: 0x00, id: "00000000000000000000000000" },
    { time: MAX_TIME, byte: 0xff, id: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" },
    // 0x84 repeated is 10000 10010 00010 01000 01001 00001 00100 00100 …: G J 2 8 9 1 4 4, most significant bit first.
    { time: 1, byte: 0x84, id: "0000000001GJ289144GJ289144" },
  ])("time $time with every random byte $byte is $id", ({ time, byte, id }) => {
    // Prepare
    const next = createUlidGenerator(() => time, fixedRandom(byte));

    // Act
    const value = next();

    // Assess
    expect(value).toBe(id);
    expect(isUlid(value)).toBe(true);
    expect(ulidTime(value)).toBe(time);
  });

  it("is 26 Crockford base32 characters carrying the clock's millisecond (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_TIME }),
        fc.uint8Array({ minLength: 10, maxLength: 10 }),
        (time, bytes) => {
          // Prepare
          const next = createUlidGenerator(
            () => time,
            () => bytes,
          );

          // Act
          const id = next();

          // Assess
          expect(id).toMatch(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
          expect(ulidTime(id)).toBe(time);
          expect(randomPart(id)).toBe(BigInt(`0x${Buffer.from(bytes).toString("hex")}`));
        },
      ),
    );
  });

  it("sorts as strings in time order across milliseconds (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_TIME }), fc.integer({ min: 0, max: MAX_TIME }), (a, b) => {
        const idA = createUlidGenerator(() => a)();
        const idB = createUlidGenerator(() => b)();
        if (a < b) expect(idA < idB).toBe(true);
        if (a > b) expect(idA > idB).toBe(true);
      }),
    );
  });

  it("floors fractional clocks to the millisecond", () => {
    expect(ulidTime(createUlidGenerator(() => 1234.9)())).toBe(1234);
  });
});

describe("monotonicity within one generator", () => {
  it("increments the randomness by one within a millisecond (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_TIME }),
        fc.uint8Array({ minLength: 10, maxLength: 10 }),
        fc.integer({ min: 2, max: 200 }),
        (time, bytes, count) => {
          // Prepare: the first id's randomness leaves room for count - 1 increments.
          const start = Uint8Array.from(bytes);
          start[0] = Math.min(start[0] as number, 0xfe);
          let calls = 0;
          const next = createUlidGenerator(
            () => time,
            (n) => {
              calls++;
              return start.subarray(0, n);
            },
          );

          // Act
          const ids = Array.from({ length: count }, () => next());

          // Assess
          expect(calls).toBe(1);
          expect(ids.every((id) => ulidTime(id) === time)).toBe(true);
          ids.slice(1).forEach((id, i) => {
            expect(id > (ids[i] as string)).toBe(true);
            expect(randomPart(id) - randomPart(ids[i] as string)).toBe(1n);
          });
        },
      ),
    );
  });

  it("stays increasing when the clock steps back, keeping the last time", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 2, maxLength: 100 }),
        (clock) => {
          // Prepare
          let tick = 0;
          const next = createUlidGenerator(() => clock[tick++] as number);

          // Act
          const ids = clock.map(() => next());

          // Assess
          ids.slice(1).forEach((id, i) => {
            expect(id > (ids[i] as string)).toBe(true);
          });
          expect(ulidTime(ids[ids.length - 1] as string)).toBe(Math.max(...clock));
        },
      ),
    );
  });

  it("carries the increment across bytes", () => {
    // Prepare
    const bytes = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
    const next = createUlidGenerator(
      () => 5,
      () => bytes,
    );

    // Act
    const [first, second] = [next(), next()];

    // Assess
    expect(first.slice(10)).toBe("0000000000001ZZZ");
    expect(second.slice(10)).toBe("0000000000002000");
  });

  it("throws on randomness overflow within a millisecond, then recovers in the next one", () => {
    // Prepare
    let now = 1000;
    const next = createUlidGenerator(() => now, fixedRandom(0xff));
    const first = next();

    // Act / Assess
    expect(() => next()).toThrow(/overflow/);
    now = 1001;
    const later = next();
    expect(later > first).toBe(true);
    expect(ulidTime(later)).toBe(1001);
  });

  it("keeps separate generators independent", () => {
    // Prepare
    const a = createUlidGenerator(() => 7, fixedRandom(0));
    const b = createUlidGenerator(() => 7, fixedRandom(0));

    // Act
    a();
    a();

    // Assess
    expect(b()).toBe("00000000070000000000000000");
  });
});

describe("invalid sources", () => {
  it.each([
    { desc: "a negative time", time: -1 },
    { desc: "a time past 2^48 - 1", time: 2 ** 48 },
    { desc: "NaN", time: Number.NaN },
    { desc: "Infinity", time: Number.POSITIVE_INFINITY },
  ])("rejects $desc", ({ time }) => {
    expect(() => createUlidGenerator(() => time)()).toThrow(RangeError);
  });

  it.each([9, 11, 0])("rejects a random source returning %d bytes", (length) => {
    expect(() => createUlidGenerator(Date.now, () => new Uint8Array(length))()).toThrow(RangeError);
  });
});

describe("isUlid and ulidTime", () => {
  it.each([
    { value: "01ARYZ6S410000000000000000", ok: true },
    { value: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", ok: true },
    { value: "8ZZZZZZZZZZZZZZZZZZZZZZZZZ", ok: false },
    { value: "01aryz6s410000000000000000", ok: false },
    { value: "01ARYZ6S41000000000000000", ok: false },
    { value: "01ARYZ6S4100000000000000000", ok: false },
    { value: "01ARYZ6S41I00000000000000", ok: false },
    { value: "01ARYZ6S41L000000000000000", ok: false },
    { value: "01ARYZ6S41O000000000000000", ok: false },
    { value: "01ARYZ6S41U000000000000000", ok: false },
    { value: "01ARYZ6S41-00000000000000", ok: false },
    { value: "01ARYZ6S410000000000000000\n", ok: false },
    { value: "", ok: false },
    { value: 42, ok: false },
  ])("isUlid($value) is $ok", ({ value, ok }) => {
    expect(isUlid(value)).toBe(ok);
  });

  it.each([
    "",
    "not a ulid",
    "01aryz6s410000000000000000",
    "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
  ])("ulidTime(%j) throws", (value) => {
    expect(() => ulidTime(value)).toThrow(RangeError);
  });
});

describe("the default generator", () => {
  it("uses the system clock and yields increasing ids", () => {
    // Prepare
    const before = Date.now();

    // Act
    const ids = Array.from({ length: 1000 }, () => ulid());
    const after = Date.now();

    // Assess
    expect(new Set(ids).size).toBe(ids.length);
    ids.slice(1).forEach((id, i) => {
      expect(id > (ids[i] as string)).toBe(true);
    });
    expect(ulidTime(ids[0] as string)).toBeGreaterThanOrEqual(before);
    expect(ulidTime(ids[ids.length - 1] as string)).toBeLessThanOrEqual(after);
  });
});
