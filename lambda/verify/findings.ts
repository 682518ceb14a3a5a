/**
 * Every finding code a verification run can report, defined once with its severity. The verifier's
 * phases, the report (`describeFinding`, `--json`) and docs/verify.md's table use these names, and an
 * auditor's tooling matches on them, so they are stable: test/unit/finding-codes.test.ts keeps the
 * table equal to this list.
 */
import type { CheckpointError } from "../core/checkpoint";
import type { BatchProblem } from "./batch-check";

export type Severity = "error" | "warning";

/**
 * Errors mean the archive is not what was signed; warnings are normal states an auditor should still
 * see. In the order of docs/verify.md's table. The codes of the batch check and of a checkpoint that
 * does not verify come from those checks; `satisfies` makes adding one there a compile error here.
 */
export const FINDING_CODES = {
  // listing
  non_canonical_key: "error",
  second_version: "error",
  delete_marker: "error",
  // checkpoints
  checkpoint_unknown_key: "error",
  checkpoint_bad_signature: "error",
  checkpoint_bad_header: "error",
  checkpoint_key_not_valid: "error",
  checkpoint_bad_payload: "error",
  checkpoint_not_canonical: "error",
  checkpoint_not_jws: "error",
  bad_checkpoint: "error",
  missing_checkpoint: "error",
  checkpoint_prev: "error",
  chain_dropped: "error",
  chain_shrank: "error",
  checkpoint_time: "error",
  // chains
  missing_link: "error",
  altered_link: "error",
  reordered_link: "error",
  broken_prev: "error",
  duplicate_batch: "error",
  chain_mismatch: "error",
  truncated_chain: "error",
  inconsistent_checkpoints: "error",
  unsigned_links: "warning",
  // replaced links
  overwritten_link: "error",
  // data objects
  missing_object: "error",
  altered_object: "error",
  bad_line: "error",
  line_order: "error",
  duplicate_line: "error",
  batch_mismatch: "error",
  unlinked_object: "warning",
  // index
  index_mismatch: "error",
  index_orphan: "error",
  not_indexed: "warning",
  // freshness
  stale: "error",
  rollback: "error",
  fork: "error",
} as const satisfies Record<BatchProblem["code"] | `checkpoint_${CheckpointError["code"]}`, "error"> &
  Record<string, Severity>;

export type FindingCode = keyof typeof FINDING_CODES;
type CodeOf<S extends Severity> = {
  [C in FindingCode]: (typeof FINDING_CODES)[C] extends S ? C : never;
}[FindingCode];
export type ErrorCode = CodeOf<"error">;
export type WarningCode = CodeOf<"warning">;

export interface Finding {
  readonly severity: Severity;
  readonly code: FindingCode;
  readonly key?: string;
  readonly chain?: string;
  readonly seq?: number;
  /** 1-based line in a data object. */
  readonly line?: number;
  /** The version of `key` the finding is about, where it is not the current one. */
  readonly version?: string;
  /** The data object a finding about a link names. */
  readonly batch?: string;
  readonly message: string;
}

type Where = Omit<Finding, "severity" | "code">;

/** A run's findings in the order they were found; each code only with its own severity. */
export class Findings {
  readonly all: Finding[] = [];

  error(finding: Where & { readonly code: ErrorCode }): void {
    this.all.push({ severity: "error", ...finding });
  }

  warn(finding: Where & { readonly code: WarningCode }): void {
    this.all.push({ severity: "warning", ...finding });
  }

  get failed(): boolean {
    return this.all.some((finding) => finding.severity === "error");
  }
}
