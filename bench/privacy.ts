/**
 * Privacy benchmark (issue 16): the ingest handler's time at batch 100 with privacy on against off,
 * interleaved round by round in one run on the same emulator. With privacy on the handler reads the
 * tenant's erasure epoch, uses the data keys it kept (a warm function: every subject recurs across
 * rounds) and seals the personal fields; the two actor mixes show what the number of data subjects in
 * a batch costs.
 * Separately, the pure sealing of the same 100 records (protectRecord, keys in hand) against the
 * handler's time with privacy off: what encrypting the fields itself costs.
 */
import { CreateKeyCommand } from "@aws-sdk/client-kms";
import { dynamoClient, kmsClient, s3Client } from "../lambda/aws/clients";
import { createArchiveBucket, createIndexTable } from "../lambda/aws/provision";
import { newDataKey } from "../lambda/core/privacy/field-cipher";
import { DEFAULT_PRIVACY_POLICY } from "../lambda/core/privacy/policy";
import { protectRecord } from "../lambda/core/privacy/protect";
import { buildRecord } from "../lambda/core/record";
import type { EventRecord } from "../lambda/core/schema";
import { createIngestHandler } from "../lambda/handlers/ingest";
import {
  DEFAULT_ERASE_SCOPE,
  DEFAULT_ERASURE_HORIZON_DAYS,
  type SealtrailConfig,
} from "../lambda/runtime/config";
import type { Emulator } from "../local/emulator";
import { postEventsEvent } from "../test/support/api-event";
import { testPrincipal } from "../test/support/principal";
import { benchConfig, median } from "./ingest";

const BATCH = 100;

export interface PrivacyBenchResult {
  /** Distinct actors (data subjects) in each batch of 100. */
  readonly subjectsPerBatch: number;
  readonly rounds: number;
  readonly offMedianMs: number;
  readonly onMedianMs: number;
  /** (on - off) / on: the share of the privacy-on handler's time that privacy adds. */
  readonly privacyShareOfHandler: number;
  /** Median time to seal the batch's 100 records with the keys in hand (no I/O). */
  readonly sealOnlyMedianMs: number;
  /** sealOnly / on: the share of the handler's time that encrypting the fields itself takes. */
  readonly sealShareOfHandler: number;
}

/** An access-log batch: each request by one of `subjects` users, with an IP, a user agent and details. */
function eventsOf(subjects: number, round: number) {
  return Array.from({ length: BATCH }, (_, i) => ({
    action: "http.request",
    outcome: "success" as const,
    actor: { sub: `user-${i % subjects}`, iss: "https://idp.bench", session_id: `s-${i % subjects}` },
    resource: { type: "document", id: `${round}-${i}` },
    http: {
      request_id: `req-${round}-${i}`,
      method: "GET",
      endpoint: `/docs/${round}-${i}`,
      route: "/docs/:id",
      status: 200,
      duration_ms: 3.5,
      source_ip: `192.0.2.${i % subjects}`,
      user_agent: "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
    },
    details: { reason: "benchmark", n: i },
  }));
}

async function archiveFor(emulator: Emulator, name: string): Promise<SealtrailConfig> {
  const suffix = `${name}-${Date.now()}`;
  const bucket = `sealtrail-bench-${suffix}`;
  const table = `sealtrail-bench-${suffix}`;
  await createArchiveBucket(s3Client(emulator.target), bucket);
  await createIndexTable(dynamoClient(emulator.target), table);
  return benchConfig(emulator.target, bucket, table);
}

