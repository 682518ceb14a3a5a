/**
 * Lambda bundle size and cold start (issue 15): each handler bundled exactly as `cdk synth` bundles it
 * (lib/function.ts HANDLER_ESBUILD_OPTIONS; test/infra/bundling.test.ts holds the two to the same
 * code), its bytes, and in a fresh `node` process per handler and round:
 * - module init: from `import()` of the bundle to its module being evaluated;
 * - first invocation: from then to the handler's first answer, with the environment the stack gives
 *   the function pointed at the emulator (config parsed, clients made, the AWS calls of one minimal
 *   valid event: one event posted, one listing, one reindex, checkpoint and verifier run).
 * Rounds visit the handlers in turn, so the machine's drift falls on all of them alike; the median
 * over rounds is reported. Targets: at most 500 KB and 150 ms of init.
 *
 * Outside Lambda the Tracer is off (no AWS_EXECUTION_ENV), so neither time includes X-Ray's work, and
 * the emulator answers on loopback: a first invocation in AWS adds the network and KMS/S3's latency.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CreateKeyCommand, GetPublicKeyCommand } from "@aws-sdk/client-kms";
import { build } from "esbuild";
import { dynamoClient, kmsClient, s3Client } from "../lambda/aws/clients";
import { createArchiveBucket, createIndexTable, createStateBucket } from "../lambda/aws/provision";
import { CHECKPOINT_ENV } from "../lambda/checkpoint/config";
import { ENV } from "../lambda/runtime/config";
import { VERIFIER_ENV } from "../lambda/verify/scheduled-config";
import { HANDLER_ESBUILD_OPTIONS } from "../lib/function";
import { type Emulator, serviceEndpointVariables } from "../local/emulator";
import { postEventsEvent } from "../test/support/api-event";
import { queryEvent } from "../test/support/query-event";

const run = promisify(execFile);

export interface HandlerBundleResult {
  /** The minified bundle (index.mjs), without its source map. */
  readonly bytes: number;
  /** Module init, median of the rounds, and each round's. */
  readonly initMs: number;
  readonly initMsPerRound: number[];
  /** The first invocation after init against the emulator, median of the rounds, and each round's. */
  readonly firstInvocationMs: number;
  readonly firstInvocationMsPerRound: number[];
  /** What the first invocation answered: the HTTP status, or the job's status or outcome. */
  readonly firstInvocationAnswer: string;
}

export interface BundleBenchResult {
  readonly rounds: number;
  /** By handler module name (lambda/handlers/<name>.ts). */
  readonly handlers: Record<string, HandlerBundleResult>;
  readonly targets: { readonly bytes: 500_000; readonly initMs: 150 };
}

const HANDLERS = fileURLToPath(new URL("../lambda/handlers/", import.meta.url));
const OUT = fileURLToPath(new URL("../node_modules/.cache/sealtrail-bench/handlers/", import.meta.url));

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** A handler's deployment environment (as the stack sets it, pointed at the emulator) and its event. */
interface Invocation {
  readonly env: Record<string, string>;
  readonly event: unknown;
}

/** The resources every handler's first invocation reads and writes, made once in the emulator. */
async function provision(emulator: Emulator): Promise<Record<string, Invocation>> {
  const target = emulator.target;
  const s3 = s3Client(target);
  const suffix = Date.now();
  const bucket = `sealtrail-bench-bundles-${suffix}`;
  const table = `sealtrail-bench-bundles-${suffix}`;
  const checkpointState = `sealtrail-bench-bundles-cp-${suffix}`;
  const verifierState = `sealtrail-bench-bundles-vs-${suffix}`;
  await createArchiveBucket(s3, bucket);
  await createStateBucket(s3, checkpointState);
  await createStateBucket(s3, verifierState);
  await createIndexTable(dynamoClient(target), table);
  const kms = kmsClient(target);
  const { KeyMetadata } = await kms.send(
    new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
  );
  const keyId = KeyMetadata?.Arn as string;
  const { PublicKey } = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  const archive = { [ENV.bucket]: bucket, [ENV.table]: table, [ENV.chains]: "2" };
  return {
    ingest: { env: archive, event: postEventsEvent() },
    query: { env: archive, event: queryEvent("GET /v1/events") },
    reindex: { env: archive, event: {} },
    checkpoint: {
      env: {
        [CHECKPOINT_ENV.bucket]: bucket,
        [CHECKPOINT_ENV.stateBucket]: checkpointState,
        [CHECKPOINT_ENV.keyId]: keyId,
      },
      event: {},
    },
    verifier: {
      env: {
        [VERIFIER_ENV.bucket]: bucket,
        [VERIFIER_ENV.table]: table,
        [VERIFIER_ENV.stateBucket]: verifierState,
        [VERIFIER_ENV.publicKey]: Buffer.from(PublicKey as Uint8Array).toString("base64"),
      },
      event: {},
    },
  };
}

