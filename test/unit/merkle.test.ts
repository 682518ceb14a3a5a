import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSha256Hex, sha256, sha256Hex } from "../../lambda/core/hash";
import {
  consistencyProof,
  foldMerkleLevel,
  inclusionProof,
  leafHash,
  levelOffset,
  MerkleFrontier,
  merkleLevelFor,
  merkleRoot,
  nodeHash,
  verifyConsistency,
  verifyInclusion,
} from "../../lambda/core/merkle";

const hex = (value: string) => Buffer.from(value, "hex");
const toHex = (values: readonly Uint8Array[]) => values.map((value) => Buffer.from(value).toString("hex"));

/*
 * Published RFC 6962 / RFC 9162 test vectors, from transparency-dev/merkle (the successor of
 * google/certificate-transparency-go's merkletree package):
 *   testonly/constants.go: LeafInputs, NodeHashes, RootHashes, CompactTrees;
 *   proof/verify_test.go: inclusionProofs and consistencyProofs (leaf numbers there are 1-based:
 *   {leaf 1, size 8} is index 0 here), and the corrupted-proof probes the properties below mirror.
 */
const LEAF_INPUTS = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map(hex);

/** NodeHashes(): [level][index] of every complete subtree of the 8-leaf tree. */
const NODE_HASHES = [
  [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
  ],
  [
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
  ],
  [
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
  ],
  ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/** RootHashes(): the tree head for every size 0..8. */
const ROOT_HASHES = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const [L0, L1, L2] = NODE_HASHES as [string[], string[], string[]];
/** CompactTrees(): the frontier (perfect-subtree roots, largest first) for every size 0..8. */
const COMPACT_TREES: string[][] = [
  [],
  [L0[0]],
  [L1[0]],
  [L1[0], L0[2]],
  [L2[0]],
  [L2[0], L0[4]],
  [L2[0], L1[2]],
  [L2[0], L1[2], L0[6]],
  [(NODE_HASHES[3] as string[])[0]],
].map((nodes) => nodes as string[]);

const INCLUSION_VECTORS = [
  {
    index: 0,
    size: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  { index: 2, size: 3, proof: ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"] },
  {
    index: 1,
    size: 5,
    proof: [
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
  { index: 0, size: 1, proof: [] },
];

const CONSISTENCY_VECTORS = [
  { oldSize: 1, newSize: 1, proof: [] },
  {
    oldSize: 1,
    newSize: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    oldSize: 6,
    newSize: 8,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  {
    oldSize: 2,
    newSize: 5,
    proof: [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
  {
    oldSize: 6,
    newSize: 7,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];

const VECTOR_LEAVES = LEAF_INPUTS.map((input) => leafHash(input));
const vectorRoot = (size: number) => hex(ROOT_HASHES[size] as string);
const EMPTY_ROOT = hex(ROOT_HASHES[0] as string);
/** sha256SomeHash of verify_test.go: a well-formed hash that is no tree's root. */
const SOME_HASH = hex("abacaba000000000000000000000000000000000000000000060061e00123456");

// --- A literal transcription of RFC 9162 2.1, slicing arrays as the text does: slow, obviously right ---

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function referenceNode(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash("sha256")
    .update(Buffer.from([1]))
    .update(left)
    .update(right)
    .digest();
}

function referenceRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return createHash("sha256").digest();
  if (leaves.length === 1) return Buffer.from(leaves[0] as Uint8Array);
  const k = largestPowerOfTwoBelow(leaves.length);
  return referenceNode(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

function referencePath(m: number, leaves: readonly Uint8Array[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = largestPowerOfTwoBelow(leaves.length);
  return m < k
    ? [...referencePath(m, leaves.slice(0, k)), referenceRoot(leaves.slice(k))]
    : [...referencePath(m - k, leaves.slice(k)), referenceRoot(leaves.slice(0, k))];
}

function referenceSubproof(m: number, leaves: readonly Uint8Array[], whole: boolean): Buffer[] {
  if (m === leaves.length) return whole ? [] : [referenceRoot(leaves)];
  const k = largestPowerOfTwoBelow(leaves.length);
  return m <= k
    ? [...referenceSubproof(m, leaves.slice(0, k), whole), referenceRoot(leaves.slice(k))]
    : [...referenceSubproof(m - k, leaves.slice(k), false), referenceRoot(leaves.slice(0, k))];
}

function referenceConsistency(m: number, leaves: readonly Uint8Array[]): Buffer[] {
  return m === 0 || m === leaves.length ? [] : referenceSubproof(m, leaves, true);
}

/** Deterministic, distinct leaf hashes: cheap to make many of. */
function makeLeaves(count: number, seed = 0): Buffer[] {
  return Array.from({ length: count }, (_, i) => sha256(`leaf ${seed} ${i}`));
}

function flipByte(value: Uint8Array, position: number, mask: number): Buffer {
  const copy = Buffer.from(value);
  copy[position % copy.length] = (copy[position % copy.length] as number) ^ mask;
  return copy;
}

describe("sha256", () => {
  it.each([
    { input: "", digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { input: "abc", digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    {
      input: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    },
  ])("hashes the FIPS 180-2 example $input", ({ input, digest }) => {
    // Prepare / Act
    const fromString = sha256Hex(input);
    const fromBytes = sha256(Buffer.from(input, "utf8")).toString("hex");

    // Assess
    expect(fromString).toBe(digest);
    expect(fromBytes).toBe(digest);
  });

  it("hashes strings as UTF-8", () => {
    expect(sha256Hex("é")).toBe(sha256Hex(Buffer.from([0xc3, 0xa9])));
  });

  it.each([
    { value: "a".repeat(64), expected: true },
    { value: "0".repeat(64), expected: true },
    { value: "A".repeat(64), expected: false },
    { value: "a".repeat(63), expected: false },
    { value: "a".repeat(65), expected: false },
    { value: `${"a".repeat(63)}g`, expected: false },
    { value: `${"a".repeat(64)}\n`, expected: false },
    { value: 42, expected: false },
  ])("isSha256Hex($value) is $expected", ({ value, expected }) => {
    expect(isSha256Hex(value)).toBe(expected);
  });
});

describe("RFC 6962 / 9162 published vectors", () => {
  it("leaf hashes are SHA-256(0x00 ‖ input)", () => {
    expect(toHex(VECTOR_LEAVES)).toEqual(NODE_HASHES[0]);
  });

  it.each(ROOT_HASHES.map((root, size) => ({ size, root })))("root of the first $size leaves", ({
    size,
    root,
  }) => {
    // Act
    const actual = merkleRoot(VECTOR_LEAVES.slice(0, size));

    // Assess
    expect(actual.toString("hex")).toBe(root);
  });

  it.each(
    NODE_HASHES.flatMap((level, height) => level.map((hash, index) => ({ height, index, hash }))),
  )("complete subtree at height $height, index $index", ({ height, index, hash }) => {
    // Prepare
    const width = 2 ** height;
    const leaves = VECTOR_LEAVES.slice(index * width, (index + 1) * width);

    // Act / Assess
    expect(merkleRoot(leaves).toString("hex")).toBe(hash);
  });

  it("interior nodes are SHA-256(0x01 ‖ left ‖ right)", () => {
    expect(nodeHash(hex(L0[0] as string), hex(L0[1] as string)).toString("hex")).toBe(L1[0]);
    expect(nodeHash(hex(L1[0] as string), hex(L1[1] as string)).toString("hex")).toBe(L2[0]);
  });

  it.each(COMPACT_TREES.map((nodes, size) => ({ size, nodes })))("frontier of $size leaves", ({
    size,
    nodes,
  }) => {
    // Prepare
    const frontier = new MerkleFrontier();

    // Act
    for (const leaf of VECTOR_LEAVES.slice(0, size)) frontier.append(leaf);

    // Assess
    expect(frontier.toJSON()).toEqual({ size, nodes });
    expect(frontier.root().toString("hex")).toBe(ROOT_HASHES[size]);
  });

  it.each(INCLUSION_VECTORS)("inclusion proof of index $index in a tree of $size", ({
    index,
    size,
    proof,
  }) => {
    // Prepare
    const leaves = VECTOR_LEAVES.slice(0, size);

    // Act
    const built = inclusionProof(leaves, index);
    const verified = verifyInclusion({
      leafHash: VECTOR_LEAVES[index] as Buffer,
      index,
      treeSize: size,
      proof: proof.map(hex),
      root: vectorRoot(size),
    });

    // Assess
    expect(toHex(built)).toEqual(proof);
    expect(verified).toBe(true);
  });

  it.each(
    INCLUSION_VECTORS.filter(({ size }) => size > 1),
  )("corrupted inclusion proofs of index $index in $size are rejected (verify_test.go probes)", ({
    index,
    size,
    proof: hexProof,
  }) => {
    // Prepare
    const proof = hexProof.map(hex);
    const leaf = VECTOR_LEAVES[index] as Buffer;
    const root = vectorRoot(size);
    const probes = [
      { desc: "index - 1", index: index - 1 },
      { desc: "index + 1", index: index + 1 },
      { desc: "index ^ 2", index: index ^ 2 },
      { desc: "size * 2", treeSize: size * 2 },
      { desc: "size / 2", treeSize: Math.floor(size / 2) },
      { desc: "wrong leaf", leafHash: Buffer.from("WrongLeaf") },
      { desc: "other leaf", leafHash: SOME_HASH },
      { desc: "empty root", root: EMPTY_ROOT },
      { desc: "random root", root: SOME_HASH },
      { desc: "trailing garbage", proof: [...proof, Buffer.alloc(0)] },
      { desc: "trailing root", proof: [...proof, root] },
      { desc: "preceding garbage", proof: [Buffer.alloc(0), ...proof] },
      { desc: "preceding root", proof: [root, ...proof] },
      { desc: "removed component", proof: proof.slice(0, -1) },
      { desc: "inserted component", proof: [proof[0] as Buffer, SOME_HASH, ...proof.slice(1)] },
      ...proof.map((_, i) => ({
        desc: `proof[${i}] bit 3`,
        proof: proof.map((p, j) => (i === j ? flipByte(p, 0, 8) : p)),
      })),
    ];

    // Act
    const accepted = probes
      .filter((probe) => verifyInclusion({ leafHash: leaf, index, treeSize: size, proof, root, ...probe }))
      .map((probe) => probe.desc);

    // Assess
    expect(accepted).toEqual([]);
  });

  it.each(CONSISTENCY_VECTORS)("consistency proof from $oldSize to $newSize", ({
    oldSize,
    newSize,
    proof,
  }) => {
    // Prepare
    const leaves = VECTOR_LEAVES.slice(0, newSize);

    // Act
    const built = consistencyProof(leaves, oldSize);
    const verified = verifyConsistency({
      oldSize,
      newSize,
      oldRoot: vectorRoot(oldSize),
      newRoot: vectorRoot(newSize),
      proof: proof.map(hex),
    });

    // Assess
    expect(toHex(built)).toEqual(proof);
    expect(verified).toBe(true);
  });

  it.each(
    CONSISTENCY_VECTORS.filter(({ proof }) => proof.length > 0),
  )("corrupted consistency proofs from $oldSize to $newSize are rejected (verify_test.go probes)", ({
    oldSize,
    newSize,
    proof: hexProof,
  }) => {
    // Prepare
    const proof = hexProof.map(hex);
    const oldRoot = vectorRoot(oldSize);
    const newRoot = vectorRoot(newSize);
    const probes = [
      { desc: "old size - 1", oldSize: oldSize - 1 },
      { desc: "old size + 1", oldSize: oldSize + 1 },
      { desc: "old size ^ 2", oldSize: oldSize ^ 2 },
      { desc: "new size * 2", newSize: newSize * 2 },
      { desc: "new size / 2", newSize: Math.floor(newSize / 2) },
      { desc: "wrong old root", oldRoot: Buffer.from("WrongRoot") },
      { desc: "wrong new root", newRoot: Buffer.from("WrongRoot") },
      { desc: "other old root", oldRoot: SOME_HASH },
      { desc: "swapped roots", oldRoot: newRoot, newRoot: oldRoot },
      { desc: "empty proof", proof: [] },
      { desc: "trailing garbage", proof: [...proof, Buffer.alloc(0)] },
      { desc: "trailing old root", proof: [...proof, oldRoot] },
      { desc: "trailing new root", proof: [...proof, newRoot] },
      { desc: "preceding garbage", proof: [Buffer.alloc(0), ...proof] },
      { desc: "preceding old root", proof: [oldRoot, ...proof] },
      { desc: "preceding new root", proof: [newRoot, ...proof] },
      { desc: "preceding proof[0]", proof: [proof[0] as Buffer, ...proof] },
      { desc: "truncated proof", proof: proof.slice(0, -1) },
      ...proof.map((_, i) => ({
        desc: `proof[${i}] bit 4`,
        proof: proof.map((p, j) => (i === j ? flipByte(p, 0, 16) : p)),
      })),
    ];

    // Act
    const accepted = probes
      .filter((probe) => verifyConsistency({ oldSize, newSize, oldRoot, newRoot, proof, ...probe }))
      .map((probe) => probe.desc);

    // Assess
    expect(accepted).toEqual([]);
  });
});

describe("verifyInclusion on malformed input", () => {
  const leaf = leafHash(Buffer.from("data"));
  // A valid single-leaf claim (root = leaf, empty proof), and one change per row.
  const valid = { leafHash: leaf, index: 0, treeSize: 1, proof: [] as unknown, root: leaf };

  it.each<[string, boolean, Record<string, unknown>]>([
    ["single-entry tree", true, {}],
    ["empty leaf", false, { leafHash: Buffer.alloc(0) }],
    ["empty root", false, { root: Buffer.alloc(0) }],
    ["31-byte leaf", false, { leafHash: leaf.subarray(1) }],
    ["leaf as a hex string", false, { leafHash: leaf.toString("hex") }],
    ["index = size = 0", false, { treeSize: 0, root: EMPTY_ROOT }],
    ["index 1 of 1", false, { index: 1 }],
    ["index 2 of 1", false, { index: 2 }],
    ["negative index", false, { index: -1 }],
    ["fractional index", false, { index: 0.5 }],
    ["NaN size", false, { treeSize: Number.NaN }],
    ["unsafe size", false, { treeSize: 2 ** 53 }],
    ["size as a string", false, { treeSize: "1" }],
    ["proof not an array", false, { proof: "x" }],
    ["proof of hex strings", false, { treeSize: 2, proof: ["00".repeat(32)] }],
    ["proof with a hole", false, { treeSize: 2, proof: [undefined] }],
  ])("%s → %s", (_, ok, change) => {
    expect(verifyInclusion({ ...valid, ...change } as never)).toBe(ok);
  });

  it.each([null, undefined, {}, "claim"])("%j → false", (claim) => {
    expect(verifyInclusion(claim as never)).toBe(false);
  });
});

describe("verifyConsistency edge cases", () => {
  const [a, b] = [leafHash(Buffer.from("a")), leafHash(Buffer.from("b"))];
  const rootAB = merkleRoot([a, b]);
  // A valid 1 → 2 claim, and one change per row.
  const valid = { oldSize: 1, newSize: 2, oldRoot: a, newRoot: rootAB, proof: [b] as unknown };

  it.each<[string, boolean, Record<string, unknown>]>([
    ["1 → 2, right proof", true, {}],
    ["1 → 2, empty proof", false, { proof: [] }],
    [
      "0 → 0, empty roots",
      true,
      { oldSize: 0, newSize: 0, oldRoot: EMPTY_ROOT, newRoot: EMPTY_ROOT, proof: [] },
    ],
    ["0 → 2, empty proof", true, { oldSize: 0, oldRoot: EMPTY_ROOT, proof: [] }],
    ["0 → 2, non-empty old root", false, { oldSize: 0, proof: [] }],
    ["0 → 2 with a proof", false, { oldSize: 0, oldRoot: EMPTY_ROOT }],
    ["2 → 2, same root", true, { oldSize: 2, oldRoot: rootAB, proof: [] }],
    ["2 → 2, different roots", false, { oldSize: 2, proof: [] }],
    ["2 → 2 with a proof", false, { oldSize: 2, oldRoot: rootAB }],
    ["shrinking 2 → 1", false, { oldSize: 2, newSize: 1, oldRoot: rootAB, newRoot: a }],
    ["negative size", false, { oldSize: -1 }],
    ["fractional size", false, { oldSize: 0.5 }],
    ["unsafe size", false, { newSize: 2 ** 53 }],
    ["short root", false, { oldRoot: a.subarray(1) }],
    ["root as a hex string", false, { newRoot: rootAB.toString("hex") }],
    ["proof not an array", false, { proof: b }],
    ["proof with a hole", false, { proof: [undefined] }],
  ])("%s → %s", (_, ok, change) => {
    expect(verifyConsistency({ ...valid, ...change } as never)).toBe(ok);
  });

  it.each([null, undefined, {}, "claim"])("%j → false", (claim) => {
    expect(verifyConsistency(claim as never)).toBe(false);
  });
});

describe("foldMerkleLevel", () => {
  it("property: over leaf hashes laid out by merkleLevelFor, the same root as merkleRoot", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 70 }), (hashes) => {
        const level = merkleLevelFor(hashes.length);
        for (const [i, hash] of hashes.entries()) level.set(hash, levelOffset(i));
        expect(foldMerkleLevel(level, hashes.length).toString("hex")).toBe(
          merkleRoot(hashes).toString("hex"),
        );
      }),
    );
  });

  it("refuses a buffer too short for the count", () => {
    expect(() => foldMerkleLevel(merkleLevelFor(3), 4)).toThrow(RangeError);
    expect(() => foldMerkleLevel(merkleLevelFor(3), -1)).toThrow(RangeError);
  });
});

describe("merkleRoot", () => {
  it("matches the literal RFC 9162 recursion for every size up to 300, across both engines", () => {
    for (let size = 0; size <= 300; size++) {
      // Prepare
      const leaves = makeLeaves(size, size);

      // Act / Assess
      expect(merkleRoot(leaves).toString("hex"), `size ${size}`).toBe(referenceRoot(leaves).toString("hex"));
    }
  });

  it("agrees with an incremental frontier over 20,011 leaves (the SIMD path across several calls)", () => {
    // Prepare
    const leaves = makeLeaves(20_011, 7);
    const frontier = new MerkleFrontier();
    for (const leaf of leaves) frontier.append(leaf);

    // Act
    const root = merkleRoot(leaves);

    // Assess
    expect(root.toString("hex")).toBe(frontier.root().toString("hex"));
  });

  it("accepts any Uint8Array views, not only Buffers", () => {
    // Prepare
    const leaves = makeLeaves(100, 3);
    const backing = new Uint8Array(32 * 100 + 5);
    const views = leaves.map((leaf, i) => {
      backing.set(leaf, 5 + 32 * i);
      return backing.subarray(5 + 32 * i, 5 + 32 * (i + 1));
    });

    // Act / Assess
    expect(merkleRoot(views).equals(merkleRoot(leaves))).toBe(true);
  });

  it("returns a fresh Buffer the caller may modify", () => {
    // Prepare
    const leaves = makeLeaves(1);

    // Act
    const root = merkleRoot(leaves);
    root.fill(0);

    // Assess
    expect(merkleRoot(leaves).equals(leaves[0] as Buffer)).toBe(true);
    expect(merkleRoot([]).toString("hex")).toBe(ROOT_HASHES[0]);
  });

  it.each([
    { desc: "a 31-byte leaf hash", leaves: [Buffer.alloc(32), Buffer.alloc(31)] },
    { desc: "a 33-byte leaf hash", leaves: [Buffer.alloc(33)] },
    { desc: "a hole", leaves: [Buffer.alloc(32), undefined] },
    { desc: "a hex string", leaves: ["00".repeat(32)] },
  ])("throws on $desc", ({ leaves }) => {
    expect(() => merkleRoot(leaves as never)).toThrow(RangeError);
  });

  it("leafHash handles leaves above the scratch-buffer size", () => {
    // Prepare
    const big = Buffer.alloc(10_000, 0x61);
    const expected = createHash("sha256")
      .update(Buffer.from([0]))
      .update(big)
      .digest("hex");

    // Act / Assess
    expect(leafHash(big).toString("hex")).toBe(expected);
    expect(leafHash(big.subarray(0, 4096)).toString("hex")).toBe(
      createHash("sha256")
        .update(Buffer.from([0]))
        .update(big.subarray(0, 4096))
        .digest("hex"),
    );
  });

  it("nodeHash handles inputs that are not 32 bytes", () => {
    expect(
      nodeHash(Buffer.from("ab"), Buffer.from("c")).equals(
        referenceNode(Buffer.from("ab"), Buffer.from("c")),
      ),
    ).toBe(true);
  });
});

describe("inclusion proofs (properties)", () => {
  const treeAndIndex = fc
    .integer({ min: 1, max: 200 })
    .chain((size) => fc.record({ size: fc.constant(size), index: fc.nat(size - 1), seed: fc.integer() }));

  it("equal the RFC's PATH and verify", () => {
    fc.assert(
      fc.property(treeAndIndex, ({ size, index, seed }) => {
        // Prepare
        const leaves = makeLeaves(size, seed);

        // Act
        const proof = inclusionProof(leaves, index);

        // Assess
        expect(toHex(proof)).toEqual(toHex(referencePath(index, leaves)));
        expect(
          verifyInclusion({
            leafHash: leaves[index] as Buffer,
            index,
            treeSize: size,
            proof,
            root: merkleRoot(leaves),
          }),
        ).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("fail when any byte of the leaf, the proof or the root changes", () => {
    fc.assert(
      fc.property(
        treeAndIndex,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        ({ size, index, seed }, at, mask) => {
          // Prepare
          const leaves = makeLeaves(size, seed);
          const leaf = leaves[index] as Buffer;
          const proof = inclusionProof(leaves, index);
          const root = merkleRoot(leaves);
          const position = at % (32 * (proof.length + 2));
          const part = Math.floor(position / 32);

          // Act: part 0 is the leaf, the last part the root, the rest proof entries.
          const tampered = {
            leafHash: part === 0 ? flipByte(leaf, position, mask) : leaf,
            index,
            treeSize: size,
            proof: proof.map((p, i) => (part === i + 1 ? flipByte(p, position, mask) : p)),
            root: part === proof.length + 1 ? flipByte(root, position, mask) : root,
          };

          // Assess
          expect(verifyInclusion(tampered)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("fail for another index, or a proof with an entry added or removed", () => {
    fc.assert(
      fc.property(treeAndIndex, fc.integer({ min: 1, max: 1000 }), ({ size, index, seed }, delta) => {
        // Prepare
        const leaves = makeLeaves(size, seed);
        const proof = inclusionProof(leaves, index);
        const claim = {
          leafHash: leaves[index] as Buffer,
          index,
          treeSize: size,
          proof,
          root: merkleRoot(leaves),
        };
        const otherIndex = (index + delta) % size;

        // Act / Assess
        if (otherIndex !== index) expect(verifyInclusion({ ...claim, index: otherIndex })).toBe(false);
        expect(verifyInclusion({ ...claim, proof: [...proof, SOME_HASH] })).toBe(false);
        if (proof.length > 0) expect(verifyInclusion({ ...claim, proof: proof.slice(1) })).toBe(false);
        if (proof.length > 0) expect(verifyInclusion({ ...claim, proof: proof.slice(0, -1) })).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("bind the tree size only through the root, as RFC 9162 does: callers must take the size from the signed tree head", () => {
    // Prepare: index 0 walks the same left edge in trees of 3 and 4 leaves.
    const leaves = makeLeaves(3);
    const claim = {
      leafHash: leaves[0] as Buffer,
      index: 0,
      treeSize: 3,
      proof: inclusionProof(leaves, 0),
      root: merkleRoot(leaves),
    };

    // Act
    const asSize4 = verifyInclusion({ ...claim, treeSize: 4 });

    // Assess
    expect(verifyInclusion(claim)).toBe(true);
    expect(asSize4).toBe(true);
  });

  it.each([
    { size: 0, index: 0 },
    { size: 3, index: 3 },
    { size: 3, index: -1 },
    { size: 3, index: 1.5 },
  ])("throws building a proof for index $index of $size leaves", ({ size, index }) => {
    expect(() => inclusionProof(makeLeaves(size), index)).toThrow(RangeError);
  });
});

describe("consistency proofs (properties)", () => {
  it("equal the RFC's PROOF and verify, for every 0 < m ≤ n ≤ 64", () => {
    // Prepare
    const leaves = makeLeaves(64, 11);
    const roots = Array.from({ length: 65 }, (_, size) => merkleRoot(leaves.slice(0, size)));
    const failures: string[] = [];

    for (let newSize = 1; newSize <= 64; newSize++) {
      for (let oldSize = 1; oldSize <= newSize; oldSize++) {
        // Act
        const prefix = leaves.slice(0, newSize);
        const proof = consistencyProof(prefix, oldSize);
        const ok = verifyConsistency({
          oldSize,
          newSize,
          oldRoot: roots[oldSize] as Buffer,
          newRoot: roots[newSize] as Buffer,
          proof,
        });

        // Assess (collected, so one failure does not hide the others)
        if (!ok) failures.push(`${oldSize}→${newSize} does not verify`);
        if (toHex(proof).join() !== toHex(referenceConsistency(oldSize, prefix)).join()) {
          failures.push(`${oldSize}→${newSize} differs from the RFC`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  const sizes = fc.integer({ min: 2, max: 64 }).chain((newSize) =>
    fc.record({
      newSize: fc.constant(newSize),
      oldSize: fc.integer({ min: 1, max: newSize - 1 }),
      seed: fc.integer(),
    }),
  );

  it("fail when any byte of a root or of the proof changes", () => {
    fc.assert(
      fc.property(
        sizes,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        ({ newSize, oldSize, seed }, at, mask) => {
          // Prepare
          const leaves = makeLeaves(newSize, seed);
          const proof = consistencyProof(leaves, oldSize);
          const oldRoot = merkleRoot(leaves.slice(0, oldSize));
          const newRoot = merkleRoot(leaves);
          const position = at % (32 * (proof.length + 2));
          const part = Math.floor(position / 32);

          // Act
          const tampered = {
            oldSize,
            newSize,
            oldRoot: part === 0 ? flipByte(oldRoot, position, mask) : oldRoot,
            newRoot: part === proof.length + 1 ? flipByte(newRoot, position, mask) : newRoot,
            proof: proof.map((p, i) => (part === i + 1 ? flipByte(p, position, mask) : p)),
          };

          // Assess
          expect(verifyConsistency(tampered)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("fail when a leaf of the old tree is different in the new one", () => {
    fc.assert(
      fc.property(sizes, fc.nat(), ({ newSize, oldSize, seed }, at) => {
        // Prepare: the old tree as it was; the new tree with one of those leaves rewritten.
        const leaves = makeLeaves(newSize, seed);
        const oldRoot = merkleRoot(leaves.slice(0, oldSize));
        const rewritten = [...leaves];
        rewritten[at % oldSize] = sha256("rewritten");

        // Act
        const ok = verifyConsistency({
          oldSize,
          newSize,
          oldRoot,
          newRoot: merkleRoot(rewritten),
          proof: consistencyProof(rewritten, oldSize),
        });

        // Assess
        expect(ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("fail for a proof with an entry added or removed", () => {
    fc.assert(
      fc.property(sizes, ({ newSize, oldSize, seed }) => {
        // Prepare
        const leaves = makeLeaves(newSize, seed);
        const proof = consistencyProof(leaves, oldSize);
        const claim = {
          oldSize,
          newSize,
          oldRoot: merkleRoot(leaves.slice(0, oldSize)),
          newRoot: merkleRoot(leaves),
          proof,
        };

        // Act / Assess
        expect(verifyConsistency({ ...claim, proof: [...proof, SOME_HASH] })).toBe(false);
        expect(verifyConsistency({ ...claim, proof: [SOME_HASH, ...proof] })).toBe(false);
        expect(verifyConsistency({ ...claim, proof: proof.slice(0, -1) })).toBe(false);
        expect(verifyConsistency({ ...claim, proof: proof.slice(1) })).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    { size: 3, oldSize: 4 },
    { size: 3, oldSize: -1 },
    { size: 3, oldSize: 1.5 },
  ])("throws building a proof from $oldSize in a tree of $size", ({ size, oldSize }) => {
    expect(() => consistencyProof(makeLeaves(size), oldSize)).toThrow(RangeError);
  });

  it("is empty from size 0 and from the full size", () => {
    expect(consistencyProof(makeLeaves(5), 0)).toEqual([]);
    expect(consistencyProof(makeLeaves(5), 5)).toEqual([]);
  });
});

describe("verifiers at sizes beyond 32 bits", () => {
  // A tree whose leaves are all equal has subtree roots that depend on size alone, so trees of up to
  // 2^53 - 1 leaves can be built in O(log² n): enough to check the verifiers' arithmetic, which
  // cannot use JavaScript's 32-bit bitwise operators.
  const leaf = leafHash(Buffer.from("same"));
  const roots = new Map<number, Buffer>();
  const uniformRoot = (n: number): Buffer => {
    if (n === 1) return leaf;
    let root = roots.get(n);
    if (!root) {
      const k = largestPowerOfTwoBelow(n);
      root = nodeHash(uniformRoot(k), uniformRoot(n - k));
      roots.set(n, root);
    }
    return root;
  };
  const uniformPath = (m: number, n: number): Buffer[] => {
    if (n === 1) return [];
    const k = largestPowerOfTwoBelow(n);
    return m < k
      ? [...uniformPath(m, k), uniformRoot(n - k)]
      : [...uniformPath(m - k, n - k), uniformRoot(k)];
  };
  const uniformSubproof = (m: number, n: number, whole: boolean): Buffer[] => {
    if (m === n) return whole ? [] : [uniformRoot(n)];
    const k = largestPowerOfTwoBelow(n);
    return m <= k
      ? [...uniformSubproof(m, k, whole), uniformRoot(n - k)]
      : [...uniformSubproof(m - k, n - k, false), uniformRoot(k)];
  };
  const bigSize = fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER });

  it("verify inclusion in trees of up to 2^53 - 1 leaves", () => {
    fc.assert(
      fc.property(bigSize, fc.double({ min: 0, max: 1, noNaN: true }), (size, where) => {
        // Prepare
        const index = Math.min(size - 1, Math.floor(where * size));

        // Act
        const ok = verifyInclusion({
          leafHash: leaf,
          index,
          treeSize: size,
          proof: uniformPath(index, size),
          root: uniformRoot(size),
        });

        // Assess
        expect(ok).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it("verify consistency between trees of up to 2^53 - 1 leaves", () => {
    fc.assert(
      fc.property(bigSize, fc.double({ min: 0, max: 1, noNaN: true }), (newSize, where) => {
        // Prepare
        const oldSize = Math.max(1, Math.min(newSize - 1, Math.floor(where * newSize)));

        // Act
        const ok = verifyConsistency({
          oldSize,
          newSize,
          oldRoot: uniformRoot(oldSize),
          newRoot: uniformRoot(newSize),
          proof: uniformSubproof(oldSize, newSize, true),
        });

        // Assess
        expect(ok).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it("extend a frontier past 2^32 leaves from its JSON", () => {
    // Prepare: the frontier of 2^32 + 1 equal leaves is the 2^32 subtree root then one leaf.
    const size = 2 ** 32 + 1;
    const frontier = MerkleFrontier.fromJSON({
      size,
      nodes: [uniformRoot(2 ** 32).toString("hex"), leaf.toString("hex")],
    });

    // Act
    frontier.append(leaf);

    // Assess
    expect(frontier.size).toBe(size + 1);
    expect(frontier.root().equals(uniformRoot(size + 1))).toBe(true);
  });
});

describe("MerkleFrontier", () => {
  it("has the root of merkleRoot for every prefix", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 150 }), fc.integer(), (size, seed) => {
        // Prepare
        const leaves = makeLeaves(size, seed);
        const frontier = new MerkleFrontier();
        const mismatches: number[] = [];

        // Act
        for (let n = 0; n <= size; n++) {
          if (!frontier.root().equals(merkleRoot(leaves.slice(0, n)))) mismatches.push(n);
          if (n < size) frontier.append(leaves[n] as Buffer);
        }

        // Assess
        expect(mismatches).toEqual([]);
        expect(frontier.size).toBe(size);
      }),
      { numRuns: 40 },
    );
  });

  it("round-trips through JSON and keeps extending identically", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer(),
        (size, more, seed) => {
          // Prepare
          const leaves = makeLeaves(size + more, seed);
          const original = new MerkleFrontier();
          for (const leaf of leaves.slice(0, size)) original.append(leaf);

          // Act
          const restored = MerkleFrontier.fromJSON(JSON.parse(JSON.stringify(original)));
          for (const leaf of leaves.slice(size)) {
            original.append(leaf);
            restored.append(leaf);
          }

          // Assess
          expect(restored.toJSON()).toEqual(original.toJSON());
          expect(restored.root().equals(merkleRoot(leaves))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("does not let a caller's buffers change its state", () => {
    // Prepare
    const leaf = Buffer.from(makeLeaves(1)[0] as Buffer);
    const frontier = new MerkleFrontier();
    frontier.append(leaf);
    const before = frontier.root().toString("hex");

    // Act
    leaf.fill(0);
    frontier.root().fill(0);

    // Assess
    expect(frontier.root().toString("hex")).toBe(before);
  });

  it.each([
    { desc: "a 31-byte hash", leaf: Buffer.alloc(31) },
    { desc: "a hex string", leaf: "00".repeat(32) },
  ])("append rejects $desc", ({ leaf }) => {
    expect(() => new MerkleFrontier().append(leaf as never)).toThrow(RangeError);
  });

  const node = "ab".repeat(32);
  it.each([
    { desc: "null", json: null },
    { desc: "an array", json: [] },
    { desc: "a string", json: "{}" },
    { desc: "missing nodes", json: { size: 0 } },
    { desc: "an extra key", json: { size: 0, nodes: [], root: node } },
    { desc: "a negative size", json: { size: -1, nodes: [] } },
    { desc: "a fractional size", json: { size: 1.5, nodes: [node] } },
    { desc: "an unsafe size", json: { size: 2 ** 53, nodes: [node] } },
    { desc: "a size as a string", json: { size: "1", nodes: [node] } },
    { desc: "too few nodes for the size", json: { size: 3, nodes: [node] } },
    { desc: "too many nodes for the size", json: { size: 4, nodes: [node, node] } },
    { desc: "nodes for an empty tree", json: { size: 0, nodes: [node] } },
    { desc: "upper-case hex", json: { size: 1, nodes: [node.toUpperCase()] } },
    { desc: "short hex", json: { size: 1, nodes: ["ab".repeat(31)] } },
    { desc: "a node that is not a string", json: { size: 1, nodes: [42] } },
    { desc: "nodes not an array", json: { size: 1, nodes: node } },
  ])("fromJSON rejects $desc", ({ json }) => {
    expect(() => MerkleFrontier.fromJSON(json)).toThrow(/Invalid Merkle frontier/);
  });
});
