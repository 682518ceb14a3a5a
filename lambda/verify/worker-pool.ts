/**
 * Object checks on worker threads, so verification uses every core: reading, gunzip, hashing and JSON
 * are CPU-bound and independent per data object. Each worker opens the archive source itself and is
 * sent only keys: the main thread, which lists and walks the chains, neither reads nor copies an
 * object's bytes.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ChainLink } from "../core/link";
import type { ArchiveSourceSpec } from "../runtime/archive-sources";
import type { BatchCheck, BatchCheckOptions } from "./batch-check";
import type { ObjectCheck } from "./verifier";

interface Job {
  readonly key: string;
  readonly batch: ChainLink["batch"];
  readonly options: BatchCheckOptions;
  readonly resolve: (result: BatchCheck | undefined) => void;
  readonly reject: (error: Error) => void;
  /** In flight on a worker that died: run again alone, so a second death names the job that kills. */
  suspect?: boolean;
}

/** Workers dying one after another with no job finished in between: the script cannot run at all. */
const MAX_DEATHS_IN_A_ROW = 3;

/**
 * Jobs a worker holds at once. More than one, so a worker never waits for its next key (a round trip
 * through the main thread costs about a tenth of checking a batch of 100 events), and an S3 worker
 * reads several objects while it checks.
 */
const JOBS_PER_WORKER = 4;

interface JobReply {
  readonly id: number;
  readonly result?: BatchCheck;
  readonly missing?: true;
  readonly error?: string;
}

/**
 * A fixed number of workers. A worker that dies (an uncaught error, out of memory, an exit) is
 * replaced; the jobs it held run again one at a time, so only a job that kills a worker twice fails,
 * and every other job still settles. When workers keep dying before they finish anything (the worker
 * script cannot start), the pool gives up: every waiting job is rejected with the cause, never left
 * pending.
 */
export class WorkerObjectChecker {
  readonly #inFlight = new Map<Worker, Map<number, Job>>();
  readonly #queue: Job[] = [];
  readonly #startWorker: () => Worker;
  /** Deaths since a worker last finished a job; at MAX_DEATHS_IN_A_ROW the pool is broken. */
  #deathsInARow = 0;
  #broken: Error | undefined;
  #closing = false;
  #nextId = 0;

  /**
   * @param source the archive every worker reads, as the verifier's own source reads it
   * @param startWorker how a worker is started (tests pass workers that misbehave)
   */
  constructor(
    source: ArchiveSourceSpec,
    size = defaultWorkerCount(),
    startWorker: () => Worker = () => startObjectWorker(source),
  ) {
    this.#startWorker = startWorker;
    for (let i = 0; i < size; i++) this.#addWorker();
  }

  /** The verifier's `checkObject`: the object's check, or undefined when it is missing. */
  check: ObjectCheck = (key, batch, options) =>
    new Promise((resolve, reject) => {
      if (this.#broken || this.#closing) {
        reject(this.#broken ?? new Error("the verify worker pool is closed"));
        return;
      }
      this.#queue.push({ key, batch, options, resolve, reject });
      this.#dispatch();
    });

  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Error("the verify worker pool is closed");
    for (const job of this.#queue.splice(0)) job.reject(closed);
    const workers = [...this.#inFlight.keys()];
    for (const jobs of this.#inFlight.values()) for (const job of jobs.values()) job.reject(closed);
    this.#inFlight.clear();
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
      this.#died(worker, cause ?? new Error(`a verify worker exited with code ${code}`)),
    );
    this.#inFlight.set(worker, new Map());
  }

  #dispatch(): void {
    // One job to each worker that can take one, round after round, so the jobs spread evenly.
    let given = true;
    while (given && this.#queue.length > 0) {
      given = false;
      for (const [worker, jobs] of this.#inFlight) {
        const next = this.#queue[0];
        if (!next || !this.#canTake(jobs, next)) continue;
        this.#queue.shift();
        const id = this.#nextId++;
        jobs.set(id, next);
        worker.postMessage({ id, key: next.key, batch: next.batch, options: next.options });
        given = true;
      }
    }
  }

  /** A worker takes up to JOBS_PER_WORKER jobs; a suspect runs where nothing else runs, and nothing joins it. */
  #canTake(jobs: ReadonlyMap<number, Job>, next: Job): boolean {
    if (next.suspect) return jobs.size === 0;
    if (jobs.size >= JOBS_PER_WORKER) return false;
    for (const job of jobs.values()) if (job.suspect) return false;
    return true;
  }

  #finished(worker: Worker, reply: JobReply): void {
    const jobs = this.#inFlight.get(worker);
    const job = jobs?.get(reply.id);
    if (!jobs || !job) return;
    jobs.delete(reply.id);
    this.#deathsInARow = 0;
    if (reply.result) job.resolve(reply.result);
    else if (reply.missing) job.resolve(undefined);
    else job.reject(new Error(reply.error ?? "verify worker failed"));
    this.#dispatch();
  }

  #died(worker: Worker, cause: Error): void {
    const jobs = [...(this.#inFlight.get(worker)?.values() ?? [])];
    if (!this.#inFlight.delete(worker) || this.#closing) return;
    for (const job of jobs) {
      if (job.suspect) job.reject(cause);
      else this.#queue.unshift(Object.assign(job, { suspect: true }));
    }
    if (++this.#deathsInARow >= MAX_DEATHS_IN_A_ROW) {
      // Nothing finishes: replacing workers again would only loop. Fail what waits, and what comes.
      this.#broken = new Error(`the verify workers keep failing: ${cause.message}`, { cause });
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
function startObjectWorker(source: ArchiveSourceSpec): Worker {
  const workerData = { source };
  if (!import.meta.url.endsWith(".ts"))
    return new Worker(new URL("./object-worker.js", import.meta.url), { workerData });
  const script = new URL("./object-worker.ts", import.meta.url).href;
  return new Worker(
    `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(script)}); });`,
    { eval: true, workerData },
  );
}

export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(availableParallelism(), 8));
}
