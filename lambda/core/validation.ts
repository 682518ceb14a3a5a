/**
 * Validates an ingest request body all-or-nothing: either every event is valid and the parsed
 * events are returned, or a 400/413 failure lists each bad event's index, field path and reason.
 */
import type { z } from "zod";
import { type EventInput, EventInputSchema, LIMITS, SERVER_OWNED_FIELDS } from "./schema";

export interface FieldError {
  /** Index of the event in `events`, absent for errors about the whole body. */
  readonly index?: number;
  /** Path in the request body, e.g. `events[3].resource.id`. */
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

export interface ValidationFailure {
  readonly ok: false;
  readonly status: 400 | 413;
  /** The first error's code: one machine-readable reason for the whole response. */
  readonly code: string;
  readonly message: string;
  readonly errors: readonly FieldError[];
}

export type ValidationResult = { readonly ok: true; readonly events: EventInput[] } | ValidationFailure;

/** Keys that could reach an object's prototype when a consumer merges the JSON carelessly. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** At most this many per-event errors are listed: enough to fix a body, bounded in size. */
const MAX_LISTED_ERRORS = 100;

function failure(status: 400 | 413, errors: FieldError[], message?: string): ValidationFailure {
  const first = errors[0] as FieldError;
  return {
    ok: false,
    status,
    code: first.code,
    message: message ?? `${first.path}: ${first.message}`,
    errors: errors.slice(0, MAX_LISTED_ERRORS),
  };
}

/** Decodes the body as strict UTF-8: API Gateway base64-encodes bodies it does not treat as text. */
function decodeBody(body: string | undefined, isBase64Encoded: boolean): string | FieldError {
  if (body === undefined || body === "") {
    return { path: "", code: "empty_body", message: 'send a JSON body such as {"events":[...]}' };
  }
  if (!isBase64Encoded) return body;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Buffer.from(body, "base64"));
  } catch {
    return { path: "", code: "invalid_utf8", message: "the body must be valid UTF-8" };
  }
}

function bodyBytes(body: string, isBase64Encoded: boolean): number {
  return isBase64Encoded ? Buffer.from(body, "base64").length : Buffer.byteLength(body, "utf8");
}

function pathOf(base: string, segments: readonly PropertyKey[]): string {
  let path = base;
  for (const segment of segments) {
    path += typeof segment === "number" ? `[${segment}]` : `.${String(segment)}`;
  }
  return path;
}

/** Finds prototype-polluting keys and strings that are not well-formed UTF-16 (lone surrogates). */
function findUnsafeContent(value: unknown, path: string, out: FieldError[], index?: number): void {
  if (out.length >= MAX_LISTED_ERRORS) return;
  if (typeof value === "string") {
    if (!value.isWellFormed()) {
      out.push({
        index,
        path,
        code: "invalid_unicode",
        message: "contains an unpaired surrogate (\\ud800-\\udfff)",
      });
    }
    return;
  }
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) findUnsafeContent(item, `${path}[${i}]`, out, index);
    return;
  }
  if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const keyPath = `${path}.${key}`;
      if (FORBIDDEN_KEYS.has(key)) {
        out.push({
          index,
          path: keyPath,
          code: "forbidden_key",
          message: `the key "${key}" is not allowed anywhere`,
        });
      } else if (!key.isWellFormed()) {
        out.push({
          index,
          path: keyPath,
          code: "invalid_unicode",
          message: "key contains an unpaired surrogate",
        });
      }
      findUnsafeContent(item, keyPath, out, index);
    }
  }
}

function zodErrors(error: z.ZodError, index: number): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    const base = `events[${index}]`;
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        index,
        path: pathOf(base, [...issue.path, key]),
        code: "unknown_field",
        message: "is not a field of an event; remove it",
      }));
    }
    const code =
      issue.code === "invalid_type" && issue.input === undefined ? "missing_field" : "invalid_field";
    const message = code === "missing_field" ? "is required" : issue.message;
    return [{ index, path: pathOf(base, issue.path), code, message }];
  });
}

