/**
 * Index format 1, as the writer before postings wrote it: the same pointer item per event, with a
 * key in every GSI it had a value for (actor, action, resource, session, and a time shard), and no
 * postings. No current code writes it; tests build it to hold that such an index keeps answering,
 * and the benchmarks to measure it beside format 2.
 */
import {
  compositeKey,
  type IndexItem,
  POINTER_FIELDS,
  POSTING_FIELDS,
  timeShardOf,
} from "../../lambda/core/index-items";
import { GLOBAL_INDEXES, PARTITION_KEY } from "../../lambda/core/index-table";
import { ENCRYPTED_MARKER } from "../../lambda/core/privacy/protect";

const F = POINTER_FIELDS;

/** A format-2 pointer item (eventPointerItem) with the legacy GSI keys format 1 gave it. */
export function format1PointerItem(pointer: IndexItem): IndexItem {
  const tenant = String(pointer[F.tenant]);
  const value = (name: string) => {
    const found = pointer[name];
    return typeof found === "string" && found !== ENCRYPTED_MARKER ? found : undefined;
  };
  const item: IndexItem = {
    ...pointer,
    [GLOBAL_INDEXES.action.partitionKey]: compositeKey(tenant, String(pointer[F.action])),
    [GLOBAL_INDEXES.time.partitionKey]: compositeKey(tenant, String(timeShardOf(String(pointer[F.eventId])))),
  };
  const actor = value(F.actorSub);
  if (actor !== undefined) item[GLOBAL_INDEXES.actor.partitionKey] = compositeKey(tenant, actor);
  const [resourceType, resourceId] = [value(F.resourceType), value(F.resourceId)];
  if (resourceType !== undefined && resourceId !== undefined) {
    item[GLOBAL_INDEXES.resource.partitionKey] = compositeKey(tenant, resourceType, resourceId);
  }
  const session = value(F.sessionId);
  if (session !== undefined) item[GLOBAL_INDEXES.session.partitionKey] = compositeKey(tenant, session);
  return item;
}

/** Whether an index item is a posting (format 2 only). */
export function isPosting(item: Readonly<Record<string, unknown>>): boolean {
  return String(item[PARTITION_KEY]).startsWith("posting#") && POSTING_FIELDS.entries in item;
}

/** Whether an index item is an event's pointer. */
export function isPointer(item: Readonly<Record<string, unknown>>): boolean {
  return String(item[PARTITION_KEY]).startsWith("event#") && F.eventId in item;
}

/**
 * The items format 1 writes in place of `items` (one batch's index writes): each pointer with its
 * legacy GSI keys, no postings, everything else as it is.
 */
export function asFormat1(items: readonly IndexItem[]): IndexItem[] {
  return items
    .filter((item) => !isPosting(item))
    .map((item) => (isPointer(item) ? format1PointerItem(item) : item));
}
