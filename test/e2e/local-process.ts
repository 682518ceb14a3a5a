/**
 * `npm start` as a child process, for the e2e suites: started in its own process group, ready when
 * its banner is printed, and stopped by killing that group. Every child process here is
 * asynchronous: a test that blocks its event loop starves its own connections and timers.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LocalState } from "../../local/issuer";

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The banner's last line: once it is out, local mode serves requests. */
const READY_TEXT = "stops the server, the timers and the emulator";
const STARTUP_TIMEOUT_MS = 90_000;

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end without blocking the event loop; a non-zero exit is a result, not an error. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { cwd: options.cwd ?? projectRoot, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A shell line as a user pastes it (the printed curl, verify and export lines). */
export function shell(line: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return run("bash", ["-c", line], options);
}

export interface LocalModeProcess {
  /** The npm process; also the id of the process group everything it starts belongs to. */
  readonly pid: number;
  readonly stateDir: string;
  stdout(): string;
  stderr(): string;
  state(): LocalState;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL to the whole group: the cleanup of last resort. */
  killGroup(): void;
}

/** `npm start` with PORT=0 and the state in `stateDir`; resolves once the banner is printed. */
export async function startNpmStart(
  stateDir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<LocalModeProcess> {
  const child: ChildProcess = spawn("npm", ["start"], {
    cwd: projectRoot,
    env: {
      ...process.env,
      PORT: "0",
      SEALTRAIL_STATE_DIR: stateDir,
      npm_config_update_notifier: "false",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so the test can find (and, at the end, kill) everything it started.
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid as number;
  const process_: LocalModeProcess = {
    pid,
    stateDir,
    stdout: () => stdout,
    stderr: () => stderr,
    state: () => JSON.parse(readFileSync(join(stateDir, "local.json"), "utf8")) as LocalState,
    exited,
    killGroup() {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {}
    },
  };

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      process_.killGroup();
      reject(new Error(`local mode did not start in time.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, STARTUP_TIMEOUT_MS);
    const check = () => {
      if (stdout.includes(READY_TEXT)) {
        clearTimeout(timer);
        child.stdout?.off("data", check);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(
          `local mode exited (${signal ?? code}) during startup.\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    });
  });
  return process_;
}

/** The processes of a process group that have not ended (zombies, which no longer run, excluded). */
export async function runningInGroup(pgid: number): Promise<number[]> {
  const { stdout } = await run("ps", ["-e", "-o", "pid=,pgid=,stat="]);
  return stdout
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && !stat?.startsWith("Z"))
    .map(([pid]) => Number(pid));
}

export function acceptsConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
