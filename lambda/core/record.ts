/**
 * Builds stored records and serializes them as one line of JSON with the key order of
 * EventRecordSchema, whatever order the object's keys were created in. A record is serialized
 * with exactly its version's keys (RECORD_KEYS_ADDED), so a v1 line re-serializes to its own bytes.
 */
import * as z from "zod";
import { resolveActor } from "./claims";
import {
  type EventInput,
  type EventRecord,
  EventRecordSchema,
  type IngestContext,
  type Principal,
  RECORD_KEYS_ADDED,
  RECORD_VERSION,
  RECORD_VERSIONS,
  type RecordVersion,
} from "./schema";

/** The plan for serializing a value of a schema: which keys, in which order, recursively. */
type KeyPlan =
  | { readonly kind: "object"; readonly keys: ReadonlyArray<readonly [string, KeyPlan]> }
  | { readonly kind: "array"; readonly item: KeyPlan }
  | { readonly kind: "leaf" };

/** The plan of `schema` as record version `version` has it: keys added later are left out. */
function planFor(schema: z.ZodType, version: RecordVersion, path = ""): KeyPlan {
  if (schema instanceof z.ZodNullable || schema instanceof z.ZodOptional)
    return planFor(schema.unwrap() as z.ZodType, version, path);
  if (schema instanceof z.ZodObject) {
    return {
      kind: "object",
      keys: Object.entries(schema.shape)
        .filter(([key]) => (RECORD_KEYS_ADDED[`${path}${key}`] ?? 1) <= version)
        .map(([key, value]) => [key, planFor(value as z.ZodType, version, `${path}${key}.`)] as const),
    };
  }
  if (schema instanceof z.ZodArray)
    return { kind: "array", item: planFor(schema.element as z.ZodType, version, path) };
  return { kind: "leaf" };
}

const PLANS = new Map(RECORD_VERSIONS.map((version) => [version, planFor(EventRecordSchema, version)]));

function topLevelKeys(version: RecordVersion): readonly string[] {
  const plan = PLANS.get(version) as KeyPlan;
  return plan.kind === "object" ? plan.keys.map(([key]) => key) : [];
}

/** The top-level keys of the newest version in stored order (Glue columns are derived from these). */
export const RECORD_KEYS: readonly string[] = topLevelKeys(Math.max(...RECORD_VERSIONS) as RecordVersion);
/** The top-level keys of a record as buildRecord writes it (RECORD_VERSION). */
export const PLAIN_RECORD_KEYS: readonly string[] = topLevelKeys(RECORD_VERSION);

function ordered(value: unknown, plan: KeyPlan): unknown {
  if (value === null || value === undefined) return null;
  if (plan.kind === "object") {
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, child] of plan.keys) out[key] = ordered(source[key], child);
    return out;
  }
  if (plan.kind === "array") return (value as unknown[]).map((item) => ordered(item, plan.item));
  return value;
}

/** One line of JSON, no whitespace, schema key order, the keys of the record's version, no trailing newline. */
export function serializeRecord(record: EventRecord): string {
  const plan = PLANS.get(record.v);
  if (!plan)
    throw new Error(`record version ${String(record.v)} is not one of ${RECORD_VERSIONS.join(", ")}`);
  return JSON.stringify(ordered(record, plan));
}

export interface RecordContext {
  readonly id: string;
  /** Server receive time, ISO-8601 UTC with milliseconds. */
  readonly time: string;
  readonly reporter: Principal;
  /** The actor proven by a forwarded subject token, when one was sent. */
  readonly subject?: Principal;
  readonly tenant: string;
  readonly ingest: IngestContext;
}

export function buildRecord(event: EventInput, context: RecordContext): EventRecord {
  const http = event.http;
  return {
    v: RECORD_VERSION,
    id: context.id,
    time: context.time,
    action: event.action,
    outcome: event.outcome,
    occurred_at: event.occurred_at ?? null,
    actor: resolveActor(context.reporter, context.subject, event.actor),
    reporter: context.reporter,
    resource: event.resource ?? null,
    http: http
      ? {
          request_id: http.request_id ?? null,
          method: http.method ?? null,
          endpoint: http.endpoint ?? null,
          route: http.route ?? null,
          status: http.status ?? null,
          duration_ms: http.duration_ms ?? null,
          source_ip: http.source_ip ?? null,
          user_agent: http.user_agent ?? null,
        }
      : null,
    ingest: context.ingest,
    tenant: context.tenant,
    details: event.details === undefined ? null : JSON.stringify(event.details),
  };
}
