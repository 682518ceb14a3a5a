/**
 * RFC 9162 (Certificate Transparency 2.0) section 2.1 Merkle trees, over leaf hashes.
 *
 * The tree of n leaves splits at k, the largest power of two below n; that is the same tree as pairing
 * each level left to right and carrying an unpaired last node up unchanged, which is how the roots and
 * proofs here are computed: iteratively, over one flat buffer per subtree, never by copying arrays.
 *
 * Verifiers take untrusted input (a proof bundle, a checkpoint) and so return false on anything
 * malformed instead of throwing. Builders take the caller's own leaves and throw on misuse.
 */
import { createHash } from "node:crypto";
import { SHA256_BYTES, sha256, sha256Into } from "./hash";

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** MTH({}) = SHA-256 of the empty string (RFC 9162 2.1.1). */
const EMPTY_TREE_ROOT = sha256(new Uint8Array(0));

/** Leaves up to this size are hashed from a reused buffer: one native call instead of three. */
const LEAF_SCRATCH_BYTES = 4096;
const leafScratch = Buffer.alloc(1 + LEAF_SCRATCH_BYTES, LEAF_PREFIX);
const nodeScratch = Buffer.alloc(1 + 2 * SHA256_BYTES, NODE_PREFIX);

/** The RFC 9162 leaf hash, SHA-256(0x00 ‖ data): the prefix keeps a leaf from passing as a node. */
export function leafHash(data: Uint8Array): Buffer {
  if (data.length <= LEAF_SCRATCH_BYTES) {
    leafScratch.set(data, 1);
    return sha256(leafScratch.subarray(0, 1 + data.length));
  }
  return createHash("sha256").update(leafScratch.subarray(0, 1)).update(data).digest();
}

/** The RFC 9162 interior node hash, SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length === SHA256_BYTES && right.length === SHA256_BYTES) {
    nodeScratch.set(left, 1);
    nodeScratch.set(right, 1 + SHA256_BYTES);
    return sha256(nodeScratch);
  }
  return createHash("sha256").update(nodeScratch.subarray(0, 1)).update(left).update(right).digest();
}

/** MTH(D[n]) over the given leaf hashes (each 32 bytes); the empty list has SHA-256("") as root. */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Buffer {
  return subtreeRoot(leafHashes, 0, leafHashes.length);
}

/**
 * The audit path PATH(index, D[n]) of RFC 9162 2.1.3.1, ordered from the leaf's sibling up to the
 * root's child. Costs about n node hashes: every sibling subtree root is computed.
 */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Buffer[] {
  const size = leafHashes.length;
  if (!isTreeIndex(index) || index >= size) {
    throw new RangeError(`leaf index ${index} is not in a tree of ${size} leaves`);
  }
  // Walk down from the root; each step's sibling is one entry, so the path comes out root-first.
  const rootFirst: Buffer[] = [];
  let start = 0;
  let end = size;
  let offset = index;
  while (end - start > 1) {
    const k = largestPowerOfTwoBelow(end - start);
    if (offset < k) {
      rootFirst.push(subtreeRoot(leafHashes, start + k, end));
      end = start + k;
    } else {
      rootFirst.push(subtreeRoot(leafHashes, start, start + k));
      start += k;
      offset -= k;
    }
  }
  return rootFirst.reverse();
}

/** What an inclusion proof claims: the leaf at `index` of the tree of `treeSize` leaves with `root`. */
export interface InclusionClaim {
  readonly leafHash: Uint8Array;
  readonly index: number;
  readonly treeSize: number;
  readonly proof: readonly Uint8Array[];
  readonly root: Uint8Array;
}

