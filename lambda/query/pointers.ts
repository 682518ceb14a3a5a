/**
 * Reads event pointer items (lambda/core/index-items.ts eventPointerItem) back into typed values.
 * An item missing a field is corrupt, and corruption of the index is an IntegrityError: the API
 * answers 500 and logs it, it never serves or silently drops what it cannot vouch for.
 */
import { type EventLocation, POINTER_FIELDS } from "../core/index-items";

export class IntegrityError extends Error {
  constructor(
    message: string,
    readonly detail: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = "IntegrityError";
  }
}

/**
 * What locates and checks one record: a pointer item's, or a posting entry's (search-pages.ts). The
 * line read back is checked against the pointer's leaf hash, or the whole batch against the posting's
 * Merkle root.
 */
export type RecordPointer = {
  readonly eventId: string;
  readonly tenant: string;
  readonly batchKey: string;
  readonly leafIndex: number;
} & (
  | {
      /** Hex SHA-256 leaf hash of the line. */
      readonly leafHash: string;
    }
  | {
      /** Hex Merkle root of the whole batch. */
      readonly batchRoot: string;
      /** The time the posting sorts the event by: the record must carry it. */
      readonly time: string;
    }
);

type Item = Readonly<Record<string, unknown>>;

function corrupt(item: Item, field: string): never {
  throw new IntegrityError(`an index item is not a complete event pointer (${field})`, {
    pk: item.pk,
    event_id: item[POINTER_FIELDS.eventId],
  });
}

function stringField(item: Item, field: string): string {
  const value = item[field];
  return typeof value === "string" && value.length > 0 ? value : corrupt(item, field);
}

function indexField(item: Item, field: string): number {
  const value = item[field];
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0
    ? value
    : corrupt(item, field);
}

export function recordPointerOf(item: Item): RecordPointer {
  return {
    eventId: stringField(item, POINTER_FIELDS.eventId),
    tenant: stringField(item, POINTER_FIELDS.tenant),
    batchKey: stringField(item, POINTER_FIELDS.batchKey),
    leafIndex: indexField(item, POINTER_FIELDS.leafIndex),
    leafHash: stringField(item, POINTER_FIELDS.leafHash),
  };
}

/** Everything the index says about where an event is: what a proof starts from. */
export function eventLocationOf(item: Item): EventLocation {
  return {
    chain: stringField(item, POINTER_FIELDS.chain),
    seq: indexField(item, POINTER_FIELDS.seq),
    linkKey: stringField(item, POINTER_FIELDS.linkKey),
    linkHash: stringField(item, POINTER_FIELDS.linkHash),
    batchKey: stringField(item, POINTER_FIELDS.batchKey),
    leafIndex: indexField(item, POINTER_FIELDS.leafIndex),
    leafHash: stringField(item, POINTER_FIELDS.leafHash),
  };
}
