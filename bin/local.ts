/**
 * `npm start`: the whole system on one machine, no AWS account, no Docker.
 *
 * Starts the emulator (moto, or AWS_ENDPOINT_URL), creates a bucket (Object Lock COMPLIANCE) and
 * an index table, serves the API on 127.0.0.1:$PORT behind a JWT authorizer that behaves like API
 * Gateway's, runs the checkpoint run and the reindex job every minute, writes .sealtrail/local.json
 * (and the checkpoint public key as .sealtrail/checkpoint-jwks.json) and prints a dev token and a
 * curl line. Ctrl-C, SIGTERM or SIGHUP stops everything it started, and so does the end of the
 * process that started it (npm killed with SIGKILL, a closed terminal): it watches its parent.
 * `npm start` runs it as `exec node --import tsx bin/local.ts`, so no shell and no tsx process sits
 * between npm and local mode to swallow the signals npm forwards.
 *
 * Environment: PORT (default 3000; 0 picks a free one), SEALTRAIL_STATE_DIR (default .sealtrail/),
 * AWS_ENDPOINT_URL (use that endpoint instead of starting moto), SEALTRAIL_CHECKPOINT_SECONDS
 * (default 60: how often a checkpoint is signed), SEALTRAIL_VERIFY_SECONDS (default 300: how often the
 * scheduled verifier runs, as the stack runs it hourly; its findings are printed here).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { dynamoClient, EMULATOR_CREDENTIALS, s3Client } from "../lambda/aws/clients";
import { createArchiveBucket, createIndexTable, createStateBucket } from "../lambda/aws/provision";
import { loadOrCreateCheckpointKey } from "../lambda/checkpoint/local-key";
import { parseTrustedKeys, trustFileOf } from "../lambda/core/checkpoint";
import { openApiDocument } from "../lambda/core/openapi";
import { INGEST_ROUTE, QUERY_ROUTES, SUBJECT_ROUTES } from "../lambda/core/routes";
import { createCheckpointJob } from "../lambda/handlers/checkpoint";
import { createIngestHandler, type IngestHandler } from "../lambda/handlers/ingest";
import { createQueryHandler, type QueryHandler } from "../lambda/handlers/query";
import { createReindexJob } from "../lambda/handlers/reindex";
import { createVerifierJob } from "../lambda/handlers/verifier";
import {
  configFromEnv,
  DEFAULT_CHAINS,
  DEFAULT_LEASE_SECONDS,
  DEFAULT_SCOPES,
  ENV,
  type SealtrailConfig,
} from "../lambda/runtime/config";
import { DEFAULT_VERIFIER_MAX_AGE_MINUTES } from "../lambda/verify/scheduled-config";
import { type Emulator, serviceEndpointVariables, startEmulator } from "../local/emulator";
import {
  LOCAL_AUDIENCE,
  LOCAL_STATE_FILE,
  type LocalState,
  loadOrCreateIssuerKey,
  localIssuer,
  localStateDir,
} from "../local/issuer";
import { loadOrCreatePrivacyKeys } from "../local/privacy-keys";
import { type LocalServer, type RouteDefinition, startLocalServer } from "../local/server";

const REINDEX_INTERVAL_MS = 60_000;
/** The signals that stop npm, a terminal or a process manager would send; each stops local mode. */
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** How often local mode checks that the process that started it (npm) is still there. */
const PARENT_CHECK_MS = 1000;
const OPENAPI_PATH = "/openapi.json";
const CHECKPOINT_KEY_FILE = "checkpoint-key.json";
const CHECKPOINT_JWKS_FILE = "checkpoint-jwks.json";
const DEFAULT_PORT = 3000;
const COPY_DIR = "./sealtrail-copy";
const EXAMPLE_BODY = JSON.stringify({
  events: [{ action: "document.read", outcome: "success", resource: { type: "document", id: "42" } }],
});

class UsageError extends Error {}

function portFromEnv(): number {
  const text = process.env.PORT ?? String(DEFAULT_PORT);
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) {
    throw new UsageError(`PORT must be a port number (0-65535), not "${text}"`);
  }
  return port;
}

function checkpointIntervalMs(): number {
  return secondsFromEnv("SEALTRAIL_CHECKPOINT_SECONDS", 60);
}

function verifyIntervalMs(): number {
  return secondsFromEnv("SEALTRAIL_VERIFY_SECONDS", 300);
}

/** A period in whole seconds from the environment, as milliseconds. */
function secondsFromEnv(name: string, defaultSeconds: number): number {
  const text = process.env[name] ?? String(defaultSeconds);
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || seconds < 1) {
    throw new UsageError(`${name} must be a whole number of seconds, not "${text}"`);
  }
  return seconds * 1000;
}

