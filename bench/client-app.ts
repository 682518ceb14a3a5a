/**
 * The example app as the client benchmark's server, in its own process so its requests/s are what its
 * core serves, not shared with the load generator or the receipt stub (bench/client.ts starts it).
 *
 * One process holds three instances of the example app on one port, and serves one of them at a time:
 * `with` the access-log middleware, `without` it, and `control`, a second `without`. The arms share the
 * process, its JIT and its heap, so the difference measured between them is the middleware's and not
 * the luck of two processes: two identical app processes differ here by up to 15% in requests/s for a
 * whole run. The control arm measures what is left of that noise in the same run. All three record the
 * app's own `document.read` events on one audit client.
 *
 * Reads from the environment: BENCH_STATE_DIR (the local issuer's key), BENCH_ISSUER and BENCH_JWKS_URL
 * (what users' tokens are verified against), BENCH_AUDIT_URL and BENCH_AUDIT_TOKEN (where the audit
 * client sends). Prints `listening <url>` once it serves; on SIGTERM flushes the audit client and prints
 * `stats <json>` before it exits. IPC: `{ serve: arm }` switches the arm served and is answered with
 * `{ serving: arm }`; "cpu" is answered with its `process.cpuUsage()`, so the benchmark can count CPU
 * time per request. With BENCH_CPU_PROFILE=<file>, writes the V8 CPU profile from the IPC message
 * "profile" to SIGTERM there.
 */
import { writeFileSync } from "node:fs";
import { createServer, type RequestListener } from "node:http";
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
const identity = localIdentityProvider(issuer, required("BENCH_JWKS_URL"));
const app = (accessLog: boolean): RequestListener => createExampleApp({ audit, identity, accessLog });
const apps = { with: app(true), without: app(false), control: app(false) };
/** An arm of the middleware benchmark: which instance of the app this process serves. */
export type BenchArm = keyof typeof apps;
let serving: RequestListener = apps.without;
const server = createServer((req, res) => serving(req, res));
server.listen(0, "127.0.0.1", () => {
  console.log(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
const profileFile = process.env.BENCH_CPU_PROFILE;
const profiler = profileFile ? new Session() : undefined;
process.on("message", (message) => {
  const arm = (message as { serve?: BenchArm } | undefined)?.serve;
  if (arm !== undefined && arm in apps) {
    serving = apps[arm];
    process.send?.({ serving: arm });
  }
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
