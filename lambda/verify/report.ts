/**
 * How a verification report is written down: the JSON report (`verify --json`, and every step the
 * scheduled verifier keeps for auditors) and the one-line text of a finding (the CLI's output, and the
 * scheduled verifier's alarm message). One shape for both, so an auditor reads either the same way.
 */
import { exitCodeFor, type Finding, type VerifyReport } from "./verifier";

/** The JSON report's shape: stable snake_case for programs that read it. */
export function reportJson(report: VerifyReport, options: { allowEmpty?: boolean } = {}): object {
  return {
    ok: report.ok,
    outcome: report.outcome,
    exit_code: exitCodeFor(report, options),
    source: report.source,
    checkpoints_found: report.checkpointsFound,
    sees_versions: report.seesVersions,
    notes: report.notes,
    stats: report.stats,
    newest_checkpoint: report.newestCheckpoint ?? null,
    findings: report.findings,
  };
}

/** `ERROR code [key, chain c, seq s, line l]: message` */
export function describeFinding(finding: Finding): string {
  const where = [
    finding.key,
    finding.chain !== undefined ? `chain ${finding.chain}` : undefined,
    finding.seq !== undefined ? `seq ${finding.seq}` : undefined,
    finding.line !== undefined ? `line ${finding.line}` : undefined,
  ].filter(Boolean);
  return `${finding.severity.toUpperCase()} ${finding.code}${where.length ? ` [${where.join(", ")}]` : ""}: ${finding.message}`;
}
