#!/usr/bin/env -S node --import tsx
/**
 * The sealtrail CLI: `verify`, `verify-proof`, `trust`, `proof`, `query`, `rebuild-index`. Exit 0 ok,
 * 1 an integrity finding (or an HTTP error answer), 2 a usage or I/O error.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { CliError, EXIT } from "../cli/exit";
import { proofCommand } from "../cli/proof";
import { queryCommand } from "../cli/query";
import { rebuildIndexCommand } from "../cli/rebuild-index";
import { trustCommand, verifyCommand, verifyProofCommand } from "../cli/verify";

/** The version is package.json's: one place to bump it. */
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

const program = new Command("sealtrail")
  .description("tamper-evident audit log archive: verify the archive, prove single events, search")
  .version(version, "-V, --version", "print the sealtrail version")
  .exitOverride()
  .configureOutput({ writeErr: (text) => process.stderr.write(text) });
for (const command of [verifyCommand(), verifyProofCommand(), trustCommand(), proofCommand()]) {
  program.addCommand(command.exitOverride());
}
program.addCommand(rebuildIndexCommand().exitOverride());
// `query` handles its own usage errors and exit codes.
program.addCommand(queryCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (error instanceof CliError) {
    console.error(`sealtrail: ${error.message}`);
    process.exitCode = EXIT.usage;
  } else {
    console.error(`sealtrail: ${(error as Error).stack ?? error}`);
    process.exitCode = EXIT.usage;
  }
}