function validateEvent(
  raw: unknown,
  index: number,
): { event?: EventInput; errors: FieldError[]; tooLarge: boolean } {
  const base = `events[${index}]`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return {
      errors: [{ index, path: base, code: "invalid_event", message: "each event must be a JSON object" }],
      tooLarge: false,
    };
  }
  const owned = SERVER_OWNED_FIELDS.filter((field) => Object.hasOwn(raw, field));
  const actor = (raw as { actor?: unknown }).actor;
  const actorVerified = actor !== null && typeof actor === "object" && Object.hasOwn(actor, "verified");
  if (owned.length > 0 || actorVerified) {
    const fields = [
      ...owned.map((f) => `${base}.${f}`),
      ...(actorVerified ? [`${base}.actor.verified`] : []),
    ];
    return {
      errors: fields.map((path) => ({
        index,
        path,
        code: "forbidden_field",
        message: "is set by sealtrail from the caller's token and request; remove it",
      })),
      tooLarge: false,
    };
  }
  if (Buffer.byteLength(JSON.stringify(raw), "utf8") > LIMITS.maxEventBytes) {
    return {
      errors: [
        {
          index,
          path: base,
          code: "event_too_large",
          message: `must encode to at most ${LIMITS.maxEventBytes} bytes`,
        },
      ],
      tooLarge: true,
    };
  }
  const parsed = EventInputSchema.safeParse(raw);
  if (!parsed.success) return { errors: zodErrors(parsed.error, index), tooLarge: false };
  const details = parsed.data.details;
  if (details !== undefined && Buffer.byteLength(JSON.stringify(details), "utf8") > LIMITS.maxDetailsBytes) {
    return {
      errors: [
        {
          index,
          path: `${base}.details`,
          code: "details_too_large",
          message: `must encode to at most ${LIMITS.maxDetailsBytes} bytes`,
        },
      ],
      tooLarge: true,
    };
  }
  return { event: parsed.data, errors: [], tooLarge: false };
}

/** Validates a raw API Gateway body. Never throws; nothing is written by the caller unless `ok`. */
export function validateIngestBody(body: string | undefined, isBase64Encoded = false): ValidationResult {
  if (body !== undefined && bodyBytes(body, isBase64Encoded) > LIMITS.maxBodyBytes) {
    return failure(413, [
      { path: "", code: "body_too_large", message: `the body must be at most ${LIMITS.maxBodyBytes} bytes` },
    ]);
  }
  const text = decodeBody(body, isBase64Encoded);
  if (typeof text !== "string") return failure(400, [text]);

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return failure(400, [
      {
        path: "",
        code: "malformed_json",
        message: `the body is not valid JSON (${(error as Error).message})`,
      },
    ]);
  }

  const unsafe: FieldError[] = [];
  findUnsafeContent(parsed, "", unsafe);
  if (unsafe.length > 0) {
    // Attribute each finding to its event where the path says which one.
    return failure(
      400,
      unsafe.map((e) => {
        const match = /^\.events\[(\d+)\]/.exec(e.path);
        const path = e.path.replace(/^\./, "");
        return match ? { ...e, path, index: Number(match[1]) } : { ...e, path };
      }),
    );
  }

  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return failure(400, [
      { path: "", code: "invalid_body", message: 'the body must be a JSON object {"events":[...]}' },
    ]);
  }
  const events = (parsed as { events?: unknown }).events;
  if (!Array.isArray(events)) {
    return failure(400, [{ path: "events", code: "missing_events", message: "must be an array of events" }]);
  }
  const extraKeys = Object.keys(parsed).filter((key) => key !== "events");
  if (extraKeys.length > 0) {
    return failure(
      400,
      extraKeys.map((key) => ({
        path: key,
        code: "unknown_field",
        message: 'the body may only contain "events"',
      })),
    );
  }
  if (events.length < LIMITS.minEvents || events.length > LIMITS.maxEvents) {
    return failure(400, [
      {
        path: "events",
        code: "invalid_event_count",
        message: `must hold ${LIMITS.minEvents} to ${LIMITS.maxEvents} events, not ${events.length}`,
      },
    ]);
  }

  const valid: EventInput[] = [];
  const errors: FieldError[] = [];
  let tooLarge = false;
  events.forEach((raw, index) => {
    const result = validateEvent(raw, index);
    if (result.event) valid.push(result.event);
    errors.push(...result.errors);
    tooLarge ||= result.tooLarge;
  });
  if (errors.length > 0) {
    const message =
      errors.length === 1
        ? undefined
        : `${errors.length} problems in the events (nothing was stored); the first: ${errors[0]?.path}: ${errors[0]?.message}`;
    return failure(
      tooLarge && errors.every((e) => e.code.endsWith("_too_large")) ? 413 : 400,
      errors,
      message,
    );
  }
  return { ok: true, events: valid };
}
