/**
 * Verification benchmark (issue 4): `verifyArchive` over a local copy of at least 1,000,000 events,
 * in one thread (reads are synchronous, so nothing runs on another) and on worker threads that each
 * read their own objects, both in a process of their own that holds what `sealtrail verify` holds
 * (bench/verify-runner.ts; this one holds every batch's text for the baselines), against the raw SHA-256 rate of the same uncompressed record bytes measured in the same
 * run: Node's crypto over each batch's text as one buffer, and `openssl dgst -sha256` over the
 * uncompressed batches written as files. Beside them, the format's floor: inflating every object and
 * hashing its text once, the least work any verifier of gzip batches must do on one core. The
 * measurements are interleaved in rounds (the order alternating, after an untimed warm-up), so a
 * noisy machine slows all of them alike, and each ratio is taken within a round; the reported values
 * are medians over rounds.
 *
 * Then, on a sample of batches, where one core's time goes: each stage of the sealed-batch pass (the
 * default) and what `--records` adds (UTF-8 decoding, JSON.parse, the zod schema and the canonical
 * re-serialization), each timed over the whole sample on its own.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { sha256, sha256Hex } from "../lambda/core/hash";
import { type ChainLink, parseLink } from "../lambda/core/link";
import { leafHash, merkleRoot } from "../lambda/core/merkle";
import { serializeRecord } from "../lambda/core/record";
import { type EventRecord, EventRecordSchema } from "../lambda/core/schema";
import {
  checkBatch,
  inflateSealedGzip,
  RECORD_PREFIX,
  RECORD_PREFIX_BYTES,
  sealedBatchBytes,
} from "../lambda/verify/batch-check";
import {
  type ArchiveFixture,
  type ArchiveFixtureOptions,
  fixtureDirFor,
  writeArchiveFixture,
} from "./archive-fixture";
import { inflateAndHashAll, startParallelFloor } from "./parallel-floor";
import type { VerifyRunReply } from "./verify-runner";

const run = promisify(execFile);

export interface VerifyBenchOptions {
  /** @default 1_000_000 */
  readonly events?: number;
  /** @default 100 */
  readonly batchSize?: number;
  /** @default 16 (the deployment default) */
  readonly chains?: number;
  /** Worker threads for the multi-core run. @default 2 */
  readonly workers?: number;
  /** Interleaved rounds of every measurement. @default 3 */
  readonly rounds?: number;
  /** Batches in the per-stage breakdown sample. @default 1000 */
  readonly breakdownBatches?: number;
  /** Files per `openssl dgst` invocation. @default 1000 */
  readonly opensslFilesPerCall?: number;
  readonly fixtureDir?: string;
  readonly log?: (line: string) => void;
}

interface Throughput {
  readonly seconds: number;
  readonly eventsPerSecond: number;
  /** Uncompressed record bytes (lines with newlines) per second, 10^6 bytes. */
  readonly mbPerSecond: number;
}

export interface VerifyBenchResult {
  readonly fixture: {
    readonly events: number;
    readonly batchSize: number;
    readonly batches: number;
    readonly chains: number;
    readonly checkpoints: number;
    readonly objectMB: number;
    readonly recordMB: number;
    readonly meanRecordBytes: number;
    readonly reused: boolean;
    readonly generatedSeconds?: number;
  };
  readonly rounds: number;
  /** What ran the multi-core batch checks. */
  readonly workerPool: string;
  /** Medians over rounds. */
  readonly verifyOneCore: Throughput;
  readonly verifyWorkers: Throughput & { readonly workers: number };
  readonly sha256Node: Throughput;
  readonly sha256Openssl: Throughput & { readonly invocations: number };
  /** Inflate every object and hash its text once (one core): the floor of any verifier of the format. */
  readonly inflateAndHash: Throughput;
  /** The floor split over as many threads as workers (bench/parallel-floor.ts). */
  readonly inflateAndHashThreads: Throughput & { readonly threads: number };
  /** verification MB/s ÷ raw SHA-256 MB/s, per round, then the median. Target: oneCore ≥ 0.5. */
  readonly ratios: {
    readonly oneCoreVsNode: number;
    readonly oneCoreVsOpenssl: number;
    /** The floor's own rate ÷ Node's raw SHA-256 rate: the most any verifier could reach. */
    readonly floorVsNode: number;
    readonly floorVsOpenssl: number;
    /** One-core verification ÷ the floor: how close to the format's limit it runs. */
    readonly oneCoreVsFloor: number;
    readonly workersVsNode: number;
    readonly workersVsOpenssl: number;
    /** Target (issue 15): at least 1.8 with 2 workers on 2 cores. */
    readonly workersVsOneCore: number;
    /**
     * The floor on as many threads as workers ÷ the floor on one: what threads can gain on this
     * machine at most (two vCPUs that share a core, or a busy neighbour, keep it below the count).
     */
    readonly floorThreadsVsOneThread: number;
    /** workersVsOneCore ÷ floorThreadsVsOneThread: how much of what threads can gain the verifier gains. */
    readonly workersVsThreadCeiling: number;
  };
  readonly targetMet: {
    readonly oneCoreAtLeastHalfOfRawHash: boolean;
    readonly fasterWithMoreCores: boolean;
    /** workersVsOneCore ≥ 1.8. */
    readonly workersAtLeast1_8: boolean;
  };
  readonly perRound: ReadonlyArray<Record<string, number>>;
  readonly breakdown: Breakdown;
}

