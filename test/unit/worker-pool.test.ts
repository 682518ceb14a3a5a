/**
 * The verifier's worker pool when a worker dies: only the job it was running fails, every other job
 * settles, later jobs still run, and workers that cannot start at all fail the jobs instead of leaving
 * them pending (which would hang `sealtrail verify`).
 */
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import type { ChainLink } from "../../lambda/core/link";
import type { BatchCheck, BatchCheckOptions } from "../../lambda/verify/batch-check";
import { WorkerBatchChecker } from "../../lambda/verify/worker-pool";

/**
 * A stand-in for the batch worker that answers each job with its byte count, and exits the thread
 * (as an out-of-memory kill would end it) for a job whose first byte is 0xff.
 */
const FAKE_WORKER = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", (job) => {
  if (job.bytes[0] === 0xff) process.exit(7);
  setTimeout(() => parentPort.postMessage({ id: job.id, result: { bytes: job.bytes.length } }), 5);
});
`;
const fakeWorker = () => new Worker(FAKE_WORKER, { eval: true });
const brokenWorker = () => new Worker("throw new Error('cannot load the batch worker')", { eval: true });

const batch = {} as ChainLink["batch"];
const options = {} as BatchCheckOptions;
const job = (first: number, length = 4) => {
  const bytes = Buffer.alloc(length);
  bytes[0] = first;
  return bytes;
};

describe("the worker pool when a worker dies", () => {
  it("fails only the dead worker's job; every other job, running or queued, settles with its result", async () => {
    const pool = new WorkerBatchChecker(2, fakeWorker);
    try {
      const jobs = [
        pool.check(job(1, 10), batch, options),
        pool.check(job(0xff), batch, options),
        ...Array.from({ length: 8 }, (_, i) => pool.check(job(1, 20 + i), batch, options)),
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
      await expect(pool.check(job(1, 3), batch, options)).resolves.toEqual({ bytes: 3 });
    } finally {
      await pool.close();
    }
  });

  it("replaces the dead worker: a pool of one keeps running jobs after its worker died", async () => {
    const pool = new WorkerBatchChecker(1, fakeWorker);
    try {
      const settled = await Promise.allSettled([
        pool.check(job(0xff), batch, options),
        pool.check(job(1, 5), batch, options),
        pool.check(job(0xff), batch, options),
        pool.check(job(1, 6), batch, options),
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
    const pool = new WorkerBatchChecker(2, brokenWorker);
    try {
      const settled = await Promise.allSettled(
        Array.from({ length: 5 }, () => pool.check(job(1), batch, options)),
      );
      expect(settled.map((result) => result.status)).toEqual(Array(5).fill("rejected"));
      expect(String((settled[4] as PromiseRejectedResult).reason)).toMatch(/cannot load the batch worker/);
      await expect(pool.check(job(1), batch, options)).rejects.toThrow(/keep failing/);
    } finally {
      await pool.close();
    }
  });

  it("close ends the jobs still running or queued instead of leaving them pending", async () => {
    const pool = new WorkerBatchChecker(1, fakeWorker);
    const running = expect(pool.check(job(1), batch, options)).rejects.toThrow();
    const queued = expect(pool.check(job(1), batch, options)).rejects.toThrow(/closed/);
    await pool.close();
    await running;
    await queued;
    await expect(pool.check(job(1), batch, options)).rejects.toThrow(/closed/);
  });
});
