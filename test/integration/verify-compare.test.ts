/**
 * A replica verifies like its source, and `sealtrail verify --compare` finds every way two copies of
 * an archive differ, against two (or more) locked emulator buckets.
 *
 * moto does not run S3 Replication: a replica is made here as replication makes one, by copying every
 * object version's bytes (with their SHA-256 checksum) into a second Object Lock COMPLIANCE bucket,
 * oldest version first. The copy's version ids are the emulator's own, unlike a real replica's: the
 * comparison never looks at version ids, and this shows it does not need to.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createArchiveBucket } from "../../lambda/aws/provision";
import { checksumSha256Base64 } from "../../lambda/core/batch";
import { parseDataObjectKey } from "../../lambda/core/paths";
import { createIngestHandler } from "../../lambda/handlers/ingest";
import { postEventsEvent } from "../support/api-event";
import { allVersions, objectVersions } from "../support/archive-state";
import { createTestArchive, type TestArchive, uniqueName } from "../support/aws";
import { createTestSigner } from "../support/checkpoint";
import { sealtrail } from "../support/cli";
import { testConfig } from "../support/config";

interface Version {
  readonly key: string;
  readonly versionId: string;
}

/** Every object version of a bucket, each key's oldest first, in key order. */
async function versionsOldestFirst(archive: TestArchive, bucket: string): Promise<Version[]> {
  const versions: Version[] = (await allVersions(archive, { bucket })).versions.map((v) => ({
    key: v.Key as string,
    versionId: v.VersionId as string,
  }));
  // S3 lists a key's versions newest first; a replica receives them in the order they were written.
  const byKey = new Map<string, Version[]>();
  for (const version of versions) byKey.set(version.key, [...(byKey.get(version.key) ?? []), version]);
  return [...byKey.values()].flatMap((group) => group.reverse());
}

