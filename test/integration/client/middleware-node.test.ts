/** A plain node:http handler wrapped by the access-log middleware, verifying real JWTs, sending to local mode. */
import { createServer, type IncomingMessage } from "node:http";
import { sealtrailAccessLog } from "../../../client/src/node";
import { listenOnLoopback } from "../../support/http-server";
import { describeAccessLogs } from "./middleware-scenario";

const DOCUMENT = /^\/api\/v1\/documents\/([^/?]+)(?:\?.*)?$/;

describeAccessLogs({
  name: "node",
  route: "/api/v1/documents/:id",
  unauthenticatedReachesApp: true,
  async start({ client, forwardSubjectToken, verify }) {
    const withAccessLog = sealtrailAccessLog<IncomingMessage & { auth?: Record<string, unknown> }>({
      client,
      forwardSubjectToken,
      route: (req) => (DOCUMENT.test(req.url ?? "") ? "/api/v1/documents/:id" : undefined),
      claims: (req) => req.auth,
    });
    const server = createServer(
      withAccessLog(async (req, res) => {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
        try {
          (req as IncomingMessage & { auth?: unknown }).auth = await verify(token ?? "");
        } catch {
          res.writeHead(401, { "content-type": "application/json" }).end('{"message":"Unauthorized"}');
          return;
        }
        const match = DOCUMENT.exec(req.url ?? "");
        if (!match) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: match[1] }));
      }),
    );
    return listenOnLoopback(server);
  },
});
