/**
 * One access-log event per HTTP request, whatever the framework: each adapter (express.ts, fastify.ts,
 * node.ts, lambda.ts) gathers the request's facts when the response finishes or the client aborts, and
 * this module turns them into an event the server's schema accepts.
 *
 * What is never read: the Authorization header (except, with `forwardSubjectToken`, to forward the
 * bearer token in `subject_token`, which sealtrail verifies and never stores), cookies, bodies and the
 * query string. Other headers only from the `headers` allowlist.
 *
 * Building an event never throws: every text is made to fit the schema (control characters replaced,
 * lengths clipped, an invalid address dropped), so a strange request cannot lose its own access log.
 */
import { randomUUID } from "node:crypto";
import { isIP, isIPv4 } from "node:net";
import type { AuditClient, AuditEvent } from "./index.js";
import {
  type ConformingSink,
  encodeConformingJson,
  encodeEvent,
  RECORD_CONFORMING,
  SERVER_LIMITS,
} from "./schema.js";

/** The default `action` of an access-log event. */
export const ACCESS_LOG_ACTION = "http.request";

/** The header a request id is read from, and set on the response when a new one is made. */
export const REQUEST_ID_HEADER = "x-request-id";

/**
 * The actor of a request without verified claims. Without an actor sealtrail would record the
 * reporting service itself as the (verified) actor, which would misattribute an anonymous request.
 */
export const ANONYMOUS_ACTOR = { sub: "anonymous" } as const;

/** Headers that carry credentials or session state: never recorded, even when allowlisted. */
export const NEVER_RECORDED_HEADERS: readonly string[] = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-sealtrail-subject-token",
  "x-api-key",
];

/** Verified JWT claims as the app's own authentication left them (express-jwt, @fastify/jwt, API Gateway). */
export type JwtClaims = Readonly<Record<string, unknown>>;

/** What a middleware needs of the client: only `record`, so a test or an app may pass its own sink. */
export type AccessLogSink = Pick<AuditClient, "record">;

/** Options every framework's `sealtrailAccessLog` takes; `Req` is that framework's request type. */
export interface AccessLogOptions<Req> {
  /** The audit client (from `createAuditClient`) the events are recorded on. */
  readonly client: AccessLogSink;
  /** @default "http.request" */
  readonly action?: string;
  /**
   * The verified JWT claims of a request, or undefined when it carries none.
   * @default express-jwt's `req.auth`, Fastify's `request.user`, API Gateway's `requestContext.authorizer.jwt.claims`
   */
  readonly claims?: (req: Req) => JwtClaims | undefined;
  /** The claim that names the session. @default "sid" */
  readonly sessionClaim?: string;
  /** Claims that hold roles, the first present wins. @default ["roles", "cognito:groups", "groups"] */
  readonly rolesClaims?: readonly string[];
  /** Request headers recorded in `details.headers` (lower case). Credentials are refused. @default none */
  readonly headers?: readonly string[];
  /**
   * Sends the request's own bearer token as the event's `subject_token`, so sealtrail verifies it and
   * archives the actor as `verified: true`. Only for requests whose claims the app verified; the token
   * is never stored. Sealtrail must trust the token's issuer and audience, or the batch is refused.
   * @default false
   */
  readonly forwardSubjectToken?: boolean;
  /** Requests that leave no access log (health checks). Nothing is ever sampled. @default none */
  readonly skip?: (req: Req) => boolean;
  /**
   * Called when an event cannot be recorded (the client refused it). The app's response is never
   * affected. @default a warning on stderr naming the problem
   */
  readonly onError?: (error: unknown) => void;
}

/** What an adapter knows about one finished (or aborted) request. */
export interface RequestFacts {
  /** Epoch milliseconds when the request reached the middleware. */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly requestId: string;
  readonly method: string;
  /** The route template (`/documents/:id`), undefined when no route matched. */
  readonly route?: string | undefined;
  /** The request target; the query string is cut off here. */
  readonly path: string;
  /** Undefined when the client went away before a status was sent. */
  readonly status?: number | undefined;
  /** The client closed the connection before the response was complete. */
  readonly aborted: boolean;
  readonly sourceIp?: string | undefined;
  readonly userAgent?: string | undefined;
  /**
   * The request's headers by lower-case name, as Node or API Gateway holds them: read only for the
   * allowlist, and `authorization` only with `forwardSubjectToken`.
   */
  readonly headers: RequestHeaders;
  readonly claims?: JwtClaims | undefined;
}