const MB = 1e6;
const round3 = (n: number) => Number(n.toFixed(3));
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export async function benchVerify(options: VerifyBenchOptions = {}): Promise<VerifyBenchResult> {
  const log = options.log ?? (() => {});
  const fixtureOptions: ArchiveFixtureOptions = {
    events: options.events ?? 1_000_000,
    batchSize: options.batchSize ?? 100,
    chains: options.chains ?? 16,
  };
  const workers = options.workers ?? 2;
  const rounds = options.rounds ?? 3;
  log(`verify: fixture ${JSON.stringify(fixtureOptions)} …`);
  const fixture = await writeArchiveFixture(
    options.fixtureDir ?? fixtureDirFor(fixtureOptions),
    fixtureOptions,
  );
  log(
    fixture.reused
      ? `verify: reusing ${fixture.root}`
      : `verify: generated ${fixture.root} in ${((fixture.generatedMs ?? 0) / 1000).toFixed(1)} s`,
  );

  // The same bytes for every measurement: each linked object, decompressed once (untimed).
  const objects = linkedObjects(fixture);
  const compressed = objects.map((object) => readFileSync(join(fixture.root, object.batch.key)));
  const texts = compressed.map((bytes) => gunzipSync(bytes));
  const recordBytes = texts.reduce((sum, text) => sum + text.length, 0);
  const events = objects.reduce((sum, object) => sum + object.batch.count, 0);
  const plainDir = mkdtempSync(join(tmpdir(), "sealtrail-bench-plain-"));
  const plainFiles = texts.map((text, i) => {
    const file = join(plainDir, `${String(i).padStart(6, "0")}.jsonl`);
    writeFileSync(file, text);
    return file;
  });
  log(
    `verify: ${events} events in ${objects.length} objects, ${(recordBytes / MB).toFixed(0)} MB of records ` +
      `(${(fixture.objectBytes / MB).toFixed(0)} MB gzip)`,
  );

  const runner = await startVerifyRunner(fixture, workers, { events, recordBytes });
  const floor = await startParallelFloor(compressed, workers);
  const pool = `WorkerObjectChecker(${workers}), each worker reading its own objects, in a process of its own`;
  log(`verify: worker pool: ${pool}`);

  const throughput = (seconds: number, bytes = recordBytes): Throughput => ({
    seconds: round3(seconds),
    eventsPerSecond: Math.round(events / seconds),
    mbPerSecond: Number((bytes / MB / seconds).toFixed(1)),
  });
  const perRound: Record<string, number>[] = [];
  let invocations = 0;
  try {
    const measurements: Record<string, () => Promise<number>> = {
      sha256Node: async () => timeIt(() => hashTexts(texts)),
      sha256Openssl: async () => {
        const { seconds, calls } = await opensslDigest(plainFiles, options.opensslFilesPerCall ?? 1000);
        invocations = calls;
        return seconds;
      },
      inflateAndHash: async () => timeIt(() => inflateAndHashAll(compressed)),
      inflateAndHashThreads: () => floor.run(),
      verifyOneCore: () => runner.verify("oneCore"),
      verifyWorkers: () => runner.verify("workers"),
    };
    const names = Object.keys(measurements);
    // Untimed: the first verification of a process (and of each worker) also compiles it.
    await runner.verify("oneCore");
    await runner.verify("workers");
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? names : [...names].reverse();
      const seconds: Record<string, number> = {};
      for (const name of order) {
        seconds[name] = await (measurements[name] as () => Promise<number>)();
        log(
          `verify: round ${r + 1}/${rounds} ${name.padEnd(13)} ${seconds[name]?.toFixed(2)} s, ` +
            `${(recordBytes / MB / (seconds[name] as number)).toFixed(1)} MB/s`,
        );
      }
      perRound.push(seconds);
    }
  } finally {
    await runner.stop();
    await floor.close();
    rmSync(plainDir, { recursive: true, force: true });
  }

  const med = (name: string) => median(perRound.map((seconds) => seconds[name] as number));
  const ratio = (a: string, b: string) =>
    round3(median(perRound.map((s) => (s[b] as number) / (s[a] as number))));
  const ratios = {
    oneCoreVsNode: ratio("verifyOneCore", "sha256Node"),
    oneCoreVsOpenssl: ratio("verifyOneCore", "sha256Openssl"),
    floorVsNode: ratio("inflateAndHash", "sha256Node"),
    floorVsOpenssl: ratio("inflateAndHash", "sha256Openssl"),
    oneCoreVsFloor: ratio("verifyOneCore", "inflateAndHash"),
    workersVsNode: ratio("verifyWorkers", "sha256Node"),
    workersVsOpenssl: ratio("verifyWorkers", "sha256Openssl"),
    workersVsOneCore: ratio("verifyWorkers", "verifyOneCore"),
    floorThreadsVsOneThread: ratio("inflateAndHashThreads", "inflateAndHash"),
    workersVsThreadCeiling: round3(
      median(
        perRound.map(
          (s) =>
            (s.verifyOneCore as number) /
            (s.verifyWorkers as number) /
            ((s.inflateAndHash as number) / (s.inflateAndHashThreads as number)),
        ),
      ),
    ),
  };
  log(
    `verify: one core ${ratios.oneCoreVsNode} of Node's SHA-256 rate (${ratios.oneCoreVsOpenssl} of openssl's); ` +
      `${workers} workers ${ratios.workersVsNode} (${ratios.workersVsOpenssl}); ${ratios.workersVsOneCore}× one core; ` +
      `the format's floor (inflate + hash) is ${ratios.floorVsNode} of Node's rate (${ratios.floorVsOpenssl}), ` +
      `one core runs at ${ratios.oneCoreVsFloor} of the floor; ` +
      `the floor itself on ${workers} threads runs ${ratios.floorThreadsVsOneThread}× one thread, so the workers reach ` +
      `${ratios.workersVsThreadCeiling} of what threads can gain here (target: ${workers} workers ≥ 1.8× one core)`,
  );

  const breakdown = breakdownOf(fixture, objects.slice(0, options.breakdownBatches ?? 1000));
  log(
    `verify: breakdown over ${breakdown.events} events (µs/event): ` +
      breakdown.stages.map((stage) => `${stage.stage} ${stage.microsPerEvent}`).join(", ") +
      `; checkBatch ${breakdown.checkBatchMicrosPerEvent}, with --records ${breakdown.checkBatchRecordsMicrosPerEvent}`,
  );

  return {
    fixture: {
      events,
      batchSize: fixtureOptions.batchSize,
      batches: objects.length,
      chains: fixture.chains,
      checkpoints: fixture.checkpoints,
      objectMB: Number((fixture.objectBytes / MB).toFixed(1)),
      recordMB: Number((recordBytes / MB).toFixed(1)),
      meanRecordBytes: Math.round(recordBytes / events),
      reused: fixture.reused,
      ...(fixture.generatedMs !== undefined ? { generatedSeconds: round3(fixture.generatedMs / 1000) } : {}),
    },
    rounds,
    workerPool: pool,
    verifyOneCore: throughput(med("verifyOneCore")),
    verifyWorkers: { ...throughput(med("verifyWorkers")), workers },
    sha256Node: throughput(med("sha256Node")),
    sha256Openssl: { ...throughput(med("sha256Openssl")), invocations },
    inflateAndHash: throughput(med("inflateAndHash")),
    inflateAndHashThreads: { ...throughput(med("inflateAndHashThreads")), threads: workers },
    ratios,
    targetMet: {
      oneCoreAtLeastHalfOfRawHash: ratios.oneCoreVsNode >= 0.5 && ratios.oneCoreVsOpenssl >= 0.5,
      fasterWithMoreCores: ratios.workersVsOneCore > 1,
      workersAtLeast1_8: ratios.workersVsOneCore >= 1.8,
    },
    perRound: perRound.map((seconds) =>
      Object.fromEntries(Object.entries(seconds).map(([name, s]) => [`${name}Seconds`, round3(s)])),
    ),
    breakdown,
  };
}

