/**
 * The verifier's worker pool when a worker dies: only the job that kills a worker fails, every other
 * job settles, later jobs still run, and workers that cannot start at all fail the jobs instead of
 * leaving them pending (which would hang `sealtrail verify`). And the real workers: each reads its own
 * objects from the archive source it is given, with the same result as a check in this thread.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { linkBatchOf, sealBatch } from "../../lambda/core/batch";
import type { ChainLink } from "../../lambda/core/link";
import { buildRecord } from "../../lambda/core/record";
import { createUlidGenerator } from "../../lambda/core/ulid";
import { type BatchCheck, type BatchCheckOptions, checkBatch } from "../../lambda/verify/batch-check";
import { WorkerObjectChecker } from "../../lambda/verify/worker-pool";
import { testPrincipal } from "../support/principal";

/**
 * A stand-in for the object worker that answers each job with its key's length after a moment, and
 * exits the thread (as an out-of-memory kill would end it) for the key "kill".
 */
const FAKE_WORKER = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", (job) => {
  if (job.key === "kill") process.exit(7);
  setTimeout(() => parentPort.postMessage({ id: job.id, result: { bytes: job.key.length } }), 5);
});
`;
const fakeWorker = () => new Worker(FAKE_WORKER, { eval: true });
const brokenWorker = () => new Worker("throw new Error('cannot load the object worker')", { eval: true });
const noSource = { kind: "directory", root: "/nonexistent" } as const;

const batch = {} as ChainLink["batch"];
const options = {} as BatchCheckOptions;
/** A job whose fake result is `{ bytes: length }`, or the job that kills its worker. */
const job = (length: number | "kill") => (length === "kill" ? "kill" : "k".repeat(length));

describe("the worker pool when a worker dies", () => {
  it("fails only the job that kills a worker; every other job, held by that worker or queued, settles with its result", async () => {
    const pool = new WorkerObjectChecker(noSource, 2, fakeWorker);
    try {
      const jobs = [
        pool.check(job(10), batch, options),
        pool.check(job("kill"), batch, options),
        ...Array.from({ length: 8 }, (_, i) => pool.check(job(20 + i), batch, options)),
      ];
      const settled = await Promise.allSettled(jobs);

      expect(settled[1]).toMatchObject({
        status: "rejected",
        reason: { message: expect.stringMatching(/code 7/) },
      });
      const others = settled.filter((_, index) => index !== 1);
      expect(others.map((result) => result.status)).toEqual(Array(9).fill("fulfilled"));
      expect(others.map((result) => (result as PromiseFulfilledResult<BatchCheck>).value)).toEqual([
        { bytes: 10 },
        ...Array.from({ length: 8 }, (_, i) => ({ bytes: 20 + i })),
      ]);
      await expect(pool.check(job(3), batch, options)).resolves.toEqual({ bytes: 3 });
    } finally {
      await pool.close();
    }
  });

  it("replaces the dead worker: a pool of one keeps running jobs after its worker died", async () => {
    const pool = new WorkerObjectChecker(noSource, 1, fakeWorker);
    try {
      const settled = await Promise.allSettled([
        pool.check(job("kill"), batch, options),
        pool.check(job(5), batch, options),
        pool.check(job("kill"), batch, options),
        pool.check(job(6), batch, options),
      ]);
      expect(settled.map((result) => result.status)).toEqual([
        "rejected",
        "fulfilled",
        "rejected",
        "fulfilled",
      ]);
      expect((settled[3] as PromiseFulfilledResult<BatchCheck>).value).toEqual({ bytes: 6 });
    } finally {
      await pool.close();
    }
  });

  it("rejects every job, never leaving one pending, when no worker can start", async () => {
    const pool = new WorkerObjectChecker(noSource, 2, brokenWorker);
    try {
      const settled = await Promise.allSettled(
        Array.from({ length: 5 }, () => pool.check(job(1), batch, options)),
      );
      expect(settled.map((result) => result.status)).toEqual(Array(5).fill("rejected"));
      expect(String((settled[4] as PromiseRejectedResult).reason)).toMatch(/cannot load the object worker/);
      await expect(pool.check(job(1), batch, options)).rejects.toThrow(/keep failing/);
    } finally {
      await pool.close();
    }
  });

  it("close ends the jobs still running or queued instead of leaving them pending", async () => {
    const pool = new WorkerObjectChecker(noSource, 1, fakeWorker);
    const running = expect(pool.check(job(1), batch, options)).rejects.toThrow();
    const queued = expect(pool.check(job(1), batch, options)).rejects.toThrow(/closed/);
    await pool.close();
    await running;
    await queued;
    await expect(pool.check(job(1), batch, options)).rejects.toThrow(/closed/);
  });
});

describe("the object workers", () => {
  it("read their own objects from the source they are given: the same check as in this thread, undefined when missing", async () => {
    // Prepare: one sealed batch in a directory copy of a bucket.
    const root = mkdtempSync(join(tmpdir(), "sealtrail-object-workers-"));
    const pool = new WorkerObjectChecker({ kind: "directory", root }, 2);
    try {
      const time = "2026-12-03T12:00:00.000Z";
      const ulid = createUlidGenerator(() => Date.parse(time));
      const records = Array.from({ length: 3 }, (_, i) =>
        buildRecord(
          { action: "document.read", outcome: "success" },
          {
            id: ulid(),
            time,
            reporter: testPrincipal({ sub: "svc-documents" }),
            tenant: "acme",
            ingest: { request_id: `r-${i}`, source_ip: "192.0.2.1", user_agent: null },
          },
        ),
      );
      const sealed = sealBatch(records, new Date(time));
      const linked = linkBatchOf(sealed);
      mkdirSync(dirname(join(root, linked.key)), { recursive: true });
      writeFileSync(join(root, linked.key), sealed.bytes);
      const checkOptions = { keepEvents: true, records: true };
      // Act
      const [inWorker, missing] = await Promise.all([
        pool.check(linked.key, linked, checkOptions),
        pool.check("events/absent.jsonl.gz", linked, checkOptions),
      ]);
      // Assess
      expect(inWorker).toEqual(checkBatch(sealed.bytes, linked, checkOptions));
      expect(inWorker?.problems).toEqual([]);
      expect(missing).toBeUndefined();
    } finally {
      await pool.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
