/**
 * Checks an event with the server's own validation (lambda/core/validation.ts, bundled into the
 * package at build time), so an event `record` accepts is one the server accepts: a bad event
 * throws at the call site and never poisons a batch.
 */
import { LIMITS } from "../../lambda/core/schema";
import { validateIngestBody } from "../../lambda/core/validation";
import { AuditEventError } from "./errors.js";
import type { AuditEvent } from "./server-types.js";

/** The server's limits a batch must stay within. */
export const SERVER_LIMITS = {
  maxEvents: LIMITS.maxEvents,
  maxBodyBytes: LIMITS.maxBodyBytes,
} as const;

/** An event as it goes on the wire: its JSON and that JSON's size in bytes. */
export interface EncodedEvent {
  readonly event: AuditEvent;
  readonly json: string;
  readonly bytes: number;
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
