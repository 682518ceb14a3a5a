/**
 * The pinned Python virtualenvs of the emulator runs (bin/deploy-test.ts: ministack;
 * bin/localstack-test.ts: LocalStack): finding a Python 3.12 or later, and building the virtualenv from
 * a requirements file whose pins (`--no-deps`, then `pip check`) are the whole environment.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Runs a command with its output passed on; rejects with the command and its exit code. */
export async function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const code = await new Promise<number>((resolve) =>
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1))),
  );
  if (code !== 0) throw new Error(`${[command, ...args].join(" ")} exited with ${code}`);
}

/**
 * A Python of at least 3.12 with venv: `$<envVar>`, python3.13, python3.12 or python3 on PATH, or the
 * newest pyenv version. `needs` names who needs it, for the error when there is none.
 */
export async function python312(envVar: string, needs: string): Promise<string> {
  const pyenvVersions = join(process.env.PYENV_ROOT ?? join(homedir(), ".pyenv"), "versions");
  const pyenv = existsSync(pyenvVersions)
    ? readdirSync(pyenvVersions)
        .filter((v) => /^3\.\d+\.\d+$/.test(v))
        .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
        .map((v) => join(pyenvVersions, v, "bin", "python3"))
    : [];
  for (const candidate of [process.env[envVar], "python3.13", "python3.12", "python3", ...pyenv]) {
    if (!candidate) continue;
    try {
      const { stdout } = await execFileAsync(candidate, [
        "-c",
        "import sys, venv; print(sys.version_info >= (3, 12))",
      ]);
      if (stdout.trim() === "True") return candidate;
    } catch {
      // not installed, or without venv
    }
  }
  throw new Error(
    `${needs} needs Python 3.12 or later with venv and pip; none found ` +
      `(tried ${envVar}, python3.13, python3.12, python3 and pyenv versions): install one or set ${envVar}`,
  );
}

export interface PinnedVenv {
  /** The virtualenv's directory, e.g. .venv-ministack. */
  readonly dir: string;
  readonly requirementsFile: string;
  /** File in `dir` holding the digest of what it was built from (`isCurrent`). */
  readonly stampFile: string;
}

/** The virtualenv's own Python. */
export function venvPython(venv: PinnedVenv): string {
  return join(venv.dir, "bin", "python");
}

/** Whether the virtualenv was built, to the end, from what `digest` describes. */
export function isCurrent(venv: PinnedVenv, digest: string): boolean {
  return (
    existsSync(venvPython(venv)) &&
    existsSync(venv.stampFile) &&
    readFileSync(venv.stampFile, "utf8") === digest
  );
}

/**
 * (Re)creates the virtualenv from scratch with `python` and installs exactly the pinned requirements.
 * The caller writes the stamp file once everything it adds is in place too.
 */
export async function buildPinnedVenv(venv: PinnedVenv, python: string): Promise<void> {
  rmSync(venv.dir, { recursive: true, force: true });
  await run(python, ["-m", "venv", venv.dir]);
  const pip = ["-m", "pip", "--disable-pip-version-check"];
  await run(venvPython(venv), [...pip, "install", "--quiet", "--no-deps", "-r", venv.requirementsFile]);
  await run(venvPython(venv), [...pip, "check"]);
}
