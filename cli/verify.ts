/**
 * `sealtrail verify`, `sealtrail verify-proof` and `sealtrail trust`: thin layers over the verifier,
 * the proof checker and the trust-file format. Exit 0: verified; 1: an integrity finding; 2: usage or
 * I/O error, or nothing to verify (no checkpoint verified, so nothing was concluded).
 */
import { type Dirent, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SingleBar } from "cli-progress";
import { Command, Option } from "commander";
import { dynamoClient } from "../lambda/aws/clients";
import { eventPointers } from "../lambda/aws/index-reader";
import { documentClient } from "../lambda/aws/index-store";
import { publicJwkFromSpki } from "../lambda/aws/kms-checkpoint-key";
import { awsTargetFromEnv } from "../lambda/aws/target";
import { keyIdOf, parseTrustedKeys, type TrustedKey, trustFileOf } from "../lambda/core/checkpoint";
import { ProofBundleSchema, verifyProofBundle } from "../lambda/core/proof";
import { describeSchemaIssues } from "../lambda/core/schema-words";
import { type ArchiveSourceSpec, openArchiveSource } from "../lambda/runtime/archive-sources";
import { describeFinding, reportJson } from "../lambda/verify/report";
import {
  ARCHIVE_ROOTS,
  exitCodeFor,
  NotAnArchiveError,
  type VerifierState,
  type VerifyReport,
  verifyArchive,
} from "../lambda/verify/verifier";
import { defaultWorkerCount, WorkerObjectChecker } from "../lambda/verify/worker-pool";
import { CliError, EXIT } from "./exit";
import { wholeNumber } from "./numbers";
import { runCompare } from "./verify-compare";

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
  // The usual mistake (one key, or the private key file, instead of the JWKS) in plain words.
  if (!Array.isArray((json as { keys?: unknown } | null)?.keys)) {
    throw new CliError(
      `the trust file ${file} has no "keys" list: give a JWKS of checkpoint public keys ({"keys":[…]}), ` +
        "as `sealtrail trust` prints it or local mode writes it to .sealtrail/checkpoint-jwks.json",
    );
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
  let state: VerifierState;
  try {
    state = JSON.parse(text) as VerifierState;
  } catch {
    throw new CliError(
      `the state file ${file} is not JSON: give a file an earlier verify --state run wrote, or a new path to start one`,
    );
  }
  if (state?.v !== 1 || typeof state.checkpoint?.seq !== "number") {
    throw new CliError(
      `the state file ${file} is not a sealtrail verify state file: give a file an earlier verify --state run wrote, or a new path to start one`,
    );
  }
  return state;
}

interface VerifyFlags {
  bucket?: string;
  dir?: string;
  endpoint?: string;
  region?: string;
  table?: string;
  /** Required unless `compare` is given. */
  trust?: string;
  /** `--compare OTHER`: compare the two buckets instead of verifying (cli/verify-compare.ts). */
  compare?: string;
  compareRegion?: string;
  compareProfile?: string;
  state?: string;
  maxAge?: string;
  json?: string;
  concurrency: number;
  workers?: number;
  records?: boolean;
  allowEmpty?: boolean;
}

const COPY_HINT = "copy the bucket with `aws s3 sync s3://BUCKET DIR` and give that DIR";

/**
 * A mistyped `--dir` must never pass an audit: the path must be a directory, and one that holds a
 * bucket copy's roots (or nothing: an empty bucket's copy, which the run reports as empty). Checked
 * before the walk, so that a wrong directory (a home directory, say) is not read file by file.
 */
