/**
 * createAuditClient: validates each event when it is recorded, queues it (bounded, drops counted),
 * sends batches cut by count, bytes and time, each with its own Idempotency-Key reused on every
 * retry, retries transient failures with jittered backoff and Retry-After, isolates the events of
 * a refused batch, and flushes on shutdown within a deadline.
 */
import { randomUUID } from "node:crypto";
import { actorOf } from "./access-log.js";
import { EventQueue } from "./batch.js";
import { type Clock, sleep, systemClock } from "./clock.js";
import { AuditEventError, DeliveryError, redact } from "./errors.js";
import { backoffDelay, isRetryableStatus, parseRetryAfter, type RetryOptions, retryPolicy } from "./retry.js";
import {
  BODY_OVERHEAD_BYTES,
  type ConformingSink,
  type EncodedEvent,
  encodeBody,
  encodeEvent,
  eventOf,
  RECORD_CONFORMING,
  SERVER_LIMITS,
} from "./schema.js";
import type { AuditEvent, Receipt } from "./server-types.js";
import { TokenProvider, type TokenSource } from "./token.js";
import { fetchPost, nodePost } from "./transport.js";

export type { TokenSource };
export { AuditEventError, DeliveryError };

export interface ClientStats {
  /** Accepted by `record` and not yet sealed, rejected or dropped (waiting or in flight). */
  readonly queued: number;
  /** Sent to sealtrail at least once. */
  readonly sent: number;
  /** Sealed: sealtrail answered with a receipt. */
  readonly sealed: number;
  /** Requests repeated after a transient failure. */
  readonly retried: number;
  /** Never sealed: the queue was full, delivery gave up, or the client was shut down. */
  readonly dropped: number;
  /** Refused by sealtrail although they passed local validation (reported through `onReject`). */
  readonly rejected: number;
}

/** Events that will never be sealed, and why. */
export interface DroppedEvents {
  readonly reason: "queue_full" | "delivery_failed" | "closed" | "shutdown_timeout";
  /** The events, each without its `subject_token` (a credential is never handed to a callback). */
  readonly events: readonly AuditEvent[];
  /** What the last attempt met, for `delivery_failed` and `shutdown_timeout`. */
  readonly error?: DeliveryError;
}

/** An event sealtrail refused (its batch was split to find it); the rest of its batch was sealed. */
export interface RejectedEvent {
  readonly event: AuditEvent;
  readonly status: number;
  readonly code: string;
  /** The problem's path in the event, when sealtrail named one, e.g. `event.subject_token`. */
  readonly path?: string;
  readonly message: string;
}

/** Where the client writes its warnings; never a token, never an event's content. */
export interface ClientLogger {
  warn(message: string): void;
  error(message: string): void;
}

export interface AuditClientOptions {
  /** The sealtrail API's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com. */
  readonly url: string;
  /** A bearer token with the write scope, a function returning one, or `clientCredentials(…)`. */
  readonly token: TokenSource;
  /** @default 100 (at most the server's 1000) */
  readonly maxBatchEvents?: number;
  /** Request body size, bytes. @default 1 MiB (at most the server's 4 MiB) */
  readonly maxBatchBytes?: number;
  /** How long an event may wait for its batch to fill, ms. @default 1000 */
  readonly maxBatchDelayMs?: number;
  /** Events waiting or in flight; beyond it `record` drops and counts. @default 10_000 */
  readonly maxQueueEvents?: number;
  /** Batches in flight at once. @default 2 */
  readonly maxConcurrentBatches?: number;
  /** One request's time limit, ms. @default 10_000 */
  readonly requestTimeoutMs?: number;
  readonly retry?: RetryOptions;
  /** Called for every drop. Without it (and always for a full queue) a warning with the count is logged. */
  readonly onDrop?: (drop: DroppedEvents) => void;
  /** Called for each event sealtrail refused. Without it a warning names the problem. */
  readonly onReject?: (rejected: RejectedEvent) => void;
  /** @default console */
  readonly logger?: ClientLogger;
  /** Sends through this fetch instead. @default node:http(s) with a keep-alive agent (a third of fetch's CPU per batch) */
  readonly fetch?: typeof fetch;
  readonly clock?: Clock;
  /** In [0, 1): the backoff's jitter. @default Math.random */
  readonly random?: () => number;
  /** @default crypto.randomUUID */
  readonly newIdempotencyKey?: () => string;
}

