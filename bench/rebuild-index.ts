/**
 * rebuild-index benchmark against the emulator: events/s of `rebuildIndex` (the CLI's service) on an
 * archive of `events` (default 100,000, in batches of 1000 as the query benchmark's index fixture),
 * against the ingest path's own index writes for the same events in the same run.
 *
 * The archive is the bench's archive fixture (bench/archive-fixture.ts: realistic records, real links),
 * uploaded to an emulator bucket untimed. Then, each into a fresh table:
 * - ingest arm: indexLinkedBatch for every link, as the write path calls it right after writing the link,
 *   with the records and leaf hashes already in memory (parsed untimed beforehand); one writer per chain,
 *   as each Lambda environment leases one chain.
 * - rebuild arm: rebuildIndex over the bucket with one chain per worker (--concurrency = chains): it
 *   also lists the links, reads each link and its data object, and checks hash, count and Merkle root.
 * Each arm runs twice, A B B A, each time into a fresh table; the ratio of their mean times is what
 * rebuilding from the bucket costs over writing the same items at ingest.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { gunzipSync } from "node:zlib";
import { S3ArchiveSource } from "../lambda/aws/archive-source";
import { dynamoClient, s3Client } from "../lambda/aws/clients";
import { documentClient, IndexStore } from "../lambda/aws/index-store";
import { S3ObjectStore } from "../lambda/aws/object-store";
import { createArchiveBucket, createIndexTable } from "../lambda/aws/provision";
import { DynamoRebuildStateStore } from "../lambda/aws/rebuild-state-store";
import { linkHash, parseLink } from "../lambda/core/link";
import { leafHash } from "../lambda/core/merkle";
import { CHAINS_PREFIX, parseLinkKey } from "../lambda/core/paths";
import type { EventRecord } from "../lambda/core/schema";
import { indexLinkedBatch, type LinkedBatch } from "../lambda/ingest/indexer";
import { rebuildIndex } from "../lambda/ingest/rebuild-index";
import type { Emulator } from "../local/emulator";
import { fixtureDirFor, writeArchiveFixture } from "./archive-fixture";

export interface RebuildBenchOptions {
  /** Events in the archive. @default 100_000 */
  readonly events?: number;
  /** Events per batch. @default 1000 (the query benchmark's fixture) */
  readonly batchSize?: number;
  /** Chains, each indexed by its own writer in both arms. @default 4 */
  readonly chains?: number;
}

export interface RebuildArmResult {
  readonly seconds: number;
  readonly eventsPerSecond: number;
}

export interface RebuildBenchResult {
  readonly method: string;
  readonly events: number;
  readonly links: number;
  readonly chains: number;
  readonly uploadSeconds: number;
  readonly ingestIndexWrites: RebuildArmResult;
  readonly rebuildIndex: RebuildArmResult;
  /** rebuild-index time / ingest-path index write time for the same events. */
  readonly ratio: number;
}

const UPLOADERS = 8;

/** Every file under `root` as an S3 key (the fixture is a bucket copy: same keys as files). */
function keysUnder(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? keysUnder(root, path) : [relative(root, path).split(sep).join("/")];
  });
}

async function inParallel<T>(items: readonly T[], workers: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(workers, items.length)) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** What the write path holds in memory when it indexes a link: parsed from the fixture, untimed. */
function linkedBatches(root: string, linkKeys: readonly string[]): LinkedBatch[] {
  return linkKeys.map((key) => {
    const bytes = readFileSync(join(root, key));
    const link = parseLink(bytes);
    const lines = gunzipSync(readFileSync(join(root, link.batch.key)))
      .toString("utf8")
      .split("\n");
    lines.pop();
    return {
      chain: link.chain,
      seq: link.seq,
      linkKey: key,
      linkHash: linkHash(bytes),
      batchKey: link.batch.key,
      records: lines.map((line) => JSON.parse(line) as EventRecord),
      leafHashes: lines.map((line) => leafHash(Buffer.from(line, "utf8")).toString("hex")),
    };
  });
}

const armResult = (events: number, ms: number): RebuildArmResult => ({
  seconds: Number((ms / 1000).toFixed(2)),
  eventsPerSecond: Math.round(events / (ms / 1000)),
});