function checkBucketCopy(dir: string): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CliError(`--dir ${dir} does not exist: ${COPY_HINT}`);
    if (code === "ENOTDIR") throw new CliError(`--dir ${dir} is a file, not a directory: ${COPY_HINT}`);
    throw new CliError(`cannot read --dir ${dir}: ${(error as Error).message}`);
  }
  const roots = ARCHIVE_ROOTS.map((root) => root.slice(0, -1));
  const isRoot = (entry: Dirent) => entry.isDirectory() && roots.includes(entry.name);
  if (entries.length === 0 || entries.some(isRoot)) return;
  const nested = entries.find(
    (entry) => entry.isDirectory() && roots.some((root) => existsSync(join(dir, entry.name, root))),
  );
  const names = entries.slice(0, 4).map((entry) => entry.name + (entry.isDirectory() ? "/" : ""));
  throw new CliError(
    `--dir ${dir} is not a copy of an archive bucket: it has no ${ARCHIVE_ROOTS.join(" and no ")} at its root ` +
      `(it holds ${names.join(", ")}${entries.length > names.length ? ", …" : ""}). Is this the bucket's root? ` +
      (nested ? `${join(dir, nested.name)} looks like one: give --dir ${join(dir, nested.name)}` : COPY_HINT),
  );
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

/** The last line of a run: what was concluded, never VERIFIED unless a checkpoint verified. */
function summaryLine(
  report: VerifyReport,
  context: { trustFile: string; trusted: readonly TrustedKey[]; allowEmpty: boolean; dir: boolean },
): string {
  const { stats } = report;
  const read =
    `${stats.chains} chains, ${stats.links} links, ${stats.objects} objects, ${stats.events} events, ` +
    `${(stats.bytes / 1e6).toFixed(1)} MB`;
  const newest = report.newestCheckpoint;
  const orAllow = (what: string) => (context.allowEmpty ? "" : `, or pass --allow-empty to accept ${what}`);
  switch (report.outcome) {
    case "verified":
      return `VERIFIED: ${stats.checkpoints} checkpoints, ${read}; newest checkpoint ${newest?.seq} at ${newest?.time}`;
    case "empty":
      return (
        `NOT VERIFIED: ${report.source} is empty (no checkpoint, link or data object), so nothing was verified` +
        (context.dir ? `; is this the bucket's root? ${COPY_HINT}` : "") +
        orAllow("an empty archive")
      );
    case "unsigned":
      return (
        `NOT VERIFIED: no checkpoint yet, so no signature covers what was read (${read}); ` +
        (context.dir ? "a copy must include checkpoints/; " : "") +
        `the checkpoint run signs once a minute: verify again after it${orAllow("an archive nothing has signed yet")}`
      );
    case "failed":
      if (report.checkpointsFound > 0 && stats.checkpoints === 0) {
        const kids = context.trusted.map((key) => key.kid).join(", ");
        return (
          `FAILED: ${report.checkpointsFound} checkpoints found, none signed by a trusted key: check --trust ` +
          `(${context.trustFile} trusts ${kids}; each checkpoint's finding names its key); ${read}`
        );
      }
      return (
        `FAILED: ${stats.checkpoints} checkpoints, ${read}` +
        (newest ? `; newest checkpoint ${newest.seq} at ${newest.time}` : "; no checkpoint yet")
      );
  }
}

