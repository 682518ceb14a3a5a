/**
 * `npm run -s token -- --scope "sealtrail/write sealtrail/read" [--sub alice] [--ttl 3600]`
 *
 * Prints one token from the local issuer and nothing else, so `TOKEN=$(npm run -s token -- …)`
 * works. Reads the issuer key and local.json that `npm start` left in the state directory
 * (SEALTRAIL_STATE_DIR, default .sealtrail/). Exit 2 on a usage error or when local mode was
 * never started.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { DEFAULT_SCOPES } from "../lambda/runtime/config";
import {
  ISSUER_KEY_FILE,
  LOCAL_STATE_FILE,
  loadOrCreateIssuerKey,
  localIssuer,
  localStateDir,
} from "../local/issuer";

class TokenError extends Error {}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value <= 0)
    throw new InvalidArgumentError("must be a positive whole number of seconds");
  return value;
}

function readLocalState(stateDir: string): { issuer: string; audience: string } {
  const file = join(stateDir, LOCAL_STATE_FILE);
  if (!existsSync(file) || !existsSync(join(stateDir, ISSUER_KEY_FILE))) {
    throw new TokenError(
      `local mode has not been started here (no ${file}). Run \`npm start\` first; it creates the issuer key.`,
    );
  }
  let state: unknown;
  try {
    state = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new TokenError(`${file} is unreadable (${(error as Error).message}); run \`npm start\` again.`);
  }
  const { issuer, audience } = (state ?? {}) as { issuer?: unknown; audience?: unknown };
  if (typeof issuer !== "string" || typeof audience !== "string") {
    throw new TokenError(`${file} has no issuer or audience; run \`npm start\` again.`);
  }
  return { issuer, audience };
}

async function main(argv: string[]): Promise<void> {
  const program = new Command("token")
    .description("Print a token from the local issuer (local mode must have been started once).")
    .option("--scope <scopes>", "space-delimited scopes", `${DEFAULT_SCOPES.write} ${DEFAULT_SCOPES.read}`)
    .option("--sub <subject>", "the token's subject", "dev-user")
    .option("--ttl <seconds>", "lifetime in seconds", positiveInteger, 3600)
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.parse(argv);
  const options = program.opts<{ scope: string; sub: string; ttl: number }>();

  const stateDir = localStateDir();
  const { issuer, audience } = readLocalState(stateDir);
  const key = await loadOrCreateIssuerKey(stateDir);
  const token = await localIssuer(key, { issuer, audience }).signToken({
    scope: options.scope,
    sub: options.sub,
    ttlSeconds: options.ttl,
  });
  process.stdout.write(`${token}\n`);
}

main(process.argv).catch((error: unknown) => {
  const commanderExit = error as { code?: string; exitCode?: number };
  if (commanderExit.code === "commander.helpDisplayed" || commanderExit.code === "commander.version") {
    process.exit(0);
  }
  if (typeof commanderExit.code === "string" && commanderExit.code.startsWith("commander.")) {
    // Commander already printed the problem.
    process.exit(2);
  }
  console.error(
    `sealtrail token: ${error instanceof TokenError ? error.message : ((error as Error).stack ?? error)}`,
  );
  process.exit(2);
});
