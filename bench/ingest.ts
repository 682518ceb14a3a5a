/**
 * Ingest benchmark against the emulator: throughput (events/s) at batch sizes 1, 100 and 1000,
 * and the ratio of the handler's time to the raw SDK calls it makes (the same data put, link put,
 * pointer batch writes, marker and hint) issued directly, measured interleaved in the same run.
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { BatchWriteCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type AwsTarget, dynamoClient, s3Client } from "../lambda/aws/clients";
import { documentClient } from "../lambda/aws/index-store";
import { createArchiveBucket, createIndexTable } from "../lambda/aws/provision";
import { checksumSha256Base64, linkBatchOf, sealBatch } from "../lambda/core/batch";
import { eventPointerItem, headHintKey, indexedMarkerKey } from "../lambda/core/index-items";
import { linkHash, serializeLink } from "../lambda/core/link";
import { linkKey } from "../lambda/core/paths";
import { buildRecord } from "../lambda/core/record";
import { createIngestHandler } from "../lambda/handlers/ingest";
import { DEFAULT_SCOPES, type SealtrailConfig } from "../lambda/runtime/config";
import type { Emulator } from "../local/emulator";
import { postEventsEvent } from "../test/support/api-event";

export interface IngestBenchResult {
  readonly batchSize: number;
  readonly requests: number;
  readonly eventsPerSecond: number;
  readonly handlerMedianMs: number;
  readonly rawSdkMedianMs: number;
  /** handler time / raw SDK time, medians of interleaved rounds. */
  readonly ratio: number;
}

/** The configuration every benchmark's handlers run with: two chains, the default scopes, no issuers. */
export function benchConfig(target: AwsTarget, bucket: string, table: string): SealtrailConfig {
  return {
    bucket,
    table,
    chains: 2,
    scopes: DEFAULT_SCOPES,
    subjectIssuers: [],
    leaseSeconds: 300,
    aws: target,
  };
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

function eventsOf(batchSize: number, round: number) {
  return Array.from({ length: batchSize }, (_, i) => ({
    action: "document.read",
    outcome: "success" as const,
    actor: { sub: `user-${i % 50}`, session_id: `s-${i % 7}` },
    resource: { type: "document", id: `${round}-${i}` },
    http: { request_id: `req-${round}-${i}`, method: "GET", endpoint: "/docs/{id}", status: 200 },
    details: { reason: "benchmark", n: i },
  }));
}

export async function benchIngest(
  emulator: Emulator,
  log: (line: string) => void,
): Promise<IngestBenchResult[]> {
  const target = emulator.target;
  const s3 = s3Client(target);
  const dynamo = dynamoClient(target);
  const doc = documentClient(dynamo);
  const results: IngestBenchResult[] = [];
  const plan = [
    { batchSize: 1, requests: 200 },
    { batchSize: 100, requests: 60 },
    { batchSize: 1000, requests: 12 },
  ];
  for (const { batchSize, requests } of plan) {
    const suffix = `${batchSize}-${Date.now()}`;
    const bucket = `sealtrail-bench-${suffix}`;
    const table = `sealtrail-bench-${suffix}`;
    await createArchiveBucket(s3, bucket);
    await createIndexTable(dynamo, table);
    const config = benchConfig(target, bucket, table);
    const ingest = createIngestHandler(config);
    // Warm up both paths (connections, JIT, lease).
    for (let i = 0; i < 3; i++)
      await ingest(postEventsEvent({ body: { events: eventsOf(batchSize, -i - 1) } }));

    // The raw baseline writes its own chain "1000" (the handler uses 0 and 1): same calls, same sizes.
    let rawSeq = 0;
    let rawPrev = "0".repeat(64);
    const raw = async (round: number) => {
      const receivedAt = new Date();
      const records = eventsOf(batchSize, round).map((event, i) =>
        buildRecord(event, {
          id: `01JRAW${String(round).padStart(10, "0")}${String(i).padStart(10, "0")}`,
          time: receivedAt.toISOString(),
          reporter: {
            sub: "bench",
            iss: null,
            session_id: null,
            token_id: null,
            token_exp: null,
            token_iat: null,
            client_id: null,
            azp: null,
            aud: [],
            roles: [],
            scopes: [],
            verified: true,
          },
          tenant: "default",
          ingest: { request_id: "r", source_ip: null, user_agent: null },
        }),
      );
      const batch = sealBatch(records, receivedAt);
      const started = performance.now();
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: batch.key,
          Body: batch.bytes,
          IfNoneMatch: "*",
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: checksumSha256Base64(batch.bytes),
        }),
      );
      const bytes = serializeLink({
        v: 1,
        chain: "1000",
        seq: rawSeq,
        prev: rawPrev,
        time: receivedAt.toISOString(),
        batch: linkBatchOf(batch),
      });
      const key = linkKey("1000", rawSeq);
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: bytes,
          IfNoneMatch: "*",
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: checksumSha256Base64(bytes),
        }),
      );
      const hash = linkHash(bytes);
      const items = records.map((record, leafIndex) =>
        eventPointerItem(record, {
          chain: "1000",
          seq: rawSeq,
          linkKey: key,
          linkHash: hash,
          batchKey: batch.key,
          leafIndex,
          leafHash: batch.leafHashes[leafIndex] as string,
        }),
      );
      const chunks = [];
      for (let i = 0; i < items.length; i += 25) chunks.push(items.slice(i, i + 25));
      await Promise.all(
        chunks.map((chunk) =>
          doc.send(
            new BatchWriteCommand({
              RequestItems: { [table]: chunk.map((Item) => ({ PutRequest: { Item } })) },
            }),
          ),
        ),
      );
      await doc.send(
        new PutCommand({
          TableName: table,
          Item: { ...indexedMarkerKey("1000", rawSeq), chain: "1000", seq: rawSeq, link_hash: hash },
        }),
      );
      await doc.send(
        new UpdateCommand({
          TableName: table,
          Key: headHintKey("1000"),
          UpdateExpression: "SET seq = :s, link_hash = :h",
          ExpressionAttributeValues: { ":s": rawSeq, ":h": hash },
        }),
      );
      rawSeq++;
      rawPrev = hash;
      return performance.now() - started;
    };

    const handlerTimes: number[] = [];
    const rawTimes: number[] = [];
    let totalHandlerMs = 0;
    for (let round = 0; round < requests; round++) {
      // The handler's time includes building the API Gateway event's body parse, validation, sealing.
      const event = postEventsEvent({ body: { events: eventsOf(batchSize, round) } });
      const started = performance.now();
      const result = await ingest(event);
      const elapsed = performance.now() - started;
      if (result.statusCode !== 201) throw new Error(`ingest failed: ${result.body}`);
      handlerTimes.push(elapsed);
      totalHandlerMs += elapsed;
      rawTimes.push(await raw(round));
    }
    const result: IngestBenchResult = {
      batchSize,
      requests,
      eventsPerSecond: Math.round((batchSize * requests) / (totalHandlerMs / 1000)),
      handlerMedianMs: Number(median(handlerTimes).toFixed(2)),
      rawSdkMedianMs: Number(median(rawTimes).toFixed(2)),
      ratio: Number((median(handlerTimes) / median(rawTimes)).toFixed(3)),
    };
    log(
      `ingest batch ${String(batchSize).padStart(4)}: ${String(result.eventsPerSecond).padStart(7)} events/s (one writer), ` +
        `handler ${result.handlerMedianMs} ms vs raw SDK ${result.rawSdkMedianMs} ms per batch → ratio ${result.ratio}`,
    );
    results.push(result);
  }
  return results;
}
