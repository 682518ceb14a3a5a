/**
 * The client's errors. None of them ever carries a token: messages are built from codes and the
 * server's own words, and every text that leaves the client passes through `redact` as well.
 */

/** One problem with an event, as the server's validation names it. */
export interface EventProblem {
  /** Where in the event, e.g. `event.resource.id`. */
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** `record`/`recordNow` was given an event the server would refuse; nothing was queued. */
export class AuditEventError extends Error {
  readonly code: string;
  constructor(readonly problems: readonly EventProblem[]) {
    const first = problems[0];
    super(
      first
        ? `the audit event is not valid: ${first.path}: ${first.message}` +
            (problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : "")
        : "the audit event is not valid",
    );
    this.name = "AuditEventError";
    this.code = first?.code ?? "invalid_event";
  }
}

/** Events could not be sealed: the server refused them or could not be reached in time. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    /** The server's machine-readable code, or a client one (`network_error`, `timeout`, `shutdown`). */
    readonly code: string,
    /** The last HTTP status, when there was an answer. */
    readonly status: number | undefined,
    /** Requests made for this batch. */
    readonly attempts: number,
  ) {
    super(message);
    this.name = "DeliveryError";
  }
}

const REDACTED = "[redacted]";

/** `text` with every secret in it replaced; short strings are never treated as secrets. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 8 && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  // A JWT-shaped string is a token whoever it belongs to.
  return out.replace(/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED);
}