/** Request headers by lower-case name (Node's `IncomingHttpHeaders`, API Gateway's `headers`). */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

type Outcome = AuditEvent["outcome"];
type EventActor = NonNullable<AuditEvent["actor"]>;

/** 2xx/3xx success, 401/403 denied, other 4xx failure, 5xx error; no status at all is unknown. */
export function outcomeOf(status: number | undefined): Outcome {
  if (status === undefined) return "unknown";
  if (status === 401 || status === 403) return "denied";
  if (status >= 500) return "error";
  if (status >= 400) return "failure";
  return "success";
}

// The server's text limits (lambda/core/schema.ts): values are clipped to them rather than refused.
const MAX = {
  requestId: 256,
  endpoint: 2048,
  route: 2048,
  userAgent: 1024,
  sub: 256,
  iss: 512,
  sessionId: 256,
  clientId: 256,
  tokenId: 256,
  azp: 256,
  role: 128,
  roles: 64,
  header: 1024,
} as const;

// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/** The same characters, to test for without the global flag's `lastIndex`. */
const HAS_CONTROL_CHARACTER = new RegExp(CONTROL_CHARACTERS.source);

/** A string the schema's `text(max)` accepts, or undefined for anything that is not a non-empty string. */
export function fitText(value: unknown, max: number): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  // Almost every value is clean already: test first, copy only what needs fixing (this runs per request).
  const wellFormed = value.isWellFormed() ? value : value.toWellFormed();
  const clean = HAS_CONTROL_CHARACTER.test(wellFormed)
    ? wellFormed.replace(CONTROL_CHARACTERS, "\uFFFD")
    : wellFormed;
  if (clean.length <= max) return clean;
  // The schema counts UTF-16 units; a surrogate pair cut in half would be refused, so drop its first half.
  const clipped = clean.slice(0, max);
  return /[\ud800-\udbff]$/.test(clipped) ? clipped.slice(0, -1) : clipped;
}

/** The request id from `x-request-id` when it is usable, else a new UUID (which the adapter sets on the response). */
export function requestIdOf(header: string | undefined): { id: string; generated: boolean } {
  const id = fitText(header, MAX.requestId);
  return id && id === header ? { id, generated: false } : { id: randomUUID(), generated: true };
}

/** The path without its query string or fragment. */
export function pathWithoutQuery(target: string): string {
  const query = target.indexOf("?");
  const fragment = target.indexOf("#");
  const end = query === -1 ? fragment : fragment === -1 ? query : Math.min(query, fragment);
  return end === -1 ? target : target.slice(0, end);
}

/** An IP address the schema accepts: IPv4-mapped IPv6 as IPv4, without a zone id; anything else dropped. */
export function normalizeIp(address: string | undefined): string | undefined {
  if (!address) return undefined;
  if (isIPv4(address)) return address;
  let ip = address.replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) ip = mapped[1];
  return isIP(ip) ? ip : undefined;
}

/** The server's bound on a forwarded token (LIMITS.maxSubjectTokenLength). */
const MAX_SUBJECT_TOKEN_LENGTH = 16 * 1024;

/**
 * The compact JWT of an `Authorization: Bearer …` header, else undefined: anything the server would
 * refuse as a `subject_token` is not forwarded, so the event keeps its asserted actor instead.
 */
export function bearerTokenOf(authorization: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)[ \t]*$/i.exec(
    authorization ?? "",
  );
  const token = match?.[1];
  return token && token.length <= MAX_SUBJECT_TOKEN_LENGTH ? token : undefined;
}

/** A NumericDate claim as whole seconds; API Gateway hands every claim over as a string. */
function numericDate(value: unknown): number | undefined {
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  return typeof number === "number" && Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}

