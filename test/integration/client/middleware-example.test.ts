/**
 * The example app (examples/express-api) end to end against local mode: a user's session of N requests
 * leaves exactly N access events findable by its session id, next to the login, permission-change and
 * logout events, and the proof of one verifies offline against the checkpoint key alone.
 */

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditClient, createAuditClient } from "../../../client/src/index";
import { createExampleApp } from "../../../examples/express-api/app";
import { localIdentityProvider } from "../../../examples/express-api/identity";
import { verifyProofBundle } from "../../../lambda/core/proof";
import { type LocalSealtrail, startLocalSealtrail } from "./middleware-local";

/** The real client, counting `record` calls so the test knows when the middleware has recorded them all. */
function countingRecords(audit: AuditClient) {
  let count = 0;
  const waiters: Array<() => void> = [];
  const client: AuditClient = {
    record(event) {
      audit.record(event);
      count++;
      for (const wake of waiters.splice(0)) wake();
    },
    recordNow: (event) => audit.recordNow(event),
    flush: () => audit.flush(),
    shutdown: (options) => audit.shutdown(options),
    stats: () => audit.stats(),
  };
  const recorded = async (n: number) => {
    while (count < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { client, recorded };
}

describe("examples/express-api against local mode", () => {
  let sealtrail: LocalSealtrail;
  let audit: AuditClient;
  let server: Server;
  let url: string;
  let token: string;
  let sessionId: string;
  const statuses: number[] = [];

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    statuses.push(response.status);
    await response.arrayBuffer();
  };

  beforeAll(async () => {
    sealtrail = await startLocalSealtrail();
    audit = createAuditClient({
      url: sealtrail.server.url,
      token: await sealtrail.writeToken(),
      maxBatchDelayMs: 20,
    });
    const counted = countingRecords(audit);
    const app = createExampleApp({
      audit: counted.client,
      identity: localIdentityProvider(sealtrail.issuer, sealtrail.server.jwksUrl),
      forwardSubjectToken: true,
    });
    server = app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const login = await fetch(`${url}/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "alice-password" }),
    });
    expect(login.status).toBe(200);
    ({ token, session_id: sessionId } = (await login.json()) as { token: string; session_id: string });

    await call("GET", "/api/v1/documents/42");
    await call("GET", "/api/v1/documents/43");
    await call("GET", "/api/v1/documents/44");
    await call("PUT", "/api/v1/documents/42/permissions", { user: "bob", permission: "none" });
    await call("POST", "/logout");
    await call("GET", "/api/v1/documents/42");
    expect(statuses).toEqual([200, 200, 404, 200, 204, 401]);
    // The last access event is recorded when its response closes, just after the client read it:
    // one per request and one per document.read.
    await counted.recorded(statuses.length + 1 + 3);
    await audit.flush();
  });

  afterAll(async () => {
    server?.closeAllConnections();
    server?.close();
    await audit?.shutdown({ timeoutMs: 1000 });
    await sealtrail?.close();
  });

  it("finds exactly the session's N access events by its session id, verified, in request order", async () => {
    // Batches in flight at once may be sealed in either order: request order is when each started.
    const access = (await sealtrail.search({ session_id: sessionId, action: "http.request" })).sort((a, b) =>
      String(a.occurred_at).localeCompare(String(b.occurred_at)),
    );

    expect(access).toHaveLength(statuses.length);
    expect(access.map((record) => record.http?.status)).toEqual(statuses);
    expect(access.map((record) => record.http?.route)).toEqual([
      "/api/v1/documents/:id",
      "/api/v1/documents/:id",
      "/api/v1/documents/:id",
      "/api/v1/documents/:id/permissions",
      "/logout",
      // Refused by the router's auth middleware before any route matched: Express knows no template.
      null,
    ]);
    for (const record of access) {
      expect(record.actor).toMatchObject({
        sub: "alice",
        session_id: sessionId,
        azp: "example-web",
        verified: true,
      });
    }
  });

  it("records the semantic events beside them: login, reads, the permission change, logout", async () => {
    const semantic = (await sealtrail.search({ session_id: sessionId })).filter(
      (record) => record.action !== "http.request",
    );

    // recordNow seals at once while record's events wait for their batch: compare as a multiset.
    expect(semantic.map((record) => `${record.action}:${record.outcome}`).sort()).toEqual(
      [
        "user.login:success",
        "document.read:success",
        "document.read:success",
        "document.read:failure",
        "document.permission_change:success",
        "user.logout:success",
      ].sort(),
    );
    const change = semantic.find((record) => record.action === "document.permission_change");
    expect(JSON.parse(change?.details as string)).toEqual({ user: "bob", before: "read", after: "none" });
  });

  it("gives a proof of an access event that verifies offline with the checkpoint key alone", async () => {
    const [first] = await sealtrail.search({ session_id: sessionId, action: "http.request" });
    expect(await sealtrail.signer.run()).toMatchObject({ status: "signed" });

    const { status, body } = await sealtrail.get(`/v1/events/${first?.id}/proof`);

    expect(status).toBe(200);
    expect(await verifyProofBundle(body, sealtrail.signer.trusted)).toMatchObject({
      ok: true,
      facts: { event: first?.id },
    });
  });

  it("never stores a user's token", async () => {
    const stored = await sealtrail.storedText();

    expect(stored).toContain(sessionId);
    expect(stored).not.toContain(token.split(".")[2] as string);
    expect(audit.stats()).toMatchObject({ dropped: 0, rejected: 0 });
  });
});
