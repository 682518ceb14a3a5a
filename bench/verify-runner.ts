/**
 * The verification benchmark's verifier, in a process of its own that holds what `sealtrail verify`
 * holds and nothing more (bench/verify.ts starts it). The benchmark's own process keeps every batch's
 * text in memory for the hashing baselines, 1.7 GB at 1,000,000 events, and beside that the run on
 * worker threads measured a fifth slower while the one-thread run did not change: the ratio between
 * them would measure the benchmark's memory, not the verifier.
 *
 * Reads BENCH_VERIFY_ROOT (the local copy), BENCH_VERIFY_TRUST (the trust file, JSON) and
 * BENCH_VERIFY_WORKERS. IPC: `{ run: "oneCore" | "workers" }` is answered with
 * `{ seconds, ok, errors, events, bytes }` of one `verifyArchive` over the copy.
 */
import { DirectorySource } from "../lambda/archive/source";
import { parseTrustedKeys } from "../lambda/core/checkpoint";
import { verifyArchive } from "../lambda/verify/verifier";
import { WorkerObjectChecker } from "../lambda/verify/worker-pool";

/** What one run of the verifier answers. */
export interface VerifyRunReply {
  readonly seconds: number;
  readonly ok: boolean;
  /** The first error findings, if any. */
  readonly errors: unknown[];
  readonly events: number;
  readonly bytes: number;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bench/verify-runner: ${name} is not set`);
  return value;
}

const root = required("BENCH_VERIFY_ROOT");
const trusted = await parseTrustedKeys(JSON.parse(required("BENCH_VERIFY_TRUST")));
const pool = new WorkerObjectChecker({ kind: "directory", root }, Number(required("BENCH_VERIFY_WORKERS")));

process.on("message", async (message) => {
  const arm = (message as { run?: "oneCore" | "workers" }).run;
  if (arm === undefined) return;
  const started = performance.now();
  const report = await verifyArchive({
    source: new DirectorySource(root),
    trusted,
    ...(arm === "workers" ? { checkObject: pool.check } : {}),
  });
  const reply: VerifyRunReply = {
    seconds: (performance.now() - started) / 1000,
    ok: report.ok,
    errors: report.findings.filter((finding) => finding.severity === "error").slice(0, 5),
    events: report.stats.events,
    bytes: report.stats.bytes,
  };
  process.send?.(reply);
});
process.once("disconnect", () => {
  void pool.close().then(() => process.exit(0));
});
process.send?.({ ready: true });
