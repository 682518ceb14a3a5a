/**
 * The client against local mode through a proxy that drops connections (before the request reaches
 * sealtrail, and after sealtrail sealed it, so the answer is lost), answers 503 and 429 with
 * `Retry-After`, delays, and holds a request past the client's timeout before passing it on (a late
 * duplicate), on a seeded schedule. After `flush()` every recorded event is in the
 * archive exactly once (counted in the batch objects the current links name, and in the index), a
 * retried request got the first receipt back instead of sealing again, the client's stats add up, and
 * the archive verifies.
 * FAULT_SEED=<n> runs another schedule; a failure names the seed.
 */
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditClient, createAuditClient, type Receipt } from "../../../client/src/index";
import { S3ArchiveSource } from "../../../lambda/aws/archive-source";
import { parseLink } from "../../../lambda/core/link";
import { CHAINS_PREFIX } from "../../../lambda/core/paths";
import { type EventRecord, EventRecordSchema } from "../../../lambda/core/schema";
import { verifyArchive } from "../../../lambda/verify/verifier";
import { objectVersions, readBatchLines, readObject } from "../../support/archive-state";
import {
  FAILING_FAULTS,
  type FaultProxy,
  PROXY_FAULTS,
  type ProxyFault,
  startFaultProxy,
  type UpstreamAnswer,
} from "../../support/fault-proxy";
import { type LocalSealtrail, startLocalSealtrail } from "./middleware-local";

const SEED = Number(process.env.FAULT_SEED ?? 20261211);
const RECORDED = 100;
const RECORDED_NOW = 4;
const ACTION = "fault.probe";
const IDEMPOTENCY_HEADER = "idempotency-key";
/** A stalled request is held past the client's timeout, so the client has retried when it goes on. */
const REQUEST_TIMEOUT_MS = 3000;
const STALL_MS = REQUEST_TIMEOUT_MS + 800;

/**
 * Every fault once, in a seeded order (so each is met whatever the seed), then a seeded mix in which
 * most requests get through. A `throttle_1` or a `stall` costs seconds of real waiting: they are rare.
 */
function faultSchedule(seed: number): ProxyFault[] {
  const faults = PROXY_FAULTS.filter((fault) => fault !== "forward");
  const weighted = (fault: ProxyFault, weight: number) => ({ arbitrary: fc.constant(fault), weight });
  const [opening, mix] = fc.sample(
    fc.tuple(
      fc.shuffledSubarray(faults, { minLength: faults.length, maxLength: faults.length }),
      fc.array(
        fc.oneof(
          weighted("forward", 8),
          weighted("delay", 2),
          weighted("stall", 1),
          weighted("drop_before", 2),
          weighted("drop_after", 2),
          weighted("unavailable", 2),
          weighted("throttle_0", 2),
          weighted("throttle_1", 1),
        ),
        { minLength: 40, maxLength: 40 },
      ),
    ),
    { seed, numRuns: 1 },
  )[0] as [ProxyFault[], ProxyFault[]];
  return [...opening, ...mix];
}

/** The client's jitter, seeded too. */
function seededRandom(seed: number): () => number {
  const values = fc.sample(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
    seed,
    numRuns: 1000,
  });
  let next = 0;
  return () => values[next++ % values.length] as number;
}

const probe = (n: number) => ({
  action: ACTION,
  outcome: "success" as const,
  resource: { type: "probe", id: `probe-${n}` },
  details: { probe: n },
});
const ALL_PROBES = Array.from({ length: RECORDED + RECORDED_NOW }, (_, n) => `probe-${n}`);

