/**
 * What every phase of one `verifyArchive` run shares: where it reads, how many reads it keeps in
 * flight, and what it has found so far. Each phase adds to `findings`, `notes` and `stats`; the report
 * is assembled from them at the end (verifier.ts).
 */

import type { ArchiveSource } from "../../archive/source";
import type { Findings } from "../findings";
import type { VerifyOptions, VerifyReport } from "../verifier";

export interface VerifyRun {
  readonly source: ArchiveSource;
  /** Reads in flight. */
  readonly concurrency: number;
  readonly progress: NonNullable<VerifyOptions["onProgress"]>;
  readonly findings: Findings;
  readonly notes: string[];
  readonly stats: VerifyReport["stats"];
}
