/**
 * The query service wired to its parts, the one way the Lambda handler and the in-memory test
 * services both use: one checkpoint finder shared by the reads and the proof builder, and reads
 * archived through the ingest service.
 */
import type { ArchiveSource } from "../archive/source";
import type { IngestService } from "../ingest/ingest-service";
import { type ProofDeps, proofProvider } from "../proof/proof-service";
import { LatestCheckpointFinder } from "./checkpoints";
import { type ProofProvider, QueryService, type QueryServiceDeps } from "./query-service";

export interface QueryParts extends Omit<QueryServiceDeps, "checkpoints" | "archive" | "proof"> {
  /** Where proofs read the archive from. */
  readonly source: ArchiveSource;
  readonly markers: ProofDeps["markers"];
  readonly ingest: Pick<IngestService, "archiveServerEvents">;
  /** Replaces the proof builder (tests). */
  readonly proof?: ProofProvider;
}

export function composeQueryService(parts: QueryParts): QueryService {
  const { source, markers, ingest, proof, ...deps } = parts;
  const checkpoints = new LatestCheckpointFinder(parts.objects);
  return new QueryService({
    ...deps,
    checkpoints,
    archive: (caller, events) => ingest.archiveServerEvents(caller, events),
    proof:
      proof ??
      proofProvider({ source, markers, newestCheckpointKey: async () => (await checkpoints.find())?.key }),
  });
}
