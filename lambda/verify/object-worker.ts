/**
 * Worker-thread side of WorkerObjectChecker: opens the archive source named in `workerData.source`,
 * then reads and checks one data object per message. It is a thread's entry point, so it wires its
 * source itself, as a handler does.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { ChainLink } from "../core/link";
import { type ArchiveSourceSpec, openArchiveSource } from "../runtime/archive-sources";
import { type BatchCheckOptions, checkBatch } from "./batch-check";

interface Job {
  readonly id: number;
  readonly key: string;
  readonly batch: ChainLink["batch"];
  readonly options: BatchCheckOptions;
}

const source = openArchiveSource((workerData as { source: ArchiveSourceSpec }).source);

parentPort?.on("message", async (job: Job) => {
  try {
    const bytes = await source.get(job.key);
    if (!bytes) parentPort?.postMessage({ id: job.id, missing: true });
    else parentPort?.postMessage({ id: job.id, result: checkBatch(bytes, job.batch, job.options) });
  } catch (error) {
    parentPort?.postMessage({ id: job.id, error: String((error as Error).stack ?? error) });
  }
});
