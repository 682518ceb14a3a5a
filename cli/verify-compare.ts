/**
 * `sealtrail verify --bucket A --compare B`: are two copies of an archive (the source and its replica)
 * the same? Exit codes as verify's: 0 the same, 1 a difference, 2 a usage or I/O error, or nothing to
 * compare (both empty) unless --allow-empty. It compares; it does not check signatures: run
 * `verify --bucket` on either copy for that.
 */
import { writeFileSync } from "node:fs";
import { s3Client } from "../lambda/aws/clients";
import { S3ComparedBucket } from "../lambda/aws/compared-bucket";
import { awsTargetFromEnv } from "../lambda/aws/target";
import { type CompareReport, compareArchives, type KeyContents } from "../lambda/verify/compare";
import { CliError, EXIT } from "./exit";

export interface CompareFlags {
  readonly bucket?: string;
  readonly compare: string;
  readonly endpoint?: string;
  readonly region?: string;
  /** The other bucket's region, when it is not --region's (a replica in another region). */
  readonly compareRegion?: string;
  /** The AWS profile whose credentials read the other bucket (a replica in another account). */
  readonly compareProfile?: string;
  readonly json?: string;
  readonly concurrency: number;
  readonly allowEmpty?: boolean;
}

/** Options of `verify` that mean nothing to a comparison: given with --compare, they are refused. */
export const NOT_WITH_COMPARE = ["dir", "trust", "table", "state", "maxAge", "records", "workers"] as const;

export function exitCodeForCompare(report: Pick<CompareReport, "outcome">, allowEmpty = false): 0 | 1 | 2 {
  if (report.outcome === "same") return EXIT.ok;
  if (report.outcome === "different") return EXIT.finding;
  return allowEmpty ? EXIT.ok : EXIT.usage;
}

function contentsJson(contents: KeyContents | undefined): object | null {
  if (contents === undefined) return null;
  return { versions: contents.versions, delete_markers: contents.deleteMarkers, hidden: contents.hidden };
}

/** The JSON report's shape: stable snake_case, as verify's. */
export function compareReportJson(report: CompareReport, allowEmpty = false): object {
  return {
    ok: report.outcome === "same",
    outcome: report.outcome,
    exit_code: exitCodeForCompare(report, allowEmpty),
    first: report.first,
    second: report.second,
    stats: report.stats,
    differences: report.differences.map((difference) => ({
      code: difference.code,
      key: difference.key,
      missing_from: difference.missingFrom ?? null,
      first: contentsJson(difference.first),
      second: contentsJson(difference.second),
      message: difference.message,
    })),
  };
}

function summaryLine(report: CompareReport, allowEmpty: boolean): string {
  const { keys, versions } = report.stats;
  const both = `${report.first} (${keys.first} keys, ${versions.first} versions) and ${report.second} (${keys.second} keys, ${versions.second} versions)`;
  switch (report.outcome) {
    case "same":
      return `SAME: ${both}: every key in both, every version's size and SHA-256 equal`;
    case "empty":
      return (
        `NOT COMPARED: ${report.first} and ${report.second} are both empty, so nothing was compared` +
        (allowEmpty ? "" : "; check the bucket names, or pass --allow-empty to accept two empty buckets")
      );
    case "different": {
      const count = (code: string, from?: string) =>
        report.differences.filter((d) => d.code === code && (from === undefined || d.missingFrom === from))
          .length;
      return (
        `DIFFERENT: ${report.differences.length} keys differ between ${both}: ` +
        `${count("missing", report.second)} missing from ${report.second}, ` +
        `${count("missing", report.first)} missing from ${report.first}, ${count("different")} with other contents`
      );
    }
  }
}

export async function runCompare(
  flags: CompareFlags & Partial<Record<(typeof NOT_WITH_COMPARE)[number], unknown>>,
  out: (line: string) => void = console.log,
): Promise<number> {
  if (!flags.bucket) {
    throw new CliError("--compare compares two buckets: give --bucket NAME --compare OTHER_BUCKET");
  }
  if (
    flags.compare === flags.bucket &&
    flags.compareRegion === undefined &&
    flags.compareProfile === undefined
  ) {
    throw new CliError(`--compare names the same bucket as --bucket (${flags.bucket}): give the other copy`);
  }
  const refused = NOT_WITH_COMPARE.filter((name) => flags[name] !== undefined && flags[name] !== false);
  if (refused.length > 0) {
    const names = refused.map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new CliError(
      `${names.join(", ")} cannot be used with --compare, which only compares two buckets: run verify without --compare for them`,
    );
  }
  const concurrency = flags.concurrency;
  const target = awsTargetFromEnv(process.env, flags);
  const first = new S3ComparedBucket(s3Client(target), flags.bucket);
  const second = new S3ComparedBucket(
    s3Client(
      { ...target, region: flags.compareRegion ?? target.region },
      flags.compareProfile !== undefined ? { profile: flags.compareProfile } : {},
    ),
    flags.compare,
  );

  let report: CompareReport;
  try {
    report = await compareArchives({ first, second, concurrency });
  } catch (error) {
    throw new CliError(
      `could not compare ${first.description} with ${second.description}: ${(error as Error).message}` +
        " (both buckets must be readable with these credentials: s3:ListBucketVersions and s3:GetObjectVersion, and kms:Decrypt where a hash needs the bytes)",
    );
  }

  for (const difference of report.differences) {
    out(
      `${difference.code === "missing" ? "MISSING" : "DIFFERENT"} ${difference.key}: ${difference.message}`,
    );
  }
  const allowEmpty = flags.allowEmpty ?? false;
  out(summaryLine(report, allowEmpty));
  if (flags.json)
    writeFileSync(flags.json, `${JSON.stringify(compareReportJson(report, allowEmpty), null, 2)}\n`);
  return exitCodeForCompare(report, allowEmpty);
}
