/**
 * `npm run bench`: every benchmark against a fresh emulator, printed and written to
 * bench/results.json. Numbers are measured side by side in one run; nothing here is a test.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { startDynamoDbLocal } from "../local/dynamodb-local";
import { startEmulator } from "../local/emulator";
import { benchBundles } from "./bundles";
import { benchClient } from "./client";
import { benchCost } from "./cost";
import { benchIngest } from "./ingest";
import { benchMerkle } from "./merkle";
import { benchPrivacy } from "./privacy";
import { benchQuery } from "./query";
import { benchRebuildIndex } from "./rebuild-index";
import { benchVerify } from "./verify";

// The handlers log every request through Powertools; a benchmark measures, it does not log.
process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";
// The ingest and query handlers publish their access metrics as EMF lines on stdout, the report's stream.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
const log = (line: string) => console.log(line);

async function benchQueryOnARealIndex(log: (line: string) => void, events: number) {
  if (emulator.target.endpoints?.dynamodb) {
    return benchQuery(emulator, log, { events, indexServer: emulator.target.endpoints.dynamodb });
  }
  const dynamoDbLocal = await startDynamoDbLocal({ log: (line) => console.error(line) });
  try {
    const target = {
      ...emulator.target,
      endpoints: { ...emulator.target.endpoints, dynamodb: dynamoDbLocal.endpoint },
    };
    return await benchQuery({ ...emulator, target }, log, { events, indexServer: "DynamoDB Local" });
  } finally {
    await dynamoDbLocal.stop();
  }
}
const emulator = await startEmulator({ log: (line) => console.error(line) });
try {
  const bundles = await benchBundles(emulator, log);
  const ingest = await benchIngest(emulator, log);
  // Ingest at batch 100 with privacy on against off, interleaved (issue 16).
  const privacy = await benchPrivacy(emulator, log);
  const verify = await benchVerify({ log });
  const merkle = await benchMerkle({ log });
  // Requests counted per event at batch 1, 10, 100, 1000, priced; a full verify from the fixture's counts.
  const cost = await benchCost(emulator, log, { verify });
  // 100,000 events by default; SEALTRAIL_BENCH_QUERY_EVENTS a comma-separated list of sizes (for
  // example 100000,1000000), each a fresh pair of indexes (format 2 and format 1). The index on
  // DynamoDB Local (moto answers a GSI Query by reading the whole table), unless
  // AWS_ENDPOINT_URL_DYNAMODB names one.
  const query = [];
  for (const events of (process.env.SEALTRAIL_BENCH_QUERY_EVENTS ?? "100000").split(",").map(Number)) {
    query.push(await benchQueryOnARealIndex(log, events));
  }
  // 100,000 events by default; SEALTRAIL_BENCH_REBUILD_EVENTS for a quicker look.
  const rebuildIndex = await benchRebuildIndex(emulator, log, {
    events: Number(process.env.SEALTRAIL_BENCH_REBUILD_EVENTS ?? 100_000),
  });
  // 9 paired rounds of 3 s per arm by default; SEALTRAIL_BENCH_CLIENT_SECONDS for a quicker look.
  const client = await benchClient(emulator, log, {
    seconds: Number(process.env.SEALTRAIL_BENCH_CLIENT_SECONDS ?? 3),
  });
  const results = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
    emulator: emulator.kind === "moto" ? "moto (started by the benchmark)" : emulator.endpoint,
    bundles,
    ingest,
    privacy,
    cost,
    verify,
    merkle,
    query,
    rebuildIndex,
    client,
  };
  mkdirSync("bench", { recursive: true });
  writeFileSync("bench/results.json", `${JSON.stringify(results, null, 2)}\n`);
  log("written: bench/results.json");
} finally {
  await emulator.stop();
}
