/**
 * `sealtrail proof EVENT_ID [--out FILE]`: fetches the event's proof bundle from the API
 * (`GET /v1/events/{id}/proof`), to be checked offline with `sealtrail verify-proof`.
 * Exit 0 written, 1 the API answered an error (e.g. 409 until a checkpoint covers the event), 2 usage
 * or network error.
 */
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { apiConnection, describeHttpError, getJson, HttpError } from "./api";
import { CliError, EXIT } from "./exit";
import { withUsageHints } from "./usage";

/** Options people try on `proof`, and what it takes instead. */
const PROOF_HINTS = {
  "--output": "--out <file>",
  "-o": "--out <file>",
  "--file": "--out <file>",
} as const;

export function proofCommand(): Command {
  const command = new Command("proof")
    .description("fetch an event's proof bundle (check it offline with verify-proof)")
    .argument("<event-id>", "the event's id")
    .option("--out <file>", "write the bundle here instead of to stdout")
    .option("--api <url>", "API base URL (default: $SEALTRAIL_API_URL, else local mode's)")
    .option(
      "--token <token>",
      "bearer token with the read scope (default: $SEALTRAIL_TOKEN, else local mode's issuer)",
    )
    .action(async (eventId: string, options: { out?: string; api?: string; token?: string }) => {
      const connection = await apiConnection(options);
      let bundle: unknown;
      try {
        bundle = await getJson(connection, `v1/events/${encodeURIComponent(eventId)}/proof`);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        process.stderr.write(`sealtrail proof: ${describeHttpError(error)}\n`);
        process.exitCode = EXIT.httpError;
        return;
      }
      const text = `${JSON.stringify(bundle)}\n`;
      if (!options.out) {
        process.stdout.write(text);
        return;
      }
      try {
        writeFileSync(options.out, text);
      } catch (error) {
        throw new CliError(`cannot write ${options.out}: ${(error as Error).message}`);
      }
      process.stderr.write(`proof bundle of ${eventId} written to ${options.out}\n`);
    });
  return withUsageHints(command, PROOF_HINTS);
}
