/**
 * What an attacker with write access to the bucket and the table (but not the signing key) can do,
 * with the raw clients: overwrite a key (a new version), delete one (a delete marker), rewrite a data
 * object's lines, edit an index item. Also a plain local copy of the bucket, as `verify --dir` reads it.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  DeleteObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { documentClient } from "../../lambda/aws/index-store";
import { eventItemKey } from "../../lambda/core/index-items";
import { readObject } from "./archive-state";
import type { TestArchive } from "./aws";

/** Every current object's key (what a plain GET returns: delete-marked keys are left out). */
export async function currentKeys(archive: TestArchive, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await archive.s3.send(
      new ListObjectsV2Command({ Bucket: archive.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** A local copy of the bucket in a fresh temp dir: each current object as a file at its key. */
export async function downloadArchive(archive: TestArchive): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "sealtrail-copy-"));
  for (const key of await currentKeys(archive)) {
    const path = join(root, ...key.split("/"));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, await readObject(archive, key));
  }
  return root;
}

export async function removeCopy(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
}

/** Overwrites `key` without any condition: in a versioned bucket, a second version. */
export async function overwriteObject(archive: TestArchive, key: string, bytes: Uint8Array): Promise<void> {
  await archive.s3.send(new PutObjectCommand({ Bucket: archive.bucket, Key: key, Body: bytes }));
}

/** The version ids of `key`, oldest first (delete markers left out). */
export async function versionIdsOf(archive: TestArchive, key: string): Promise<string[]> {
  const page = await archive.s3.send(new ListObjectVersionsCommand({ Bucket: archive.bucket, Prefix: key }));
  // S3 lists a key's versions newest first.
  return (page.Versions ?? [])
    .filter((version) => version.Key === key && version.VersionId)
    .map((version) => version.VersionId as string)
    .reverse();
}

/** DeleteObject without a version id: in a versioned bucket, a delete marker hides the key. */
export async function deleteObject(archive: TestArchive, key: string): Promise<void> {
  await archive.s3.send(new DeleteObjectCommand({ Bucket: archive.bucket, Key: key }));
}

/** The record lines of a data object, without their newlines. */
export function linesOf(gzipped: Uint8Array): string[] {
  const lines = gunzipSync(gzipped).toString("utf8").split("\n");
  if (lines.pop() !== "") throw new Error("a data object ends with a newline");
  return lines;
}

/** A data object's bytes for these lines: each followed by a newline, gzipped. */
export function regzipLines(lines: readonly string[]): Buffer {
  return gzipSync(Buffer.from(lines.map((line) => `${line}\n`).join(""), "utf8"));
}

/** Reads a data object, lets `edit` change its lines, and overwrites the same key with the result. */
export async function rewriteLines(
  archive: TestArchive,
  key: string,
  edit: (lines: string[]) => string[],
): Promise<void> {
  const lines = linesOf(await readObject(archive, key));
  await overwriteObject(archive, key, regzipLines(edit([...lines])));
}

/** Sets attributes of one event's pointer item in the index, as anyone with table write access can. */
export async function updateEventPointer(
  archive: TestArchive,
  eventId: string,
  attributes: Record<string, string | number>,
): Promise<void> {
  const names = Object.keys(attributes);
  await documentClient(archive.dynamo).send(
    new UpdateCommand({
      TableName: archive.table,
      Key: eventItemKey(eventId),
      ConditionExpression: "attribute_exists(event_id)",
      UpdateExpression: `SET ${names.map((_, i) => `#a${i} = :v${i}`).join(", ")}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((name, i) => [`#a${i}`, name])),
      ExpressionAttributeValues: Object.fromEntries(names.map((name, i) => [`:v${i}`, attributes[name]])),
    }),
  );
}
