/** Express 5 with the access-log middleware, verifying real JWTs, sending to local mode through the real client. */
import { createServer } from "node:http";
import express from "express";
import { sealtrailAccessLog } from "../../../client/src/express";
import { listenOnLoopback } from "../../support/http-server";
import { describeAccessLogs } from "./middleware-scenario";

describeAccessLogs({
  name: "express",
  route: "/api/v1/documents/:id",
  unauthenticatedReachesApp: true,
  async start({ client, forwardSubjectToken, verify }) {
    const app = express();
    app.use(sealtrailAccessLog({ client, forwardSubjectToken }));
    // What express-jwt does: verified claims on req.auth, or a 401.
    app.use(async (req, res, next) => {
      const token = /^Bearer (.+)$/.exec(req.get("authorization") ?? "")?.[1];
      try {
        (req as typeof req & { auth?: unknown }).auth = await verify(token ?? "");
        next();
      } catch {
        res.status(401).json({ message: "Unauthorized" });
      }
    });
    const api = express.Router();
    api.get("/documents/:id", (req, res) => {
      res.json({ id: req.params.id });
    });
    app.use("/api/v1", api);
    const server = createServer(app);
    return listenOnLoopback(server);
  },
});
