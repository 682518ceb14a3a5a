/**
 * Checks an event with the server's own validation (lambda/core/validation.ts, bundled into the
 * package at build time), so an event `record` accepts is one the server accepts: a bad event
 * throws at the call site and never poisons a batch.
 */
import { LIMITS, MAX_DURATION_MS } from "../../lambda/core/schema";
import { validateIngestBody } from "../../lambda/core/validation";
import { AuditEventError } from "./errors.js";
import type { AuditEvent } from "./server-types.js";

/** The server's limits a batch must stay within. */
export const SERVER_LIMITS = {
  maxEvents: LIMITS.maxEvents,
  maxBodyBytes: LIMITS.maxBodyBytes,
  maxDurationMs: MAX_DURATION_MS,
} as const;

/**
 * An event as it goes on the wire: its JSON and that JSON's size in bytes. The access-log middleware's
 * events are queued as JSON only (`event` absent): the object is read back from it only when a callback
 * needs it (a drop or a refusal), so a waiting event costs the queue one string.
 */
export interface EncodedEvent {
  readonly event?: AuditEvent;
  readonly json: string;
  readonly bytes: number;
}

/** The event of an encoded event: the one recorded, or read back from its JSON. */
export function eventOf(encoded: EncodedEvent): AuditEvent {
  return encoded.event ?? (JSON.parse(encoded.json) as AuditEvent);
}

/** The body that carries `events`; its size is BODY_OVERHEAD_BYTES + their bytes + one comma between each two. */
export function encodeBody(events: readonly EncodedEvent[]): string {
  return `{"events":[${events.map((e) => e.json).join(",")}]}`;
}
export const BODY_OVERHEAD_BYTES = '{"events":[]}'.length;

/** The event encoded, or AuditEventError naming each problem as the server would. */
export function encodeEvent(event: AuditEvent): EncodedEvent {
  let json: string | undefined;
  try {
    json = JSON.stringify(event);
  } catch (error) {
    throw new AuditEventError([
      {
        path: "event",
        code: "invalid_event",
        message: `cannot be encoded as JSON (${(error as Error).name})`,
      },
    ]);
  }
  if (json === undefined) {
    throw new AuditEventError([{ path: "event", code: "invalid_event", message: "must be a JSON object" }]);
  }
  const result = validateIngestBody(`{"events":[${json}]}`);
  if (!result.ok) {
    throw new AuditEventError(
      result.errors.map((error) => ({
        path: error.path.replace(/^events\[0\]/, "event"),
        code: error.code,
        message: error.message,
      })),
    );
  }
  return { event, json, bytes: Buffer.byteLength(json, "utf8") };
}

/**
 * The client's entry for events built to the schema by construction (the access-log middleware's):
 * `record` without the validator run again, through a symbol so that no app can reach it by name.
 */
export const RECORD_CONFORMING = Symbol("sealtrail.recordConforming");

/** A sink that may take conforming events; a sink without the entry gets them through `record`. */
export interface ConformingSink {
  readonly [RECORD_CONFORMING]?: (event: EncodedEvent) => void;
}

/**
 * An event the access-log builder wrote as JSON (every text fitted, every number bounded: see
 * access-log.ts), encoded without validating it again. The validator is what makes `record` cost tens of
 * microseconds, and the access log would pay that on every request of the app. The builder is held to
 * the server's validator by a property test (test/unit/client/access-log-conformance.test.ts); an event
 * with `details` (allowlisted headers, whose total the builder does not bound) or past the size limit
 * still goes through it.
 */
export function encodeConformingJson(json: string, hasDetails: boolean): EncodedEvent {
  if (hasDetails) return encodeEvent(JSON.parse(json) as AuditEvent);
  const bytes = Buffer.byteLength(json, "utf8");
  return bytes > LIMITS.maxEventBytes ? encodeEvent(JSON.parse(json) as AuditEvent) : { json, bytes };
}

/** `encodeConformingJson` of an event object the builder made (`accessLogEvent`), keeping the object. */
export function encodeConformingEvent(event: AuditEvent): EncodedEvent {
  if (event.details !== undefined) return encodeEvent(event);
  const json = JSON.stringify(event);
  const bytes = Buffer.byteLength(json, "utf8");
  return bytes > LIMITS.maxEventBytes ? encodeEvent(event) : { event, json, bytes };
}
