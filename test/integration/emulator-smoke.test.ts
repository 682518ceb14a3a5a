/**
 * The emulator must behave as AWS S3 and DynamoDB do for everything sealtrail's integrity (and its
 * tests' meaning) rests on. Each test asserts the real response and the state left behind.
 */
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { s3Client } from "../../lambda/aws/clients";
import { documentClient } from "../../lambda/aws/index-store";
import { GLOBAL_INDEXES, KEY_SIZE_LIMITS, PARTITION_KEY, SORT_KEY } from "../../lambda/core/index-table";
import { objectVersions, readObject } from "../support/archive-state";
import { createTestArchive, emulatorName, type TestArchive } from "../support/aws";
import { knownGap } from "../support/emulator-gaps";

const RETENTION_DAYS = 3;
/** Writers creating one key at once, and keys so created: moto creates about 1 key in 300 twice. */
const CONCURRENT_CREATES = 12;
const CREATED_KEYS = 600;
const KEYS_AT_ONCE = 4;

async function readText(archive: TestArchive, key: string): Promise<string> {
  return (await readObject(archive, key)).toString("utf8");
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

  it(`creates a key once under ${CONCURRENT_CREATES} concurrent If-None-Match: * creates (${CREATED_KEYS} keys): one 200, the rest 412, one version`, {
    timeout: 300_000,
  }, async (ctx) => {
    const gap = knownGap(emulator(), "atomicCreateUnderConcurrency");
    if (gap) ctx.skip(gap);
    const prefix = "chains/race/";
    const keys = Array.from(
      { length: CREATED_KEYS },
      (_, k) => `${prefix}${String(k).padStart(20, "0")}.json`,
    );
    const createdTwice: string[] = [];

    // A few keys at a time, each created by every writer at once: the race a fork needs.
    for (let i = 0; i < keys.length; i += KEYS_AT_ONCE) {
      await Promise.all(
        keys.slice(i, i + KEYS_AT_ONCE).map(async (key) => {
          const outcomes = await Promise.all(
            Array.from({ length: CONCURRENT_CREATES }, (_, writer) =>
              statusOf(
                archive.s3.send(
                  new PutObjectCommand({
                    Bucket: archive.bucket,
                    Key: key,
                    Body: `writer ${writer}`,
                    IfNoneMatch: "*",
                    ChecksumAlgorithm: "SHA256",
                  }),
                ),
              ),
            ),
          );
          const created = outcomes.filter((outcome) => outcome.status === 200).length;
          const refused = outcomes.filter((outcome) => outcome.status === 412).length;
          if (created !== 1 || refused !== CONCURRENT_CREATES - 1)
            createdTwice.push(`${key}: ${created} created`);
        }),
      );
    }

    expect(createdTwice, "keys not created exactly once").toEqual([]);
    const versionsByKey = new Map<string, number>();
    for (const key of await objectVersions(archive, prefix)) {
      versionsByKey.set(key, (versionsByKey.get(key) ?? 0) + 1);
    }
    expect(versionsByKey.size).toBe(CREATED_KEYS);
    expect([...versionsByKey].filter(([, count]) => count !== 1)).toEqual([]);
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

describe("emulator enforces DynamoDB's key size limits", () => {
  let archive: TestArchive;
  const emulator = () => emulatorName();

  beforeAll(async () => {
    archive = await createTestArchive();
  });

  const cases: ReadonlyArray<{ name: string; attribute: string; limit: number }> = [
    {
      name: "a GSI partition key",
      attribute: GLOBAL_INDEXES.resource.partitionKey,
      limit: KEY_SIZE_LIMITS.partitionKeyBytes,
    },
    {
      name: "a GSI sort key",
      attribute: GLOBAL_INDEXES.resource.sortKey,
      limit: KEY_SIZE_LIMITS.sortKeyBytes,
    },
    { name: "the table's partition key", attribute: PARTITION_KEY, limit: KEY_SIZE_LIMITS.partitionKeyBytes },
  ];

  it.for(
    cases,
  )("takes $name of exactly the limit in bytes and refuses one byte more, writing nothing", async ({
    attribute,
    limit,
  }, ctx) => {
    const gap = knownGap(emulator(), "dynamoKeySizeLimits");
    if (gap) ctx.skip(gap);
    const doc = documentClient(archive.dynamo);
    // "é" is 2 bytes in UTF-8: the limit counts bytes, not characters.
    const itemOf = (id: string, value: string) => ({
      [PARTITION_KEY]: `limit#${id}`,
      [SORT_KEY]: "limit",
      [GLOBAL_INDEXES.resource.partitionKey]: "acme#doc#1",
      [GLOBAL_INDEXES.resource.sortKey]: "2026-01-01T00:00:00.000Z#1",
      [attribute]: value,
    });
    const fits = itemOf(`${attribute}-fits`, "é".repeat(limit / 2));
    const over = itemOf(`${attribute}-over`, `${"é".repeat(limit / 2)}a`);
    expect(Buffer.byteLength(over[attribute] as string)).toBe(limit + 1);

    await doc.send(new PutCommand({ TableName: archive.table, Item: fits }));
    const refused = await statusOf(doc.send(new PutCommand({ TableName: archive.table, Item: over })));

    expect(refused).toEqual({ name: "ValidationException", status: 400 });
    const stored = await doc.send(new ScanCommand({ TableName: archive.table, ConsistentRead: true }));
    const ids = (stored.Items ?? []).map((item) => item[PARTITION_KEY]);
    expect(ids).toContain(fits[PARTITION_KEY]);
    expect(ids).not.toContain(over[PARTITION_KEY]);
  });
});
