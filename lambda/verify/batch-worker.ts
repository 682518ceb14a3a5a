/** Worker-thread side of WorkerBatchChecker: checks one batch per message. */
import { parentPort } from "node:worker_threads";
import type { ChainLink } from "../core/link";
import { type BatchCheckOptions, checkBatch } from "./batch-check";

interface Job {
  readonly id: number;
  readonly bytes: Uint8Array;
  readonly batch: ChainLink["batch"];
  readonly options: BatchCheckOptions;
}

parentPort?.on("message", (job: Job) => {
  try {
    const result = checkBatch(
      Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength),
      job.batch,
      job.options,
    );
    parentPort?.postMessage({ id: job.id, result });
  } catch (error) {
    parentPort?.postMessage({ id: job.id, error: String((error as Error).stack ?? error) });
  }
});