async function versionBytes(archive: TestArchive, bucket: string, version: Version): Promise<Buffer> {
  const object = await archive.s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: version.key, VersionId: version.versionId }),
  );
  return Buffer.from(
    await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

/**
 * A new locked bucket holding what replication would copy: every version's bytes. `skip` leaves a key
 * out (a replica that missed an object), `alter` changes a key's bytes on the way (a replica that
 * diverged).
 */
async function replicate(
  archive: TestArchive,
  options: { skip?: string; alter?: { key: string; bytes: (original: Buffer) => Buffer } } = {},
): Promise<string> {
  const replica = uniqueName("sealtrail-replica");
  await createArchiveBucket(archive.s3, replica);
  for (const version of await versionsOldestFirst(archive, archive.bucket)) {
    if (version.key === options.skip) continue;
    const original = await versionBytes(archive, archive.bucket, version);
    const bytes = version.key === options.alter?.key ? options.alter.bytes(original) : original;
    await archive.s3.send(
      new PutObjectCommand({
        Bucket: replica,
        Key: version.key,
        Body: bytes,
        IfNoneMatch: "*",
        ChecksumAlgorithm: "SHA256",
        ChecksumSHA256: checksumSha256Base64(bytes),
      }),
    );
  }
  return replica;
}

const listingOf = (archive: TestArchive, bucket: string) => objectVersions({ ...archive, bucket });

describe("a replica and verify --compare", () => {
  let archive: TestArchive;
  let work: string;
  let trust: string;
  let replica: string;
  let dataObject: string;

  beforeAll(async () => {
    // Prepare: a locked archive with 4 batches and a checkpoint, and its faithful replica.
    archive = await createTestArchive();
    const ingest = createIngestHandler(testConfig(archive, { chains: 2 }));
    for (let i = 0; i < 4; i++) {
      const events = Array.from({ length: 3 }, (_, n) => ({
        action: "document.read",
        outcome: "success",
        details: { n },
      }));
      const result = await ingest(postEventsEvent({ body: { events } }));
      expect(result.statusCode).toBe(201);
    }
    const signer = await createTestSigner(archive);
    await signer.run();
    work = mkdtempSync(join(tmpdir(), "sealtrail-compare-"));
    trust = join(work, "trust.json");
    writeFileSync(trust, JSON.stringify(signer.trustFile));
    replica = await replicate(archive);
    const keys = (await listingOf(archive, archive.bucket)).filter(
      (key) => parseDataObjectKey(key) !== undefined,
    );
    dataObject = keys[0] as string;
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const at = () => ["--endpoint", archive.target.endpoint as string, "--region", archive.target.region];

  it("the replica has the source's keys under other version ids, and verifies like the source", async () => {
    // Assess: same keys, no version id in common.
    const [source, copy] = await Promise.all([
      versionsOldestFirst(archive, archive.bucket),
      versionsOldestFirst(archive, replica),
    ]);
    expect(copy.map((v) => v.key)).toEqual(source.map((v) => v.key));
    const sourceIds = new Set(source.map((v) => v.versionId));
    expect(copy.some((v) => sourceIds.has(v.versionId))).toBe(false);

    // Act
    const run = await sealtrail(["verify", "--bucket", replica, ...at(), "--trust", trust]);

    // Assess
    expect(run.stdout).toMatch(/^VERIFIED: 1 checkpoints, \d+ chains, 4 links, 4 objects, 12 events/m);
    expect(run.code).toBe(0);
  });

  it("verify --compare: exit 0 when both copies hold the same versions, and reads only", async () => {
    const before = await Promise.all([listingOf(archive, archive.bucket), listingOf(archive, replica)]);
    const report = join(work, "same.json");

    const run = await sealtrail([
      "verify",
      "--bucket",
      archive.bucket,
      "--compare",
      replica,
      ...at(),
      "--json",
      report,
    ]);

    expect(run.stdout).toMatch(/^SAME: .*every version's size and SHA-256 equal/m);
    expect(run.code).toBe(0);
    const json = JSON.parse(readFileSync(report, "utf8"));
    expect(json).toMatchObject({ ok: true, outcome: "same", exit_code: 0, differences: [] });
    expect(json.stats.checksummed).toBe(json.stats.keys.first);
    expect(await Promise.all([listingOf(archive, archive.bucket), listingOf(archive, replica)])).toEqual(
      before,
    );
  });

  it("verify --compare: a data object the replica misses is reported, exit 1", async () => {
    const incomplete = await replicate(archive, { skip: dataObject });
    const report = join(work, "missing.json");

    const run = await sealtrail([
      "verify",
      "--bucket",
      archive.bucket,
      "--compare",
      incomplete,
      ...at(),
      "--json",
      report,
    ]);

    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`MISSING ${dataObject}: ${dataObject} is in s3://${archive.bucket}`);
    expect(run.stdout).toMatch(
      new RegExp(`^DIFFERENT: 1 keys differ .*1 missing from s3://${incomplete}`, "m"),
    );
    const json = JSON.parse(readFileSync(report, "utf8"));
    expect(json).toMatchObject({ ok: false, outcome: "different", exit_code: 1 });
    expect(json.differences).toEqual([
      expect.objectContaining({ code: "missing", key: dataObject, missing_from: `s3://${incomplete}` }),
    ]);

    // The other way round, the same key is missing from the other side.
    const reverse = await sealtrail(["verify", "--bucket", incomplete, "--compare", archive.bucket, ...at()]);
    expect(reverse.code).toBe(1);
    expect(reverse.stdout).toMatch(
      new RegExp(`0 missing from s3://${archive.bucket}, 1 missing from s3://${incomplete}`),
    );
  });

  it("verify --compare: an altered replica object of the same size is found by its SHA-256, exit 1", async () => {
    // Same length, other bytes: only the checksum tells them apart.
    const flipLastByte = (original: Buffer) => {
      const bytes = Buffer.from(original);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
      return bytes;
    };
    const altered = await replicate(archive, { alter: { key: dataObject, bytes: flipLastByte } });
    const report = join(work, "altered.json");

    const run = await sealtrail([
      "verify",
      "--bucket",
      archive.bucket,
      "--compare",
      altered,
      ...at(),
      "--json",
      report,
    ]);

    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`DIFFERENT ${dataObject}: ${dataObject} differs`);
    const json = JSON.parse(readFileSync(report, "utf8"));
    expect(json.differences).toHaveLength(1);
    const [difference] = json.differences;
    expect(difference).toMatchObject({ code: "different", key: dataObject });
    expect(difference.first.versions[0].size).toBe(difference.second.versions[0].size);
    expect(difference.first.versions[0].sha256).not.toBe(difference.second.versions[0].sha256);
  });

  it("verify --compare: a second version in the replica is a difference", async () => {
    const overwritten = await replicate(archive);
    await archive.s3.send(new PutObjectCommand({ Bucket: overwritten, Key: dataObject, Body: "planted" }));

    const run = await sealtrail(["verify", "--bucket", archive.bucket, "--compare", overwritten, ...at()]);

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`DIFFERENT ${dataObject}: .*has 2 versions`));
  });

  it("refuses options that only verification has, and names them; exit 2", async () => {
    const run = await sealtrail([
      "verify",
      "--bucket",
      archive.bucket,
      "--compare",
      replica,
      ...at(),
      "--max-age",
      "1h",
      "--trust",
      trust,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--trust, --max-age cannot be used with --compare/);
    // Without --compare, --trust is still required.
    const verify = await sealtrail(["verify", "--bucket", archive.bucket, ...at()]);
    expect(verify.code).toBe(2);
    expect(verify.stderr).toMatch(/give --trust JWKS_FILE/);
  });

  it("two empty buckets: nothing compared, exit 2 unless --allow-empty", async () => {
    const [a, b] = [uniqueName("sealtrail-empty"), uniqueName("sealtrail-empty")];
    await Promise.all([createArchiveBucket(archive.s3, a), createArchiveBucket(archive.s3, b)]);
    const run = await sealtrail(["verify", "--bucket", a, "--compare", b, ...at()]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^NOT COMPARED: .* both empty/m);
    expect((await sealtrail(["verify", "--bucket", a, "--compare", b, ...at(), "--allow-empty"])).code).toBe(
      0,
    );
  });
});
