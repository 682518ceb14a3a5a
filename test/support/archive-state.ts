/** What a test archive holds, to assert "nothing was written" and to read back what was. */
import { gunzipSync } from "node:zlib";
import {
  type DeleteMarkerEntry,
  GetObjectCommand,
  ListObjectVersionsCommand,
  type ObjectVersion,
} from "@aws-sdk/client-s3";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../../lambda/aws/index-store";
import type { TestArchive } from "./aws";

/** Every object version and delete marker of a bucket (the archive's unless given), in S3's listing order. */
export async function allVersions(
  archive: TestArchive,
  options: { bucket?: string; prefix?: string } = {},
): Promise<{ versions: ObjectVersion[]; deleteMarkers: DeleteMarkerEntry[] }> {
  const versions: ObjectVersion[] = [];
  const deleteMarkers: DeleteMarkerEntry[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  do {
    const page = await archive.s3.send(
      new ListObjectVersionsCommand({
        Bucket: options.bucket ?? archive.bucket,
        Prefix: options.prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionMarker,
      }),
    );
    versions.push(...(page.Versions ?? []));
    deleteMarkers.push(...(page.DeleteMarkers ?? []));
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return { versions, deleteMarkers };
}

export async function objectVersions(archive: TestArchive, prefix = ""): Promise<string[]> {
  const { versions, deleteMarkers } = await allVersions(archive, { prefix });
  return [
    ...versions.map((v) => v.Key as string),
    ...deleteMarkers.map((m) => `delete-marker:${m.Key}`),
  ].sort();
}

export async function tableItems(archive: TestArchive): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  const doc = documentClient(archive.dynamo);
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName: archive.table, ExclusiveStartKey: startKey, ConsistentRead: true }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Everything written: object versions and table items. */
export async function snapshot(archive: TestArchive): Promise<{ objects: string[]; items: number }> {
  const [objects, items] = await Promise.all([objectVersions(archive), tableItems(archive)]);
  return { objects, items: items.length };
}

export async function readObject(archive: TestArchive, key: string): Promise<Buffer> {
  const object = await archive.s3.send(new GetObjectCommand({ Bucket: archive.bucket, Key: key }));
  return Buffer.from(
    await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

export async function readBatchLines(archive: TestArchive, key: string): Promise<string[]> {
  const lines = gunzipSync(await readObject(archive, key))
    .toString("utf8")
    .split("\n");
  lines.pop();
  return lines;
}
