/**
 * The archive bucket on S3, as the ObjectStore port (lambda/archive/object-store.ts): create-only puts
 * (If-None-Match: * with a SHA-256 checksum), reads and listings. Nothing here can overwrite or delete.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ObjectStore, PutOutcome } from "../archive/object-store";
import { checksumSha256Base64 } from "../core/batch";
import { isConditionalConflict, isNotFound, isPreconditionFailed } from "./errors";

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async putIfAbsent(key: string, bytes: Uint8Array, contentType: string): Promise<PutOutcome> {
    try {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: contentType,
          IfNoneMatch: "*",
          ChecksumAlgorithm: "SHA256",
          ChecksumSHA256: checksumSha256Base64(bytes),
        }),
      );
      return "created";
    } catch (error) {
      if (isPreconditionFailed(error)) return "exists";
      if (isConditionalConflict(error)) return "conflict";
      throw error;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async *listKeys(prefix: string, startAfter?: string): AsyncIterable<string> {
    let continuationToken: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          StartAfter: continuationToken ? undefined : startAfter,
          ContinuationToken: continuationToken,
        }),
      );
      for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }
}