/** RFC 9162 2.1.3.2. False for a wrong proof and for malformed input (sizes, hash lengths, types). */
export function verifyInclusion(claim: InclusionClaim): boolean {
  try {
    const { leafHash: leaf, index, treeSize, proof, root } = claim;
    if (!isTreeIndex(index) || !isTreeIndex(treeSize) || index >= treeSize) return false;
    if (!isHash(leaf) || !isHash(root) || !isHashList(proof)) return false;
    let fn = index;
    let sn = treeSize - 1;
    let r: Uint8Array = leaf;
    for (const p of proof) {
      if (sn === 0) return false;
      if (isOdd(fn) || fn === sn) {
        r = nodeHash(p, r);
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && equalBytes(r, root);
  } catch {
    return false;
  }
}

/**
 * PROOF(oldSize, D[n]) of RFC 9162 2.1.4.1: that the tree of the first `oldSize` leaves is a prefix of
 * the tree of all of them. Empty when oldSize is 0 or n, as the RFC defines.
 */
export function consistencyProof(leafHashes: readonly Uint8Array[], oldSize: number): Buffer[] {
  const size = leafHashes.length;
  if (!isTreeIndex(oldSize) || oldSize > size) {
    throw new RangeError(`old size ${oldSize} is not between 0 and the tree size ${size}`);
  }
  if (oldSize === 0 || oldSize === size) return [];
  // SUBPROOF(m, D[start:end], b), unrolled: each step appends one subtree root after the deeper part.
  const rootFirst: Buffer[] = [];
  let start = 0;
  let end = size;
  let m = oldSize;
  let oldTreeIsWholeSubtree = true;
  while (m !== end - start) {
    const k = largestPowerOfTwoBelow(end - start);
    if (m <= k) {
      rootFirst.push(subtreeRoot(leafHashes, start + k, end));
      end = start + k;
    } else {
      rootFirst.push(subtreeRoot(leafHashes, start, start + k));
      start += k;
      m -= k;
      oldTreeIsWholeSubtree = false;
    }
  }
  // The old tree's root is known to the verifier; any other subtree reached here is not.
  if (!oldTreeIsWholeSubtree) rootFirst.push(subtreeRoot(leafHashes, start, end));
  return rootFirst.reverse();
}

/** What a consistency proof claims: the tree with `oldRoot` is a prefix of the tree with `newRoot`. */
export interface ConsistencyClaim {
  readonly oldSize: number;
  readonly newSize: number;
  readonly oldRoot: Uint8Array;
  readonly newRoot: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

/**
 * RFC 9162 2.1.4.2, with the cases the RFC leaves to the caller: equal sizes need equal roots and an
 * empty proof; an empty old tree needs the empty-tree root and an empty proof (any new tree extends it).
 * False for a wrong proof and for malformed input.
 */
export function verifyConsistency(claim: ConsistencyClaim): boolean {
  try {
    const { oldSize, newSize, oldRoot, newRoot, proof } = claim;
    if (!isTreeIndex(oldSize) || !isTreeIndex(newSize) || oldSize > newSize) return false;
    if (!isHash(oldRoot) || !isHash(newRoot) || !isHashList(proof)) return false;
    if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
    if (oldSize === 0) return proof.length === 0 && equalBytes(oldRoot, EMPTY_TREE_ROOT);
    if (proof.length === 0) return false;
    const path = isPowerOfTwo(oldSize) ? [oldRoot, ...proof] : proof;
    let fn = oldSize - 1;
    let sn = newSize - 1;
    while (isOdd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    let fr = path[0] as Uint8Array;
    let sr = fr;
    for (let i = 1; i < path.length; i++) {
      const c = path[i] as Uint8Array;
      if (sn === 0) return false;
      if (isOdd(fn) || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
  } catch {
    return false;
  }
}

/** The stored form of a MerkleFrontier: the leaf count and its perfect-subtree roots, largest first. */
export interface MerkleFrontierJSON {
  size: number;
  nodes: string[];
}

/**
 * An append-only tree that keeps only the roots of its perfect subtrees (one per set bit of the size,
 * largest and leftmost first), so a signer can extend a chain's tree head without the chain's links:
 * O(log n) memory, amortised O(1) hashes per append.
 */
export class MerkleFrontier {
  #size = 0;
  readonly #nodes: Buffer[] = [];

  /** Number of leaves appended. */
  get size(): number {
    return this.#size;
  }

  append(leafHash: Uint8Array): void {
    if (!isHash(leafHash)) throw new RangeError(`a leaf hash is ${SHA256_BYTES} bytes`);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError("the tree is full");
    // Each trailing one bit of the old size is a perfect subtree the new leaf completes a pair with.
    let node: Buffer = Buffer.from(leafHash);
    for (let rest = this.#size; isOdd(rest); rest = half(rest)) {
      node = nodeHash(this.#nodes.pop() as Buffer, node);
    }
    this.#nodes.push(node);
    this.#size += 1;
  }

  /** The tree head: equal to merkleRoot of every leaf appended. */
  root(): Buffer {
    const nodes = this.#nodes;
    let root = nodes[nodes.length - 1];
    if (!root) return Buffer.from(EMPTY_TREE_ROOT);
    for (let i = nodes.length - 2; i >= 0; i--) root = nodeHash(nodes[i] as Buffer, root);
    return nodes.length === 1 ? Buffer.from(root) : root;
  }

  toJSON(): MerkleFrontierJSON {
    return { size: this.#size, nodes: this.#nodes.map((node) => node.toString("hex")) };
  }

  /** Rebuilds a frontier from `toJSON()` output; throws unless it is exactly that shape. */
  static fromJSON(json: unknown): MerkleFrontier {
    const fail = (why: string): never => {
      throw new Error(`Invalid Merkle frontier: ${why}`);
    };
    if (typeof json !== "object" || json === null || Array.isArray(json)) fail("expected an object");
    const record = json as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    if (keys.length !== 2 || keys[0] !== "nodes" || keys[1] !== "size") {
      fail(`expected exactly the keys size and nodes, got ${keys.join(", ") || "none"}`);
    }
    const { size, nodes } = record;
    if (!isTreeIndex(size)) fail(`size ${String(size)} is not a non-negative safe integer`);
    if (!Array.isArray(nodes)) fail("nodes is not an array");
    const expected = countOneBits(size as number);
    if ((nodes as unknown[]).length !== expected) {
      fail(`a tree of ${size} leaves has ${expected} frontier nodes, got ${(nodes as unknown[]).length}`);
    }
    const frontier = new MerkleFrontier();
    (nodes as unknown[]).forEach((node, i) => {
      if (typeof node !== "string" || !/^[0-9a-f]{64}$/.test(node)) {
        fail(`node ${i} is not 64 lowercase hex digits`);
      }
      frontier.#nodes.push(Buffer.from(node as string, "hex"));
    });
    frontier.#size = size as number;
    return frontier;
  }
}

/**
 * MTH(D[start:end]) folded bottom-up in one buffer: each level hashes adjacent pairs and carries an
 * odd last node up unchanged, which yields exactly RFC 9162's split at the largest power of two.
 */
function subtreeRoot(leafHashes: readonly Uint8Array[], start: number, end: number): Buffer {
  const count = end - start;
  if (count === 0) return Buffer.from(EMPTY_TREE_ROOT);
  if (count === 1) return Buffer.from(checkedLeafHash(leafHashes, start));
  const level = merkleLevelFor(count);
  for (let i = 0; i < count; i++) level.set(checkedLeafHash(leafHashes, start + i), levelOffset(i));
  return foldMerkleLevel(level, count);
}

/**
 * A buffer to lay `count` leaf hashes out in for foldMerkleLevel: one scratch byte, then the hashes
 * at levelOffset(i). Callers that compute leaf hashes write them there directly, with no copy.
 */
export function merkleLevelFor(count: number): Buffer {
  return Buffer.allocUnsafe(1 + count * SHA256_BYTES);
}

/** Where leaf hash `i` goes in a merkleLevelFor buffer. */
export function levelOffset(i: number): number {
  return 1 + i * SHA256_BYTES;
}

/**
 * MTH over the `count` leaf hashes in `level` (merkleLevelFor's layout), which it overwrites.
 * Node i of the next level is written over the pair it came from, so nothing is allocated, and the
 * byte before each pair (the scratch byte, or the last byte of the pair before, already hashed) is
 * set to 0x01 so that the node's input 0x01 ‖ left ‖ right is hashed where it lies.
 */
export function foldMerkleLevel(level: Buffer, count: number): Buffer {
  if (!isTreeIndex(count) || level.length < levelOffset(count)) {
    throw new RangeError(`a level of ${count} leaf hashes needs ${levelOffset(count)} bytes`);
  }
  if (count === 0) return Buffer.from(EMPTY_TREE_ROOT);
  for (let width = count; width > 1; width = Math.ceil(width / 2)) {
    const pairs = Math.floor(width / 2);
    for (let i = 0; i < pairs; i++) {
      const prefixAt = 2 * i * SHA256_BYTES;
      level[prefixAt] = NODE_PREFIX;
      sha256Into(level.subarray(prefixAt, prefixAt + 1 + 2 * SHA256_BYTES), level, levelOffset(i));
    }
    if (isOdd(width)) level.copyWithin(levelOffset(pairs), levelOffset(width - 1), levelOffset(width));
  }
  return Buffer.from(level.subarray(1, 1 + SHA256_BYTES));
}

function checkedLeafHash(leafHashes: readonly Uint8Array[], i: number): Uint8Array {
  const hash = leafHashes[i];
  if (!isHash(hash)) {
    throw new RangeError(`leaf hash ${i} is not a ${SHA256_BYTES}-byte Uint8Array`);
  }
  return hash;
}

function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === SHA256_BYTES;
}

function isHashList(value: unknown): value is readonly Uint8Array[] {
  return Array.isArray(value) && value.every(isHash);
}

function isTreeIndex(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

// Sizes go up to 2^53, past the 32 bits of JavaScript's bitwise operators: plain arithmetic instead.
function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  let rest = n;
  while (rest > 1 && !isOdd(rest)) rest = half(rest);
  return rest === 1;
}

function countOneBits(n: number): number {
  let count = 0;
  for (let rest = n; rest > 0; rest = half(rest)) if (isOdd(rest)) count++;
  return count;
}
