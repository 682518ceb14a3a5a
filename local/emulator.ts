/**
 * Finds or starts the AWS-compatible endpoint that tests and local mode talk to.
 *
 * `AWS_ENDPOINT_URL` set: that endpoint is used as it is (LocalStack, a test account, any
 * S3/DynamoDB-compatible server) and nothing is started. A service's own `AWS_ENDPOINT_URL_<SERVICE>`
 * (`AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local, say) serves that service over whichever endpoint
 * serves the rest, as the SDK reads them. Otherwise moto server is started from a
 * project-local virtualenv (created on first use from emulator/requirements.txt) on a free
 * loopback port, and stopped by `stop()`, by process exit, or by its own watch on its stdin.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  AWS_SERVICES,
  type AwsTarget,
  awsTargetFromEnv,
  serviceEndpointVariable,
} from "../lambda/aws/target";

export interface Emulator {
  /** Base URL of the S3 and DynamoDB APIs (of the services `target.endpoints` does not name). */
  readonly endpoint: string;
  readonly region: string;
  /** Where the clients point: `endpoint` and `region`, and each AWS_ENDPOINT_URL_<SERVICE> given. */
  readonly target: AwsTarget;
  /** `moto` when this process started it, `external` when taken from AWS_ENDPOINT_URL. */
  readonly kind: "moto" | "external";
  stop(): Promise<void>;
}

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const venvDir = join(projectRoot, ".venv-emulator");
const requirementsFile = join(projectRoot, "emulator", "requirements.txt");
const launcherScript = join(projectRoot, "emulator", "serve.py");
const STAMP_FILE = ".requirements-sha256";

const STARTUP_TIMEOUT_MS = 60_000;

export function defaultRegion(): string {
  return process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort for moto and setup steps still running; the launcher also exits on its own
  // when our end of its stdin closes.
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

export interface VirtualenvOptions {
  /** Progress lines: each step, and pip's own output line by line. @default nothing */
  readonly log?: (line: string) => void;
  /** @default .venv-emulator in the project root */
  readonly venvDir?: string;
  /** @default emulator/requirements.txt */
  readonly requirementsFile?: string;
  /** The Python that creates the virtualenv. @default $PYTHON, else python3 */
  readonly python?: string;
}

/** Runs a setup command, its output passed on line by line; rejects with the command and its exit status. */
function runStep(command: string, args: readonly string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    // Until it exits, a signal that ends this process ends the step too (see installExitHook).
    running.add(child);
    installExitHook();
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream as NodeJS.ReadableStream }).on("line", (line) => {
        if (line.trim() !== "") log(`  ${line}`);
      });
    }
    child.once("error", (error) => {
      running.delete(child);
      reject(new Error(`${command} could not be started: ${error.message}`));
    });
    child.once("close", (code, signal) => {
      running.delete(child);
      if (code === 0) resolve();
      else
        reject(new Error(`\`${[command, ...args].join(" ")}\` ended with ${signal ?? `exit code ${code}`}`));
    });
  });
}

/**
 * Creates or refreshes the emulator's virtualenv when the pinned requirements changed. Idempotent.
 * The first build takes about 90 s, so every step says what it does and pip's output is passed on.
 */
export async function ensureEmulatorVirtualenv(options: VirtualenvOptions = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const dir = options.venvDir ?? venvDir;
  const requirements = options.requirementsFile ?? requirementsFile;
  const python = join(dir, "bin", "python");
  const stamp = join(dir, STAMP_FILE);
  const wanted = createHash("sha256").update(readFileSync(requirements)).digest("hex");
  const built = existsSync(python) && existsSync(stamp);
  if (built && readFileSync(stamp, "utf8") === wanted) return python;

  const basePython = options.python ?? process.env.PYTHON ?? "python3";
  log(
    built
      ? `sealtrail: the emulator's requirements changed; updating the virtualenv in ${dir}`
      : `sealtrail: building the emulator's Python virtualenv in ${dir} (first run only, about 90 s)`,
  );
  try {
    if (!built) {
      // No stamp: never finished (or interrupted), so start from a clean directory.
      log(`sealtrail: [1/2] creating the virtualenv (${basePython} -m venv)`);
      await runStep(basePython, ["-m", "venv", "--clear", dir], log);
    }
    log(`sealtrail: [${built ? "1/1" : "2/2"}] installing moto and its dependencies with pip`);
    await runStep(
      python,
      ["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-r", requirements],
      log,
    );
  } catch (error) {
    throw new Error(
      `Could not create the emulator virtualenv: ${(error as Error).message}. ` +
        "sealtrail needs Python 3 with venv and pip and access to PyPI (run `npm run setup:emulator` to retry), " +
        "or set AWS_ENDPOINT_URL to a running S3/DynamoDB-compatible endpoint.",
    );
  }
  writeFileSync(stamp, wanted);
  log("sealtrail: the emulator's virtualenv is ready");
  return python;
}

/** Starts moto on 127.0.0.1:<free port> and resolves once it has bound the port. */
async function startMoto(region: string, log: (line: string) => void): Promise<Omit<Emulator, "target">> {
  const python = await ensureEmulatorVirtualenv({ log });
  const child = spawn(python, [launcherScript], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  running.add(child);
  installExitHook();

  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`moto did not start within ${STARTUP_TIMEOUT_MS} ms`)),
      STARTUP_TIMEOUT_MS,
    );
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`moto launcher printed an unexpected line: ${line}`));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`moto exited during startup with code ${code}: ${stderr}`));
    });
  });

  const stopped = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    kind: "moto",
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin?.end();
        const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await stopped;
        clearTimeout(killer);
      }
      running.delete(child);
    },
  };
}

export async function startEmulator(options: { log?: (line: string) => void } = {}): Promise<Emulator> {
  const region = defaultRegion();
  const { endpoints } = awsTargetFromEnv(process.env, { region });
  const withEndpoints = (emulator: Omit<Emulator, "target">): Emulator => ({
    ...emulator,
    target: { endpoint: emulator.endpoint, region, ...(endpoints ? { endpoints } : {}) },
  });
  const external = process.env.AWS_ENDPOINT_URL;
  if (external) {
    return withEndpoints({
      endpoint: external.replace(/\/+$/, ""),
      region,
      kind: "external",
      stop: async () => {},
    });
  }
  return withEndpoints(await startMoto(region, options.log ?? (() => {})));
}

/** The per-service endpoints of a target, as [variable, url] pairs (for local mode's hints). */
export function serviceEndpointVariables(target: AwsTarget): Array<[name: string, url: string]> {
  return AWS_SERVICES.flatMap((service): Array<[string, string]> => {
    const endpoint = target.endpoints?.[service];
    return endpoint ? [[serviceEndpointVariable(service), endpoint]] : [];
  });
}
