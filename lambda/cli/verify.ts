/**
 * `sealtrail verify`, `sealtrail verify-proof` and `sealtrail trust`: thin layers over the verifier,
 * the proof checker and the trust-file format. Exit 0: verified; 1: an integrity finding; 2: usage or
 * I/O error (the archive could not be read, so nothing was concluded).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { SingleBar } from "cli-progress";
import { Command, Option } from "commander";
import { S3ArchiveSource } from "../aws/archive-source";
import { dynamoClient, s3Client } from "../aws/clients";
import { eventPointers } from "../aws/index-reader";
import { documentClient } from "../aws/index-store";
import { publicJwkFromSpki } from "../aws/kms-checkpoint-key";
import { keyIdOf, parseTrustedKeys, type TrustedKey, trustFileOf } from "../core/checkpoint";
import { verifyProofBundle } from "../core/proof";
import { DirectorySource } from "../verify/source";
import {
  exitCodeFor,
  type Finding,
  type VerifierState,
  type VerifyReport,
  verifyArchive,
} from "../verify/verifier";
import { defaultWorkerCount, WorkerBatchChecker } from "../verify/worker-pool";
import { CliError, EXIT } from "./exit";

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "15m", "2h", "7d", or plain seconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new CliError(`--max-age "${text}" is not a duration such as 90s, 15m, 2h or 7d`);
  return Number(match[1]) * UNIT_MS[(match[2] ?? "s") as keyof typeof UNIT_MS];
}

export async function readTrustFile(file: string): Promise<TrustedKey[]> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read the trust file ${file}: ${(error as Error).message}`);
  }
  try {
    return await parseTrustedKeys(json);
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`);
  }
}

function readState(file: string): VerifierState | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`cannot read the state file ${file}: ${(error as Error).message}`);
  }
  const state = JSON.parse(text) as VerifierState;
  if (state?.v !== 1 || typeof state.checkpoint?.seq !== "number") {
    throw new CliError(`${file} is not a sealtrail verify state file`);
  }
  return state;
}

interface VerifyFlags {
  bucket?: string;
  dir?: string;
  endpoint?: string;
  region?: string;
  table?: string;
  trust: string;
  state?: string;
  maxAge?: string;
  json?: string;
  concurrency: string;
  workers?: string;
  records?: boolean;
}

/** A progress bar on a terminal only: never in CI, never into a pipe or a file. */
function progressBar(): {
  update: (p: { phase: string; done: number; total: number }) => void;
  stop: () => void;
} {
  if (!process.stderr.isTTY || process.env.CI) return { update: () => {}, stop: () => {} };
  const bar = new SingleBar({
    format: "{phase} [{bar}] {value}/{total}",
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  });
  let phase = "";
  return {
    update(p) {
      if (p.phase !== phase) {
        if (phase) bar.stop();
        phase = p.phase;
        bar.start(Math.max(p.total, 1), 0, { phase });
      }
      bar.setTotal(Math.max(p.total, 1));
      bar.update(p.done, { phase });
    },
    stop: () => bar.stop(),
  };
}

function describeFinding(finding: Finding): string {
  const where = [
    finding.key,
    finding.chain !== undefined ? `chain ${finding.chain}` : undefined,
    finding.seq !== undefined ? `seq ${finding.seq}` : undefined,
    finding.line !== undefined ? `line ${finding.line}` : undefined,
  ].filter(Boolean);
  return `${finding.severity.toUpperCase()} ${finding.code}${where.length ? ` [${where.join(", ")}]` : ""}: ${finding.message}`;
}

/** The JSON report's shape: stable snake_case for programs that read it. */
export function reportJson(report: VerifyReport): object {
  return {
    ok: report.ok,
    exit_code: exitCodeFor(report),
    source: report.source,
    sees_versions: report.seesVersions,
    notes: report.notes,
    stats: report.stats,
    newest_checkpoint: report.newestCheckpoint ?? null,
    findings: report.findings,
  };
}

export async function runVerify(
  flags: VerifyFlags,
  out: (line: string) => void = console.log,
): Promise<number> {
  if (Boolean(flags.bucket) === Boolean(flags.dir))
    throw new CliError("give exactly one of --bucket NAME or --dir PATH");
  if (flags.dir && (flags.endpoint || flags.region || flags.table)) {
    throw new CliError("--endpoint, --region and --table apply to --bucket only");
  }
  const trusted = await readTrustFile(flags.trust);
  const state = flags.state ? readState(flags.state) : undefined;
  const maxAgeMs = flags.maxAge !== undefined ? parseDuration(flags.maxAge) : undefined;
  const concurrency = Number(flags.concurrency);
  const workers = flags.workers !== undefined ? Number(flags.workers) : defaultWorkerCount();
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new CliError("--concurrency must be a positive integer");
  if (!Number.isInteger(workers) || workers < 0) throw new CliError("--workers must be 0 or more");

  const target = {
    region: flags.region ?? process.env.AWS_REGION ?? "us-east-1",
    endpoint: flags.endpoint ?? process.env.AWS_ENDPOINT_URL,
  };
  const source = flags.bucket
    ? new S3ArchiveSource(s3Client(target), flags.bucket)
    : new DirectorySource(flags.dir as string);
  const table = flags.table;
  const index = table ? () => eventPointers(documentClient(dynamoClient(target)), table) : undefined;
  const pool = workers > 0 ? new WorkerBatchChecker(workers) : undefined;
  const bar = progressBar();
  let report: VerifyReport;
  try {
    report = await verifyArchive({
      source,
      trusted,
      state,
      maxAgeMs,
      index,
      concurrency,
      records: flags.records ?? false,
      checkBatch: pool?.check,
      onProgress: bar.update,
    });
  } catch (error) {
    throw new CliError(`could not read the archive at ${source.description}: ${(error as Error).message}`);
  } finally {
    bar.stop();
    await pool?.close();
  }

  for (const note of report.notes) out(`note: ${note}`);
  for (const finding of report.findings) out(describeFinding(finding));
  const { stats } = report;
  const newest = report.newestCheckpoint;
  out(
    `${report.ok ? "VERIFIED" : "FAILED"}: ${stats.checkpoints} checkpoints, ${stats.chains} chains, ${stats.links} links, ` +
      `${stats.objects} objects, ${stats.events} events, ${(stats.bytes / 1e6).toFixed(1)} MB` +
      (newest ? `; newest checkpoint ${newest.seq} at ${newest.time}` : "; no checkpoint yet"),
  );
  if (flags.json) writeFileSync(flags.json, `${JSON.stringify(reportJson(report), null, 2)}\n`);
  if (flags.state && report.state) writeFileSync(flags.state, `${JSON.stringify(report.state)}\n`);
  return exitCodeFor(report);
}

