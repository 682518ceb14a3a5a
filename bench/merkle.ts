/**
 * Merkle root of 1,000,000 leaves (issue 4): our `merkleRoot` (lambda/core/merkle.ts) against the
 * `merkletreejs` package in the same run, both computing the same RFC 9162 root over the same leaf
 * hashes, and asserting that they do.
 *
 * merkletreejs is configured for RFC 9162: no sorting (`sort`, `sortLeaves`, `sortPairs` off), no
 * duplication of an odd node (`duplicateOdd` off, not the Bitcoin tree, not `complete`, no fill
 * hash), so an unpaired last node is carried up unchanged, which is RFC 9162's split at the largest
 * power of two; node = SHA-256(0x01 ‖ left ‖ right) through its `concatenator`. Its hash function
 * is only called on nodes (`hashLeaves` off), so both take the same 32-byte leaf hashes,
 * SHA-256(0x00 ‖ data). Three merkletreejs hash functions are measured:
 * - its default (none given), crypto-js's pure-JavaScript SHA-256, which is also the one its README
 *   passes: merkletreejs as documented, the comparison the target names;
 * - Node's one-shot `crypto.hash`, the same primitive ours uses: a comparison of tree code alone;
 * - `createHash(…).update(…).digest()`, the usual way to hand it Node's SHA-256.
 *
 * Rounds interleave the implementations (order alternating); ratios are medians of per-round pairs.
 * The default hash is slow, so it runs fewer rounds, each paired with a run of ours just before it.
 */
import { createHash, hash } from "node:crypto";
import { MerkleTree } from "merkletreejs";
import { leafHash, merkleRoot } from "../lambda/core/merkle";

export interface MerkleBenchOptions {
  /** @default 1_000_000 */
  readonly leaves?: number;
  /** @default 7 */
  readonly rounds?: number;
  /** Rounds of merkletreejs with its default (pure-JavaScript) hash, which is slow. @default 3 */
  readonly defaultHashRounds?: number;
  readonly log?: (line: string) => void;
}

export interface MerkleBenchResult {
  readonly leaves: number;
  readonly rounds: number;
  readonly root: string;
  /** True: merkletreejs, in every configuration, computed exactly our root (asserted in every round). */
  readonly identicalRoots: boolean;
  readonly oursMedianMs: number;
  /** merkletreejs with no hash function given: its default and its README's, crypto-js's SHA-256. */
  readonly merkletreejsDocumentedMs: number;
  readonly defaultHashRounds: number;
  /** merkletreejs given Node's one-shot crypto.hash, the primitive ours uses. */
  readonly merkletreejsNodeHashMedianMs: number;
  /** merkletreejs given createHash(…).update(…).digest(). */
  readonly merkletreejsCreateHashMedianMs: number;
  /** merkletreejs time ÷ ours, medians of per-round pairs. Target: documented ≥ 10. */
  readonly ratios: {
    readonly documented: number;
    readonly nodeHash: number;
    readonly createHash: number;
  };
  readonly targetMet: {
    readonly tenTimesDocumented: boolean;
    readonly tenTimesWithTheSameHash: boolean;
  };
  readonly merkletreejsOptions: string;
}

