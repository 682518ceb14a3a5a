/**
 * Lambda bundle size and cold start (issue 15): each handler bundled exactly as `cdk synth` bundles it
 * (lib/function.ts HANDLER_ESBUILD_OPTIONS; test/infra/bundling.test.ts holds the two to the same
 * code), its bytes, and its module init time: a fresh `node` process timing `import()` of the bundle,
 * from the call to the handler being ready. Rounds visit the handlers in turn, so the machine's drift
 * falls on all of them alike; the median over rounds is reported. Targets: at most 500 KB and 150 ms.
 *
 * Not measured here: the first invocation against the emulator (it needs each handler's deployment
 * environment; the ingest benchmark times warm invocations).
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { HANDLER_ESBUILD_OPTIONS } from "../lib/function";

const run = promisify(execFile);

export interface BundleBenchResult {
  readonly rounds: number;
  readonly handlers: Record<
    string,
    { readonly bytes: number; readonly initMs: number; readonly initMsPerRound: number[] }
  >;
  readonly targets: { readonly bytes: 500_000; readonly initMs: 150 };
}

const HANDLERS = fileURLToPath(new URL("../lambda/handlers/", import.meta.url));
const OUT = fileURLToPath(new URL("../node_modules/.cache/sealtrail-bench/handlers/", import.meta.url));

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** Milliseconds from `import()` of the bundle to its module being evaluated, in a fresh process. */
async function initMs(file: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    // What a handler reads at init: a region, and quiet logs.
    env: {
      ...process.env,
      AWS_REGION: process.env.AWS_REGION ?? "us-east-1",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    },
  });
  return Number(stdout.trim().split("\n").at(-1));
}

export async function benchBundles(
  log: (line: string) => void,
  options: { readonly rounds?: number } = {},
): Promise<BundleBenchResult> {
  const rounds = options.rounds ?? 7;
  mkdirSync(OUT, { recursive: true });
  const names = readdirSync(HANDLERS)
    .filter((file) => file.endsWith(".ts"))
    .map((file) => file.replace(/\.ts$/, ""))
    .sort();
  const files = new Map<string, string>();
  for (const name of names) {
    const outfile = join(OUT, `${name}.mjs`);
    await build({
      ...HANDLER_ESBUILD_OPTIONS,
      entryPoints: [join(HANDLERS, `${name}.ts`)],
      outfile,
      logLevel: "warning",
    });
    files.set(name, outfile);
  }
  const times = new Map<string, number[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) times.get(name)?.push(Math.round(await initMs(files.get(name) as string)));
  }
  const handlers: BundleBenchResult["handlers"] = {};
  for (const name of names) {
    const bytes = statSync(files.get(name) as string).size;
    const perRound = times.get(name) ?? [];
    handlers[name] = { bytes, initMs: median(perRound), initMsPerRound: perRound };
    log(
      `bundles: ${name} ${(bytes / 1000).toFixed(0)} KB (target ≤ 500), init ${median(perRound)} ms median of ${rounds} (target ≤ 150)`,
    );
  }
  return { rounds, handlers, targets: { bytes: 500_000, initMs: 150 } };
}
