/**
 * The deploy test: `npm run test:deploy [-- vitest args]`. Stands the stack `cdk synth` produces up on
 * the ministack AWS emulator and runs test/deploy/ against it, through the emulated API Gateway and its
 * JWT authorizer, with the real bundled Lambdas, schedules and KMS keys.
 *
 * 1. .venv-ministack: a Python 3.12+ virtualenv with ministack pinned in emulator/ministack-requirements.txt
 *    (built on first use, or when the pins change).
 * 2. An HTTPS token issuer on a free loopback port (OIDC discovery and an RS256 JWKS; its self-signed
 *    certificate is the only one the emulator trusts, through SSL_CERT_FILE).
 * 3. ministack on a free loopback port, with its state under a temporary directory.
 * 4. `cdk synth -c issuer=… -c audience=… -c retentionDays=1`, then `cdk bootstrap` and `cdk deploy` of that
 *    cloud assembly, both the CDK CLI itself pointed at the emulator with AWS_ENDPOINT_URL.
 * 5. vitest with test/deploy/vitest.config.ts; the run's facts reach it in SEALTRAIL_DEPLOY_STATE.
 *
 * Departures from a real `cdk deploy`, each forced by an emulator gap, are listed in test/deploy/state.ts
 * (DEPARTURES) and printed with every run. Everything it
 * starts is stopped whatever happens: the emulator runs under a watchdog that stops it (and the Lambda
 * workers it spawned) when this process's end of its stdin closes, even after a SIGKILL of this process.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpsServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { exportJWK, generateKeyPair } from "jose";
import { freeLoopbackPort } from "../local/free-port";
import { DEPARTURES, type DeployState } from "../test/deploy/state";
import { buildPinnedVenv, isCurrent, type PinnedVenv, python312, run, venvPython } from "./python-venv";

const execFileAsync = promisify(execFile);

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const venvDir = join(projectRoot, ".venv-ministack");
const venv: PinnedVenv = {
  dir: venvDir,
  requirementsFile: join(projectRoot, "emulator", "ministack-requirements.txt"),
  stampFile: join(venvDir, ".requirements-sha256"),
};
const cdkCli = join(projectRoot, "node_modules", "aws-cdk", "bin", "cdk");

/** ministack's default account (any non-numeric access key maps to it) and the region of the run. */
const ACCOUNT = "000000000000";
const REGION = "us-east-1";
const AUDIENCE = "sealtrail-deploy-test";
const STARTUP_TIMEOUT_MS = 60_000;

function log(line: string): void {
  console.error(`sealtrail deploy test: ${line}`);
}

/** The pinned ministack version, from the requirements file (the README names it). */
function ministackVersion(): string {
  const pin = /^ministack==(\S+)$/m.exec(readFileSync(venv.requirementsFile, "utf8"));
  if (!pin?.[1]) throw new Error(`${venv.requirementsFile} does not pin ministack==<version>`);
  return pin[1];
}

/** Creates .venv-ministack when missing or when the pins changed. Idempotent. */
async function ensureMinistack(): Promise<void> {
  const wanted = createHash("sha256").update(readFileSync(venv.requirementsFile)).digest("hex");
  if (isCurrent(venv, wanted)) return;
  log(`creating ${venv.dir} (first run only)`);
  await buildPinnedVenv(venv, await python312("MINISTACK_PYTHON", "the deploy test (ministack)"));
  writeFileSync(venv.stampFile, wanted);
}

interface Issuer {
  readonly url: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly server: Server;
}

/**
 * The token issuer API Gateway's JWT authorizer needs: HTTPS, OIDC discovery, an RS256 JWKS. Its private
 * key goes to a file for the tests, which sign their own tokens (expired, wrong audience, …) with it.
 */
async function startIssuer(workDir: string): Promise<Issuer> {
  const certFile = join(workDir, "issuer-cert.pem");
  const tlsKeyFile = join(workDir, "issuer-tls-key.pem");
  await execFileAsync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    "-keyout",
    tlsKeyFile,
    "-out",
    certFile,
  ]);
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const kid = "deploy-test-key";
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const keyFile = join(workDir, "issuer-key.json");
  writeFileSync(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: "RS256" }));

  const port = await freeLoopbackPort();
  const url = `https://127.0.0.1:${port}`;
  const documents: Record<string, unknown> = {
    "/.well-known/openid-configuration": { issuer: url, jwks_uri: `${url}/jwks.json` },
    "/jwks.json": { keys: [publicJwk] },
  };
  const server = createHttpsServer(
    { cert: readFileSync(certFile), key: readFileSync(tlsKeyFile) },
    (request, response) => {
      const document = documents[request.url ?? ""];
      response.writeHead(document ? 200 : 404, { "content-type": "application/json" });
      response.end(JSON.stringify(document ?? { error: "not found" }));
    },
  );
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url, certFile, keyFile, server };
}

