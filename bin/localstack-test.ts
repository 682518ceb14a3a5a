/**
 * Runs the integration suite against LocalStack on this host, without Docker and without network
 * access beyond PyPI and Maven Central: `npm run test:localstack [-- vitest args]`.
 *
 * First run (or after emulator/localstack-requirements.txt changed) builds .venv-localstack:
 * - a Python >= 3.12 virtualenv with the pinned localstack-core 4.14.0 (the last open-source release);
 * - DynamoDB Local from Maven Central, laid out where LocalStack looks for its own download, because
 *   LocalStack would otherwise fetch it (and a Java 21) from hosts outside the registries. Its
 *   `-javaagent` patch (which only lifts the 20-GSI limit) is not on a registry either: a no-op agent
 *   stands in for it, and LocalStack's Java slot points at the local JDK (17 or later).
 * Then LocalStack starts on a free 127.0.0.1 port, the suite runs with AWS_ENDPOINT_URL and
 * SEALTRAIL_EMULATOR=localstack, and LocalStack is stopped whatever happens; the exit code is vitest's.
 * LocalStack's own log goes to .venv-localstack/localstack.log.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fetchDynamoDbLocalJars } from "../local/dynamodb-local";
import { freeLoopbackPort } from "../local/free-port";
import { buildPinnedVenv, isCurrent, type PinnedVenv, python312, venvPython } from "./python-venv";

/** Bump when the setup steps below change, so existing .venv-localstack directories are rebuilt. */
const SETUP_VERSION = "1";
const STARTUP_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 25_000;

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const venvDir = join(projectRoot, ".venv-localstack");
const venv: PinnedVenv = {
  dir: venvDir,
  requirementsFile: join(projectRoot, "emulator", "localstack-requirements.txt"),
  stampFile: join(venvDir, ".setup-sha256"),
};
const logFile = join(venvDir, "localstack.log");
/** LocalStack's host-mode root (FILESYSTEM_ROOT); its packages are looked up under usr/lib/localstack. */
const filesystemRoot = join(venvDir, "filesystem");
const staticLibs = join(filesystemRoot, "usr", "lib", "localstack");
const dynamoDir = join(staticLibs, "dynamodb-local", "2");

function log(line: string): void {
  console.error(`sealtrail: ${line}`);
}

function fail(message: string): never {
  throw new Error(message);
}

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: "inherit" });
}

/** The JDK that runs DynamoDB Local: JAVA_HOME, else the `java` on PATH; version 17 or later. */
function javaHome(): string {
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java";
  const probe = spawnSync(java, ["-XshowSettings:properties", "-version"], { encoding: "utf8" });
  const home = /java\.home = (.+)/.exec(probe.stderr ?? "")?.[1]?.trim();
  const version = Number(/java\.specification\.version = (\d+)/.exec(probe.stderr ?? "")?.[1]);
  if (!home || !(version >= 17)) fail("DynamoDB Local needs a JDK 17 or later (java on PATH or JAVA_HOME).");
  for (const tool of ["javac", "jar"]) {
    if (!existsSync(join(home, "bin", tool))) fail(`${home} is a JRE; a JDK (with ${tool}) is needed.`);
  }
  return home;
}

/** Manifest lines are at most 72 bytes; longer values continue on lines starting with a space. */
function manifest(attributes: Record<string, string>): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(attributes)) {
    let rest = `${name}: ${value}`;
    lines.push(rest.slice(0, 72));
    rest = rest.slice(72);
    while (rest) {
      lines.push(` ${rest.slice(0, 71)}`);
      rest = rest.slice(71);
    }
  }
  return `${lines.join("\n")}\n`;
}

function installDynamoDbLocal(jdk: string): void {
  const buildDir = join(venvDir, "dynamodb-local-build");
  const libDir = join(dynamoDir, "DynamoDBLocal_lib");
  fetchDynamoDbLocalJars(libDir, buildDir, log);
  const files = readdirSync(libDir);

  // LocalStack runs `java -jar <dir>/DynamoDBLocal.jar`: a launcher jar whose class path is the Maven jars.
  const jars = files.filter((f) => f.endsWith(".jar")).sort();
  const jarTool = join(jdk, "bin", "jar");
  writeFileSync(
    join(buildDir, "launcher.mf"),
    manifest({
      "Manifest-Version": "1.0",
      "Main-Class": "com.amazonaws.services.dynamodbv2.local.main.ServerRunner",
      "Class-Path": [".", ...jars.map((j) => `DynamoDBLocal_lib/${j}`)].join(" "),
    }),
  );
  run(jarTool, [
    "--create",
    "--file",
    join(dynamoDir, "DynamoDBLocal.jar"),
    "--manifest",
    join(buildDir, "launcher.mf"),
  ]);

  // No-op stand-in for LocalStack's ddb-local-loader agent (GitHub-hosted; lifts the 20-GSI limit only).
  writeFileSync(
    join(buildDir, "NoopAgent.java"),
    "public final class NoopAgent {\n" +
      "  public static void premain(String args, java.lang.instrument.Instrumentation inst) {}\n}\n",
  );
  run(join(jdk, "bin", "javac"), [
    "--release",
    "17",
    "-d",
    join(buildDir, "agent"),
    join(buildDir, "NoopAgent.java"),
  ]);
  writeFileSync(join(buildDir, "agent.mf"), manifest({ "Premain-Class": "NoopAgent" }));
  run(jarTool, [
    "--create",
    "--file",
    join(dynamoDir, "ddb-local-loader-0.1.jar"),
    "--manifest",
    join(buildDir, "agent.mf"),
    "-C",
    join(buildDir, "agent"),
    ".",
  ]);

  // LocalStack's DynamoDB Local asks for "java 21"; give it the local JDK instead of a download.
  mkdirSync(join(staticLibs, "java"), { recursive: true });
  symlinkSync(jdk, join(staticLibs, "java", "21"));
}