interface LinkedObject {
  readonly linkKey: string;
  readonly batch: ChainLink["batch"];
}

/** Every data object the fixture's links name, in chain and seq order. */
function linkedObjects(fixture: ArchiveFixture): LinkedObject[] {
  const objects: LinkedObject[] = [];
  const chainsDir = join(fixture.root, "chains");
  for (const chain of readdirSync(chainsDir).sort((a, b) => Number(a) - Number(b))) {
    for (const name of readdirSync(join(chainsDir, chain)).sort()) {
      const linkKey = `chains/${chain}/${name}`;
      objects.push({ linkKey, batch: parseLink(readFileSync(join(fixture.root, linkKey))).batch });
    }
  }
  return objects;
}

function timeIt(work: () => void): number {
  const started = performance.now();
  work();
  return (performance.now() - started) / 1000;
}

/** Each object inflated (the verifier's own inflate) and its text hashed once: nothing else. */
/** Node's SHA-256 over each batch's text as one buffer: the hash alone, nothing else in the loop. */
function hashTexts(texts: Iterable<Buffer>): void {
  let sink = 0;
  for (const text of texts) sink ^= (sha256(text)[0] as number) ?? 0;
  if (sink === 256) throw new Error("unreachable");
}

/** `openssl dgst -sha256` over the files, `perCall` files per process, one process after another. */
async function opensslDigest(
  files: readonly string[],
  perCall: number,
): Promise<{ seconds: number; calls: number }> {
  let calls = 0;
  let lines = 0;
  const started = performance.now();
  for (let i = 0; i < files.length; i += perCall) {
    const { stdout } = await run("openssl", ["dgst", "-sha256", ...files.slice(i, i + perCall)], {
      maxBuffer: 64 * 1024 * 1024,
    });
    calls++;
    lines += stdout.split("\n").filter(Boolean).length;
  }
  const seconds = (performance.now() - started) / 1000;
  if (lines !== files.length) throw new Error(`openssl printed ${lines} digests for ${files.length} files`);
  return { seconds, calls };
}

