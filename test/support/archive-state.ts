/** What a test archive holds, to assert "nothing was written" and to read back what was. */
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectVersionsCommand } from "@aws-sdk/client-s3";
import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../../lambda/aws/index-store";
import type { TestArchive } from "./aws";

export async function objectVersions(archive: TestArchive, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  do {
    const page = await archive.s3.send(
      new ListObjectVersionsCommand({
        Bucket: archive.bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionMarker,
      }),
    );
    for (const v of page.Versions ?? []) keys.push(v.Key as string);
    for (const m of page.DeleteMarkers ?? []) keys.push(`delete-marker:${m.Key}`);
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return keys.sort();
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