export async function benchRebuildIndex(
  emulator: Emulator,
  log: (line: string) => void,
  options: RebuildBenchOptions = {},
): Promise<RebuildBenchResult> {
  const fixtureOptions = {
    events: options.events ?? 100_000,
    batchSize: options.batchSize ?? 1000,
    chains: options.chains ?? 4,
    checkpoints: 1,
  };
  const fixture = await writeArchiveFixture(fixtureDirFor(fixtureOptions), fixtureOptions);
  const target = emulator.target;
  const s3 = s3Client(target);
  const dynamo = dynamoClient(target);
  const doc = documentClient(dynamo);
  const suffix = `rebuild-${Date.now()}`;
  const bucket = `sealtrail-bench-${suffix}`;
  await createArchiveBucket(s3, bucket);
  const objects = new S3ObjectStore(s3, bucket);

  const uploadStarted = performance.now();
  const keys = keysUnder(fixture.root);
  await inParallel(keys, UPLOADERS, async (key) => {
    await objects.putIfAbsent(key, readFileSync(join(fixture.root, key)), "application/octet-stream");
  });
  const uploadSeconds = Number(((performance.now() - uploadStarted) / 1000).toFixed(1));
  const linkKeys = keys.filter((key) => parseLinkKey(key) !== undefined).sort();
  log(
    `rebuild-index bench: ${fixture.events} events, ${linkKeys.length} links uploaded in ${uploadSeconds} s`,
  );

  // What the write path holds in memory when it indexes: parsed once, untimed.
  const batches = linkedBatches(fixture.root, linkKeys);
  const byChain = new Map<string, LinkedBatch[]>();
  for (const batch of batches) byChain.set(batch.chain, [...(byChain.get(batch.chain) ?? []), batch]);
  let tables = 0;
  const freshIndex = async () => {
    const table = `sealtrail-bench-${suffix}-${tables++}`;
    await createIndexTable(dynamo, table);
    return { table, index: new IndexStore(doc, table) };
  };

  // Ingest arm: the write path's own index writes, one writer per chain, links in seq order.
  const ingestArm = async (): Promise<number> => {
    const { index } = await freshIndex();
    const started = performance.now();
    await inParallel([...byChain.values()], byChain.size, async (chainBatches) => {
      for (const batch of chainBatches) await indexLinkedBatch(index, batch);
    });
    return performance.now() - started;
  };
  // Rebuild arm: from the bucket alone, into an empty table, as the CLI runs it.
  const rebuildArm = async (): Promise<number> => {
    const { table, index } = await freshIndex();
    const started = performance.now();
    const result = await rebuildIndex({
      objects,
      index,
      state: new DynamoRebuildStateStore(doc, table),
      bucket,
      listChains: () => new S3ArchiveSource(s3, bucket).listChildren(CHAINS_PREFIX),
      concurrency: fixture.chains,
    });
    const ms = performance.now() - started;
    if (!result.complete || result.eventsIndexed !== fixture.events) {
      throw new Error(`rebuild-index bench: rebuilt ${result.eventsIndexed} of ${fixture.events} events`);
    }
    return ms;
  };

  // A B B A, each on a fresh table, so that neither arm gains from going first or last.
  const times = { ingest: [] as number[], rebuild: [] as number[] };
  for (const arm of ["ingest", "rebuild", "rebuild", "ingest"] as const) {
    const ms = await (arm === "ingest" ? ingestArm() : rebuildArm());
    times[arm].push(ms);
    log(`rebuild-index bench: ${arm} ${armResult(fixture.events, ms).eventsPerSecond} events/s`);
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const ingest = armResult(fixture.events, mean(times.ingest));
  const rebuilt = armResult(fixture.events, mean(times.rebuild));

  return {
    method:
      "the archive fixture uploaded to the emulator; the same events indexed by the write path's " +
      "indexLinkedBatch (records in memory, one writer per chain) and by rebuildIndex from the bucket " +
      "(one chain per worker), each into a fresh table, in the order A B B A; mean time per arm",
    events: fixture.events,
    links: linkKeys.length,
    chains: fixture.chains,
    uploadSeconds,
    ingestIndexWrites: ingest,
    rebuildIndex: rebuilt,
    ratio: Number((rebuilt.seconds / ingest.seconds).toFixed(2)),
  };
}