/** bench/verify-runner.ts in its own process: `verify(arm)` times one verifyArchive over the fixture there. */
interface VerifyRunner {
  verify(arm: "oneCore" | "workers"): Promise<number>;
  stop(): Promise<void>;
}

async function startVerifyRunner(
  fixture: ArchiveFixture,
  workers: number,
  expected: { readonly events: number; readonly recordBytes: number },
): Promise<VerifyRunner> {
  const script = fileURLToPath(new URL("./verify-runner.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: {
      ...process.env,
      BENCH_VERIFY_ROOT: fixture.root,
      BENCH_VERIFY_TRUST: JSON.stringify(fixture.trustFile),
      BENCH_VERIFY_WORKERS: String(workers),
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`bench/verify-runner exited with ${code}`));
      child.once("exit", onExit);
      child.once("message", (message) => {
        child.off("exit", onExit);
        resolve(message);
      });
    });
  await next();
  return {
    async verify(arm) {
      const answer = next();
      child.send({ run: arm });
      const reply = (await answer) as VerifyRunReply;
      // A benchmark of a verifier that found something, or skipped something, measures nothing.
      if (!reply.ok || reply.errors.length > 0) {
        throw new Error(`the fixture does not verify: ${JSON.stringify(reply.errors)}`);
      }
      if (reply.events !== expected.events || reply.bytes !== expected.recordBytes) {
        throw new Error(
          `verified ${reply.events} events / ${reply.bytes} bytes, expected ${expected.events} / ${expected.recordBytes}`,
        );
      }
      return reply.seconds;
    },
    async stop() {
      child.disconnect();
      await exited;
    },
  };
}

export interface Breakdown {
  readonly batches: number;
  readonly events: number;
  /** checkBatch itself over the sample (in-process), for comparison with the sum of its stages. */
  readonly checkBatchMicrosPerEvent: number;
  /** checkBatch with `records: true` (`verify --records`): every line parsed. */
  readonly checkBatchRecordsMicrosPerEvent: number;
  /** The stages of the sealed-batch pass, the default. */
  readonly stages: ReadonlyArray<Stage>;
  /** What `--records` adds on top: each line decoded, parsed, validated and re-serialized. */
  readonly recordStages: ReadonlyArray<Stage>;
}