/** The script a fresh process runs: import the bundle, invoke its handler once, print both times. */
function coldStartScript(file: string, event: unknown): string {
  return `
const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: "bench" };
const start = performance.now();
const { handler } = await import(${JSON.stringify(file)});
const ready = performance.now();
const result = await handler(${JSON.stringify(event)}, context);
const answered = performance.now();
const answer = String(result?.statusCode ?? result?.status ?? result?.outcome ?? (result?.linksIndexed !== undefined ? result.linksIndexed + " links indexed" : "returned"));
console.log(JSON.stringify({ initMs: ready - start, firstInvocationMs: answered - ready, answer }));`;
}

async function coldStart(
  file: string,
  invocation: Invocation,
  emulator: Emulator,
): Promise<{ initMs: number; firstInvocationMs: number; answer: string }> {
  const { stdout } = await run(
    process.execPath,
    ["--input-type=module", "-e", coldStartScript(file, invocation.event)],
    {
      env: {
        ...process.env,
        AWS_REGION: emulator.region,
        AWS_ENDPOINT_URL: emulator.endpoint,
        ...Object.fromEntries(serviceEndpointVariables(emulator.target)),
        // Quiet logs, and no EMF lines on stdout (the one line read here).
        POWERTOOLS_LOG_LEVEL: "SILENT",
        POWERTOOLS_METRICS_DISABLED: "true",
        ...invocation.env,
      },
    },
  );
  const line = stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(line) as { initMs: number; firstInvocationMs: number; answer: string };
}

/** An answer that is not a handler working: a 5xx, or a job that could not run. */
function isFailure(answer: string): boolean {
  return /^5\d\d$/.test(answer) || answer === "failed";
}

export async function benchBundles(
  emulator: Emulator,
  log: (line: string) => void,
  options: { readonly rounds?: number } = {},
): Promise<BundleBenchResult> {
  const rounds = options.rounds ?? 7;
  mkdirSync(OUT, { recursive: true });
  const names = readdirSync(HANDLERS)
    .filter((file) => file.endsWith(".ts"))
    .map((file) => file.replace(/\.ts$/, ""))
    .sort();
  const invocations = await provision(emulator);
  const files = new Map<string, string>();
  for (const name of names) {
    if (!invocations[name]) throw new Error(`bench/bundles.ts has no first invocation for handler ${name}`);
    const outfile = join(OUT, `${name}.mjs`);
    await build({
      ...HANDLER_ESBUILD_OPTIONS,
      entryPoints: [join(HANDLERS, `${name}.ts`)],
      outfile,
      logLevel: "warning",
    });
    files.set(name, outfile);
  }
  const init = new Map<string, number[]>(names.map((name) => [name, []]));
  const first = new Map<string, number[]>(names.map((name) => [name, []]));
  const answers = new Map<string, string>();
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const measured = await coldStart(files.get(name) as string, invocations[name] as Invocation, emulator);
      if (isFailure(measured.answer)) {
        throw new Error(`the ${name} handler's first invocation answered ${measured.answer}`);
      }
      init.get(name)?.push(Math.round(measured.initMs));
      first.get(name)?.push(Math.round(measured.firstInvocationMs));
      answers.set(name, measured.answer);
    }
  }
  const handlers: BundleBenchResult["handlers"] = {};
  for (const name of names) {
    const bytes = statSync(files.get(name) as string).size;
    const initPerRound = init.get(name) ?? [];
    const firstPerRound = first.get(name) ?? [];
    handlers[name] = {
      bytes,
      initMs: median(initPerRound),
      initMsPerRound: initPerRound,
      firstInvocationMs: median(firstPerRound),
      firstInvocationMsPerRound: firstPerRound,
      firstInvocationAnswer: answers.get(name) ?? "",
    };
    log(
      `bundles: ${name} ${(bytes / 1000).toFixed(0)} KB (target ≤ 500), init ${median(initPerRound)} ms ` +
        `(target ≤ 150), first invocation ${median(firstPerRound)} ms (answered ${answers.get(name)}), ` +
        `medians of ${rounds}`,
    );
  }
  return { rounds, handlers, targets: { bytes: 500_000, initMs: 150 } };
}