/** Roles as a list: a JSON array, a space-separated string, or API Gateway's `[a b]` rendering of an array. */
function rolesOf(value: unknown): string[] | undefined {
  let list: unknown[];
  if (Array.isArray(value)) list = value;
  else if (typeof value === "string") list = value.replace(/^\[(.*)\]$/, "$1").split(/[\s,]+/);
  else return undefined;
  const roles: string[] = [];
  for (const role of list) {
    const fitted = fitText(role, MAX.role);
    if (fitted !== undefined) roles.push(fitted);
    if (roles.length === MAX.roles) break;
  }
  return roles.length > 0 ? roles : undefined;
}

const DEFAULT_ROLES_CLAIMS = ["roles", "cognito:groups", "groups"];

/** Characters `JSON.stringify` escapes in a string (surrogates: only lone ones, but it is checked there). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what JSON escapes.
const JSON_ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * A string as JSON, exactly as `JSON.stringify` writes it: almost every value needs no escape at all.
 * The middleware writes one event per request of the app as text, member by member, which spares the
 * object graph, the copies that leave out undefined members, and a second walk to serialize it.
 */
function jsonString(value: string): string {
  return JSON_ESCAPED.test(value) ? JSON.stringify(value) : `"${value}"`;
}

/**
 * Whatever makes a string need more than quotes around it to be `fitText`'s answer as JSON: JSON's
 * escapes, the control characters fitText replaces, any surrogate (ill-formed, or one JSON checks).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what fitText and JSON change.
const NEEDS_FITTING = /["\\\u0000-\u001f\u007f-\u009f\ud800-\udfff]/;

/**
 * `jsonString(fitText(value, max))`, undefined where fitText's answer is: one scan for the clean value
 * within bounds that almost every request brings, the two steps for anything else (this runs per request).
 */
function textJson(value: unknown, max: number): string | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  if (value.length <= max && !NEEDS_FITTING.test(value)) return `"${value}"`;
  const fitted = fitText(value, max);
  return fitted === undefined ? undefined : jsonString(fitted);
}

/**
 * The members of a JSON object, written as they come: `add` appends `"key":json` for a defined value
 * (`key` needs no escape), `close` ends the object (`{}` without any). No slice, no array: one string grows.
 */
class JsonMembers {
  private text = "{";
  private separator = "";

  add(key: string, json: string | undefined): this {
    if (json !== undefined) {
      this.text += `${this.separator}"${key}":${json}`;
      this.separator = ",";
    }
    return this;
  }

  close(): string {
    return `${this.text}}`;
  }
}

