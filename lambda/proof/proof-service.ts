/**
 * Builds the proof bundle of one event (GET /v1/events/{id}/proof, `sealtrail proof`) at the newest
 * checkpoint that covers its link.
 *
 * The index says where the event is and, through its "indexed" markers, what each link of the chain
 * hashes to; none of that is trusted. The bundle is checked against the signed checkpoint's root
 * before it is returned, and when the markers do not give that root (a marker missing, or wrong) the
 * link hashes are read from the archive itself.
 */
import type { ArchiveSource } from "../archive/source";
import { readBatchLines } from "../core/batch";
import { chainLeafHash, parseCheckpointPayload, payloadBytesOf } from "../core/checkpoint";
import type { EventLocation } from "../core/index-items";
import { linkHash } from "../core/link";
import { mapLimit } from "../core/map-limit";
import { merkleRoot } from "../core/merkle";
import { linkKey } from "../core/paths";
import { buildProofBundle, type ProofBundle } from "../core/proof";
import type { ProofProvider } from "../query/query-service";
import { errorResponse } from "../runtime/http";

/** One "indexed" marker as the index holds it: not trusted, the bundle is checked against the signed root. */
export interface IndexedMarker {
  readonly seq: number;
  /** The link's SHA-256 hex, when the marker holds a string. */
  readonly linkHash: unknown;
}

/** The index's "indexed" markers (lambda/aws/index-store.ts implements it). */
export interface LinkMarkers {
  /** The markers of `chain` in seq order; the reader may stop early. */
  indexedMarkers(chain: string): AsyncIterable<IndexedMarker>;
}

export interface ProofDeps {
  readonly source: ArchiveSource;
  readonly markers: LinkMarkers;
  /** Where the newest checkpoint is (the query API's finder, which avoids listing them all). */
  readonly newestCheckpointKey: () => Promise<string | undefined>;
}

export type ProofResult =
  | { readonly status: "ok"; readonly bundle: ProofBundle }
  /** The event's link is newer than the newest checkpoint: ask again after the next checkpoint run. */
  | { readonly status: "not_checkpointed"; readonly checkpointSeq?: number };

/** Builds the bundle of the event at `location` (from its index pointer, which the bundle re-proves). */
export async function buildEventProof(
  deps: ProofDeps,
  eventId: string,
  location: Pick<EventLocation, "chain" | "seq" | "batchKey" | "leafIndex">,
): Promise<ProofResult> {
  const { chain, seq } = location;
  const checkpoint = await readCheckpoint(deps.source, await deps.newestCheckpointKey());
  const signed = checkpoint?.payload.chains[chain];
  if (!checkpoint || !signed || seq >= signed.size) {
    return { status: "not_checkpointed", checkpointSeq: checkpoint?.payload.seq };
  }

  const [objectBytes, linkBytes] = await Promise.all([
    deps.source.get(location.batchKey),
    deps.source.get(linkKey(chain, seq)),
  ]);
  if (!objectBytes || !linkBytes) throw new Error(`event ${eventId}: its data object or link is missing`);
  // The line bytes as sealed: a bundle built from decoded text would not hash to the signed root.
  const { lines: batchLines } = readBatchLines(objectBytes);

  let hashes = await markerLinkHashes(deps.markers, chain, signed.size);
  if (!hashes || merkleRoot(hashes.map(chainLeafHash)).toString("hex") !== signed.root) {
    hashes = await archivedLinkHashes(deps.source, chain, signed.size);
  }
  const bundle = buildProofBundle({
    eventId,
    batchLines,
    lineIndex: location.leafIndex,
    linkBytes,
    chainLinkHashes: hashes,
    checkpointJws: checkpoint.jws,
  });
  return { status: "ok", bundle };
}

/** The query API's proof route over `buildEventProof`: 200 with the bundle, or 409 until a checkpoint covers it. */
export function proofProvider(deps: ProofDeps): ProofProvider {
  return async ({ eventId, location }) => {
    const result = await buildEventProof(deps, eventId, location);
    if (result.status === "ok") return { status: 200, body: result.bundle };
    return errorResponse(
      409,
      "not_checkpointed",
      "no checkpoint covers this event's link yet; checkpoints are signed every minute, so ask again shortly",
      result.checkpointSeq !== undefined ? { newest_checkpoint: result.checkpointSeq } : {},
    );
  };
}

/** A checkpoint's text and payload (unverified here: whoever reads the bundle verifies it). */
async function readCheckpoint(
  source: ArchiveSource,
  key: string | undefined,
): Promise<{ jws: string; payload: ReturnType<typeof parseCheckpointPayload> } | undefined> {
  const bytes = key ? await source.get(key) : undefined;
  if (!bytes) return undefined;
  const jws = bytes.toString("ascii");
  return { jws, payload: parseCheckpointPayload(payloadBytesOf(jws)) };
}

/** Link hashes 0..size-1 from the "indexed" markers; undefined when any is missing. */
async function markerLinkHashes(
  markers: LinkMarkers,
  chain: string,
  size: number,
): Promise<string[] | undefined> {
  const hashes: string[] = [];
  for await (const marker of markers.indexedMarkers(chain)) {
    if (marker.seq >= size) return hashes.length === size ? hashes : undefined;
    if (marker.seq !== hashes.length || typeof marker.linkHash !== "string") return undefined;
    hashes.push(marker.linkHash);
  }
  return hashes.length === size ? hashes : undefined;
}

async function archivedLinkHashes(source: ArchiveSource, chain: string, size: number): Promise<string[]> {
  const seqs = Array.from({ length: size }, (_, i) => i);
  return mapLimit(seqs, 32, async (seq) => {
    const bytes = await source.get(linkKey(chain, seq));
    if (!bytes) throw new Error(`link ${chain}/${seq} is missing from the archive`);
    return linkHash(bytes);
  });
}
