/**
 * The example app as the client benchmark's server: its own process, so its requests/s are what one
 * core serves, not shared with the load generator or the receipt stub (bench/client.ts starts it).
 *
 * Reads from the environment: BENCH_STATE_DIR (the local issuer's key), BENCH_ISSUER and BENCH_JWKS_URL
 * (what users' tokens are verified against), BENCH_AUDIT_URL and BENCH_AUDIT_TOKEN (where the audit
 * client sends), BENCH_ACCESS_LOG ("true" or "false"). Prints `listening <url>` once it serves; on
 * SIGTERM flushes the audit client and prints `stats <json>` before it exits. Answers the IPC message
 * "cpu" with its `process.cpuUsage()`, so the benchmark can count CPU time per request. With
 * BENCH_CPU_PROFILE=<file>, writes the V8 CPU profile from the IPC message "profile" to SIGTERM there.
 */
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { Session } from "node:inspector";
import type { AddressInfo } from "node:net";
import { createAuditClient } from "../client/src/index";
import { createExampleApp } from "../examples/express-api/app";
import { localIdentityProvider } from "../examples/express-api/identity";
import { openLocalIssuer } from "../local/issuer";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bench/client-app: ${name} is not set`);
  return value;
}

const issuer = await openLocalIssuer({
  issuer: required("BENCH_ISSUER"),
  stateDir: required("BENCH_STATE_DIR"),
});
const audit = createAuditClient({ url: required("BENCH_AUDIT_URL"), token: required("BENCH_AUDIT_TOKEN") });
const server = createServer(
  createExampleApp({
    audit,
    identity: localIdentityProvider(issuer, required("BENCH_JWKS_URL")),
    accessLog: required("BENCH_ACCESS_LOG") === "true",
  }),
);
server.listen(0, "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
const profileFile = process.env.BENCH_CPU_PROFILE;
const profiler = profileFile ? new Session() : undefined;
process.on("message", (message) => {
  if (message === "cpu") process.send?.({ cpu: process.cpuUsage() });
  if (message === "profile" && profiler) {
    profiler.connect();
    profiler.post("Profiler.enable", () => profiler.post("Profiler.start"));
  }
});
async function writeProfile(): Promise<void> {
  if (!profiler || !profileFile) return;
  await new Promise<void>((resolve) =>
    profiler.post("Profiler.stop", (error, result) => {
      if (!error) writeFileSync(profileFile, JSON.stringify(result.profile));
      resolve();
    }),
  );
}
process.once("SIGTERM", async () => {
  server.closeAllConnections();
  server.close();
  await writeProfile();
  await audit.shutdown({ timeoutMs: 5000 });
  console.log(`stats ${JSON.stringify(audit.stats())}`);
  process.exit(0);
});
