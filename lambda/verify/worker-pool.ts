/**
 * Batch checks on worker threads, so verification uses every core: hashing, gunzip and JSON are
 * CPU-bound and independent per data object. Each worker takes the next job when it is free.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ChainLink } from "../core/link";
import type { BatchCheck, BatchCheckOptions } from "./batch-check";

interface Pending {
  readonly resolve: (result: BatchCheck) => void;
  readonly reject: (error: Error) => void;
}

export class WorkerBatchChecker {
  readonly #workers: Worker[] = [];
  readonly #idle: Worker[] = [];
  readonly #queue: Array<() => void> = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;

  constructor(size = defaultWorkerCount()) {
    for (let i = 0; i < size; i++) {
      const worker = startWorker();
      worker.on("message", (message: { id: number; result?: BatchCheck; error?: string }) => {
        const pending = this.#pending.get(message.id);
        this.#pending.delete(message.id);
        if (message.result) pending?.resolve(message.result);
        else pending?.reject(new Error(message.error ?? "batch worker failed"));
        this.#release(worker);
      });
      worker.on("error", (error) => {
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
      });
      this.#workers.push(worker);
      this.#idle.push(worker);
    }
  }

  check = (bytes: Buffer, batch: ChainLink["batch"], options: BatchCheckOptions): Promise<BatchCheck> =>
    new Promise((resolve, reject) => {
      const start = () => {
        const worker = this.#idle.pop() as Worker;
        const id = this.#nextId++;
        this.#pending.set(id, { resolve, reject });
        // A copy the worker owns: the caller's buffer may be a slice of a pooled allocation.
        const copy = new Uint8Array(bytes);
        worker.postMessage({ id, bytes: copy, batch, options }, [copy.buffer]);
      };
      if (this.#idle.length > 0) start();
      else this.#queue.push(start);
    });

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }

  #release(worker: Worker): void {
    this.#idle.push(worker);
    this.#queue.shift()?.();
  }
}

/**
 * Run from TypeScript sources (the CLI runs under tsx), a worker must register tsx itself: Node 20
 * does not carry `--import` loaders into worker threads.
 */
function startWorker(): Worker {
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
