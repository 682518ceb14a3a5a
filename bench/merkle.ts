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
 * SHA-256(0x00 ‖ data). Two merkletreejs hash functions are measured: Node's one-shot `crypto.hash`
 * (the same primitive ours uses: the comparison of tree code, and the stricter one) and
 * `createHash(…).update(…).digest()` as its README shows; and, in fewer rounds because it is slow,
 * its default hash function (none given: crypto-js's pure-JavaScript SHA-256).
 *
 * Rounds interleave the implementations (order alternating); times are medians.
 */
import { createHash, hash } from "node:crypto";
import { MerkleTree } from "merkletreejs";
import { leafHash, merkleRoot } from "../lambda/core/merkle";

export interface MerkleBenchOptions {
  /** @default 1_000_000 */
  readonly leaves?: number;
  /** @default 7 */
  readonly rounds?: number;
  /** Rounds of merkletreejs with its default (pure-JavaScript) hash, which is slow. @default 1 */
  readonly defaultHashRounds?: number;
  readonly log?: (line: string) => void;
}

export interface MerkleBenchResult {
  readonly leaves: number;
  readonly rounds: number;
  readonly root: string;
  /** True: merkletreejs, as configured, computed exactly our root (asserted in every round). */
  readonly identicalRoots: boolean;
  readonly oursMedianMs: number;
  readonly merkletreejsMedianMs: number;
  readonly merkletreejsReadmeHashMedianMs: number;
  /** merkletreejs with no hash function given: its default, crypto-js's pure-JavaScript SHA-256. */
  readonly merkletreejsDefaultHashMs: number;
  readonly defaultHashRounds: number;
  /** merkletreejs time ÷ ours (medians), with the same hash primitive. Target: ≥ 10. */
  readonly ratio: number;
  /** The same against merkletreejs with createHash as its README shows. */
  readonly ratioReadmeHash: number;
  /** The same against merkletreejs with its default hash function (crypto-js). */
  readonly ratioDefaultHash: number;
  readonly targetMet: boolean;
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

  const implementations: Record<string, () => Buffer> = {
    ours: () => merkleRoot(leaves),
    merkletreejs: () =>
      new MerkleTree(leaves, (data: Buffer) => hash("sha256", data, "buffer"), OPTIONS).getRoot(),
    merkletreejsReadmeHash: () =>
      new MerkleTree(leaves, (data: Buffer) => createHash("sha256").update(data).digest(), OPTIONS).getRoot(),
  };
  const names = Object.keys(implementations);
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  let root = "";
  // One untimed warm-up round, then the timed ones.
  for (let r = -1; r < rounds; r++) {
    const roots: Record<string, string> = {};
    for (const name of r % 2 === 0 ? names : [...names].reverse()) {
      const started = performance.now();
      roots[name] = (implementations[name] as () => Buffer)().toString("hex");
      const elapsed = performance.now() - started;
      if (r >= 0) times[name]?.push(elapsed);
    }
    root = roots.ours as string;
    for (const name of names) {
      if (roots[name] !== root) throw new Error(`${name} computed root ${roots[name]}, ours is ${root}`);
    }
  }
  // merkletreejs's default hash (crypto-js) on its own, after the others: slow, so fewer rounds.
  const defaultHashRounds = options.defaultHashRounds ?? 1;
  const defaultTimes: number[] = [];
  for (let r = 0; r < defaultHashRounds; r++) {
    const started = performance.now();
    const defaultRoot = new MerkleTree(leaves, undefined, OPTIONS).getRoot().toString("hex");
    defaultTimes.push(performance.now() - started);
    if (defaultRoot !== root)
      throw new Error(`merkletreejs (default hash) computed ${defaultRoot}, ours is ${root}`);
  }
  const defaultHash = median(defaultTimes);
  const ours = median(times.ours as number[]);
  const theirs = median(times.merkletreejs as number[]);
  const readme = median(times.merkletreejsReadmeHash as number[]);
  const result: MerkleBenchResult = {
    leaves: count,
    rounds,
    root,
    identicalRoots: true,
    oursMedianMs: Number(ours.toFixed(1)),
    merkletreejsMedianMs: Number(theirs.toFixed(1)),
    merkletreejsReadmeHashMedianMs: Number(readme.toFixed(1)),
    merkletreejsDefaultHashMs: Number(defaultHash.toFixed(1)),
    defaultHashRounds,
    ratio: Number((theirs / ours).toFixed(2)),
    ratioReadmeHash: Number((readme / ours).toFixed(2)),
    ratioDefaultHash: Number((defaultHash / ours).toFixed(2)),
    targetMet: theirs / ours >= 10,
    merkletreejsOptions:
      "hashLeaves, sort, sortLeaves, sortPairs, duplicateOdd, isBitcoinTree, complete: false; no fillDefaultHash; " +
      "concatenator = 0x01 ‖ left ‖ right; leaves = RFC 9162 leaf hashes",
  };
  log(
    `merkle ${count} leaves: ours ${result.oursMedianMs} ms, merkletreejs ${result.merkletreejsMedianMs} ms ` +
      `(${result.ratio}×; README-style createHash: ${result.merkletreejsReadmeHashMedianMs} ms, ${result.ratioReadmeHash}×; default crypto-js hash: ` +
      `${result.merkletreejsDefaultHashMs} ms, ${result.ratioDefaultHash}×), ` +
      `identical roots ${root.slice(0, 16)}…`,
  );
  return result;
}