/** A finite number as JSON: `String` writes what `JSON.stringify` does for every finite number. */
function numberJson(value: number | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

/** The asserted actor as JSON: token facts only, never the token. Undefined without a `sub`. */
function actorJson(
  claims: JwtClaims | undefined,
  options: Pick<AccessLogOptions<unknown>, "sessionClaim" | "rolesClaims">,
): string | undefined {
  const sub = claims ? textJson(claims.sub, MAX.sub) : undefined;
  if (!claims || sub === undefined) return undefined;
  const rolesClaim = (options.rolesClaims ?? DEFAULT_ROLES_CLAIMS).find((name) => claims[name] !== undefined);
  const roles = rolesClaim ? rolesOf(claims[rolesClaim]) : undefined;
  return new JsonMembers()
    .add("sub", sub)
    .add("iss", textJson(claims.iss, MAX.iss))
    .add("session_id", textJson(claims[options.sessionClaim ?? "sid"], MAX.sessionId))
    .add("token_id", textJson(claims.jti, MAX.tokenId))
    .add("token_exp", numberJson(numericDate(claims.exp)))
    .add("token_iat", numberJson(numericDate(claims.iat)))
    .add("azp", textJson(claims.azp, MAX.azp))
    .add("client_id", textJson(claims.client_id, MAX.clientId))
    .add("roles", roles ? `[${roles.map(jsonString).join(",")}]` : undefined)
    .close();
}

/** The asserted actor from verified claims: token facts only, never the token. Undefined without a `sub`. */
export function actorOf(
  claims: JwtClaims | undefined,
  options: Pick<AccessLogOptions<unknown>, "sessionClaim" | "rolesClaims"> = {},
): EventActor | undefined {
  const json = actorJson(claims, options);
  return json === undefined ? undefined : (JSON.parse(json) as EventActor);
}

/** Refuses an allowlist that names a credential header, at setup rather than on the first request. */
export function checkedHeaderAllowlist(headers: readonly string[] = []): readonly string[] {
  const names = headers.map((name) => name.toLowerCase());
  const refused = names.filter((name) => NEVER_RECORDED_HEADERS.includes(name));
  if (refused.length > 0) {
    throw new Error(
      `sealtrailAccessLog: headers must not list ${refused.join(", ")}: credentials and cookies are never ` +
        "recorded. Remove them from the headers option.",
    );
  }
  return names;
}

/** Refuses an action the server would refuse, at setup: the events built with it skip the validator. */
function checkedAction(action: string): void {
  try {
    encodeEvent({ action, outcome: "success" });
  } catch (error) {
    throw new Error(
      `sealtrailAccessLog: the action option ${JSON.stringify(action)} is not a valid action: ${(error as Error).message}`,
    );
  }
}

/** The options that shape an event (the rest decide whether and where it is recorded). */
export type EventOptions = Pick<
  AccessLogOptions<unknown>,
  "action" | "sessionClaim" | "rolesClaims" | "headers" | "forwardSubjectToken"
>;

/** An HTTP status as the schema takes it: a whole number from 100 to 599. */
function statusOf(status: number | undefined): number | undefined {
  return status !== undefined && Number.isInteger(status) && status >= 100 && status <= 599
    ? status
    : undefined;
}

/** Milliseconds as the schema takes them: microseconds are plenty (more digits would be clock noise), within a week. */
function durationOf(ms: number): number | undefined {
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(SERVER_LIMITS.maxDurationMs, Math.max(0, Math.round(ms * 1000) / 1000));
}

const ANONYMOUS_ACTOR_JSON = JSON.stringify(ANONYMOUS_ACTOR);
const ACCESS_LOG_ACTION_JSON = JSON.stringify(ACCESS_LOG_ACTION);

/** A string known to need no escape (an IP address), or undefined, as JSON. */
function stringJson(value: string | undefined): string | undefined {
  return value === undefined ? undefined : jsonString(value);
}

/** An access-log event as the JSON the client sends. */
export interface AccessLogJson {
  readonly json: string;
  /**
   * Whether the event has `details` (aborted, allowlisted headers): their total size is not bounded
   * here, so such an event still goes through the validator.
   */
  readonly hasDetails: boolean;
}

/** The limits of an ECMAScript time value: past them `toISOString` throws. */
const MAX_TIME_MS = 8.64e15;

/** The second `isoTime` wrote last, and its text up to the milliseconds (`2026-11-02T10:00:00.`). */
let isoSecond = Number.NaN;
let isoSecondText = "";

/**
 * `new Date(ms).toISOString()`, the date and time of day written once per second rather than per
 * request: within a second only the milliseconds change. Throws as toISOString does for an invalid time.
 */
export function isoTime(ms: number): string {
  const time = Math.trunc(ms);
  if (!(Math.abs(time) <= MAX_TIME_MS)) return new Date(ms).toISOString();
  const second = Math.floor(time / 1000);
  if (second !== isoSecond) {
    isoSecondText = new Date(second * 1000).toISOString().slice(0, -4);
    isoSecond = second;
  }
  const millis = time - second * 1000;
  return `${isoSecondText}${millis < 10 ? "00" : millis < 100 ? "0" : ""}${millis}Z`;
}

/** The access-log event of one request, as JSON: exactly `JSON.stringify(accessLogEvent(facts, options))`. */
export function accessLogJson(facts: RequestFacts, options: EventOptions = {}): AccessLogJson {
  const http = new JsonMembers()
    .add("request_id", textJson(facts.requestId, MAX.requestId))
    .add("method", /^[A-Z]{1,16}$/.test(facts.method) ? `"${facts.method}"` : undefined)
    .add("route", textJson(facts.route, MAX.route))
    .add("endpoint", textJson(pathWithoutQuery(facts.path), MAX.endpoint))
    .add("status", numberJson(statusOf(facts.status)))
    .add("duration_ms", numberJson(durationOf(facts.durationMs)))
    .add("source_ip", stringJson(normalizeIp(facts.sourceIp)))
    .add("user_agent", textJson(facts.userAgent, MAX.userAgent))
    .close();

  let headers: JsonMembers | undefined;
  const names = options.headers ?? [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    // A name listed twice is one member, as in an object; `__proto__` is no member of one.
    if (name === "__proto__" || names.indexOf(name) !== i) continue;
    const value = fitText(headerValue(facts.headers[name]), MAX.header);
    if (value !== undefined) {
      headers ??= new JsonMembers();
      // Header names are lower-case tokens, but the allowlist is the app's: escaped like any text.
      headers.add(jsonString(name).slice(1, -1), jsonString(value));
    }
  }
  const hasDetails = facts.aborted || headers !== undefined;

  // A subject token makes sealtrail take the actor from it (verified); the server refuses both at once.
  const actor = actorJson(facts.claims, options);
  const subjectToken =
    options.forwardSubjectToken && actor !== undefined
      ? bearerTokenOf(headerValue(facts.headers.authorization))
      : undefined;
  const json =
    `{"action":${options.action === undefined ? ACCESS_LOG_ACTION_JSON : jsonString(options.action)}` +
    `,"outcome":"${outcomeOf(facts.status)}"` +
    `,"occurred_at":"${isoTime(facts.startedAt)}"` +
    `,"http":${http}` +
    (subjectToken !== undefined
      ? `,"subject_token":${jsonString(subjectToken)}`
      : `,"actor":${actor ?? ANONYMOUS_ACTOR_JSON}`) +
    (hasDetails
      ? `,"details":${new JsonMembers()
          .add("aborted", facts.aborted ? "true" : undefined)
          .add("headers", headers?.close())
          .close()}`
      : "") +
    "}";
  return { json, hasDetails };
}

/** The access-log event of one request. */
export function accessLogEvent(facts: RequestFacts, options: EventOptions = {}): AuditEvent {
  return JSON.parse(accessLogJson(facts, options).json) as AuditEvent;
}

/** The part every adapter shares: options checked once, then one `record` per request that never throws. */
export interface AccessLogRecorder<Req> {
  /** True when `skip(req)` says this request leaves no access log. */
  skips(req: Req): boolean;
  /** The claims of a request: the `claims` option, else the adapter's default. */
  claimsOf(req: Req): JwtClaims | undefined;
  /** Records the event of a finished request; a refusal goes to `onError`, never to the app. */
  record(facts: RequestFacts): void;
}

export function accessLogRecorder<Req>(
  options: AccessLogOptions<Req>,
  defaultClaims: (req: Req) => JwtClaims | undefined,
): AccessLogRecorder<Req> {
  if (!options?.client || typeof options.client.record !== "function") {
    throw new Error(
      "sealtrailAccessLog: the client option is required: pass the client from createAuditClient({ url, token }).",
    );
  }
  if (options.action !== undefined) checkedAction(options.action);
  const settings: EventOptions = {
    action: options.action,
    sessionClaim: options.sessionClaim,
    rolesClaims: options.rolesClaims,
    headers: checkedHeaderAllowlist(options.headers),
    forwardSubjectToken: options.forwardSubjectToken,
  };
  const onError =
    options.onError ??
    ((error: unknown) =>
      console.warn(`sealtrail: an access-log event was not recorded: ${(error as Error)?.message ?? error}`));
  const claimsOf = options.claims ?? defaultClaims;
  // The events built here conform by construction: the client takes their JSON without validating it again.
  const sink: AccessLogSink & ConformingSink = options.client;
  const conforming = sink[RECORD_CONFORMING];
  const recordEvent = conforming
    ? ({ json, hasDetails }: AccessLogJson) => conforming.call(sink, encodeConformingJson(json, hasDetails))
    : ({ json }: AccessLogJson) => sink.record(JSON.parse(json) as AuditEvent);
  return {
    skips: (req) => options.skip?.(req) === true,
    claimsOf: (req) => {
      const claims = claimsOf(req);
      return claims && typeof claims === "object" ? claims : undefined;
    },
    record(facts) {
      try {
        recordEvent(accessLogJson(facts, settings));
      } catch (error) {
        onError(error);
      }
    },
  };
}

/** A header's single value from Node's incoming headers (repeated headers joined, as Node does for most). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Milliseconds since `start` (from `performance.now()`), with sub-millisecond precision. */
export function elapsedMs(start: number): number {
  return performance.now() - start;
}
