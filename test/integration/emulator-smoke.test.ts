/**
 * The emulator must behave as AWS S3 does for everything sealtrail's integrity rests on.
 * Each test asserts the real response and the state left behind.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { s3Client } from "../../lambda/aws/clients";
import { createTestArchive, emulatorName, type TestArchive } from "../support/aws";
import { knownGap } from "../support/emulator-gaps";

const RETENTION_DAYS = 3;

async function readText(archive: TestArchive, key: string): Promise<string> {
  const object = await archive.s3.send(new GetObjectCommand({ Bucket: archive.bucket, Key: key }));
  return (await object.Body?.transformToString()) ?? "";
}

async function statusOf(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise;
    return { name: "success", status: 200 };
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
}

describe("emulator behaves like S3 under Object Lock", () => {
  let archive: TestArchive;
  const emulator = () => emulatorName();

  beforeAll(async () => {
    archive = await createTestArchive({ objectLock: { retentionDays: RETENTION_DAYS } });
  });

  it("refuses PutObject with If-None-Match: * on an existing key (412) and keeps the stored bytes", async (ctx) => {
    const gap = knownGap(emulator(), "ifNoneMatchRejectsOverwrite");
    if (gap) ctx.skip(gap);
    const put = (body: string) =>
      archive.s3.send(
        new PutObjectCommand({
          Bucket: archive.bucket,
          Key: "chains/0/1.json",
          Body: body,
          IfNoneMatch: "*",
          ChecksumAlgorithm: "SHA256",
        }),
      );
    await put("first");

    const second = await statusOf(put("second"));

    expect(second).toEqual({ name: "PreconditionFailed", status: 412 });
    expect(await readText(archive, "chains/0/1.json")).toBe("first");
    const versions = await archive.s3.send(
      new ListObjectVersionsCommand({ Bucket: archive.bucket, Prefix: "chains/0/1.json" }),
    );
    expect(versions.Versions ?? []).toHaveLength(1);
  });

  it("refuses to delete a COMPLIANCE-locked version (AccessDenied) and the version is still there", async (ctx) => {
    const gap = knownGap(emulator(), "complianceLockBlocksVersionDelete");
    if (gap) ctx.skip(gap);
    const written = await archive.s3.send(
      new PutObjectCommand({
        Bucket: archive.bucket,
        Key: "locked.txt",
        Body: "keep me",
        ChecksumAlgorithm: "SHA256",
      }),
    );
    expect(written.VersionId).toBeTruthy();

    const deletion = await statusOf(
      archive.s3.send(
        new DeleteObjectCommand({ Bucket: archive.bucket, Key: "locked.txt", VersionId: written.VersionId }),
      ),
    );

    expect(deletion).toEqual({ name: "AccessDenied", status: 403 });
    const versions = await archive.s3.send(
      new ListObjectVersionsCommand({ Bucket: archive.bucket, Prefix: "locked.txt" }),
    );
    expect(versions.Versions?.map((v) => v.VersionId)).toEqual([written.VersionId]);
    expect(versions.DeleteMarkers ?? []).toHaveLength(0);
    expect(await readText(archive, "locked.txt")).toBe("keep me");
  });

  it("gives a new object the bucket's default COMPLIANCE retention", async (ctx) => {
    const gap = knownGap(emulator(), "defaultRetentionApplied");
    if (gap) ctx.skip(gap);
    const before = Date.now();
    await archive.s3.send(
      new PutObjectCommand({
        Bucket: archive.bucket,
        Key: "retained.txt",
        Body: "x",
        ChecksumAlgorithm: "SHA256",
      }),
    );

    const head = await archive.s3.send(
      new HeadObjectCommand({ Bucket: archive.bucket, Key: "retained.txt" }),
    );

    expect(head.ObjectLockMode).toBe("COMPLIANCE");
    const retainUntil = head.ObjectLockRetainUntilDate?.getTime() ?? 0;
    const day = 86_400_000;
    // The retain-until date is the put time plus the default retention (to within a day of rounding).
    expect(retainUntil).toBeGreaterThan(before + (RETENTION_DAYS - 1) * day);
    expect(retainUntil).toBeLessThan(before + (RETENTION_DAYS + 1) * day);
  });

  it("refuses a put without a checksum or Content-MD5 to the locked bucket, and writes nothing", async (ctx) => {
    const gap = knownGap(emulator(), "lockedPutRequiresChecksum");
    if (gap) ctx.skip(gap);
    // The SDK adds a CRC32 checksum by default; this client sends none unless an operation requires it.
    const bare = s3Client(archive.target, { requestChecksumCalculation: "WHEN_REQUIRED" });

    const result = await statusOf(
      bare.send(new PutObjectCommand({ Bucket: archive.bucket, Key: "no-checksum.txt", Body: "x" })),
    );

    expect(result.status).toBe(400);
    const versions = await archive.s3.send(
      new ListObjectVersionsCommand({ Bucket: archive.bucket, Prefix: "no-checksum.txt" }),
    );
    expect(versions.Versions ?? []).toHaveLength(0);
  });
});
