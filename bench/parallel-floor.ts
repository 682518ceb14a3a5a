/**
 * The format's floor on several threads: each thread inflates and hashes its share of the objects,
 * already in its memory, with nothing else in the loop. What this reaches over one thread is the most
 * any verifier of this archive can gain from threads on this machine: where two vCPUs share one
 * physical core, or a neighbour takes its share, it is well below the thread count, and the verifier's
 * own speed-up is read against it (bench/verify.ts).
 */
import { isMainThread, parentPort, type Worker, workerData } from "node:worker_threads";
import { sha256 } from "../lambda/core/hash";
import { inflateSealedGzip } from "../lambda/verify/batch-check";
import { moduleWorker } from "./archive-fixture";

const KIND = "sealtrail-parallel-floor";

interface FloorJob {
  readonly kind: typeof KIND;
  readonly objects: readonly Uint8Array[];
}

/** Inflates and hashes every object once; throws on one that is not a plain gzip member. */
export function inflateAndHashAll(objects: Iterable<Uint8Array>): void {
  let sink = 0;
  for (const bytes of objects) {
    const text = inflateSealedGzip(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (!text) throw new Error("a fixture object is not a plain gzip member");
    sink ^= (sha256(text)[0] as number) ?? 0;
  }
  if (sink === 256) throw new Error("unreachable");
}

export interface ParallelFloor {
  /** Seconds for all threads to inflate and hash their shares once. */
  run(): Promise<number>;
  close(): Promise<void>;
}

/** Threads that each hold a copy of their share of `objects` (copied before anything is timed). */
export async function startParallelFloor(
  objects: readonly Buffer[],
  threads: number,
): Promise<ParallelFloor> {
  const workers: Worker[] = [];
  for (let t = 0; t < threads; t++) {
    const share = objects.filter((_, i) => i % threads === t).map((bytes) => new Uint8Array(bytes));
    const job: FloorJob = { kind: KIND, objects: share };
    const worker = moduleWorker(import.meta.url, { workerData: job });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
    });
    workers.push(worker);
  }
  const once = (worker: Worker) =>
    new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
      worker.postMessage("go");
    });
  return {
    async run() {
      const started = performance.now();
      await Promise.all(workers.map(once));
      return (performance.now() - started) / 1000;
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}

if (!isMainThread && (workerData as FloorJob | undefined)?.kind === KIND) {
  const { objects } = workerData as FloorJob;
  // Once untimed, so the thread is compiled and its memory touched before the first timed pass.
  inflateAndHashAll(objects);
  parentPort?.on("message", () => {
    inflateAndHashAll(objects);
    parentPort?.postMessage("done");
  });
  parentPort?.postMessage("ready");
}
