/**
 * DynamoDB's billing rules, applied to the requests themselves, because emulators do not return
 * ConsumedCapacity faithfully (moto returns a fixed figure, or none). From the DynamoDB Developer
 * Guide, "Item sizes and formats" and "Read/write capacity mode": an item's size is the UTF-8 bytes of
 * its attribute names plus its values; a write costs one unit per started KB of the item, in the table
 * and again in every GSI whose keys the item has (projection ALL: the same item); a read costs one unit
 * per started 4 KB, half of that when eventually consistent (every GSI read is).
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";

export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;

/** A number's size: one byte per two significant digits, plus one. */
function numberBytes(text: string): number {
  const digits = text.replace(/^[-+]/, "").replace(/e.*$/i, "").replace(".", "");
  const significant = digits.replace(/^0+/, "").replace(/0+$/, "");
  return Math.ceil(Math.max(significant.length, 1) / 2) + 1;
}

const utf8 = (text: string) => Buffer.byteLength(text, "utf8");

/** The size of one attribute value, in bytes. */
export function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((n, s) => n + utf8(s), 0);
  if (value.NS !== undefined) return value.NS.reduce((n, s) => n + numberBytes(s), 0);
  if (value.BS !== undefined) return value.BS.reduce((n, b) => n + b.length, 0);
  // A list or map: 3 bytes, and 1 byte per element beside its own size (a map's names count too).
  if (value.L !== undefined) return value.L.reduce((n, v) => n + 1 + valueBytes(v), 3);
  if (value.M !== undefined)
    return Object.entries(value.M).reduce((n, [name, v]) => n + 1 + utf8(name) + valueBytes(v), 3);
  return 0;
}

/**
 * A document client's plain value as DynamoDB stores it (what @aws-sdk/util-dynamodb's marshall does
 * for the values an index item holds), so that its size can be counted.
 */
export function attributeValueOf(value: unknown): AttributeValue {
  if (typeof value === "string") return { S: value };
  if (typeof value === "number") return { N: String(value) };
  if (typeof value === "boolean") return { BOOL: value };
  if (value === null || value === undefined) return { NULL: true };
  if (Array.isArray(value)) return { L: value.map(attributeValueOf) };
  return { M: attributeItemOf(value as Record<string, unknown>) };
}

export function attributeItemOf(item: Readonly<Record<string, unknown>>): Record<string, AttributeValue> {
  return Object.fromEntries(
    Object.entries(item)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => [name, attributeValueOf(value)]),
  );
}

/** The inverse of attributeItemOf for an index item, whose values are strings, numbers and booleans. */
export function plainItemOf(item: Record<string, AttributeValue>): Record<string, string | number | boolean> {
  return Object.fromEntries(
    Object.entries(item).map(([name, value]) => [
      name,
      value.S ?? (value.N === undefined ? value.BOOL === true : Number(value.N)),
    ]),
  );
}

/** The size of an item: its attribute names and values. */
export function itemBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((n, [name, value]) => n + utf8(name) + valueBytes(value), 0);
}

export const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));

/** Units of a read that returned `bytes`: a read that finds nothing still costs the minimum. */
export function readUnits(bytes: number, consistent: boolean): number {
  const units = Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
  return consistent ? units : units / 2;
}

/** The GSIs (by partition and sort key attribute) an item is written to: those whose keys it has. */
export function indexesOf(
  item: Record<string, AttributeValue>,
  gsis: ReadonlyArray<{ readonly partitionKey: string; readonly sortKey: string }>,
): number {
  return gsis.filter((gsi) => item[gsi.partitionKey] !== undefined && item[gsi.sortKey] !== undefined).length;
}
