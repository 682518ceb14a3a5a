/**
 * Batch checks on worker threads, so verification uses every core: hashing, gunzip and JSON are
 * CPU-bound and independent per data object. Each worker takes the next job when it is free.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ChainLink } from "../core/link";
import type { BatchCheck, BatchCheckOptions } from "./batch-check";

interface Job {
  readonly bytes: Buffer;
  readonly batch: ChainLink["batch"];
  readonly options: BatchCheckOptions;
  readonly resolve: (result: BatchCheck) => void;
  readonly reject: (error: Error) => void;
}

/** Workers dying one after another with no job finished in between: the script cannot run at all. */
const MAX_DEATHS_IN_A_ROW = 3;

interface JobReply {
  readonly id: number;
  readonly result?: BatchCheck;
  readonly error?: string;
}

/**
 * A fixed number of workers, each running one job at a time. A worker that dies (an uncaught error,
 * out of memory, an exit) fails only the job it was running and is replaced, so every other job still
 * settles. When workers keep dying before they finish anything (the worker script cannot start), the
 * pool gives up: every waiting job is rejected with the cause, never left pending.
 */
export class WorkerBatchChecker {
  readonly #running = new Map<Worker, { readonly id: number; readonly job: Job }>();
  readonly #idle: Worker[] = [];
  readonly #queue: Job[] = [];
  readonly #startWorker: () => Worker;
  /** Deaths since a worker last finished a job; at MAX_DEATHS_IN_A_ROW the pool is broken. */
  #deathsInARow = 0;
  #broken: Error | undefined;
  #closing = false;
  #nextId = 0;

  /** @param startWorker how a worker is started (tests pass workers that misbehave) */
  constructor(size = defaultWorkerCount(), startWorker: () => Worker = startBatchWorker) {
    this.#startWorker = startWorker;
    for (let i = 0; i < size; i++) this.#addWorker();
  }

  check = (bytes: Buffer, batch: ChainLink["batch"], options: BatchCheckOptions): Promise<BatchCheck> =>
    new Promise((resolve, reject) => {
      if (this.#broken || this.#closing) {
        reject(this.#broken ?? new Error("the batch worker pool is closed"));
        return;
      }
      this.#queue.push({ bytes, batch, options, resolve, reject });
      this.#dispatch();
    });

  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Error("the batch worker pool is closed");
    for (const job of this.#queue.splice(0)) job.reject(closed);
    const workers = [...this.#idle, ...this.#running.keys()];
    this.#idle.length = 0;
    await Promise.all(workers.map((worker) => worker.terminate()));
  }

  #addWorker(): void {
    const worker = this.#startWorker();
    let cause: Error | undefined;
    worker.on("message", (reply: JobReply) => this.#finished(worker, reply));
    worker.on("error", (error) => {
      cause = error;
    });
    worker.on("exit", (code) =>
      this.#died(worker, cause ?? new Error(`a batch worker exited with code ${code}`)),
    );
    this.#idle.push(worker);
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop() as Worker;
      const job = this.#queue.shift() as Job;
      const id = this.#nextId++;
      this.#running.set(worker, { id, job });
      // A copy the worker owns: the caller's buffer may be a slice of a pooled allocation.
      const copy = new Uint8Array(job.bytes);
      worker.postMessage({ id, bytes: copy, batch: job.batch, options: job.options }, [copy.buffer]);
    }
  }

  #finished(worker: Worker, reply: JobReply): void {
    const running = this.#running.get(worker);
    if (running?.id !== reply.id) return;
    this.#running.delete(worker);
    this.#deathsInARow = 0;
    if (reply.result) running.job.resolve(reply.result);
    else running.job.reject(new Error(reply.error ?? "batch worker failed"));
    this.#idle.push(worker);
    this.#dispatch();
  }

  #died(worker: Worker, cause: Error): void {
    const idle = this.#idle.indexOf(worker);
    if (idle !== -1) this.#idle.splice(idle, 1);
    const running = this.#running.get(worker);
    this.#running.delete(worker);
    running?.job.reject(cause);
    if (this.#closing) return;
    if (++this.#deathsInARow >= MAX_DEATHS_IN_A_ROW) {
      // Nothing finishes: replacing workers again would only loop. Fail what waits, and what comes.
      this.#broken = new Error(`the batch workers keep failing: ${cause.message}`, { cause });
      for (const job of this.#queue.splice(0)) job.reject(this.#broken);
      return;
    }
    this.#addWorker();
    this.#dispatch();
  }
}

/**
 * Run from TypeScript sources (the CLI runs under tsx), a worker must register tsx itself: Node 20
 * does not carry `--import` loaders into worker threads.
 */
function startBatchWorker(): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./batch-worker.js", import.meta.url));
  const script = new URL("./batch-worker.ts", import.meta.url).href;
  return new Worker(
    `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(script)}); });`,
    { eval: true },
  );
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(availableParallelism(), 8));
}