/**
 * Runs ministack in a session of its own under a watchdog that stops the whole session (ministack and
 * the Node workers it runs Lambdas in) when its stdin closes or it is told to stop.
 */
const WATCHDOG = `
import os, signal, subprocess, sys, threading
ms = subprocess.Popen([sys.executable, "-m", "ministack"], start_new_session=True)
def stop(*_):
    try:
        os.killpg(ms.pid, signal.SIGTERM)
        ms.wait(10)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        pass
    try:
        os.killpg(ms.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
threading.Thread(target=lambda: (ms.wait(), stop()), daemon=True).start()
sys.stdin.read()
stop()
`;

function startMinistack(port: number, workDir: string, issuer: Issuer): ChildProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GATEWAY_PORT: String(port),
    // Loopback only, and none of its fixed-port side listeners (IoT MQTT on 8883, SFTP).
    BIND_HOST: "127.0.0.1",
    IOT_MTLS_ENABLED: "0",
    SFTP_ENABLED: "0",
    MINISTACK_REGION: REGION,
    MINISTACK_ACCOUNT_ID: ACCOUNT,
    LAMBDA_EXECUTOR: "local",
    // The only certificate the emulator trusts: the JWT authorizer's JWKS fetches go to the issuer.
    SSL_CERT_FILE: issuer.certFile,
    // See DEPARTURES: the real SDK v3 for functions that rely on the runtime's copy.
    NODE_PATH: join(projectRoot, "node_modules"),
    PERSIST_STATE: "0",
    S3_PERSIST: "0",
    STATE_DIR: join(workDir, "ministack-state"),
    S3_DATA_DIR: join(workDir, "ministack-s3"),
    TMPDIR: workDir,
    PYTHONUNBUFFERED: "1",
  };
  // The Lambdas get the emulator's own endpoint; an inherited one (a moto run's) would win over it.
  delete env.AWS_ENDPOINT_URL;
  const out = openSync(join(workDir, "ministack.log"), "w");
  return spawn(venvPython(venv), ["-c", WATCHDOG], {
    cwd: workDir,
    env,
    stdio: ["pipe", out, out],
  });
}

async function waitForMinistack(endpoint: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`ministack exited during startup:\n${tail(logFile)}`);
    }
    try {
      if ((await fetch(`${endpoint}/_ministack/health`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`ministack did not answer within ${STARTUP_TIMEOUT_MS / 1000} s:\n${tail(logFile)}`);
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-40).join("\n") : "";
}

async function stopMinistack(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  await exited;
  clearTimeout(timer);
}

/** The environment the CDK CLI runs in: the emulator as every AWS endpoint, its dummy credentials. */
function cdkEnv(endpoint: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    CDK_DISABLE_CLI_TELEMETRY: "true",
    CDK_DISABLE_VERSION_CHECK: "true",
  };
  for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"]) {
    delete env[name];
  }
  return env;
}

/** Resource types ministack's CloudFormation does not know (see DEPARTURES). */
const UNSUPPORTED_TYPES = new Set(["AWS::Athena::NamedQuery"]);

interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}

/**
 * What ministack's CloudFormation refuses (see DEPARTURES): unknown types, and alarms on metric math
 * (anomaly detection bands, sums of metrics), which it refuses as "use MetricName and Namespace".
 */
function unsupported(resource: TemplateResource): boolean {
  return (
    UNSUPPORTED_TYPES.has(resource.Type) ||
    (resource.Type === "AWS::CloudWatch::Alarm" && resource.Properties?.Metrics !== undefined)
  );
}

/**
 * Removes the unsupported resources from the assembly's templates, and the dashboards that show them
 * (a dashboard names its alarms' ARNs); anything else that refers to a removed resource is an error.
 */
function removeUnsupportedResources(assemblyDir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(assemblyDir).filter((file) => file.endsWith(".template.json"))) {
    const file = join(assemblyDir, name);
    const template = JSON.parse(readFileSync(file, "utf8")) as {
      Resources: Record<string, TemplateResource>;
    };
    const ids = Object.keys(template.Resources).filter((id) =>
      unsupported(template.Resources[id] as TemplateResource),
    );
    for (const id of ids) delete template.Resources[id];
    const refersToRemoved = (value: unknown) => ids.some((id) => JSON.stringify(value).includes(`"${id}"`));
    const dashboards = Object.keys(template.Resources).filter((id) => {
      const resource = template.Resources[id] as TemplateResource;
      return resource.Type === "AWS::CloudWatch::Dashboard" && refersToRemoved(resource);
    });
    for (const id of dashboards) delete template.Resources[id];
    const rest = JSON.stringify(template);
    const referenced = [...ids, ...dashboards].filter((id) => rest.includes(`"${id}"`));
    if (referenced.length > 0)
      throw new Error(`cannot leave out ${referenced.join(", ")}: the template refers to them`);
    writeFileSync(file, JSON.stringify(template, null, 1));
    removed.push(...ids, ...dashboards);
  }
  return removed;
}