/** The pure sealing of one batch's records (keys in hand): what encryption alone costs. */
function sealOnlyTimer(subjects: number) {
  const tenantKey = Buffer.alloc(32, 7);
  const keys = Array.from({ length: subjects }, (_, i) => ({
    subject: `sub1.bench-${i}`,
    generation: 1,
    key: newDataKey(),
  }));
  return (round: number) => {
    const records: EventRecord[] = eventsOf(subjects, round).map((event, i) =>
      buildRecord(event, {
        id: `01JPRIV${String(round).padStart(9, "0")}${String(i).padStart(10, "0")}`,
        time: new Date().toISOString(),
        reporter: testPrincipal({ sub: "bench" }),
        tenant: "default",
        ingest: { request_id: "r", source_ip: null, user_agent: null },
      }),
    );
    const started = performance.now();
    for (const [i, record] of records.entries())
      protectRecord(record, DEFAULT_PRIVACY_POLICY, tenantKey, keys[i % subjects] as (typeof keys)[number]);
    return performance.now() - started;
  };
}

export async function benchPrivacy(
  emulator: Emulator,
  log: (line: string) => void,
  options: { rounds?: number } = {},
): Promise<PrivacyBenchResult[]> {
  const rounds = options.rounds ?? 40;
  const kms = kmsClient(emulator.target);
  const wrap = await kms.send(
    new CreateKeyCommand({ KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT" }),
  );
  const mac = await kms.send(new CreateKeyCommand({ KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC" }));
  const results: PrivacyBenchResult[] = [];
  for (const subjects of [5, 50]) {
    const off = createIngestHandler(await archiveFor(emulator, `privacy-off-${subjects}`));
    const on = createIngestHandler(
      {
        ...(await archiveFor(emulator, `privacy-on-${subjects}`)),
        privacy: {
          policy: DEFAULT_PRIVACY_POLICY,
          wrapKeyId: wrap.KeyMetadata?.KeyId,
          pseudonymKeyId: mac.KeyMetadata?.KeyId,
          eraseScope: DEFAULT_ERASE_SCOPE,
          erasureHorizonDays: DEFAULT_ERASURE_HORIZON_DAYS,
        },
      },
      { kms },
    );
    const sealOnly = sealOnlyTimer(subjects);
    const timed = async (ingest: typeof on, round: number) => {
      const event = postEventsEvent({ body: { events: eventsOf(subjects, round) } });
      const started = performance.now();
      const result = await ingest(event);
      const elapsed = performance.now() - started;
      if (result.statusCode !== 201) throw new Error(`ingest failed: ${result.body}`);
      return elapsed;
    };
    // Warm-up: connections, JIT, leases, and every subject's data key created once.
    for (let i = 0; i < 3; i++) {
      await timed(off, -i - 1);
      await timed(on, -i - 1);
      sealOnly(-i - 1);
    }
    const offTimes: number[] = [];
    const onTimes: number[] = [];
    const sealTimes: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which arm goes first, so neither always runs on a warmer emulator.
      if (round % 2 === 0) {
        offTimes.push(await timed(off, round));
        onTimes.push(await timed(on, round));
      } else {
        onTimes.push(await timed(on, round));
        offTimes.push(await timed(off, round));
      }
      sealTimes.push(sealOnly(round));
    }
    const offMs = median(offTimes);
    const onMs = median(onTimes);
    const sealMs = median(sealTimes);
    const result: PrivacyBenchResult = {
      subjectsPerBatch: subjects,
      rounds,
      offMedianMs: Number(offMs.toFixed(2)),
      onMedianMs: Number(onMs.toFixed(2)),
      privacyShareOfHandler: Number(((onMs - offMs) / onMs).toFixed(3)),
      sealOnlyMedianMs: Number(sealMs.toFixed(2)),
      sealShareOfHandler: Number((sealMs / onMs).toFixed(3)),
    };
    log(
      `privacy at batch ${BATCH}, ${String(subjects).padStart(2)} subjects: handler off ${result.offMedianMs} ms, ` +
        `on ${result.onMedianMs} ms (privacy ${(result.privacyShareOfHandler * 100).toFixed(1)}% of the handler); ` +
        `sealing alone ${result.sealOnlyMedianMs} ms (${(result.sealShareOfHandler * 100).toFixed(1)}%)`,
    );
    results.push(result);
  }
  return results;
}