/** Creates .venv-localstack when missing or when the pinned requirements changed. Idempotent. */
async function ensureLocalStack(): Promise<void> {
  const requirements = readFileSync(venv.requirementsFile, "utf8");
  const wanted = createHash("sha256").update(`${SETUP_VERSION}\n${requirements}`).digest("hex");
  if (isCurrent(venv, wanted)) return;

  const started = Date.now();
  log(`creating ${venvDir} (first run only, about two minutes)`);
  const python = await python312("LOCALSTACK_PYTHON", "LocalStack 4.14");
  const jdk = javaHome();
  await buildPinnedVenv(venv, python);
  installDynamoDbLocal(jdk);
  writeFileSync(venv.stampFile, wanted);
  log(`${venvDir} ready in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * Runs LocalStack under a small Python watchdog in its own process group. The watchdog stops LocalStack
 * when its stdin closes, so LocalStack stops with this process even if that is killed with SIGKILL:
 * SIGTERM first, SIGKILL after 15 s, then any process LocalStack started that is still alive (DynamoDB
 * Local runs in a session of its own and outlives a LocalStack stopped during startup). Ctrl-C reaches
 * vitest and this process only; this process then stops LocalStack.
 */
const WATCHDOG = `
import os, signal, subprocess, sys, threading, time
import psutil
ls = subprocess.Popen([sys.executable, "-m", "localstack.runtime.main"])
started = set()
lock = threading.RLock()
def remember():
    try:
        started.update(psutil.Process(ls.pid).children(recursive=True))
    except psutil.Error:
        pass
def stop(*_):
    with lock:
        remember()
        if ls.poll() is None:
            ls.terminate()
            try:
                ls.wait(15)
            except subprocess.TimeoutExpired:
                ls.kill()
        alive = [p for p in started if p.is_running()]
        for p in alive:
            p.terminate()
        for p in psutil.wait_procs(alive, timeout=5)[1]:
            p.kill()
        os._exit(0)
def watch():
    while ls.poll() is None:
        remember()
        time.sleep(1)
    stop()
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
threading.Thread(target=watch, daemon=True).start()
sys.stdin.read()
stop()
`;

function startLocalStack(port: number): ChildProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SERVICES: "s3,dynamodb,kms,sns",
    GATEWAY_LISTEN: `127.0.0.1:${port}`,
    LOCALSTACK_HOST: `127.0.0.1:${port}`,
    EAGER_SERVICE_LOADING: "1",
    DYNAMODB_IN_MEMORY: "1",
    PERSISTENCE: "0",
    DISABLE_EVENTS: "1",
    DNS_ADDRESS: "0",
    SKIP_SSL_CERT_DOWNLOAD: "1",
    // Host mode even where /.dockerenv exists; keeps every file LocalStack writes under FILESYSTEM_ROOT.
    OVERRIDE_IN_DOCKER: "0",
    FILESYSTEM_ROOT: filesystemRoot,
    PYTHONUNBUFFERED: "1",
  };
  delete env.AWS_ENDPOINT_URL;
  const out = openSync(logFile, "w");
  return spawn(venvPython(venv), ["-c", WATCHDOG], { stdio: ["pipe", out, out], env, detached: true });
}

let interrupted = false;

async function waitUntilReady(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (interrupted) fail("interrupted before LocalStack was ready");
    if (child.exitCode !== null || child.signalCode !== null) {
      fail(`LocalStack exited during startup; see ${logFile}:\n${tail(logFile)}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/_localstack/health`);
      const { services } = (await response.json()) as { services: Record<string, string> };
      last = `s3=${services.s3}, dynamodb=${services.dynamodb}`;
      if (services.s3 === "running" && services.dynamodb === "running") return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  fail(
    `LocalStack not ready within ${STARTUP_TIMEOUT_MS / 1000} s (${last}); see ${logFile}:\n${tail(logFile)}`,
  );
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-30).join("\n") : "";
}

async function stopLocalStack(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stdin?.end();
  const timer = setTimeout(() => killGroup(child), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function runVitest(endpoint: string, args: string[]): Promise<number> {
  const vitest = spawn(
    join(projectRoot, "node_modules", ".bin", "vitest"),
    ["run", "--project", "integration", ...args],
    {
      cwd: projectRoot,
      stdio: "inherit",
      env: { ...process.env, AWS_ENDPOINT_URL: endpoint, SEALTRAIL_EMULATOR: "localstack" },
    },
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
  await ensureLocalStack();
  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const started = Date.now();
  const localstack = startLocalStack(port);
  process.on("exit", () => killGroup(localstack));
  // Keep running on Ctrl-C/SIGTERM until LocalStack is stopped below.
  const onSignal = () => {
    interrupted = true;
    log("interrupted: stopping LocalStack");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await waitUntilReady(port, localstack);
    log(`LocalStack 4.14.0 ready on ${endpoint} in ${Math.round((Date.now() - started) / 100) / 10} s`);
    return await runVitest(endpoint, process.argv.slice(2));
  } finally {
    await stopLocalStack(localstack);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`sealtrail: ${(error as Error).message}`);
    process.exit(1);
  },
);