async function deploy(workDir: string, endpoint: string, issuer: Issuer): Promise<Record<string, string>> {
  const assemblyDir = join(workDir, "cdk.out");
  const cdk = (args: string[], env: NodeJS.ProcessEnv) =>
    run(process.execPath, [cdkCli, ...args, "--no-notices"], { cwd: projectRoot, env });
  log("cdk synth");
  await cdk(
    [
      "synth",
      "--quiet",
      "-o",
      assemblyDir,
      "-c",
      `issuer=${issuer.url}`,
      "-c",
      `audience=${AUDIENCE}`,
      "-c",
      "retentionDays=1",
    ],
    cdkEnv(endpoint),
  );
  const removed = removeUnsupportedResources(assemblyDir);
  log(`left out of the deployed template (emulator gap): ${removed.join(", ")}`);
  log("cdk bootstrap");
  await cdk(["bootstrap", `aws://${ACCOUNT}/${REGION}`], cdkEnv(endpoint));
  log("cdk deploy");
  const outputsFile = join(workDir, "outputs.json");
  await cdk(
    [
      "deploy",
      "--app",
      assemblyDir,
      "--require-approval",
      "never",
      "--progress",
      "events",
      "--outputs-file",
      outputsFile,
    ],
    cdkEnv(endpoint),
  );
  const outputs = JSON.parse(readFileSync(outputsFile, "utf8")) as Record<string, Record<string, string>>;
  const stackOutputs = Object.values(outputs)[0];
  if (!stackOutputs) throw new Error(`cdk deploy wrote no outputs to ${outputsFile}`);
  return stackOutputs;
}

function runVitest(statePath: string, args: string[]): Promise<number> {
  const vitest = spawn(
    join(projectRoot, "node_modules", ".bin", "vitest"),
    ["run", "--config", join(projectRoot, "test", "deploy", "vitest.config.ts"), ...args],
    { cwd: projectRoot, stdio: "inherit", env: { ...process.env, SEALTRAIL_DEPLOY_STATE: statePath } },
  );
  // Ctrl-C reaches vitest directly (same process group); forward a SIGTERM sent to this process only.
  const forward = () => vitest.kill("SIGTERM");
  process.on("SIGTERM", forward);
  return new Promise((resolve) =>
    vitest.once("exit", (code, signal) => {
      process.off("SIGTERM", forward);
      resolve(code ?? (signal === "SIGINT" ? 130 : 1));
    }),
  );
}

async function main(): Promise<number> {
  const version = ministackVersion();
  await ensureMinistack();
  const workDir = mkdtempSync(join(tmpdir(), "sealtrail-deploy-"));
  let issuer: Issuer | undefined;
  let ministack: ChildProcess | undefined;
  // Stop what was started on Ctrl-C or SIGTERM too: the finally below runs once the current step fails.
  const onSignal = () => {
    log("interrupted: stopping the emulator and the issuer");
    ministack?.stdin?.end();
    issuer?.server.close();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    issuer = await startIssuer(workDir);
    const port = await freeLoopbackPort();
    const endpoint = `http://127.0.0.1:${port}`;
    ministack = startMinistack(port, workDir, issuer);
    await waitForMinistack(endpoint, ministack, join(workDir, "ministack.log"));
    log(`ministack ${version} on ${endpoint}, issuer ${issuer.url}`);
    const started = Date.now();
    const outputs = await deploy(workDir, endpoint, issuer);
    log(`deployed in ${Math.round((Date.now() - started) / 1000)} s; departures from cdk deploy:`);
    for (const departure of DEPARTURES) log(`- ${departure}`);
    const state: DeployState = {
      endpoint,
      port,
      region: REGION,
      issuer: issuer.url,
      audience: AUDIENCE,
      issuerKeyFile: issuer.keyFile,
      outputs,
      ministackVersion: version,
      workDir,
      deployedAt: started,
    };
    const statePath = join(workDir, "state.json");
    writeFileSync(statePath, JSON.stringify(state, null, 2));
    return await runVitest(statePath, process.argv.slice(2));
  } catch (error) {
    log(`failed: ${(error as Error).message}`);
    log(`ministack log (last lines):\n${tail(join(workDir, "ministack.log"))}`);
    return 1;
  } finally {
    if (ministack) await stopMinistack(ministack);
    issuer?.server.closeAllConnections();
    await new Promise<void>((resolve) => (issuer ? issuer.server.close(() => resolve()) : resolve()));
    if (!process.env.SEALTRAIL_KEEP_DEPLOY_DIR) rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`sealtrail deploy test: ${(error as Error).message}`);
    process.exit(1);
  },
);
