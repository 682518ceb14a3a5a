/**
 * DynamoDB's billing rules as the cost benchmark applies them (bench/cost/dynamo-units.ts), on the
 * Developer Guide's own definitions: sizes of strings, numbers, binaries, lists and maps, and the units
 * a write and a read of a given size cost.
 */
import { describe, expect, it } from "vitest";
import { indexesOf, itemBytes, readUnits, valueBytes, writeUnits } from "../../bench/cost/dynamo-units";

describe("item sizes", () => {
  it("counts strings and names in UTF-8 bytes, numbers by significant digits, binaries by length", () => {
    expect(valueBytes({ S: "abc" })).toBe(3);
    expect(valueBytes({ S: "é" })).toBe(2);
    expect(valueBytes({ N: "12345" })).toBe(4);
    expect(valueBytes({ N: "1000" })).toBe(2);
    expect(valueBytes({ N: "-0.0012" })).toBe(2);
    expect(valueBytes({ B: new Uint8Array(10) })).toBe(10);
    expect(valueBytes({ BOOL: true })).toBe(1);
    expect(valueBytes({ NULL: true })).toBe(1);
    expect(itemBytes({ pk: { S: "event#1" }, n: { N: "7" } })).toBe(2 + 7 + 1 + 2);
  });

  it("adds 3 bytes to a list or map and 1 to each element", () => {
    expect(valueBytes({ L: [] })).toBe(3);
    expect(valueBytes({ L: [{ S: "ab" }, { N: "1" }] })).toBe(3 + (1 + 2) + (1 + 2));
    expect(valueBytes({ M: { a: { S: "xy" } } })).toBe(3 + 1 + 1 + 2);
  });
});

describe("units", () => {
  it("bills a write per started KB, never less than one", () => {
    expect(writeUnits(0)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
  });

  it("bills a read per started 4 KB, half when eventually consistent", () => {
    expect(readUnits(0, true)).toBe(1);
    expect(readUnits(0, false)).toBe(0.5);
    expect(readUnits(4096, true)).toBe(1);
    expect(readUnits(4097, true)).toBe(2);
    expect(readUnits(8192, false)).toBe(1);
  });

  it("writes an item to each GSI whose keys it has", () => {
    const gsis = [
      { partitionKey: "a", sortKey: "t" },
      { partitionKey: "b", sortKey: "t" },
    ];
    expect(indexesOf({ a: { S: "1" }, t: { S: "x" } }, gsis)).toBe(1);
    expect(indexesOf({ a: { S: "1" }, b: { S: "2" }, t: { S: "x" } }, gsis)).toBe(2);
    expect(indexesOf({ a: { S: "1" } }, gsis)).toBe(0);
  });
});