export interface AuditClient {
  /** Validates the event (throws AuditEventError) and queues it. */
  record(event: AuditEvent): void;
  /** Validates and sends the event at once; resolves once it is sealed, rejects with DeliveryError otherwise. */
  recordNow(event: AuditEvent): Promise<Receipt>;
  /** Sends everything queued; resolves when each of those events is sealed, rejected or dropped. */
  flush(): Promise<void>;
  /** Stops accepting events and flushes, giving up on what is not sealed by `timeoutMs` (default 5000). */
  shutdown(options?: { timeoutMs?: number }): Promise<void>;
  stats(): ClientStats;
}

/** The ingest route and headers (the OpenAPI document's; test/unit/client/client-contract.test.ts checks). */
export const INGEST_PATH = "/v1/events";
export const IDEMPOTENCY_HEADER = "idempotency-key";

const DEFAULTS = {
  maxBatchEvents: 100,
  maxBatchBytes: 1024 * 1024,
  maxBatchDelayMs: 1000,
  maxQueueEvents: 10_000,
  maxConcurrentBatches: 2,
  requestTimeoutMs: 10_000,
  shutdownTimeoutMs: 5000,
} as const;
/** A full queue is reported at most this often (with the count since the last report). */
const DROP_WARNING_INTERVAL_MS = 10_000;
/** Codes with which sealtrail refuses particular events; any other refusal concerns the whole request. */
const EVENT_REFUSALS = new Set([400, 413]);
const SUBJECT_TOKEN_CODES = new Set(["invalid_subject_token", "subject_token_tenant_mismatch"]);

interface Batch {
  readonly events: readonly EncodedEvent[];
  readonly key: string;
}

/** What sending one batch came to, after any retries. */
type Sent =
  | { readonly kind: "sealed"; readonly receipt: Receipt }
  | { readonly kind: "refused"; readonly status: number; readonly body: ErrorBody }
  | { readonly kind: "failed"; readonly error: DeliveryError };

interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly errors?: ReadonlyArray<{ index?: number; path?: string; code?: string; message?: string }>;
}

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new TypeError(
      `createAuditClient: ${name} must be a whole number from 1 to ${max}, not ${String(value)}`,
    );
  }
  return value;
}

function ingestUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(
      `createAuditClient: url must be an absolute URL such as https://api.example.com, not "${url}"`,
    );
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new TypeError(`createAuditClient: url must be http(s), not ${parsed.protocol}`);
  }
  if (parsed.username || parsed.password) {
    throw new TypeError("createAuditClient: url must not carry credentials; pass the token as `token`");
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}${INGEST_PATH}`;
}

export function createAuditClient(options: AuditClientOptions): AuditClient & ConformingSink {
  const endpoint = ingestUrl(options.url);
  const tokens = new TokenProvider(options.token);
  const maxBatchEvents = positiveInteger(
    "maxBatchEvents",
    options.maxBatchEvents ?? DEFAULTS.maxBatchEvents,
    SERVER_LIMITS.maxEvents,
  );
  const maxBatchBytes = positiveInteger(
    "maxBatchBytes",
    options.maxBatchBytes ?? DEFAULTS.maxBatchBytes,
    SERVER_LIMITS.maxBodyBytes,
  );
  const maxBatchDelayMs = options.maxBatchDelayMs ?? DEFAULTS.maxBatchDelayMs;
  const maxQueueEvents = positiveInteger("maxQueueEvents", options.maxQueueEvents ?? DEFAULTS.maxQueueEvents);
  const maxConcurrent = positiveInteger(
    "maxConcurrentBatches",
    options.maxConcurrentBatches ?? DEFAULTS.maxConcurrentBatches,
  );
  const requestTimeoutMs = positiveInteger(
    "requestTimeoutMs",
    options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
  );
  const retry = retryPolicy(options.retry);
  const post = options.fetch ? fetchPost(options.fetch) : nodePost(endpoint, maxConcurrent);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const newKey = options.newIdempotencyKey ?? randomUUID;
  const logger = options.logger ?? console;

  const queue = new EventQueue({ maxEvents: maxBatchEvents, maxBytes: maxBatchBytes });
  const counts = { sent: 0, sealed: 0, retried: 0, dropped: 0, rejected: 0 };
  let inFlightEvents = 0;
  const inFlight = new Set<Promise<void>>();
  let batchTimer: unknown;
  let closed = false;
  /** Aborted when shutdown's deadline passes: every request and backoff in flight ends. */
  const deadline = new AbortController();
  let freeSlots = maxConcurrent;
  const slotWaiters: Array<() => void> = [];
  const lastDropWarning = { at: Number.NEGATIVE_INFINITY, unreported: 0 };

  const safe = (text: string) => redact(text, tokens.secrets());
  const stats = (): ClientStats => ({ queued: queue.length + inFlightEvents, ...counts });

  // -- drops, rejections ------------------------------------------------------------------------

  function drop(
    reason: DroppedEvents["reason"],
    events: readonly EncodedEvent[],
    error?: DeliveryError,
  ): void {
    counts.dropped += events.length;
    if (reason === "queue_full") {
      // Per event this would flood the log exactly when things go wrong: one line per interval.
      lastDropWarning.unreported += events.length;
      if (clock.now() - lastDropWarning.at >= DROP_WARNING_INTERVAL_MS) {
        logger.warn(
          `sealtrail client: queue full (${maxQueueEvents} events), dropped ${lastDropWarning.unreported} events; ${counts.dropped} dropped in all. Raise maxQueueEvents or check that sealtrail is reachable.`,
        );
        lastDropWarning.at = clock.now();
        lastDropWarning.unreported = 0;
      }
    } else if (!options.onDrop) {
      logger.error(
        safe(
          `sealtrail client: dropped ${events.length} events (${reason})${error ? `: ${error.message}` : ""}`,
        ),
      );
    }
    // Read back from their JSON only for a callback: a full queue drops exactly when the app is busiest.
    options.onDrop?.({ reason, events: events.map((e) => withoutSubjectToken(eventOf(e))), error });
  }

  function reject(event: AuditEvent, status: number, problem: Omit<RejectedEvent, "event" | "status">): void {
    counts.rejected++;
    const rejected: RejectedEvent = {
      event: withoutSubjectToken(event),
      status,
      code: problem.code,
      message: safe(problem.message),
      ...(problem.path ? { path: problem.path } : {}),
    };
    if (options.onReject) options.onReject(rejected);
    else
      logger.warn(
        `sealtrail client: sealtrail refused an event (${rejected.code}${rejected.path ? ` at ${rejected.path}` : ""}): ${rejected.message}`,
      );
  }

  // -- one request, and the retries around it ---------------------------------------------------

  type Attempt =
    | { readonly kind: "ok"; readonly receipt: Receipt }
    | {
        readonly kind: "answer";
        readonly status: number;
        readonly body: ErrorBody;
        readonly retryAfterMs?: number;
      }
    | { readonly kind: "no_answer"; readonly code: string; readonly message: string };

  async function attempt(batch: Batch, refreshToken: boolean): Promise<Attempt> {
    let token: string;
    try {
      token = await tokens.get(refreshToken);
    } catch (error) {
      return { kind: "no_answer", code: "token_unavailable", message: safe((error as Error).message) };
    }
    const timeout = new AbortController();
    const timer = clock.setTimeout(() => timeout.abort(), requestTimeoutMs);
    const onDeadline = () => timeout.abort();
    deadline.signal.addEventListener("abort", onDeadline, { once: true });
    try {
      const response = await post(endpoint, {
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json",
          [IDEMPOTENCY_HEADER]: batch.key,
        },
        body: encodeBody(batch.events),
        signal: timeout.signal,
      });
      let body: unknown;
      try {
        body = JSON.parse(response.text);
      } catch {
        body = undefined;
      }
      if (response.status >= 200 && response.status < 300) {
        return { kind: "ok", receipt: body as Receipt };
      }
      const errorBody = isErrorBody(body)
        ? body
        : {
            code: `http_${response.status}`,
            message: `sealtrail answered ${response.status} without an error body`,
          };
      const retryAfterMs = parseRetryAfter(response.retryAfter, clock.now());
      return { kind: "answer", status: response.status, body: errorBody, retryAfterMs };
    } catch (error) {
      if (deadline.signal.aborted)
        return { kind: "no_answer", code: "shutdown", message: "shut down before an answer" };
      if (timeout.signal.aborted) {
        return { kind: "no_answer", code: "timeout", message: `no answer within ${requestTimeoutMs} ms` };
      }
      const cause = (error as { cause?: { code?: unknown } }).cause?.code;
      return {
        kind: "no_answer",
        code: "network_error",
        message: safe(`${(error as Error).message}${typeof cause === "string" ? ` (${cause})` : ""}`),
      };
    } finally {
      clock.clearTimeout(timer);
      deadline.signal.removeEventListener("abort", onDeadline);
    }
  }

  async function send(batch: Batch): Promise<Sent> {
    const started = clock.now();
    let refreshed = false;
    let refreshNext = false;
    for (let attempts = 1; ; attempts++) {
      if (deadline.signal.aborted) {
        const error = new DeliveryError(
          "the client was shut down before the batch was sealed",
          "shutdown",
          undefined,
          attempts - 1,
        );
        return { kind: "failed", error };
      }
      if (attempts === 1) counts.sent += batch.events.length;
      else counts.retried++;
      const result = await attempt(batch, refreshNext);
      refreshNext = false;
      if (result.kind === "ok") return { kind: "sealed", receipt: result.receipt };

      const failed = (code: string, message: string, status?: number): Sent => ({
        kind: "failed",
        error: new DeliveryError(
          safe(
            `sealtrail did not seal ${batch.events.length} event(s) after ${attempts} request(s): ${status ? `${status} ` : ""}${code}: ${message}`,
          ),
          code,
          status,
          attempts,
        ),
      });
      if (result.kind === "answer") {
        const { status, body } = result;
        if (status === 401 && !SUBJECT_TOKEN_CODES.has(body.code)) {
          if (!refreshed && tokens.canRefresh) {
            refreshed = refreshNext = true;
            continue;
          }
          return failed(body.code, `${body.message} (check the client's token)`, status);
        }
        if (!isRetryableStatus(status)) return { kind: "refused", status, body };
      }
      if (deadline.signal.aborted)
        return failed("shutdown", "the client was shut down before the batch was sealed");
      const status = result.kind === "answer" ? result.status : undefined;
      const code = result.kind === "answer" ? result.body.code : result.code;
      const message = result.kind === "answer" ? result.body.message : result.message;
      if (attempts >= retry.maxAttempts) return failed(code, message, status);
      const retryAfterMs = result.kind === "answer" ? result.retryAfterMs : undefined;
      const delay = backoffDelay(retry, attempts - 1, random, retryAfterMs);
      if (clock.now() + delay - started > retry.maxElapsedMs) {
        return failed(code, `${message} (gave up: retrying would exceed ${retry.maxElapsedMs} ms)`, status);
      }
      await sleep(clock, delay, deadline.signal);
      if (deadline.signal.aborted)
        return failed("shutdown", "the client was shut down before the batch was sealed");
    }
  }

  // -- batches: slots, delivery, isolating refused events ---------------------------------------

  async function withSlot<T>(work: () => Promise<T>): Promise<T> {
    if (freeSlots === 0) await new Promise<void>((resolve) => slotWaiters.push(resolve));
    else freeSlots--;
    try {
      return await work();
    } finally {
      const next = slotWaiters.shift();
      if (next) next();
      else freeSlots++;
    }
  }

  /** Sends a batch until it is sealed; a refused batch is narrowed down to the events at fault. */
  /**
   * An access-log event whose forwarded subject token sealtrail refused (most often: delivery took
   * longer than the server's leeway past `exp`) is not lost: it is sent again without the token, its
   * actor asserted from the token's claims, so the archive records it as `verified: false`.
   */
  function assertedInstead(event: AuditEvent, code: string): EncodedEvent | undefined {
    if (!SUBJECT_TOKEN_CODES.has(code) || event.subject_token === undefined) return undefined;
    const { subject_token: token, ...rest } = event;
    const actor = actorOf(unverifiedClaims(token));
    if (!actor) return undefined;
    try {
      const encoded = encodeEvent({ ...rest, actor });
      logger.warn(
        `sealtrail client: sealtrail refused a forwarded subject token (${code}); the event is sent with its actor asserted (verified: false) instead`,
      );
      return encoded;
    } catch {
      return undefined;
    }
  }

  async function deliver(events: readonly EncodedEvent[]): Promise<void> {
    const batch: Batch = { events, key: newKey() };
    const sent = await withSlot(() => send(batch));
    if (sent.kind === "sealed") {
      counts.sealed += events.length;
      return;
    }
    if (sent.kind === "failed") {
      drop(sent.error.code === "shutdown" ? "shutdown_timeout" : "delivery_failed", events, sent.error);
      return;
    }
    const { status, body } = sent;
    const isEventRefusal =
      EVENT_REFUSALS.has(status) || (status === 401 && SUBJECT_TOKEN_CODES.has(body.code));
    if (!isEventRefusal) {
      const error = new DeliveryError(
        safe(`sealtrail refused ${events.length} event(s) with ${status} ${body.code}: ${body.message}`),
        body.code,
        status,
        1,
      );
      drop("delivery_failed", events, error);
      return;
    }
    if (events.length === 1) {
      const only = events[0] as EncodedEvent;
      const problem = problemOf(
        body,
        body.errors?.find((e) => e.index === 0 || e.index === undefined),
      );
      const event = eventOf(only);
      const asserted = assertedInstead(event, problem.code);
      if (asserted) await deliver([asserted]);
      else reject(event, status, problem);
      return;
    }
    // The server names the events at fault by index: drop those, resend the rest as a new batch.
    const named = new Map<number, NonNullable<ErrorBody["errors"]>[number]>();
    for (const error of body.errors ?? []) {
      if (
        typeof error.index === "number" &&
        error.index >= 0 &&
        error.index < events.length &&
        !named.has(error.index)
      ) {
        named.set(error.index, error);
      }
    }
    if (named.size > 0) {
      const rest = events.filter((_, index) => !named.has(index));
      for (const [index, error] of named) {
        const event = eventOf(events[index] as EncodedEvent);
        const problem = problemOf(body, error);
        const asserted = assertedInstead(event, problem.code);
        if (asserted) rest.push(asserted);
        else reject(event, status, problem);
      }
      if (rest.length > 0) await deliver(rest);
      return;
    }
    // A refusal without indexes (e.g. the body as a whole): halve until each refused event stands alone.
    const half = Math.ceil(events.length / 2);
    await Promise.all([deliver(events.slice(0, half)), deliver(events.slice(half))]);
  }

  function dispatch(events: EncodedEvent[]): void {
    inFlightEvents += events.length;
    const delivery = deliver(events)
      .catch((error: unknown) => {
        drop(
          "delivery_failed",
          events,
          new DeliveryError(
            safe(`sealtrail client error: ${(error as Error).message}`),
            "client_error",
            undefined,
            0,
          ),
        );
      })
      .finally(() => {
        inFlightEvents -= events.length;
        inFlight.delete(delivery);
        if (queue.length === 0 && inFlightEvents === 0) exitHook(false);
      });
    inFlight.add(delivery);
  }

  /** Dispatches full batches, or every waiting event when `all` (timer, flush, shutdown). */
  function pump(all: boolean): void {
    while (queue.length > 0 && (all || queue.hasFullBatch())) dispatch(queue.take());
    if (queue.length === 0) {
      if (batchTimer !== undefined) clock.clearTimeout(batchTimer);
      batchTimer = undefined;
    } else if (batchTimer === undefined) {
      batchTimer = clock.setTimeout(() => {
        batchTimer = undefined;
        pump(true);
      }, maxBatchDelayMs);
    }
  }

  // Flushes what is queued when the process is about to exit on its own (the timers are unref'd).
  const onBeforeExit = () => {
    if (queue.length > 0) pump(true);
  };
  let hooked = false;
  function exitHook(on: boolean): void {
    if (typeof process === "undefined" || on === hooked) return;
    hooked = on;
    if (on) process.on("beforeExit", onBeforeExit);
    else process.off("beforeExit", onBeforeExit);
  }

  async function flush(): Promise<void> {
    pump(true);
    await Promise.all([...inFlight]);
  }

  /** Queues an encoded event, or drops it (counted) when the client is closed or the queue is full. */
  function enqueue(encoded: EncodedEvent): void {
    if (closed) {
      drop("closed", [encoded]);
      return;
    }
    if (queue.length + inFlightEvents >= maxQueueEvents) {
      drop("queue_full", [encoded]);
      return;
    }
    queue.push(encoded);
    exitHook(true);
    pump(false);
  }

  return {
    record(event) {
      enqueue(encodeEvent(event));
    },

    [RECORD_CONFORMING](encoded: EncodedEvent) {
      enqueue(encoded);
    },

    async recordNow(event) {
      const encoded = encodeEvent(event);
      if (BODY_OVERHEAD_BYTES + encoded.bytes > maxBatchBytes) {
        throw new AuditEventError([
          {
            path: "event",
            code: "event_too_large",
            message: `is larger than maxBatchBytes (${maxBatchBytes})`,
          },
        ]);
      }
      if (closed)
        throw new DeliveryError(
          "the sealtrail client is shut down; nothing was sent",
          "closed",
          undefined,
          0,
        );
      const sent = await withSlot(() => send({ events: [encoded], key: newKey() }));
      if (sent.kind === "sealed") {
        counts.sealed++;
        return sent.receipt;
      }
      if (sent.kind === "failed") throw sent.error;
      const problem = problemOf(sent.body, sent.body.errors?.[0]);
      throw new DeliveryError(
        safe(
          `sealtrail refused the event with ${sent.status} ${problem.code}${problem.path ? ` at ${problem.path}` : ""}: ${problem.message}`,
        ),
        problem.code,
        sent.status,
        1,
      );
    },

    flush,

    async shutdown({ timeoutMs = DEFAULTS.shutdownTimeoutMs } = {}) {
      closed = true;
      let timer: unknown;
      const expired = new Promise<void>((resolve) => {
        timer = clock.setTimeout(() => {
          deadline.abort();
          resolve();
        }, timeoutMs);
      });
      await Promise.race([flush(), expired]);
      // After the deadline every request and backoff ends at once: wait for their drops to be counted.
      await Promise.all([...inFlight]);
      clock.clearTimeout(timer);
      exitHook(false);
    },

    stats,
  };
}

function isErrorBody(body: unknown): body is ErrorBody {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as ErrorBody).code === "string" &&
    typeof (body as ErrorBody).message === "string"
  );
}

/** The server's problem for one event, its path rewritten from `events[i].x` to `event.x`. */
function problemOf(
  body: ErrorBody,
  error: NonNullable<ErrorBody["errors"]>[number] | undefined,
): Omit<RejectedEvent, "event" | "status"> {
  const path = typeof error?.path === "string" ? error.path.replace(/^events\[\d+\]/, "event") : undefined;
  return {
    code: typeof error?.code === "string" ? error.code : body.code,
    message: typeof error?.message === "string" ? error.message : body.message,
    ...(path ? { path } : {}),
  };
}

/** The claims of a compact JWT, read without verifying it: only to assert what it said, unverified. */
function unverifiedClaims(token: string): Record<string, unknown> | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8"));
    return typeof payload === "object" && payload !== null && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** An event as the app's callbacks see it: a forwarded subject token is a credential, never handed on. */
function withoutSubjectToken(event: AuditEvent): AuditEvent {
  if (event.subject_token === undefined) return event;
  const { subject_token: _token, ...rest } = event;
  return rest;
}