export function verifyCommand(): Command {
  return new Command("verify")
    .description(
      "verify the whole archive against trusted checkpoint keys (exit 0 ok, 1 integrity finding, 2 error)",
    )
    .option("--bucket <name>", "the archive bucket (reads version listings)")
    .option(
      "--endpoint <url>",
      "S3/DynamoDB endpoint (an emulator or compatible service); default AWS_ENDPOINT_URL",
    )
    .option("--region <region>", "AWS region; default AWS_REGION or us-east-1")
    .option("--table <name>", "also compare the index table with the archive")
    .option("--dir <path>", "a local copy of the bucket (same keys as files; versions cannot be seen)")
    .requiredOption("--trust <jwks-file>", "the trusted checkpoint public keys (JWKS)")
    .option(
      "--state <file>",
      "the last verified checkpoint: continue from it and fail unless the archive extends it",
    )
    .option("--max-age <duration>", "fail when the newest checkpoint is older (90s, 15m, 2h, 7d)")
    .option("--json <report-file>", "write the report as JSON")
    .option("--concurrency <n>", "reads in flight", "32")
    .addOption(new Option("--workers <n>", "worker threads checking data objects (0: none)"))
    .option(
      "--records",
      "parse every line as a canonical event record, not only in batches no checkpoint covers or that fail (about 6x slower)",
    )
    .action(async (flags: VerifyFlags) => {
      process.exitCode = await runVerify(flags);
    });
}

export async function runVerifyProof(
  file: string,
  trustFile: string,
  out: (line: string) => void = console.log,
): Promise<number> {
  const trusted = await readTrustFile(trustFile);
  let bundle: unknown;
  try {
    bundle = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    // A file that is not JSON may be a damaged bundle: that is a failed proof, not a usage error.
    if ((error as NodeJS.ErrnoException).code)
      throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
    out(`FAILED: ${file} is not JSON`);
    return EXIT.finding;
  }
  const verdict = await verifyProofBundle(bundle, trusted);
  if (!verdict.ok) {
    out(`FAILED: ${verdict.problem}`);
    return EXIT.finding;
  }
  const { facts } = verdict;
  out(
    `VERIFIED: event ${facts.event} is line ${(bundle as { batch: { leaf_index: number } }).batch.leaf_index + 1} of ${facts.batchKey}, ` +
      `link ${facts.chain}/${facts.seq}, covered by checkpoint ${facts.checkpointSeq} (${facts.checkpointTime}, key ${facts.kid})`,
  );
  return EXIT.ok;
}

export function verifyProofCommand(): Command {
  return new Command("verify-proof")
    .description("check a proof bundle offline against trusted checkpoint keys (exit 0 ok, 1 fails, 2 error)")
    .argument("<file>", "the proof bundle (JSON)")
    .requiredOption("--trust <jwks-file>", "the trusted checkpoint public keys (JWKS)")
    .action(async (file: string, flags: { trust: string }) => {
      process.exitCode = await runVerifyProof(file, flags.trust);
    });
}

export function trustCommand(): Command {
  return new Command("trust")
    .description(
      "print the trust file (JWKS) for a checkpoint public key, e.g. the stack output CheckpointPublicKey",
    )
    .requiredOption("--public-key <base64-der>", "the P-256 public key as base64 DER (SubjectPublicKeyInfo)")
    .option("--valid-from <iso-time>", "the earliest checkpoint time this key may sign")
    .action(async (flags: { publicKey: string; validFrom?: string }) => {
      let publicJwk: ReturnType<typeof publicJwkFromSpki>;
      try {
        publicJwk = publicJwkFromSpki(Buffer.from(flags.publicKey, "base64"));
      } catch (error) {
        throw new CliError(`--public-key is not a base64 DER public key: ${(error as Error).message}`);
      }
      if (publicJwk.crv !== "P-256") throw new CliError(`--public-key is a ${publicJwk.crv} key, not P-256`);
      const kid = await keyIdOf(publicJwk);
      console.log(JSON.stringify(trustFileOf({ kid, publicJwk }, flags.validFrom), null, 2));
    });
}