/** The records of the batch objects that the current links name: what the archive acknowledges. */
async function linkedRecords(sealtrail: LocalSealtrail): Promise<EventRecord[]> {
  const { archive } = sealtrail;
  const linkKeys: string[] = [];
  let token: string | undefined;
  do {
    const page = await archive.s3.send(
      new ListObjectsV2Command({ Bucket: archive.bucket, Prefix: CHAINS_PREFIX, ContinuationToken: token }),
    );
    linkKeys.push(...(page.Contents ?? []).map((object) => object.Key as string));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const batches = await Promise.all(
    linkKeys.map(async (key) => {
      const link = parseLink(await readObject(archive, key));
      const lines = await readBatchLines(archive, link.batch.key);
      return lines.map((line) => EventRecordSchema.parse(JSON.parse(line)));
    }),
  );
  return batches.flat();
}

/** How often each probe occurs, as `{ missing, duplicated }` so that a failure names them. */
function tally(probes: ReadonlyArray<string | undefined>): { missing: string[]; duplicated: string[] } {
  const counts = new Map<string, number>();
  for (const probe of probes) if (probe) counts.set(probe, (counts.get(probe) ?? 0) + 1);
  return {
    missing: ALL_PROBES.filter((probe) => !counts.has(probe)),
    duplicated: [...counts].filter(([, count]) => count > 1).map(([probe]) => probe),
  };
}

describe(`the client through connection drops, 503, 429 and delays (seed ${SEED})`, () => {
  let sealtrail: LocalSealtrail;
  let proxy: FaultProxy;
  let client: AuditClient;
  let receiptsNow: Receipt[];

  beforeAll(async () => {
    sealtrail = await startLocalSealtrail();
    proxy = await startFaultProxy({
      target: sealtrail.server.url,
      schedule: faultSchedule(SEED),
      keyHeader: IDEMPOTENCY_HEADER,
      maxFaultsPerKey: 3,
      delayMs: 50,
      stallMs: STALL_MS,
    });
    client = createAuditClient({
      url: proxy.url,
      token: await sealtrail.writeToken(),
      maxBatchEvents: 8,
      maxBatchDelayMs: 5,
      maxConcurrentBatches: 3,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      // The proxy lets a batch through after 3 faults; the rest is headroom for a loaded machine.
      retry: { maxAttempts: 10, baseDelayMs: 5, maxDelayMs: 50, maxElapsedMs: 60_000 },
      random: seededRandom(SEED),
      logger: { warn: () => {}, error: () => {} },
    });

    const now = Array.from({ length: RECORDED_NOW }, (_, n) => client.recordNow(probe(RECORDED + n)));
    for (let n = 0; n < RECORDED; n++) client.record(probe(n));
    receiptsNow = await Promise.all(now);
    await client.flush();
    // A stalled request reaches sealtrail after its client gave up: wait for its answer too.
    await proxy.idle();
  });

  afterAll(async () => {
    await client?.shutdown({ timeoutMs: 1000 });
    await proxy?.close();
    await sealtrail?.close();
  });

  it("met every fault of the schedule on the way", () => {
    const met = new Set(proxy.log.map((request) => request.fault));

    expect([...met].sort()).toEqual([...PROXY_FAULTS].sort());
  });

  it("has every recorded event in the archive exactly once", async () => {
    const probes = (await linkedRecords(sealtrail)).filter((record) => record.action === ACTION);

    expect(tally(probes.map((record) => record.resource?.id))).toEqual({ missing: [], duplicated: [] });
    expect(probes).toHaveLength(ALL_PROBES.length);
    // Sealed once each: no link was written twice either.
    const links = await objectVersions(sealtrail.archive, CHAINS_PREFIX);
    expect(new Set(links).size).toBe(links.length);
  });

  it("answers every request of a sealed batch with its first receipt: a retry never seals again", async () => {
    /** sealtrail's 201 answers per Idempotency-Key, in the order sealtrail gave them. */
    const sealedAnswers = new Map<string, UpstreamAnswer[]>();
    for (const { key, upstream } of proxy.log) {
      if (key && upstream?.status === 201)
        sealedAnswers.set(key, [...(sealedAnswers.get(key) ?? []), upstream]);
    }
    for (const answers of sealedAnswers.values()) answers.sort((a, b) => a.order - b.order);
    const replayed = (answer: UpstreamAnswer) => answer.headers["idempotent-replayed"] === "true";
    for (const [first, ...later] of sealedAnswers.values()) {
      expect(replayed(first as UpstreamAnswer)).toBe(false);
      for (const answer of later)
        expect({ body: answer.body, replayed: replayed(answer) }).toEqual({
          body: first?.body,
          replayed: true,
        });
    }
    // Each answer lost after sealing was given again to a retry. A stalled duplicate reached sealtrail
    // after its client had retried: it got the receipt again, or a 409 (retry later) while the retry
    // was being sealed, and its client was no longer waiting. A lost request can meet that 409 too.
    const lost = proxy.log.filter((request) => request.fault === "drop_after");
    const stalled = proxy.log.filter((request) => request.fault === "stall");
    for (const request of [...lost, ...stalled]) expect([201, 409]).toContain(request.upstream?.status);
    const lostSealed = lost.filter((request) => request.upstream?.status === 201);
    expect(lostSealed.length).toBeGreaterThan(0);
    expect(lostSealed.map((request) => sealedAnswers.get(request.key as string)?.length)).not.toContain(1);

    // The ids of the receipts are exactly the probes' records, the recordNow ones among them.
    const receiptIds = [...sealedAnswers.values()].flatMap(
      ([first]) => (JSON.parse(first?.body as string) as Receipt).ids,
    );
    const records = (await linkedRecords(sealtrail)).filter((record) => record.action === ACTION);
    expect(receiptIds.sort()).toEqual(records.map((record) => record.id).sort());
    const probeOf = new Map(records.map((record) => [record.id, record.resource?.id]));
    expect(receiptsNow.map((receipt) => receipt.ids.map((id) => probeOf.get(id)))).toEqual(
      Array.from({ length: RECORDED_NOW }, (_, n) => [`probe-${RECORDED + n}`]),
    );
  });

  it("counts every event sealed, none dropped, and a retry for each fault met", () => {
    const failedRequests = proxy.log.filter((request) => FAILING_FAULTS.has(request.fault)).length;

    expect(client.stats()).toMatchObject({
      queued: 0,
      sent: ALL_PROBES.length,
      sealed: ALL_PROBES.length,
      dropped: 0,
      rejected: 0,
    });
    expect(client.stats().retried).toBeGreaterThanOrEqual(failedRequests);
    expect(failedRequests).toBeGreaterThan(0);
  });

  it("verifies after a checkpoint", async () => {
    expect(await sealtrail.signer.run()).toMatchObject({ status: "signed" });

    const report = await verifyArchive({
      source: new S3ArchiveSource(sealtrail.archive.s3, sealtrail.archive.bucket),
      trusted: sealtrail.signer.trusted,
    });

    expect(report.findings).toEqual([]);
    expect(report).toMatchObject({ ok: true, outcome: "verified" });
  });

  it("finds every event in the index exactly once", async () => {
    const indexed = await sealtrail.search({ action: ACTION });

    expect(tally(indexed.map((record) => record.resource?.id))).toEqual({ missing: [], duplicated: [] });
    expect(indexed).toHaveLength(ALL_PROBES.length);
  });
});
