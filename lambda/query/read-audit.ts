/**
 * Every successful read is itself an audit event, `audit.read`, archived through the write path
 * before the data is returned. The caller is the (verified) actor; `details` holds what was asked
 * (the normalized filters) and how many records were returned.
 */
import type { EventInput } from "../core/schema";
import { READ_AUDIT_ACTION } from "../core/server-actions";

export interface ReadDescription {
  /** The route's path template, e.g. `/v1/events/{id}`. */
  readonly endpoint: string;
  /** The API request id: the audit event's `http.request_id`, so it can be searched by it. */
  readonly requestId: string;
  /** Normalized parameters of the read; undefined members are left out. */
  readonly filters: Readonly<Record<string, string | number | undefined>>;
  /** Records (or checkpoints, proofs) returned. */
  readonly count: number;
  readonly resource?: { readonly type: string; readonly id: string };
}

export function readAuditEvent(read: ReadDescription): EventInput {
  const filters: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(read.filters)) if (value !== undefined) filters[name] = value;
  return {
    action: READ_AUDIT_ACTION,
    outcome: "success",
    ...(read.resource ? { resource: { ...read.resource } } : {}),
    http: { request_id: read.requestId, method: "GET", endpoint: read.endpoint, status: 200 },
    details: { filters, count: read.count },
  };
}
