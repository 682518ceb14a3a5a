/**
 * Access logs for a plain `node:http` request listener:
 *
 *   const withAccessLog = sealtrailAccessLog({ client, route: (req) => routeOf(req) });
 *   createServer(withAccessLog(handler)).listen(8080);
 *
 * node:http has no router, so the route template comes from the `route` option (read when the response
 * is done, so a handler may note it on the request); without one `http.route` is left out.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import {
  type AccessLogOptions,
  type AccessLogRecorder,
  accessLogRecorder,
  elapsedMs,
  headerValue,
  type JwtClaims,
  REQUEST_ID_HEADER,
  type RequestFacts,
  requestIdOf,
} from "./access-log.js";

export type { AccessLogOptions, JwtClaims } from "./access-log.js";

export interface NodeAccessLogOptions<Req extends IncomingMessage = IncomingMessage>
  extends AccessLogOptions<Req> {
  /** The route template of a request (`/documents/:id`), read when its response is done. @default none */
  readonly route?: (req: Req) => string | undefined;
  /**
   * The client's address. Behind a proxy, return the address your proxy reports (and only if you trust it).
   * @default the socket's remote address
   */
  readonly clientIp?: (req: Req) => string | undefined;
}

/**
 * How an adapter reads the facts of its framework's request `Req`. Made once per middleware, not per
 * request: this runs on every request of the app, so it allocates as little as it can.
 */
export interface NodeRequestView<Req> {
  /** The request target, read when the request arrives (routers may rewrite it later). */
  path(req: Req): string;
  /** Read when the response is done, once the router has matched. */
  route(req: Req): string | undefined;
  sourceIp(req: Req): string | undefined;
  claims(req: Req): JwtClaims | undefined;
}

/**
 * Starts timing a request and records its event once, when the response is closed: finished, or cut
 * off because the client went away (then `aborted`, and the status only if it was already sent).
 * Sets `x-request-id` on the response when the request brought none.
 */
export function observeNodeRequest<Req>(
  request: Req,
  req: IncomingMessage,
  res: ServerResponse,
  recorder: Pick<AccessLogRecorder<unknown>, "record">,
  view: NodeRequestView<Req>,
): void {
  const startedAt = Date.now();
  const start = performance.now();
  const path = view.path(request);
  const { id, generated } = requestIdOf(headerValue(req.headers[REQUEST_ID_HEADER]));
  if (generated && !res.headersSent) res.setHeader(REQUEST_ID_HEADER, id);
  // "close" is emitted once, for a finished response and for a client that went away alike.
  res.on("close", () => {
    const facts: RequestFacts = {
      startedAt,
      durationMs: elapsedMs(start),
      requestId: id,
      method: req.method ?? "",
      route: view.route(request),
      path,
      status: res.headersSent ? res.statusCode : undefined,
      aborted: !res.writableFinished,
      sourceIp: view.sourceIp(request),
      userAgent: headerValue(req.headers["user-agent"]),
      headers: req.headers,
      claims: view.claims(request),
    };
    recorder.record(facts);
  });
}

/** express-jwt's `req.auth`, the convention plain handlers are most likely to follow. */
function defaultClaims(req: IncomingMessage): JwtClaims | undefined {
  return (req as { auth?: JwtClaims }).auth;
}

/** Wraps a node:http request listener so every request it serves leaves one access-log event. */
export function sealtrailAccessLog<Req extends IncomingMessage = IncomingMessage>(
  options: NodeAccessLogOptions<Req>,
): (handler: RequestListener) => RequestListener {
  const recorder = accessLogRecorder<Req>(options, defaultClaims);
  const view: NodeRequestView<Req> = {
    path: (req) => req.url ?? "/",
    route: (req) => options.route?.(req),
    sourceIp: (req) => options.clientIp?.(req) ?? req.socket.remoteAddress,
    claims: (req) => recorder.claimsOf(req),
  };
  return (handler) => (req, res) => {
    const request = req as Req;
    if (!recorder.skips(request)) observeNodeRequest(request, req, res, recorder, view);
    handler(req, res);
  };
}
