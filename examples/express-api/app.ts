/**
 * A small JWT-protected document API that leaves an audit trail in sealtrail:
 *
 * - every request: one access-log event from the middleware (who, which session and token, which
 *   route, what result, when), batched by the client;
 * - a document read: a semantic `document.read` event, batched (`record`);
 * - login, logout and a permission change: sent at once and awaited (`recordNow`), so the app fails
 *   closed: a login whose audit event cannot be sealed is refused, a permission change is not applied.
 *
 * The app verifies bearer tokens itself with jose (as express-jwt would, claims on `req.auth`). Tokens
 * come from an `IdentityProvider`; see identity.ts for the one the example runs with.
 */
import { randomUUID } from "node:crypto";
import express, { type NextFunction, type Request, type Response } from "express";
// In your app: from "@sealtrail/client" and "@sealtrail/client/express" (this repo runs the source).
import { sealtrailAccessLog } from "../../client/src/express.js";
import type { AuditClient } from "../../client/src/index.js";

/** Issues and verifies the users' tokens: your identity provider. */
export interface IdentityProvider {
  /** A signed access token for `sub` in session `sid`. */
  issue(claims: { sub: string; sid: string; roles: readonly string[] }): Promise<string>;
  /** The verified claims of a token; throws when it is invalid or expired. */
  verify(token: string): Promise<Record<string, unknown>>;
}

export interface ExampleAppOptions {
  readonly audit: AuditClient;
  readonly identity: IdentityProvider;
  /** @default false: forward users' tokens so sealtrail verifies them (its subject issuers must trust the IdP). */
  readonly forwardSubjectToken?: boolean;
  /** Without the access-log middleware (the benchmark's baseline). @default true */
  readonly accessLog?: boolean;
}

/** Demo users; a real app checks passwords against its user store. */
const USERS: Record<string, { password: string; roles: string[] }> = {
  alice: { password: "alice-password", roles: ["owner"] },
  bob: { password: "bob-password", roles: ["viewer"] },
};

interface Document {
  readonly title: string;
  readonly permissions: Record<string, "read" | "write" | "none">;
}

type AuthedRequest = Request & { auth?: Record<string, unknown> };

const claimText = (req: AuthedRequest, name: string) => String(req.auth?.[name] ?? "");

export function createExampleApp(options: ExampleAppOptions): express.Express {
  const { audit, identity } = options;
  const documents = new Map<string, Document>([
    ["42", { title: "Quarterly report", permissions: { alice: "write", bob: "read" } }],
    ["43", { title: "Board minutes", permissions: { alice: "write" } }],
  ]);
  /** Sessions ended by logout: their tokens are refused even before they expire. */
  const endedSessions = new Set<string>();

  const app = express();
  app.use(express.json({ limit: "16kb" }));
  if (options.accessLog !== false) {
    // Before the routes: one access-log event per request, also for 401s and 404s.
    app.use(
      sealtrailAccessLog({
        client: audit,
        forwardSubjectToken: options.forwardSubjectToken ?? false,
        skip: (req) => req.path === "/health",
      }),
    );
  }

  app.get("/health", (_req, res) => {
    res.send("ok");
  });

  app.post("/login", async (req, res, next) => {
    const { username, password } = (req.body ?? {}) as { username?: unknown; password?: unknown };
    const user = typeof username === "string" ? USERS[username] : undefined;
    // The attempted name goes into the audit event: only if it is a plausible one.
    const sub =
      typeof username === "string" && /^[\w.@-]{1,128}$/.test(username) ? username : "invalid-username";
    try {
      if (!user || user.password !== password) {
        await audit.recordNow({ action: "user.login", outcome: "failure", actor: { sub } });
        res.status(401).json({ message: "wrong username or password" });
        return;
      }
      const sid = randomUUID();
      // Sealed before the token is handed out: no login without its audit event.
      await audit.recordNow({ action: "user.login", outcome: "success", actor: { sub, session_id: sid } });
      res.json({ token: await identity.issue({ sub, sid, roles: user.roles }), session_id: sid });
    } catch (error) {
      next(error);
    }
  });

  /** express-jwt's job: verified claims on req.auth, or a 401. */
  const requireAuth = async (req: AuthedRequest, res: Response, next: NextFunction) => {
    const token = /^Bearer (\S+)$/.exec(req.get("authorization") ?? "")?.[1];
    try {
      req.auth = await identity.verify(token ?? "");
    } catch {
      res.status(401).set("www-authenticate", "Bearer").json({ message: "a valid bearer token is required" });
      return;
    }
    if (endedSessions.has(claimText(req, "sid"))) {
      res.status(401).json({ message: "this session was logged out; log in again" });
      return;
    }
    next();
  };

  app.post("/logout", requireAuth, async (req: AuthedRequest, res, next) => {
    try {
      endedSessions.add(claimText(req, "sid"));
      await audit.recordNow({
        action: "user.logout",
        outcome: "success",
        actor: { sub: claimText(req, "sub"), session_id: claimText(req, "sid") },
      });
      res.status(204).end();
    } catch (error) {
      next(error);
    }
  });

  const api = express.Router();
  api.use(requireAuth);

  api.get("/documents/:id", (req: AuthedRequest, res) => {
    const id = String(req.params.id);
    const document = documents.get(id);
    const sub = claimText(req, "sub");
    const allowed = document && (document.permissions[sub] ?? "none") !== "none";
    audit.record({
      action: "document.read",
      outcome: !document ? "failure" : allowed ? "success" : "denied",
      actor: { sub, session_id: claimText(req, "sid") },
      resource: { type: "document", id },
    });
    if (!document) res.status(404).json({ message: `no document ${id}` });
    else if (!allowed) res.status(403).json({ message: `you may not read document ${id}` });
    else res.json({ id, title: document.title });
  });

  api.put("/documents/:id/permissions", async (req: AuthedRequest, res, next) => {
    const id = String(req.params.id);
    const document = documents.get(id);
    const { user, permission } = (req.body ?? {}) as { user?: unknown; permission?: string };
    const sub = claimText(req, "sub");
    const resource = { type: "document", id };
    const actor = { sub, session_id: claimText(req, "sid") };
    try {
      if (!document) {
        res.status(404).json({ message: `no document ${id}` });
        return;
      }
      if (typeof user !== "string" || !["read", "write", "none"].includes(String(permission))) {
        res.status(400).json({ message: 'send {"user": "<name>", "permission": "read" | "write" | "none"}' });
        return;
      }
      if (document.permissions[sub] !== "write") {
        await audit.recordNow({ action: "document.permission_change", outcome: "denied", actor, resource });
        res.status(403).json({ message: `you may not change who can access document ${id}` });
        return;
      }
      const before = document.permissions[user] ?? "none";
      // Fail closed: the change is applied only once its audit event is sealed.
      await audit.recordNow({
        action: "document.permission_change",
        outcome: "success",
        actor,
        resource,
        details: { user, before, after: String(permission) },
      });
      document.permissions[user] = permission as Document["permissions"][string];
      res.json({ id, user, permission });
    } catch (error) {
      next(error);
    }
  });

  app.use("/api/v1", api);

  // An audit event that could not be sealed: the action is refused, not done unrecorded.
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    console.error(`example: ${(error as Error)?.message ?? error}`);
    res.status(503).json({ message: "the audit trail is unavailable; nothing was changed, try again" });
  });
  return app;
}
