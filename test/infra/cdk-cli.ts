/**
 * The CDK CLI and cfn-lint as child processes, asynchronously (a test's event loop is never blocked):
 * the synth test and the deploy test synthesize exactly what `cdk synth` produces.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const CDK_CLI = join(PROJECT_ROOT, "node_modules", "aws-cdk", "bin", "cdk");

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command in the project root; a non-zero exit is a result, not a rejection. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly timeoutMs?: number } = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(command, [...args], {
      cwd: PROJECT_ROOT,
      env: options.env ?? process.env,
      timeout: options.timeoutMs ?? 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === "number" ? failed.code : 1,
      stdout: failed.stdout ?? "",
      stderr: `${failed.stderr ?? ""}${typeof failed.code === "number" ? "" : `\n${failed.message}`}`,
    };
  }
}

/**
 * `cdk synth` of the project's app (cdk.json) into `outdir` with `-c key=value` for each entry; no
 * notices and no telemetry, so it never waits on the network.
 */
export function cdkSynth(
  outdir: string,
  context: Readonly<Record<string, string>>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliResult> {
  const contextArgs = Object.entries(context).flatMap(([key, value]) => ["-c", `${key}=${value}`]);
  return runCommand(
    process.execPath,
    [CDK_CLI, "synth", "--quiet", "--no-notices", "-o", outdir, ...contextArgs],
    {
      env: { ...env, CDK_DISABLE_CLI_TELEMETRY: "true", CDK_DISABLE_VERSION_CHECK: "true" },
    },
  );
}

/** The CloudFormation templates of a cloud assembly directory. */
export function assemblyTemplates(outdir: string): string[] {
  return readdirSync(outdir)
    .filter((name) => name.endsWith(".template.json"))
    .map((name) => join(outdir, name));
}

/** One cfn-lint finding, as `cfn-lint --format json` prints it. */
export interface CfnLintFinding {
  readonly Level: "Error" | "Warning" | "Informational";
  readonly Message: string;
  readonly Filename: string;
  readonly Rule: { readonly Id: string };
  readonly Location: { readonly Path: readonly (string | number)[] };
}

/**
 * Runs cfn-lint (pinned in emulator/requirements.txt, installed in .venv-emulator) over the templates.
 * The virtualenv is made or refreshed first by bin/setup-emulator.ts, as a child process.
 */
export async function cfnLint(templates: readonly string[]): Promise<CfnLintFinding[]> {
  await ensureEmulatorVenv("cfn-lint");
  const lint = await runCommand(join(PROJECT_ROOT, ".venv-emulator", "bin", "cfn-lint"), [
    "--format",
    "json",
    ...templates,
  ]);
  // cfn-lint exits with a bit mask of the levels it found (2 error, 4 warning, 8 informational); 1 is
  // its own failure.
  if ((lint.code & 1) === 1) throw new Error(`cfn-lint failed: ${lint.stderr}`);
  return JSON.parse(lint.stdout) as CfnLintFinding[];
}

/**
 * Makes or refreshes .venv-emulator (bin/setup-emulator.ts, as a child process) for a tool pinned in
 * emulator/requirements.txt, and returns its Python: a test that needs the tool runs it, never skips.
 */
export async function ensureEmulatorVenv(tool: string): Promise<string> {
  const setup = await runCommand(join(PROJECT_ROOT, "node_modules", ".bin", "tsx"), [
    join(PROJECT_ROOT, "bin", "setup-emulator.ts"),
  ]);
  if (setup.code !== 0) throw new Error(`could not set up .venv-emulator for ${tool}: ${setup.stderr}`);
  return join(PROJECT_ROOT, ".venv-emulator", "bin", "python");
}
