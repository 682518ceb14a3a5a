/**
 * Finds or starts the AWS-compatible endpoint that tests and local mode talk to.
 *
 * `AWS_ENDPOINT_URL` set: that endpoint is used as it is (LocalStack, a test account, any
 * S3/DynamoDB-compatible server) and nothing is started. Otherwise moto server is started from a
 * project-local virtualenv (created on first use from emulator/requirements.txt) on a free
 * loopback port, and stopped by `stop()`, by process exit, or by its own watch on its stdin.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface Emulator {
  /** Base URL of the S3 and DynamoDB APIs. */
  readonly endpoint: string;
  readonly region: string;
  /** `moto` when this process started it, `external` when taken from AWS_ENDPOINT_URL. */
  readonly kind: "moto" | "external";
  stop(): Promise<void>;
}

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const venvDir = join(projectRoot, ".venv-emulator");
const requirementsFile = join(projectRoot, "emulator", "requirements.txt");
const launcherScript = join(projectRoot, "emulator", "serve.py");
const venvPython = join(venvDir, "bin", "python");
const stampFile = join(venvDir, ".requirements-sha256");

const STARTUP_TIMEOUT_MS = 60_000;

export function defaultRegion(): string {
  return process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
}

/** Creates or refreshes .venv-emulator when the pinned requirements changed. Idempotent. */
export function ensureEmulatorVirtualenv(log: (line: string) => void = () => {}): string {
  const wanted = createHash("sha256").update(readFileSync(requirementsFile)).digest("hex");
  if (existsSync(venvPython) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === wanted) {
    return venvPython;
  }
  const python = process.env.PYTHON ?? "python3";
  log(`sealtrail: creating the moto virtualenv in ${venvDir} (first run only)`);
  try {
    if (!existsSync(venvPython)) execFileSync(python, ["-m", "venv", venvDir], { stdio: "inherit" });
    execFileSync(
      venvPython,
      ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirementsFile],
      {
        stdio: "inherit",
      },
    );
  } catch (error) {
    throw new Error(
      `Could not create the emulator virtualenv (${(error as Error).message}). ` +
        "sealtrail needs Python 3 with venv and pip and access to PyPI, or set AWS_ENDPOINT_URL to a running " +
        "S3/DynamoDB-compatible endpoint.",
    );
  }
  writeFileSync(stampFile, wanted);
  return venvPython;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort; the launcher also exits on its own when our end of its stdin closes.
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

/** Starts moto on 127.0.0.1:<free port> and resolves once it has bound the port. */
async function startMoto(region: string, log: (line: string) => void): Promise<Emulator> {
  const python = ensureEmulatorVirtualenv(log);
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
  const external = process.env.AWS_ENDPOINT_URL;
  if (external) {
    return { endpoint: external.replace(/\/+$/, ""), region, kind: "external", stop: async () => {} };
  }
  return startMoto(region, options.log ?? (() => {}));
}
