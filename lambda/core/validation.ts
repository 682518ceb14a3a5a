/**
 * Validates an ingest request body all-or-nothing: either every event is valid and the parsed
 * events are returned, or a 4xx failure lists each bad event's index, field path and reason.
 * An archive records exactly what it was sent or refuses it, so a body is refused wherever its
 * parsed form would differ from its text (bad UTF-8, duplicate keys, rounded numbers, …).
 */
import * as z from "zod";
import type { IngestErrorCode } from "./ingest-errors";
import { findJsonTextProblems, formatJsonPath, type JsonPathSegment } from "./json-text";
import { type EventInput, EventInputSchema, LIMITS, SERVER_OWNED_FIELDS } from "./schema";
import { givenWords, type IssueWording, issueWords } from "./schema-words";
import { isServerAction } from "./server-actions";

export interface FieldError {
  /** Index of the event in `events`, absent for errors about the whole body. */
  readonly index?: number;
  /** Path in the request body, e.g. `events[3].resource.id`; "" for the body as a whole. */
  readonly path: string;
  readonly code: IngestErrorCode;
  readonly message: string;
}

export interface ValidationFailure {
  readonly ok: false;
  readonly status: 400 | 413 | 415;
  /** The first error's code: one machine-readable reason for the whole response. */
  readonly code: IngestErrorCode;
  readonly message: string;
  readonly errors: readonly FieldError[];
}

export type ValidationResult = { readonly ok: true; readonly events: EventInput[] } | ValidationFailure;

/** How the body was labelled: the request's Content-Type and Content-Encoding headers. */
export interface BodyLabels {
  readonly contentType?: string;
  readonly contentEncoding?: string;
}

/** At most this many per-event errors are listed: enough to fix a body, bounded in size. */
const MAX_LISTED_ERRORS = 100;

/** "events[0].action: is required", or the message alone for the body as a whole. */
function located(error: FieldError): string {
  return error.path === "" ? error.message : `${error.path}: ${error.message}`;
}

function failure(status: 400 | 413 | 415, errors: FieldError[], message?: string): ValidationFailure {
  const first = errors[0] as FieldError;
  return {
    ok: false,
    status,
    code: first.code,
    message: message ?? located(first),
    errors: errors.slice(0, MAX_LISTED_ERRORS),
  };
}

/**
 * Only JSON, uncompressed. A missing Content-Type is taken as JSON (API Gateway then hands the
 * body over base64-encoded, which is decoded strictly below); any other is refused, since the
 * body would not be what its label says. `charset`, if given, must be UTF-8 (RFC 8259 §8.1).
 */
function checkLabels(labels: BodyLabels): FieldError | undefined {
  const encoding = labels.contentEncoding?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== "" && encoding !== "identity") {
    return {
      path: "",
      code: "unsupported_content_encoding",
      message: `the body is labelled Content-Encoding: ${labels.contentEncoding}, which sealtrail does not decode; send the JSON uncompressed, without that header`,
    };
  }
  if (labels.contentType === undefined || labels.contentType.trim() === "") return undefined;
  const [mediaType = "", ...parameters] = labels.contentType.split(";").map((part) => part.trim());
  const charset = parameters
    .map((parameter) => /^charset\s*=\s*"?([^"]*)"?$/i.exec(parameter)?.[1])
    .find((value) => value !== undefined);
  const isJson = /^application\/(?:[a-z0-9.+-]+\+)?json$/i.test(mediaType);
  if (!isJson || (charset !== undefined && !/^utf-8$/i.test(charset))) {
    return {
      path: "",
      code: "unsupported_content_type",
      message: `the body is labelled Content-Type: ${labels.contentType}; send JSON encoded as UTF-8 with Content-Type: application/json`,
    };
  }
  return undefined;
}

const INVALID_UTF8: FieldError = {
  path: "",
  code: "invalid_utf8",
  message: "the body is not valid UTF-8; send JSON encoded as UTF-8",
};

/**
 * The body's text, or why there is none. API Gateway base64-encodes bodies it does not treat as
 * text: those are decoded strictly. A text body holding an unpaired surrogate cannot have come
 * from UTF-8 bytes. A leading byte order mark is dropped (RFC 8259 lets a parser ignore it).
 */
function decodeBody(body: string | undefined, isBase64Encoded: boolean): string | FieldError {
  let text: string;
  if (body === undefined) {
    text = "";
  } else if (isBase64Encoded) {
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(Buffer.from(body, "base64"));
    } catch {
      return INVALID_UTF8;
    }
  } else if (!body.isWellFormed()) {
    return INVALID_UTF8;
  } else {
    text = body;
  }
  if (text.startsWith("\ufeff")) text = text.slice(1);
  if (text === "") {
    return {
      path: "",
      code: "empty_body",
      message: 'the body is empty; send a JSON body such as {"events":[...]}',
    };
  }
  return text;
}

