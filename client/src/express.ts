/**
 * Access logs for Express (4.18+ and 5):
 *
 *   app.use(sealtrailAccessLog({ client }));   // before the routes, and before or after express-jwt
 *
 * The route template is the mount path plus the matched route's path (`/api/v1` + `/documents/:id`),
 * read when the response is done; the client address is `req.ip`, which follows Express's
 * `trust proxy` setting. Claims default to express-jwt's `req.auth`.
 */
import type { Request, RequestHandler } from "express";
import { type AccessLogOptions, accessLogRecorder, type JwtClaims } from "./access-log.js";
import { type NodeRequestView, observeNodeRequest } from "./node.js";

export type { AccessLogOptions, JwtClaims } from "./access-log.js";

export interface ExpressAccessLogOptions extends AccessLogOptions<Request> {
  /**
   * The route template of a request. Override it when a router is mounted on a path with parameters
   * (`app.use("/orgs/:org", router)`): Express keeps only the matched values of a mount path.
   * @default `req.baseUrl + req.route.path`, or none when no route matched
   */
  readonly route?: (req: Request) => string | undefined;
}

/** The template Express matched: the routers' mount paths and the route's own path. */
export function expressRouteOf(req: Request): string | undefined {
  const path: unknown = req.route?.path;
  if (path === undefined) return undefined;
  return `${req.baseUrl ?? ""}${typeof path === "string" ? path : String(path)}`;
}

/**
 * `req.ip`, without its cost where Express itself says the answer is the socket's address: with
 * `trust proxy` false (the default) `req.ip` parses X-Forwarded-For only to ignore it.
 */
function clientIpOf(req: Request): string | undefined {
  if (req.app?.get("trust proxy") === false) return req.socket.remoteAddress;
  return req.ip ?? req.socket.remoteAddress;
}

function defaultClaims(req: Request): JwtClaims | undefined {
  return (req as Request & { auth?: JwtClaims }).auth;
}

/** Express middleware that records one access-log event per request when its response is done. */
export function sealtrailAccessLog(options: ExpressAccessLogOptions): RequestHandler {
  const recorder = accessLogRecorder<Request>(options, defaultClaims);
  const view: NodeRequestView<Request> = {
    // originalUrl: routers rewrite req.url to the part below their mount path.
    path: (req) => req.originalUrl ?? req.url,
    route: options.route ?? expressRouteOf,
    sourceIp: clientIpOf,
    claims: (req) => recorder.claimsOf(req),
  };
  return (req, res, next) => {
    if (!recorder.skips(req)) observeNodeRequest(req, req, res, recorder, view);
    next();
  };
}
