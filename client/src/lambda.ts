/**
 * Access logs for an API Gateway HTTP API (payload format 2.0) Lambda handler:
 *
 *   const client = createAuditClient({ url, token });          // once, outside the handler
 *   export const handler = sealtrailAccessLog({ client })(async (event) => ({ statusCode: 200, body: "ok" }));
 *
 * Lambda freezes the environment as soon as the handler returns, so a batching timer would not fire
 * until the next invocation (or never). By default the wrapper therefore awaits `client.flush()` before
 * it returns; `flush: false` leaves delivery to the next invocation's batch, at the risk of losing the
 * queue when the environment is recycled.
 *
 * The route template is the route key's path (`GET /documents/{id}` gives `/documents/{id}`), the
 * request id `x-request-id` or API Gateway's `requestContext.requestId`, the claims those of the JWT
 * authorizer (`requestContext.authorizer.jwt.claims`).
 */

import {
  type AccessLogOptions,
  accessLogRecorder,
  elapsedMs,
  fitText,
  type JwtClaims,
  REQUEST_ID_HEADER,
  requestIdOf,
} from "./access-log.js";
import type { AuditClient } from "./index.js";

export type { AccessLogOptions, JwtClaims } from "./access-log.js";

/** The parts of an HTTP API payload 2.0 event this wrapper reads (aws-lambda's APIGatewayProxyEventV2 fits). */
export interface HttpApiEvent {
  readonly routeKey?: string;
  readonly rawPath?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly requestContext: {
    readonly requestId?: string;
    readonly http: {
      readonly method: string;
      readonly path?: string;
      readonly sourceIp?: string;
      readonly userAgent?: string;
    };
    readonly authorizer?: { readonly jwt?: { readonly claims?: Readonly<Record<string, unknown>> } };
  };
}

/** A structured result (`{ statusCode, headers, body }`), or anything else, which API Gateway answers with a 200. */
type HttpApiResult = unknown;

export interface LambdaAccessLogOptions<E extends HttpApiEvent = HttpApiEvent> extends AccessLogOptions<E> {
  readonly client: Pick<AuditClient, "record" | "flush">;
  /**
   * Await `client.flush()` before returning, so the event is delivered before Lambda freezes the
   * environment. A failed flush is reported to `onError`, never to the caller. @default true
   */
  readonly flush?: boolean;
}

function defaultClaims(event: HttpApiEvent): JwtClaims | undefined {
  return event.requestContext.authorizer?.jwt?.claims;
}

/** `GET /documents/{id}` → `/documents/{id}`; `$default` (no route matched) → none. */
export function routeOfRouteKey(routeKey: string | undefined): string | undefined {
  const match = /^[A-Z]+ (\/.*)$|^ANY (\/.*)$/.exec(routeKey ?? "");
  return match?.[1] ?? match?.[2];
}

function headerOf(event: HttpApiEvent, name: string): string | undefined {
  // API Gateway lower-cases header names in payload format 2.0.
  return event.headers?.[name];
}

function statusOf(result: HttpApiResult): number {
  if (
    result &&
    typeof result === "object" &&
    "statusCode" in result &&
    typeof result.statusCode === "number"
  ) {
    return result.statusCode;
  }
  return 200;
}

/** Sets the request id on a structured result that does not carry one. */
function withRequestId(result: HttpApiResult, requestId: string): HttpApiResult {
  if (!result || typeof result !== "object" || !("statusCode" in result)) return result;
  const structured = result as { headers?: Record<string, string | number | boolean> };
  if (structured.headers?.[REQUEST_ID_HEADER] !== undefined) return result;
  return { ...structured, headers: { ...structured.headers, [REQUEST_ID_HEADER]: requestId } };
}

/** Wraps an HTTP API handler so every invocation leaves one access-log event. */
export function sealtrailAccessLog<E extends HttpApiEvent = HttpApiEvent>(
  options: LambdaAccessLogOptions<E>,
): <C, R>(handler: (event: E, context: C) => Promise<R>) => (event: E, context: C) => Promise<R> {
  const recorder = accessLogRecorder<E>(options, defaultClaims);
  const onError =
    options.onError ??
    ((error: unknown) =>
      console.warn(`sealtrail: access-log events were not delivered: ${(error as Error)?.message ?? error}`));
  return (handler) => async (event, context) => {
    if (recorder.skips(event)) return handler(event, context);
    const startedAt = Date.now();
    const start = performance.now();
    const fromHeader = requestIdOf(headerOf(event, REQUEST_ID_HEADER));
    const fromContext = fitText(event.requestContext.requestId, 256);
    const requestId = !fromHeader.generated ? fromHeader.id : (fromContext ?? fromHeader.id);
    // Only a new id goes on the response; API Gateway already answers with its own (apigw-requestid).
    const generated = fromHeader.generated && fromContext === undefined;
    let status: number | undefined;
    try {
      const result = await handler(event, context);
      status = statusOf(result);
      return (generated ? withRequestId(result, requestId) : result) as typeof result;
    } catch (error) {
      // API Gateway answers a handler that throws with a 500.
      status = 500;
      throw error;
    } finally {
      const http = event.requestContext.http;
      recorder.record({
        startedAt,
        durationMs: elapsedMs(start),
        requestId,
        method: http.method,
        route: routeOfRouteKey(event.routeKey),
        path: event.rawPath ?? http.path ?? "/",
        status,
        aborted: false,
        sourceIp: http.sourceIp,
        userAgent: http.userAgent ?? headerOf(event, "user-agent"),
        // API Gateway lower-cases header names in payload format 2.0.
        headers: event.headers ?? {},
        claims: recorder.claimsOf(event),
      });
      if (options.flush !== false) await options.client.flush().catch(onError);
    }
  };
}