function bodyBytes(body: string, isBase64Encoded: boolean): number {
  return isBase64Encoded ? Buffer.from(body, "base64").length : Buffer.byteLength(body, "utf8");
}

/** The event a path is inside of: `events[3]…` → 3. */
function eventIndexOf(path: readonly JsonPathSegment[]): number | undefined {
  return path[0] === "events" && typeof path[1] === "number" ? path[1] : undefined;
}

/** Ingest's field errors show the value sent, and point to the docs for a field's form. */
const EVENT_WORDING: IssueWording = {
  missing: (expected) => `is required (${expected})`,
  showValues: true,
  otherwise: "is not valid here; see docs/ingest.md for the field's form",
};

/** What a client sent, in plain words, for "must be X, not Y". */
function describeInput(input: unknown): string {
  return givenWords(input, EVENT_WORDING.showValues);
}

/** The zod object at `path` inside an event, to name its fields. */
function objectSchemaAt(path: readonly PropertyKey[]): z.ZodObject | undefined {
  let schema: z.ZodType = EventInputSchema;
  for (const segment of path) {
    while (schema instanceof z.ZodOptional) schema = schema.unwrap() as z.ZodType;
    if (!(schema instanceof z.ZodObject) || typeof segment !== "string") return undefined;
    schema = schema.shape[segment] as z.ZodType;
  }
  while (schema instanceof z.ZodOptional) schema = schema.unwrap() as z.ZodType;
  return schema instanceof z.ZodObject ? schema : undefined;
}

function unknownFieldMessage(parent: readonly PropertyKey[]): string {
  const owner = parent.length === 0 ? "an event" : `\`${parent.map(String).join(".")}\``;
  const fields = Object.keys(objectSchemaAt(parent)?.shape ?? {});
  return `is not a field of ${owner}; remove it or use one of: ${fields.join(", ")}`;
}

function zodErrors(error: z.ZodError, index: number): FieldError[] {
  const base: JsonPathSegment[] = ["events", index];
  const at = (path: readonly PropertyKey[]) =>
    formatJsonPath([...base, ...path.map((s) => (typeof s === "number" ? s : String(s)))]);
  return error.issues.flatMap((issue): FieldError[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        index,
        path: at([...issue.path, key]),
        code: "unknown_field",
        message: unknownFieldMessage(issue.path),
      }));
    }
    const own =
      issue.code === "custom" ? (issue.params as { code?: IngestErrorCode } | undefined)?.code : undefined;
    // JSON has no undefined: with reportInput, an undefined input is a member that is absent.
    const missing = issue.input === undefined;
    const code: IngestErrorCode = own ?? (missing ? "missing_field" : "invalid_field");
    const message =
      missing && issue.code !== "invalid_type" ? `is required (${issue.message})` : issue.message;
    return [{ index, path: at(issue.path), code, message }];
  });
}

function validateEvent(
  raw: unknown,
  index: number,
): { event?: EventInput; errors: FieldError[]; tooLarge: boolean } {
  const base = `events[${index}]`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return {
      errors: [
        {
          index,
          path: base,
          code: "invalid_event",
          message: `must be a JSON object such as {"action":"document.read","outcome":"success"}, not ${describeInput(raw)}`,
        },
      ],
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
          message: `must encode to at most ${LIMITS.maxEventBytes} bytes; move bulk data out of the event`,
        },
      ],
      tooLarge: true,
    };
  }
  // reportInput: without it zod 4 leaves `input` out, and a wrong type would look like a missing field.
  const parsed = EventInputSchema.safeParse(raw, {
    reportInput: true,
    // Schema messages take precedence over this one: it words only what the schema did not.
    error: (issue) => issueWords(issue, issue.input, EVENT_WORDING),
  });
  if (!parsed.success) return { errors: zodErrors(parsed.error, index), tooLarge: false };
  if (isServerAction(parsed.data.action)) {
    return {
      errors: [
        {
          index,
          path: `${base}.action`,
          code: "reserved_action",
          message: "is an action only sealtrail writes (audit.read, subject.*); name your own action",
        },
      ],
      tooLarge: false,
    };
  }
  const details = parsed.data.details;
  if (details !== undefined && Buffer.byteLength(JSON.stringify(details), "utf8") > LIMITS.maxDetailsBytes) {
    return {
      errors: [
        {
          index,
          path: `${base}.details`,
          code: "details_too_large",
          message: `must encode to at most ${LIMITS.maxDetailsBytes} bytes; keep only what the audit needs`,
        },
      ],
      tooLarge: true,
    };
  }
  return { event: parsed.data, errors: [], tooLarge: false };
}