interface Stage {
  readonly stage: string;
  readonly microsPerEvent: number;
  /** Of the stages in its list. */
  readonly share: number;
}

/** Each stage over the whole sample on its own, best of three passes. */
function breakdownOf(fixture: ArchiveFixture, sample: readonly LinkedObject[]): Breakdown {
  const best = (work: () => void) => Math.min(timeIt(work), timeIt(work), timeIt(work));
  const paths = sample.map((object) => join(fixture.root, object.batch.key));
  let compressed: Buffer[] = [];
  let texts: Buffer[] = [];
  let lines: Buffer[][] = [];
  let strings: string[][] = [];
  let values: unknown[][] = [];
  let records: EventRecord[][] = [];
  const sink: unknown[] = [];
  const seconds: Record<string, number> = {
    "read (page cache)": best(() => {
      compressed = paths.map((path) => readFileSync(path));
    }),
    "sha256 object": best(() => {
      for (const bytes of compressed) sink.push(sha256Hex(bytes));
    }),
    "inflate (raw deflate, sized output)": best(() => {
      texts = compressed.map((bytes) => inflateSealedGzip(bytes) as Buffer);
    }),
    "split lines": best(() => {
      lines = texts.map(splitLines);
    }),
    // One hash call per line, as the pass makes (which hashes in place instead of copying the line).
    "leaf hashes": best(() => {
      for (const batch of lines) for (const line of batch) sink.push(leafHash(line));
    }),
    "merkle root": 0,
    "line prefixes (v, id, time)": best(() => {
      for (const batch of lines)
        for (const line of batch)
          sink.push(RECORD_PREFIX.exec(line.toString("latin1", 0, RECORD_PREFIX_BYTES)));
    }),
  };
  const leaves = lines.map((batch) => batch.map((line) => leafHash(line)));
  seconds["merkle root"] = best(() => {
    for (const batch of leaves) sink.push(merkleRoot(batch));
  });
  const recordSeconds: Record<string, number> = {
    "utf8 decode": best(() => {
      strings = lines.map((batch) => batch.map((line) => line.toString("utf8")));
    }),
    "JSON.parse": best(() => {
      values = strings.map((batch) => batch.map((text) => JSON.parse(text)));
    }),
    "zod schema": best(() => {
      records = values.map((batch) => batch.map((value) => EventRecordSchema.parse(value)));
    }),
    "canonical re-serialize + compare": best(() => {
      records.forEach((batch, b) => {
        batch.forEach((record, i) => {
          if (serializeRecord(record) !== strings[b]?.[i]) throw new Error("fixture line not canonical");
        });
      });
    }),
  };
  sink.length = 0;
  const events = lines.reduce((sum, batch) => sum + batch.length, 0);
  // The default's time is only the sealed-batch pass's if that pass accepts every batch by itself.
  sample.forEach((object, i) => {
    if (sealedBatchBytes(compressed[i] as Buffer, object.batch) === undefined) {
      throw new Error(`the sealed-batch pass did not accept ${object.batch.key}`);
    }
  });
  const timeCheckBatch = (withRecords: boolean) =>
    best(() => {
      sample.forEach((object, i) => {
        const result = checkBatch(compressed[i] as Buffer, object.batch, {
          keepEvents: false,
          records: withRecords,
        });
        if (result.problems.length > 0)
          throw new Error(`checkBatch found ${JSON.stringify(result.problems[0])}`);
      });
    });
  const perEvent = (s: number) => Number(((s * 1e6) / events).toFixed(2));
  const stagesOf = (timed: Record<string, number>): Stage[] => {
    const total = Object.values(timed).reduce((sum, s) => sum + s, 0);
    return Object.entries(timed).map(([stage, s]) => ({
      stage,
      microsPerEvent: perEvent(s),
      share: Number((s / total).toFixed(3)),
    }));
  };
  return {
    batches: sample.length,
    events,
    checkBatchMicrosPerEvent: perEvent(timeCheckBatch(false)),
    checkBatchRecordsMicrosPerEvent: perEvent(timeCheckBatch(true)),
    stages: stagesOf(seconds),
    recordStages: stagesOf(recordSeconds),
  };
}

function splitLines(text: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(0x0a, start);
    if (end < 0) end = text.length;
    lines.push(text.subarray(start, end));
    start = end + 1;
  }
  return lines;
}
