import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareKeys } from "../../lambda/archive/source";

const byteOrder = (a: string, b: string) => Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe("compareKeys", () => {
  it.each([
    ["chains/1/x", "chains/10/x"],
    ["a\uE000", "a\u{1F600}"], // UTF-16 puts the surrogate pair first, UTF-8 (and S3) the other way
    ["\uFFFF", "\u{10000}"],
    ["z", "\u00E9"],
    ["", "a"],
  ])("orders %j before %j, as S3 lists them", (a, b) => {
    expect(compareKeys(a, b)).toBe(-1);
    expect(compareKeys(b, a)).toBe(1);
    expect(compareKeys(a, a)).toBe(0);
  });

  it("property: the order of the keys' UTF-8 bytes, for any strings", () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }));
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(byteOrder(a, b));
      }),
      { numRuns: 2000 },
    );
  });
});
