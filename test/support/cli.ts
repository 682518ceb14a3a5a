/** The `sealtrail` CLI (bin/sealtrail.ts) as a user runs it, for the tests that drive it. */
import { execFile } from "node:child_process";
import { join } from "node:path";

const CLI = join(import.meta.dirname, "../../bin/sealtrail.ts");

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI in a child process (async, so the event loop stays free) with CI=true and `env` over
 * this process's environment; a variable given as undefined is left out. Never rejects: a failed run
 * is its exit code (-1 when it has none, e.g. killed at the 90 s timeout) and its output.
 */
export function sealtrail(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): Promise<CliRun> {
  const merged: Record<string, string | undefined> = { ...process.env, CI: "true", ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", CLI, ...args],
      { env: merged, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
