/**
 * The access-log scenario every framework suite runs: a real server of that framework verifying real
 * signed JWTs, the real @sealtrail/client sending to local mode, then assertions on what the archive
 * and its index hold: status, route template, claims and request id as specified, and never the token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessLogSink } from "../../../client/src/access-log";
import { type AuditClient, type AuditEvent, createAuditClient } from "../../../client/src/index";
import type { EventRecord } from "../../../lambda/core/schema";
import { type LocalSealtrail, startLocalSealtrail, userToken } from "./middleware-local";

export interface AppUnderTest {
  readonly url: string;
  close(): Promise<void>;
}

export interface StartAppOptions {
  /** What the middleware records on (the real client, counted). */
  readonly client: AccessLogSink & Pick<AuditClient, "flush">;
  readonly forwardSubjectToken: boolean;
  /** How the app verifies a bearer token (jose against the identity provider's JWKS). */
  readonly verify: LocalSealtrail["verifyUserToken"];
  /** The identity provider, for an app that verifies tokens with its keys (an API Gateway authorizer). */
  readonly issuer: LocalSealtrail["issuer"];
}

export interface FrameworkUnderTest {
  readonly name: string;
  /** Serves GET {prefix}/documents/:id, 401 without a valid token, with the access-log middleware. */
  start(options: StartAppOptions): Promise<AppUnderTest>;
  /** The template the framework names that route with. */
  readonly route: string;
  /** False where the gateway refuses an unauthenticated request before the app runs (API Gateway). */
  readonly unauthenticatedReachesApp: boolean;
}

/** The real client behind a counter, so a test knows when the middleware has recorded n events. */
function countingClient(client: AuditClient) {
  let count = 0;
  const waiters: Array<() => void> = [];
  const sink: AccessLogSink & Pick<AuditClient, "flush"> = {
    record(event: AuditEvent) {
      client.record(event);
      count++;
      for (const wake of waiters.splice(0)) wake();
    },
    flush: () => client.flush(),
  };
  const recorded = async (n: number) => {
    while (count < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { sink, recorded };
}

export function describeAccessLogs(framework: FrameworkUnderTest): void {
  describe.each([
    { forwardSubjectToken: false, verified: false },
    { forwardSubjectToken: true, verified: true },
  ])(`${framework.name} access logs in the archive (forwardSubjectToken: $forwardSubjectToken)`, ({
    forwardSubjectToken,
    verified,
  }) => {
    let sealtrail: LocalSealtrail;
    let client: AuditClient;
    let app: AppUnderTest;
    let counted: ReturnType<typeof countingClient>;
    let token: string;
    let sessionId: string;
    const requestId = `req-${framework.name}-${forwardSubjectToken}`;
    const deniedRequestId = `${requestId}-denied`;

    beforeAll(async () => {
      sealtrail = await startLocalSealtrail();
      const writeToken = await sealtrail.writeToken();
      client = createAuditClient({ url: sealtrail.server.url, token: writeToken, maxBatchDelayMs: 20 });
      counted = countingClient(client);
      app = await framework.start({
        client: counted.sink,
        forwardSubjectToken,
        verify: sealtrail.verifyUserToken,
        issuer: sealtrail.issuer,
      });
      sessionId = `session-${framework.name}-${forwardSubjectToken}`;
      token = await userToken(sealtrail, "alice", sessionId);

      const ok = await fetch(`${app.url}/api/v1/documents/42?download=secret-query`, {
        headers: {
          authorization: `Bearer ${token}`,
          "x-request-id": requestId,
          "user-agent": "middleware-test/1",
        },
      });
      expect(ok.status).toBe(200);
      await ok.text();
      const denied = await fetch(`${app.url}/api/v1/documents/43`, {
        headers: { authorization: "Bearer not.a-valid.token", "x-request-id": deniedRequestId },
      });
      expect(denied.status).toBe(401);
      await denied.text();
      await counted.recorded(framework.unauthenticatedReachesApp ? 2 : 1);
      await client.flush();
    });

    afterAll(async () => {
      await app?.close();
      await client?.shutdown({ timeoutMs: 1000 });
      await sealtrail?.close();
    });

    it("stores the request's status, route template, path, request id and claims", async () => {
      const [record, ...others] = await sealtrail.search({ session_id: sessionId });

      expect(others).toEqual([]);
      expect(record).toMatchObject({
        action: "http.request",
        outcome: "success",
        actor: {
          sub: "alice",
          iss: sealtrail.server.issuer,
          session_id: sessionId,
          azp: "documents-web",
          roles: ["editor"],
          verified,
        },
        http: {
          request_id: requestId,
          method: "GET",
          route: framework.route,
          endpoint: "/api/v1/documents/42",
          status: 200,
          source_ip: "127.0.0.1",
          user_agent: "middleware-test/1",
        },
      } satisfies { actor: Partial<EventRecord["actor"]> } & Record<string, unknown>);
      const claims = await sealtrail.verifyUserToken(token);
      expect(record?.actor).toMatchObject({
        token_id: claims.jti,
        token_exp: claims.exp,
        token_iat: claims.iat,
      });
      expect(record?.http?.duration_ms).toBeGreaterThanOrEqual(0);
      expect(record?.occurred_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(record?.occurred_at as string)).toBeLessThanOrEqual(
        Date.parse(record?.time as string),
      );
    });

    it(
      framework.unauthenticatedReachesApp
        ? "stores a refused request as denied by an anonymous actor, reported by the app's service"
        : "stores nothing for a request the gateway refused before the app ran",
      async () => {
        const records = await sealtrail.search({ request_id: deniedRequestId });

        if (!framework.unauthenticatedReachesApp) {
          expect(records).toEqual([]);
          return;
        }
        expect(records).toHaveLength(1);
        expect(records[0]).toMatchObject({
          outcome: "denied",
          actor: { sub: "anonymous", iss: null, verified: false },
          reporter: { sub: "app-service", verified: true },
          http: { status: 401, endpoint: "/api/v1/documents/43" },
        });
      },
    );

    it("never stores the token, its signature, or the query string", async () => {
      const stored = await sealtrail.storedText();
      const signature = token.split(".")[2] as string;

      expect(stored).toContain(requestId);
      expect(stored).not.toContain(token);
      expect(stored).not.toContain(signature);
      expect(stored).not.toContain("not.a-valid.token");
      expect(stored).not.toContain("secret-query");
      expect(client.stats()).toMatchObject({ dropped: 0, rejected: 0, queued: 0 });
    });
  });
}