/**
 * Validates a raw API Gateway body and how it was labelled. Never throws, whatever the body;
 * nothing is written by the caller unless `ok`.
 */
export function validateIngestBody(
  body: string | undefined,
  isBase64Encoded = false,
  labels: BodyLabels = {},
): ValidationResult {
  const parsed = parseBody(body, isBase64Encoded, labels);
  if (!parsed.ok) return parsed;
  const events = eventsOf(parsed.value);
  if (!Array.isArray(events)) return events;
  return validateEvents(events);
}

/** The body as JSON: labelled as such, within the size limit, decoded, parsed, and its text faithful. */
function parseBody(
  body: string | undefined,
  isBase64Encoded: boolean,
  labels: BodyLabels,
): { readonly ok: true; readonly value: unknown } | ValidationFailure {
  const mislabelled = checkLabels(labels);
  if (mislabelled) return failure(415, [mislabelled]);
  if (body !== undefined && bodyBytes(body, isBase64Encoded) > LIMITS.maxBodyBytes) {
    return failure(413, [
      {
        path: "",
        code: "body_too_large",
        message: `the body is larger than ${LIMITS.maxBodyBytes} bytes; send fewer events per request`,
      },
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
        message: `the body is not valid JSON${jsonErrorPosition(error)}; send one JSON object {"events":[...]}`,
      },
    ]);
  }

  // What JSON.parse made of the text must be what the text says, before anything looks at the value.
  const problems = findJsonTextProblems(text, { maxDepth: LIMITS.maxDepth, maxProblems: MAX_LISTED_ERRORS });
  if (problems.length > 0) {
    return failure(
      400,
      problems.map((problem) => {
        const index = eventIndexOf(problem.path);
        const path = formatJsonPath(problem.path);
        return {
          ...(index === undefined ? {} : { index }),
          path,
          code: problem.code,
          message: problem.message,
        };
      }),
    );
  }
  return { ok: true, value: parsed };
}

/** The events array of a parsed body `{"events":[...]}`, holding nothing else and 1 to 1000 events. */
function eventsOf(parsed: unknown): unknown[] | ValidationFailure {
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return failure(400, [
      {
        path: "",
        code: "invalid_body",
        message: `the body must be a JSON object {"events":[...]}, not ${describeInput(parsed)}`,
      },
    ]);
  }
  const events = (parsed as { events?: unknown }).events;
  if (!Array.isArray(events)) {
    return failure(400, [
      {
        path: "events",
        code: "missing_events",
        message:
          events === undefined
            ? 'is required: send {"events":[...]} with 1 to 1000 events'
            : `must be an array of events, not ${describeInput(events)}`,
      },
    ]);
  }
  const extraKeys = Object.keys(parsed).filter((key) => key !== "events");
  if (extraKeys.length > 0) {
    return failure(
      400,
      extraKeys.map((key) => ({
        path: formatJsonPath([key]),
        code: "unknown_field",
        message: 'is not a field of the body, which holds only "events"; remove it',
      })),
    );
  }
  if (events.length < LIMITS.minEvents || events.length > LIMITS.maxEvents) {
    return failure(400, [
      {
        path: "events",
        code: "invalid_event_count",
        message: `must hold ${LIMITS.minEvents} to ${LIMITS.maxEvents} events, not ${events.length}; split larger batches`,
      },
    ]);
  }
  return events;
}

/** Every event against the schema: all of them valid, or every problem listed (up to a bound). */
function validateEvents(events: readonly unknown[]): ValidationResult {
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
        : `${errors.length} problems in the events (nothing was stored); the first: ${located(errors[0] as FieldError)}`;
    return failure(
      tooLarge && errors.every((e) => e.code.endsWith("_too_large")) ? 413 : 400,
      errors,
      message,
    );
  }
  return { ok: true, events: valid };
}

/**
 * Where JSON.parse stopped, as " (at character N)", and nothing else of its message: V8 quotes the
 * body around the error, which may be part of a subject token.
 */
function jsonErrorPosition(error: unknown): string {
  const position = /at position (\d+)/.exec((error as Error).message)?.[1];
  return position === undefined ? "" : ` (at character ${Number(position) + 1})`;
}
