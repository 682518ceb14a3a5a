/**
 * Proof bundles (DESIGN.md "Proof bundle"): everything needed to show, offline and with nothing but
 * the trusted public key, that one record is in the archive as acknowledged.
 *
 *   record line --(audit path in the batch tree)--> link.batch.root
 *   link bytes  --(audit path in the chain tree)--> checkpoint.chains[link.chain].root
 *   checkpoint  --(ES256 under a trusted key)-----> trusted
 *
 * The chain tree's size is taken from the signed checkpoint, never from the bundle. The bundle grows
 * with log(batch size) + log(chain length), never with time.
 */
import * as z from "zod";
import { chainLeafHash, type TrustedKey, verifyCheckpoint } from "./checkpoint";
import { LinkFormatError, linkHash, parseLink } from "./link";
import { inclusionProof, leafHash, verifyInclusion } from "./merkle";

// A regex rather than a refinement, so that the OpenAPI document (z.toJSONSchema) carries it too.
const hashList = z.array(z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits")).max(64);
const index = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const ProofBundleSchema = z.strictObject({
  v: z.literal(1),
  /** The event id the bundle is about. */
  event: z.string().min(1),
  /** The record's line in the data object, without the newline. */
  record: z.string().min(1),
  /** The line's place in its batch's Merkle tree (whose root and size the link states). */
  batch: z.strictObject({ leaf_index: index, audit_path: hashList }),
  /** The link's exact stored bytes, as UTF-8 text. */
  link: z.string().min(1),
  /** The link's place in its chain's tree at the checkpoint (leaf index = the link's seq). */
  chain_proof: z.strictObject({ audit_path: hashList }),
  /** The compact JWS of the checkpoint the chain proof leads to. */
  checkpoint: z.string().min(1),
});
export type ProofBundle = z.infer<typeof ProofBundleSchema>;

export interface ProofInputs {
  readonly eventId: string;
  /** Every line of the batch, without newlines, in stored order. */
  readonly batchLines: readonly Uint8Array[];
  readonly lineIndex: number;
  readonly linkBytes: Uint8Array;
  /** Hashes (hex) of the chain's links 0 … size−1, where size is the checkpoint's size for the chain. */
  readonly chainLinkHashes: readonly string[];
  readonly checkpointJws: string;
}

/** Builds a bundle. The caller supplies the checkpoint; `verifyProofBundle` is what establishes trust. */
export function buildProofBundle(inputs: ProofInputs): ProofBundle {
  const link = parseLink(inputs.linkBytes);
  const line = inputs.batchLines[inputs.lineIndex];
  if (line === undefined) throw new RangeError(`line ${inputs.lineIndex} is not in the batch`);
  const batchLeaves = inputs.batchLines.map((bytes) => leafHash(bytes));
  const chainLeaves = inputs.chainLinkHashes.map(chainLeafHash);
  return {
    v: 1,
    event: inputs.eventId,
    record: Buffer.from(line).toString("utf8"),
    batch: {
      leaf_index: inputs.lineIndex,
      audit_path: inclusionProof(batchLeaves, inputs.lineIndex).map(hex),
    },
    link: Buffer.from(inputs.linkBytes).toString("utf8"),
    chain_proof: { audit_path: inclusionProof(chainLeaves, link.seq).map(hex) },
    checkpoint: inputs.checkpointJws,
  };
}

export interface ProofFacts {
  readonly event: string;
  readonly record: unknown;
  readonly chain: string;
  readonly seq: number;
  readonly batchKey: string;
  readonly checkpointSeq: number;
  readonly checkpointTime: string;
  readonly kid: string;
}

export type ProofVerdict =
  | { readonly ok: true; readonly facts: ProofFacts }
  | { readonly ok: false; readonly problem: string };

/** Checks a bundle with no network: every hash step and the checkpoint's signature under `trusted`. */
export async function verifyProofBundle(
  input: unknown,
  trusted: readonly TrustedKey[],
): Promise<ProofVerdict> {
  const fail = (problem: string): ProofVerdict => ({ ok: false, problem });
  const parsed = ProofBundleSchema.safeParse(input);
  if (!parsed.success) {
    return fail(
      `not a proof bundle: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  const bundle = parsed.data;

  let checkpoint: Awaited<ReturnType<typeof verifyCheckpoint>>;
  try {
    checkpoint = await verifyCheckpoint(bundle.checkpoint, trusted);
  } catch (error) {
    return fail(`checkpoint: ${(error as Error).message}`);
  }

  const linkBytes = Buffer.from(bundle.link, "utf8");
  let link: ReturnType<typeof parseLink>;
  try {
    link = parseLink(linkBytes);
  } catch (error) {
    if (error instanceof LinkFormatError) return fail(`link: ${error.message}`);
    throw error;
  }

  let record: { id?: unknown };
  try {
    record = JSON.parse(bundle.record) as { id?: unknown };
  } catch {
    return fail("record: not JSON");
  }
  if (record?.id !== bundle.event) return fail(`record: its id is not ${bundle.event}`);

  const inBatch = verifyInclusion({
    leafHash: leafHash(Buffer.from(bundle.record, "utf8")),
    index: bundle.batch.leaf_index,
    treeSize: link.batch.count,
    proof: bundle.batch.audit_path.map(fromHex),
    root: fromHex(link.batch.root),
  });
  if (!inBatch)
    return fail("record: not in the batch the link names (batch audit path does not lead to its root)");

  const head = checkpoint.payload.chains[link.chain];
  if (!head) return fail(`checkpoint ${checkpoint.payload.seq} does not cover chain ${link.chain}`);
  if (link.seq >= head.size) {
    return fail(
      `link ${link.chain}/${link.seq} is newer than checkpoint ${checkpoint.payload.seq} (size ${head.size})`,
    );
  }
  const inChain = verifyInclusion({
    leafHash: chainLeafHash(linkHash(linkBytes)),
    index: link.seq,
    treeSize: head.size,
    proof: bundle.chain_proof.audit_path.map(fromHex),
    root: fromHex(head.root),
  });
  if (!inChain)
    return fail(
      "link: not in the chain tree the checkpoint signs (chain audit path does not lead to its root)",
    );

  return {
    ok: true,
    facts: {
      event: bundle.event,
      record,
      chain: link.chain,
      seq: link.seq,
      batchKey: link.batch.key,
      checkpointSeq: checkpoint.payload.seq,
      checkpointTime: checkpoint.payload.time,
      kid: checkpoint.kid,
    },
  };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function fromHex(text: string): Buffer {
  return Buffer.from(text, "hex");
}
