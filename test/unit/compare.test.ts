/** compareArchives against in-memory version listings: every kind of difference, and what is not one. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type ArchiveEntry, compareKeys } from "../../lambda/archive/source";
import { type ComparedBucket, compareArchives } from "../../lambda/verify/compare";

interface StoredVersion {
  readonly bytes?: string;
  /** A delete marker instead of an object version. */
  readonly marker?: true;
}

/** A bucket of keys, each with its entries newest first (as S3 lists them); version ids are its own. */
function memoryBucket(name: string, keys: Record<string, StoredVersion[]>) {
  const reads: string[] = [];
  const ids = (key: string, i: number) => `${name}-${key}-${i}`;
  const bucket: ComparedBucket = {
    description: `s3://${name}`,
    async *list(prefix: string): AsyncIterable<ArchiveEntry> {
      for (const key of Object.keys(keys).sort(compareKeys)) {
        if (!key.startsWith(prefix)) continue;
        const entries = keys[key] ?? [];
        for (const [i, version] of entries.entries()) {
          yield {
            key,
            isObject: !version.marker,
            isLatest: i === 0,
            versionId: ids(key, i),
            size: version.marker ? undefined : Buffer.byteLength(version.bytes ?? ""),
          };
        }
      }
    },
    async sha256(key: string, versionId: string | undefined): Promise<string> {
      reads.push(key);
      const i = (keys[key] ?? []).findIndex((_, n) => ids(key, n) === versionId);
      const version = keys[key]?.[i];
      if (version === undefined || version.marker) throw new Error(`no version ${versionId} of ${key}`);
      return createHash("sha256")
        .update(version.bytes ?? "")
        .digest("base64");
    },
  };
  return { bucket, reads };
}

const archive = {
  "chains/0/00000000000000000000.json": [{ bytes: "link-0" }],
  "chains/0/00000000000000000001.json": [{ bytes: "link-1" }],
  "checkpoints/00000000000000000000.jws": [{ bytes: "checkpoint" }],
  "events/dt=2026-12-01/hr=10/aa.jsonl.gz": [{ bytes: "batch-a" }],
};

describe("compareArchives", () => {
  it("two copies with the same bytes under other version ids are the same, every checksum read", async () => {
    const first = memoryBucket("source", archive);
    const second = memoryBucket("replica", archive);

    const report = await compareArchives({ first: first.bucket, second: second.bucket, chunkKeys: 3 });

    expect(report.outcome).toBe("same");
    expect(report.differences).toEqual([]);
    expect(report.stats).toEqual({
      keys: { first: 4, second: 4 },
      versions: { first: 4, second: 4 },
      checksummed: 4,
    });
    expect(first.reads.sort()).toEqual(Object.keys(archive).sort());
    expect(second.reads.sort()).toEqual(Object.keys(archive).sort());
  });

  it("reports a key missing from either side, naming the side that lacks it", async () => {
    const { "chains/0/00000000000000000001.json": _, ...withoutLink } = archive;
    const extra = { ...archive, "events/dt=2026-12-01/hr=11/bb.jsonl.gz": [{ bytes: "planted" }] };

    const report = await compareArchives({
      first: memoryBucket("source", withoutLink).bucket,
      second: memoryBucket("replica", extra).bucket,
    });

    expect(report.outcome).toBe("different");
    expect(report.differences.map((d) => [d.code, d.key, d.missingFrom])).toEqual([
      ["missing", "chains/0/00000000000000000001.json", "s3://source"],
      ["missing", "events/dt=2026-12-01/hr=11/bb.jsonl.gz", "s3://source"],
    ]);
    expect(report.differences[0]?.message).toBe(
      "chains/0/00000000000000000001.json is in s3://replica (1 version (6 bytes)) but not in s3://source",
    );
  });

  it("reports other bytes of the same size by checksum, and another size without reading checksums", async () => {
    const first = memoryBucket("source", archive);
    const second = memoryBucket("replica", {
      ...archive,
      "chains/0/00000000000000000000.json": [{ bytes: "link-X" }],
      "checkpoints/00000000000000000000.jws": [{ bytes: "checkpoint, longer" }],
    });

    const report = await compareArchives({ first: first.bucket, second: second.bucket });

    expect(report.differences.map((d) => [d.code, d.key])).toEqual([
      ["different", "chains/0/00000000000000000000.json"],
      ["different", "checkpoints/00000000000000000000.jws"],
    ]);
    const [sameSize, otherSize] = report.differences;
    expect(sameSize?.first?.versions[0]?.sha256).not.toBe(sameSize?.second?.versions[0]?.sha256);
    expect(otherSize?.message).toMatch(
      /s3:\/\/source has 1 version \(10 bytes\), s3:\/\/replica has 1 version \(18 bytes\)/,
    );
    expect(second.reads).not.toContain("checkpoints/00000000000000000000.jws");
  });

  it("a second version or a delete marker in one copy is a difference", async () => {
    const report = await compareArchives({
      first: memoryBucket("source", archive).bucket,
      second: memoryBucket("replica", {
        ...archive,
        "chains/0/00000000000000000000.json": [{ bytes: "other" }, { bytes: "link-0" }],
        "events/dt=2026-12-01/hr=10/aa.jsonl.gz": [{ marker: true }, { bytes: "batch-a" }],
      }).bucket,
    });

    expect(report.differences.map((d) => d.message)).toEqual([
      expect.stringMatching(
        /^chains\/0\/00000000000000000000\.json differs: .* s3:\/\/replica has 2 versions/,
      ),
      expect.stringMatching(
        /s3:\/\/replica has 1 version \(7 bytes\) and 1 delete marker, hidden by its delete marker$/,
      ),
    ]);
  });

  it("two empty buckets: nothing was compared", async () => {
    const report = await compareArchives({
      first: memoryBucket("a", {}).bucket,
      second: memoryBucket("b", {}).bucket,
    });
    expect(report.outcome).toBe("empty");
  });
});
