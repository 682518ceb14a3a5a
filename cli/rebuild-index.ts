/**
 * `sealtrail rebuild-index --bucket B --table T`: rebuilds every index item of the archive in B into the
 * empty table T, from the bucket alone (lambda/ingest/rebuild-index.ts). Run it again after an
 * interruption: it continues where it stopped. Exit 0: rebuilt; 1: rebuilt, but links the archive does
 * not back were not indexed (run `sealtrail verify`); 2: usage or I/O error, or the rebuild is incomplete.
 */
import { SingleBar } from "cli-progress";
import { Command } from "commander";
import { S3ArchiveSource } from "../lambda/aws/archive-source";
import { dynamoClient, s3Client } from "../lambda/aws/clients";
import { documentClient, IndexStore } from "../lambda/aws/index-store";
import { S3ObjectStore } from "../lambda/aws/object-store";
import { DynamoRebuildStateStore } from "../lambda/aws/rebuild-state-store";
import { awsTargetFromEnv } from "../lambda/aws/target";
import { CHAINS_PREFIX } from "../lambda/core/paths";
import {
  type RebuildProgress,
  RebuildRefusedError,
  type RebuildResult,
  rebuildExitCode,
  rebuildIndex,
} from "../lambda/ingest/rebuild-index";
import { CliError } from "./exit";
import { wholeNumber } from "./numbers";
import { withUsageHints } from "./usage";

export interface RebuildIndexFlags {
  readonly bucket: string;
  readonly table: string;
  readonly endpoint?: string;
  readonly region?: string;
  readonly concurrency: number;
  readonly indexTtlDays?: number;
}

/** A progress bar on a terminal only: never in CI, never into a pipe or a file. */
function progressBar(): { update: (progress: RebuildProgress) => void; stop: () => void } | undefined {
  if (!process.stderr.isTTY || process.env.CI) return undefined;
  const bar = new SingleBar({
    format: "rebuild-index [{bar}] {value}/{total} links | {events} events",
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  });
  let started = false;
  return {
    update(progress) {
      if (!started) {
        bar.start(Math.max(progress.linksTotal, 1), 0, { events: 0 });
        started = true;
      }
      bar.setTotal(Math.max(progress.linksTotal, 1));
      bar.update(progress.linksDone, { events: progress.eventsIndexed });
    },
    stop: () => bar.stop(),
  };
}

function describeProblem(message: string, detail: Record<string, unknown>): string {
  const where = detail.link ?? (detail.chain !== undefined ? `chain ${detail.chain}` : undefined);
  const error = detail.error !== undefined ? ` (${String(detail.error)})` : "";
  return `PROBLEM ${message}${where !== undefined ? ` [${String(where)}]` : ""}${error}`;
}

/** The last line of a run: what the table now holds, and what to do next. */
export function summaryLine(result: RebuildResult, table: string): string {
  const links = result.linksIndexed + result.linksAlreadyIndexed;
  const read =
    `${result.chains.length} chains, ${links} links indexed (${result.linksIndexed} by this run, ` +
    `${result.linksAlreadyIndexed} before), ${result.eventsIndexed} events by this run`;
  if (!result.complete) {
    const failed = [
      result.chainsFailed.length > 0
        ? `chain(s) ${result.chainsFailed.join(", ")} could not be read`
        : undefined,
      result.linksFailed > 0 ? `${result.linksFailed} links could not be written` : undefined,
    ].filter(Boolean);
    return (
      `INCOMPLETE: ${failed.join("; ")} (see PROBLEM lines); ${read}. ` +
      "Run the same command again: it continues where this run stopped"
    );
  }
  const problems = result.linksRejected + result.nonCanonicalChains.length;
  if (problems > 0) {
    return (
      `REBUILT WITH PROBLEMS: ${read} into ${table}; ${result.linksRejected} links not indexed because the ` +
      `archive does not back them, ${result.nonCanonicalChains.length} non-canonical names under chains/: ` +
      `run sealtrail verify --bucket ${result.bucket}`
    );
  }
  return `REBUILT: ${read} into ${table}${result.resumed ? ` (continuing the rebuild started ${result.startedAt})` : ""}`;
}

export async function runRebuildIndex(
  flags: RebuildIndexFlags,
  out: (line: string) => void = console.log,
): Promise<number> {
  const { concurrency, indexTtlDays } = flags;
  const target = awsTargetFromEnv(process.env, flags);
  const s3 = s3Client(target);
  const doc = documentClient(dynamoClient(target));
  const source = new S3ArchiveSource(s3, flags.bucket);
  const bar = progressBar();
  // Under a progress bar, problems are printed once it is gone, so the two never share a line.
  const held: string[] = [];
  const report = (line: string) => (bar ? held.push(line) : out(line));
  let result: RebuildResult;
  try {
    result = await rebuildIndex({
      objects: new S3ObjectStore(s3, flags.bucket),
      index: new IndexStore(doc, flags.table),
      state: new DynamoRebuildStateStore(doc, flags.table),
      bucket: flags.bucket,
      listChains: () => source.listChildren(CHAINS_PREFIX),
      indexTtlDays,
      concurrency,
      onProgress: bar?.update,
      onProblem: (message, detail) => report(describeProblem(message, detail)),
    });
  } catch (error) {
    if (error instanceof RebuildRefusedError) throw new CliError(`table ${flags.table}: ${error.message}`);
    throw new CliError(ioErrorMessage(error, flags));
  } finally {
    bar?.stop();
    for (const line of held) out(line);
  }
  out(summaryLine(result, flags.table));
  return rebuildExitCode(result);
}

/** An S3 or DynamoDB error before the rebuild could start or go on, in words that say what to check. */
function ioErrorMessage(error: unknown, flags: RebuildIndexFlags): string {
  const name = (error as { name?: string }).name;
  const rerun = "; run the same command again once it is fixed: it continues where it stopped";
  if (name === "NoSuchBucket")
    return `the bucket ${flags.bucket} does not exist: give the archive bucket (the stack's BucketName output)`;
  if (name === "ResourceNotFoundException") {
    return (
      `the table ${flags.table} does not exist: create it with the index table's key schema and global ` +
      "secondary indexes first (docs/operations.md)"
    );
  }
  return `could not read s3://${flags.bucket} or write the table ${flags.table}: ${(error as Error).message}${rerun}`;
}

export function rebuildIndexCommand(): Command {
  const command = new Command("rebuild-index")
    .description(
      "rebuild the index table from the archive bucket alone, into an empty table; run it again to continue " +
        "after an interruption (exit 0 rebuilt, 1 archive problems found, 2 error or incomplete)",
    )
    .requiredOption("--bucket <name>", "the archive bucket")
    .requiredOption(
      "--table <name>",
      "the empty index table to rebuild into (or the one a run was interrupted in)",
    )
    .option(
      "--endpoint <url>",
      "S3/DynamoDB endpoint (an emulator or compatible service); default AWS_ENDPOINT_URL",
    )
    .option("--region <region>", "AWS region; default AWS_REGION or us-east-1")
    .option("--concurrency <n>", "chains rebuilt at once", wholeNumber(1), 8)
    .option(
      "--index-ttl-days <days>",
      "days until index items expire, as the deployment's indexTtlDays context sets them (default: never, as the stack's default)",
      wholeNumber(1),
    )
    .action(async (flags: RebuildIndexFlags) => {
      process.exitCode = await runRebuildIndex(flags);
    });
  return withUsageHints(command, {
    "--dir": "--bucket <name> (rebuild-index reads the bucket itself)",
    "--index": "--table <name>",
  });
}