const NODE_PREFIX = Buffer.from([0x01]);
const OPTIONS = {
  hashLeaves: false,
  sort: false,
  sortLeaves: false,
  sortPairs: false,
  duplicateOdd: false,
  isBitcoinTree: false,
  complete: false,
  // RFC 9162 node: SHA-256(0x01 ‖ left ‖ right); merkletreejs passes [left, right].
  concatenator: (inputs: Buffer[]) => Buffer.concat([NODE_PREFIX, ...inputs]),
};

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export async function benchMerkle(options: MerkleBenchOptions = {}): Promise<MerkleBenchResult> {
  const count = options.leaves ?? 1_000_000;
  const rounds = options.rounds ?? 7;
  const log = options.log ?? (() => {});
  // Leaf hashes of distinct 8-byte leaves: the input both implementations take.
  const leaves = Array.from({ length: count }, (_, i) => {
    const data = Buffer.alloc(8);
    data.writeBigUInt64BE(BigInt(i));
    return leafHash(data);
  });

  const tree = (hashFn?: (data: Buffer) => Buffer) => new MerkleTree(leaves, hashFn, OPTIONS).getRoot();
  const implementations: Record<string, () => Buffer> = {
    ours: () => merkleRoot(leaves),
    nodeHash: () => tree((data) => hash("sha256", data, "buffer")),
    createHash: () => tree((data) => createHash("sha256").update(data).digest()),
  };
  const names = Object.keys(implementations);
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const timed = (work: () => Buffer): { ms: number; root: string } => {
    const started = performance.now();
    const root = work().toString("hex");
    return { ms: performance.now() - started, root };
  };
  const root = merkleRoot(leaves).toString("hex");
  const expectRoot = (name: string, actual: string) => {
    if (actual !== root) throw new Error(`${name} computed root ${actual}, ours is ${root}`);
  };
  // One untimed warm-up round, then the timed ones.
  for (let r = -1; r < rounds; r++) {
    for (const name of r % 2 === 0 ? names : [...names].reverse()) {
      const run = timed(implementations[name] as () => Buffer);
      expectRoot(name, run.root);
      if (r >= 0) times[name]?.push(run.ms);
    }
  }
  // merkletreejs as documented (its default hash, crypto-js), each run paired with one of ours.
  const defaultHashRounds = options.defaultHashRounds ?? 3;
  const documented: number[] = [];
  const documentedRatios: number[] = [];
  for (let r = 0; r < defaultHashRounds; r++) {
    const ours = timed(implementations.ours as () => Buffer);
    const theirs = timed(() => tree());
    expectRoot("merkletreejs (default hash)", theirs.root);
    documented.push(theirs.ms);
    documentedRatios.push(theirs.ms / ours.ms);
  }
  const ourTimes = times.ours as number[];
  const ratioOf = (name: string) =>
    median((times[name] as number[]).map((ms, i) => ms / (ourTimes[i] as number)));
  const ratios = {
    documented: Number(median(documentedRatios).toFixed(2)),
    nodeHash: Number(ratioOf("nodeHash").toFixed(2)),
    createHash: Number(ratioOf("createHash").toFixed(2)),
  };
  const result: MerkleBenchResult = {
    leaves: count,
    rounds,
    root,
    identicalRoots: true,
    oursMedianMs: Number(median(ourTimes).toFixed(1)),
    merkletreejsDocumentedMs: Number(median(documented).toFixed(1)),
    defaultHashRounds,
    merkletreejsNodeHashMedianMs: Number(median(times.nodeHash as number[]).toFixed(1)),
    merkletreejsCreateHashMedianMs: Number(median(times.createHash as number[]).toFixed(1)),
    ratios,
    targetMet: {
      tenTimesDocumented: ratios.documented >= 10,
      tenTimesWithTheSameHash: ratios.nodeHash >= 10,
    },
    merkletreejsOptions:
      "hashLeaves, sort, sortLeaves, sortPairs, duplicateOdd, isBitcoinTree, complete: false; no fillDefaultHash; " +
      "concatenator = 0x01 ‖ left ‖ right; leaves = RFC 9162 leaf hashes",
  };
  log(
    `merkle ${count} leaves: ours ${result.oursMedianMs} ms; merkletreejs as documented (crypto-js) ` +
      `${result.merkletreejsDocumentedMs} ms, ${ratios.documented}×; given Node's crypto.hash ` +
      `${result.merkletreejsNodeHashMedianMs} ms, ${ratios.nodeHash}×; given createHash ` +
      `${result.merkletreejsCreateHashMedianMs} ms, ${ratios.createHash}×; identical roots ${root.slice(0, 16)}…`,
  );
  return result;
}