export async function runVerify(
  flags: VerifyFlags,
  out: (line: string) => void = console.log,
): Promise<number> {
  if (flags.compare !== undefined) return runCompare({ ...flags, compare: flags.compare }, out);
  if (flags.compareRegion !== undefined || flags.compareProfile !== undefined) {
    throw new CliError("--compare-region and --compare-profile apply to --compare OTHER_BUCKET only");
  }
  if (Boolean(flags.bucket) === Boolean(flags.dir))
    throw new CliError("give exactly one of --bucket NAME or --dir PATH");
  const trustFile = flags.trust;
  if (trustFile === undefined) {
    throw new CliError(
      "give --trust JWKS_FILE, the trusted checkpoint public keys (or --compare OTHER_BUCKET to compare two copies)",
    );
  }
  if (flags.dir && (flags.endpoint || flags.region || flags.table)) {
    throw new CliError("--endpoint, --region and --table apply to --bucket only");
  }
  const trusted = await readTrustFile(trustFile);
  const state = flags.state ? readState(flags.state) : undefined;
  const maxAgeMs = flags.maxAge !== undefined ? parseDuration(flags.maxAge) : undefined;
  const concurrency = flags.concurrency;
  const workers = flags.workers ?? defaultWorkerCount();
  if (flags.dir) checkBucketCopy(flags.dir);

  const target = awsTargetFromEnv(process.env, flags);
  const sourceSpec: ArchiveSourceSpec = flags.bucket
    ? { kind: "s3", bucket: flags.bucket, aws: target }
    : { kind: "directory", root: flags.dir as string };
  const source = openArchiveSource(sourceSpec);
  const table = flags.table;
  const index = table ? () => eventPointers(documentClient(dynamoClient(target)), table) : undefined;
  const pool = workers > 0 ? new WorkerObjectChecker(sourceSpec, workers) : undefined;
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
      checkObject: pool?.check,
      onProgress: bar.update,
    });
  } catch (error) {
    if (error instanceof NotAnArchiveError) throw new CliError(error.message);
    throw new CliError(`could not read the archive at ${source.description}: ${(error as Error).message}`);
  } finally {
    bar.stop();
    await pool?.close();
  }

  for (const note of report.notes) out(`note: ${note}`);
  for (const finding of report.findings) out(describeFinding(finding));
  const allowEmpty = flags.allowEmpty ?? false;
  out(summaryLine(report, { trustFile, trusted, allowEmpty, dir: Boolean(flags.dir) }));
  if (flags.json) {
    writeFileSync(flags.json, `${JSON.stringify(reportJson(report, { allowEmpty }), null, 2)}\n`);
  }
  if (flags.state && report.state) writeFileSync(flags.state, `${JSON.stringify(report.state)}\n`);
  return exitCodeFor(report, { allowEmpty });
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
    .option("--trust <jwks-file>", "the trusted checkpoint public keys (JWKS); required unless --compare")
    .option(
      "--compare <other-bucket>",
      "compare --bucket with another copy (a replica): every key one has and the other lacks, or with other versions (exit 1)",
    )
    .option("--compare-region <region>", "the --compare bucket's region; default --region")
    .option("--compare-profile <profile>", "AWS profile whose credentials read the --compare bucket")
    .option(
      "--state <file>",
      "the last verified checkpoint: continue from it and fail unless the archive extends it",
    )
    .option("--max-age <duration>", "fail when the newest checkpoint is older (90s, 15m, 2h, 7d)")
    .option("--json <report-file>", "write the report as JSON")
    .option("--concurrency <n>", "reads in flight", wholeNumber(1), 32)
    .addOption(
      new Option("--workers <n>", "worker threads checking data objects (0: none)").argParser(wholeNumber(0)),
    )
    .option(
      "--records",
      "parse every line as a canonical event record, not only in batches no checkpoint covers or that fail (about 6x slower)",
    )
    .option(
      "--allow-empty",
      "exit 0, not 2, when there is nothing signed to verify: an empty archive, or one before its first checkpoint",
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
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  // A file that is not a bundle at all is the wrong input (exit 2); a bundle whose hashes or
  // signature do not check out is a failed proof (exit 1).
  const notABundle = `${file} is not a proof bundle (the JSON file \`sealtrail proof EVENT_ID --out FILE\` writes)`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${notABundle}: it is not JSON`);
  }
  const parsed = ProofBundleSchema.safeParse(json);
  if (!parsed.success) {
    throw new CliError(`${notABundle}: ${describeSchemaIssues(parsed.error, json, "the bundle")}`);
  }
  const bundle = parsed.data;
  const verdict = await verifyProofBundle(bundle, trusted);
  if (!verdict.ok) {
    out(`FAILED: ${verdict.problem}`);
    return EXIT.finding;
  }
  const { facts } = verdict;
  out(
    `VERIFIED: event ${facts.event} is line ${bundle.batch.leaf_index + 1} of ${facts.batchKey}, ` +
      `link ${facts.chain}/${facts.seq}, covered by checkpoint ${facts.checkpointSeq} (${facts.checkpointTime}, key ${facts.kid})`,
  );
  return EXIT.ok;
}

export function verifyProofCommand(): Command {
  return new Command("verify-proof")
    .description(
      "check a proof bundle offline against trusted checkpoint keys (exit 0 ok, 1 fails, 2 not a bundle or unreadable)",
    )
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