function portInUse(port: number): UsageError {
  return new UsageError(
    `port ${port} on 127.0.0.1 is already in use (another \`npm start\`?). ` +
      `Stop that process, or pick another port: PORT=${port === 65_535 ? 3001 : port + 1} npm start`,
  );
}

/** Fails fast, before the emulator starts, when the port is taken. */
async function checkPortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? portInUse(port) : error),
    );
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

/** Runs `job` every `intervalMs`, never two at once; `stop()` waits for a run in progress. */
function everyInterval(job: () => Promise<unknown>, intervalMs: number, onError: (error: unknown) => void) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = job()
        .then(
          () => undefined,
          (error) => onError(error),
        )
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, intervalMs);
  };
  schedule();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * Calls `onGone` once the parent process has gone (the parent pid changes when it dies): npm
 * killed with SIGKILL forwards nothing, and local mode must not outlive it.
 */
function watchParent(onGone: (parent: number) => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onGone(parent);
    }
  }, PARENT_CHECK_MS);
  timer.unref();
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

async function main(): Promise<void> {
  const port = portFromEnv();
  const stateDir = localStateDir();
  const checkpointEveryMs = checkpointIntervalMs();
  const verifyEveryMs = verifyIntervalMs();
  // Metrics go to CloudWatch from Lambda; locally their EMF lines would only clutter the console.
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  await checkPortFree(port);

  const cleanups: Array<() => Promise<void>> = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      for (const cleanup of cleanups.reverse()) {
        try {
          await cleanup();
        } catch (error) {
          console.error(`sealtrail: while stopping: ${(error as Error).message}`);
        }
      }
    })();
    return stopping;
  };
  let interrupted = false;
  const stopAndExit = (why: string) => {
    // Ctrl-C reaches local mode twice (from the terminal, and forwarded by npm): the first one counts.
    if (interrupted) return;
    interrupted = true;
    console.error(`\nsealtrail: ${why}, stopping…`);
    stopAll().then(() => {
      console.error("sealtrail: stopped.");
      process.exit(0);
    });
  };
  for (const signal of STOP_SIGNALS) process.on(signal, () => stopAndExit(`${signal} received`));
  watchParent((parent) => stopAndExit(`the process that started local mode (pid ${parent}) has gone`));
  // With the terminal or the parent gone, writing to the console fails (EPIPE); stopping must not.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});

  try {
    console.error("sealtrail: starting the S3/DynamoDB emulator…");
    const emulator: Emulator = await startEmulator({ log: (line) => console.error(line) });
    cleanups.push(() => emulator.stop());
    if (interrupted) return;

    const suffix = randomBytes(4).toString("hex");
    const bucket = `sealtrail-local-${suffix}`;
    const table = `sealtrail-local-${suffix}`;
    const checkpointStateBucket = `sealtrail-local-signer-${suffix}`;
    const verifierStateBucket = `sealtrail-local-verifier-${suffix}`;
    const target = emulator.target;
    await createArchiveBucket(s3Client(target), bucket);
    await createIndexTable(dynamoClient(target), table);
    await createStateBucket(s3Client(target), checkpointStateBucket);
    await createStateBucket(s3Client(target), verifierStateBucket);
    if (interrupted) return;

    const key = await loadOrCreateIssuerKey(stateDir);
    // Built once the server's URL (the issuer) is known; requests cannot arrive before that in practice.
    let ingest: IngestHandler | undefined;
    let query: QueryHandler | undefined;
    const starting = { statusCode: 503, body: '{"message":"Starting"}' };
    const queryRoutes = Object.fromEntries(
      QUERY_ROUTES.map((routeKey) => [
        routeKey,
        {
          scopes: [DEFAULT_SCOPES.read],
          handler: async (event: Parameters<QueryHandler>[0]) => (query ? query(event) : starting),
        },
      ]),
    );
    // Privacy is on when SEALTRAIL_PRIVACY holds a policy, as in Lambda; its keys are local files.
    const privacy = configFromEnv({
      [ENV.bucket]: bucket,
      [ENV.table]: table,
      [ENV.privacy]: process.env[ENV.privacy],
      [ENV.eraseScope]: process.env[ENV.eraseScope],
      [ENV.erasureHorizonDays]: process.env[ENV.erasureHorizonDays],
    }).privacy;
    const subjectRoutes: Record<string, RouteDefinition> = privacy
      ? {
          [SUBJECT_ROUTES.erase]: {
            scopes: [privacy.eraseScope],
            handler: async (event: Parameters<QueryHandler>[0]) => (query ? query(event) : starting),
          },
          [SUBJECT_ROUTES.hold]: {
            scopes: [DEFAULT_SCOPES.admin],
            handler: async (event: Parameters<QueryHandler>[0]) => (query ? query(event) : starting),
          },
        }
      : {};
    const server: LocalServer = await startLocalServer({
      port,
      // No fixed URL: the issuer is the server's own base URL, where its JWKS is served.
      issuer: { publicJwks: () => key.publicJwks() },
      audience: LOCAL_AUDIENCE,
      routes: {
        [INGEST_ROUTE]: {
          scopes: [DEFAULT_SCOPES.write],
          handler: async (event) => (ingest ? ingest(event) : starting),
        },
        ...queryRoutes,
        ...subjectRoutes,
      },
      documents: {
        [OPENAPI_PATH]: (serverUrl) =>
          openApiDocument({ serverUrl, privacy: privacy !== undefined, eraseScope: privacy?.eraseScope }),
      },
    }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === "EADDRINUSE" ? portInUse(port) : error;
    });
    cleanups.push(() => server.close());

    const config: SealtrailConfig = {
      bucket,
      table,
      chains: DEFAULT_CHAINS,
      scopes: DEFAULT_SCOPES,
      // Forwarded end-user tokens (X-Sealtrail-Subject-Token) may come from the local issuer too.
      subjectIssuers: [{ issuer: server.issuer, jwksUrl: server.jwksUrl, audiences: [LOCAL_AUDIENCE] }],
      leaseSeconds: DEFAULT_LEASE_SECONDS,
      privacy,
      aws: target,
    };
    const privacyKeys = privacy ? loadOrCreatePrivacyKeys(stateDir) : undefined;
    ingest = createIngestHandler(config, { privacyKeys });
    query = createQueryHandler(config, { privacyKeys });
    const reindex = createReindexJob(config);
    const timer = everyInterval(reindex, REINDEX_INTERVAL_MS, (error) =>
      console.error(`sealtrail: reindex failed: ${(error as Error).stack ?? error}`),
    );
    cleanups.push(() => timer.stop());

    // The local checkpoint key stays in the state dir (mode 0600) across starts; AWS uses KMS instead.
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const checkpointKey = await loadOrCreateCheckpointKey(join(stateDir, CHECKPOINT_KEY_FILE));
    const jwksFile = join(stateDir, CHECKPOINT_JWKS_FILE);
    writeFileSync(jwksFile, `${JSON.stringify(trustFileOf(checkpointKey), null, 2)}\n`);
    const checkpoint = createCheckpointJob(
      { bucket, stateBucket: checkpointStateBucket, keyId: "local-file", aws: target },
      { key: checkpointKey },
    );
    const checkpointTimer = everyInterval(
      async () => {
        const outcome = await checkpoint();
        if (outcome.status === "refused") {
          console.error(`sealtrail: checkpoint REFUSED: ${outcome.reasons.join("; ")}`);
        }
      },
      checkpointEveryMs,
      (error) => console.error(`sealtrail: checkpoint run failed: ${(error as Error).stack ?? error}`),
    );
    cleanups.push(() => checkpointTimer.stop());

    // The scheduled verifier, as the stack runs it: its own store, the local key trusted, and its
    // message (the first findings) printed here instead of published to an alarm topic.
    const verifier = createVerifierJob(
      {
        bucket,
        table,
        stateBucket: verifierStateBucket,
        // A slow checkpoint timer (SEALTRAIL_CHECKPOINT_SECONDS) must not read as stale checkpoints.
        maxAgeMs: Math.max(DEFAULT_VERIFIER_MAX_AGE_MINUTES * 60_000, 3 * checkpointEveryMs),
        aws: target,
      },
      {
        trusted: await parseTrustedKeys(trustFileOf(checkpointKey)),
        alerts: { publish: async (subject, message) => console.error(`sealtrail: ${subject}\n${message}`) },
      },
    );
    const verifierTimer = everyInterval(
      async () => {
        // Half the period, so a run on a large archive ends (and saves where it got) before the next.
        const deadline = Date.now() + verifyEveryMs / 2;
        await verifier({ timeLeftMs: () => deadline - Date.now(), budgetMs: verifyEveryMs / 2 });
      },
      verifyEveryMs,
      // The job has printed its message already.
      () => undefined,
    );
    cleanups.push(() => verifierTimer.stop());

    const issuer = localIssuer(key, { issuer: server.issuer, audience: LOCAL_AUDIENCE });
    const state: LocalState = {
      apiUrl: server.url,
      issuer: server.issuer,
      audience: LOCAL_AUDIENCE,
      jwksUrl: server.jwksUrl,
      s3Endpoint: emulator.endpoint,
      bucket,
      table,
      region: emulator.region,
      jwksFile,
      checkpointStateBucket,
    };
    const stateFile = join(stateDir, LOCAL_STATE_FILE);
    writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);

    const token = await issuer.signToken({ scope: [DEFAULT_SCOPES.write, DEFAULT_SCOPES.read] });
    const curl = [
      "curl -sS -X POST",
      shellQuote(`${server.url}/v1/events`),
      `-H ${shellQuote(`Authorization: Bearer ${token}`)}`,
      `-H ${shellQuote("Content-Type: application/json")}`,
      `-d ${shellQuote(EXAMPLE_BODY)}`,
    ].join(" ");
    const shownStateFile = relative(process.cwd(), stateFile) || stateFile;
    const shownJwksFile = relative(process.cwd(), jwksFile) || jwksFile;
    const awsEnvironment = [
      `AWS_ENDPOINT_URL=${shellQuote(emulator.endpoint)}`,
      ...serviceEndpointVariables(emulator.target).map(([name, url]) => `${name}=${shellQuote(url)}`),
      `AWS_REGION=${shellQuote(emulator.region)}`,
      // A user's own keys (for LocalStack, say) are what the SDK uses too; otherwise the dummy ones.
      ...(process.env.AWS_ACCESS_KEY_ID
        ? []
        : [
            `AWS_ACCESS_KEY_ID=${shellQuote(EMULATOR_CREDENTIALS.accessKeyId)}`,
            `AWS_SECRET_ACCESS_KEY=${shellQuote(EMULATOR_CREDENTIALS.secretAccessKey)}`,
          ]),
    ];
    const storage =
      emulator.kind === "moto"
        ? "moto, in memory: every start begins with an empty bucket and table, and stopping discards them"
        : "external endpoint from AWS_ENDPOINT_URL; each start creates a new bucket and table";

    console.log(
      [
        "",
        "sealtrail local mode is running",
        `  API          ${server.url}   (POST /v1/events needs scope ${DEFAULT_SCOPES.write}; GET /v1/events… ${DEFAULT_SCOPES.read})`,
        `  OpenAPI      ${server.url}${OPENAPI_PATH}`,
        `  issuer       ${server.issuer}   audience ${LOCAL_AUDIENCE}`,
        `  JWKS         ${server.jwksUrl}`,
        `  S3/DynamoDB  ${emulator.endpoint}   (${storage})`,
        `  bucket       ${bucket}   (Object Lock COMPLIANCE)`,
        `  table        ${table}   region ${emulator.region}`,
        `  state        ${shownStateFile}`,
        `  checkpoints  every ${checkpointEveryMs / 1000} s, key ${checkpointKey.kid}; trust file ${shownJwksFile}`,
        `  verifier     every ${verifyEveryMs / 1000} s (verify --state); state and reports in s3://${verifierStateBucket}`,
        ...(privacy
          ? [
              `  privacy      on (SEALTRAIL_PRIVACY): personal fields sealed; POST /v1/subjects/erase needs scope ${privacy.eraseScope}, /hold ${DEFAULT_SCOPES.admin}; keys in ${stateDir}`,
            ]
          : []),
        "",
        `Dev token (scopes ${DEFAULT_SCOPES.write} ${DEFAULT_SCOPES.read}, valid 1 hour; more with \`npm run -s token -- --scope "…"\`):`,
        token,
        "",
        "Send an event:",
        curl,
        "",
        "For your shell: API and TOKEN (as the README's examples use them), and the emulator's endpoint and",
        "dummy credentials for the aws CLI. The AWS_* line sends every aws/SDK call in that shell to the emulator:",
        "use it in a separate shell, not where you work with real AWS.",
        `export API=${shellQuote(server.url)}`,
        `export TOKEN=${shellQuote(token)}`,
        `export ${awsEnvironment.join(" ")}`,
        "",
        "Search it (the CLI finds this server and mints a read token from .sealtrail/):",
        "npx sealtrail query --action document.read",
        "",
        "Verify the archive (after the first checkpoint):",
        `AWS_ENDPOINT_URL=${emulator.endpoint} npx sealtrail verify --bucket ${bucket} --table ${table} --trust ${shellQuote(shownJwksFile)}`,
        "",
        "Or copy the bucket (with the AWS_* line above in your shell) and verify the copy offline:",
        `aws s3 sync s3://${bucket} ${COPY_DIR}`,
        `npx sealtrail verify --dir ${COPY_DIR} --trust ${shellQuote(shownJwksFile)}`,
        "",
        "Ctrl-C (or SIGTERM, or the end of npm) stops the server, the timers and the emulator.",
        "",
      ].join("\n"),
    );
  } catch (error) {
    await stopAll();
    throw error;
  }
}

main().catch((error) => {
  if (error instanceof UsageError) {
    console.error(`sealtrail: ${error.message}`);
  } else {
    console.error(`sealtrail: local mode failed to start: ${(error as Error).stack ?? error}`);
  }
  process.exit(1);
});
