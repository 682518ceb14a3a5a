/**
 * Access logs for Fastify (4 and 5), as a plugin that applies to the whole instance:
 *
 *   await app.register(sealtrailAccessLog({ client }));
 *
 * The route template is the matched route's `routeOptions.url` (with its prefix); the client address
 * is `request.ip`, which follows Fastify's `trustProxy` setting. Claims default to `request.user`
 * (@fastify/jwt).
 */
import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import { type AccessLogOptions, accessLogRecorder, type JwtClaims } from "./access-log.js";
import { type NodeRequestView, observeNodeRequest } from "./node.js";

export type { AccessLogOptions, JwtClaims } from "./access-log.js";

export type FastifyAccessLogOptions = AccessLogOptions<FastifyRequest>;

function defaultClaims(request: FastifyRequest): JwtClaims | undefined {
  return (request as FastifyRequest & { user?: JwtClaims }).user;
}

/** A Fastify plugin that records one access-log event per request when its response is done. */
export function sealtrailAccessLog(options: FastifyAccessLogOptions): FastifyPluginCallback {
  const recorder = accessLogRecorder<FastifyRequest>(options, defaultClaims);
  const view: NodeRequestView<FastifyRequest> = {
    path: (request) => request.url,
    route: (request) => request.routeOptions?.url,
    sourceIp: (request) => request.ip,
    claims: (request) => recorder.claimsOf(request),
  };
  const plugin: FastifyPluginCallback = (fastify, _pluginOptions, done) => {
    fastify.addHook("onRequest", (request, reply, hookDone) => {
      // On the raw request and response: their close covers both a finished response and a client
      // that went away, where Fastify's onResponse hook runs only for the first.
      if (!recorder.skips(request)) observeNodeRequest(request, request.raw, reply.raw, recorder, view);
      hookDone();
    });
    done();
  };
  // What fastify-plugin does: without it the hook would apply only inside the plugin's own scope.
  Object.assign(plugin, {
    [Symbol.for("skip-override")]: true,
    [Symbol.for("fastify.display-name")]: "sealtrail-access-log",
  });
  return plugin;
}
