/** Fastify 5 with the access-log plugin, verifying real JWTs, sending to local mode through the real client. */
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { sealtrailAccessLog } from "../../../client/src/fastify";
import { describeAccessLogs } from "./middleware-scenario";

describeAccessLogs({
  name: "fastify",
  route: "/api/v1/documents/:id",
  unauthenticatedReachesApp: true,
  async start({ client, forwardSubjectToken, verify }) {
    const app = Fastify();
    await app.register(sealtrailAccessLog({ client, forwardSubjectToken }));
    // What @fastify/jwt does: verified claims on request.user, or a 401.
    app.addHook("onRequest", async (request, reply) => {
      const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
      try {
        (request as typeof request & { user?: unknown }).user = await verify(token ?? "");
      } catch {
        return reply.code(401).send({ message: "Unauthorized" });
      }
    });
    await app.register(
      async (api) => {
        api.get<{ Params: { id: string } }>("/documents/:id", async (request) => ({ id: request.params.id }));
      },
      { prefix: "/api/v1" },
    );
    await app.listen({ port: 0, host: "127.0.0.1" });
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      async close() {
        app.server.closeAllConnections();
        await app.close();
      },
    };
  },
});
