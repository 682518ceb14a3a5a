/**
 * The archive bucket as the write path sees it: create-only puts (If-None-Match: * with a SHA-256
 * checksum), reads and listings. Nothing here can overwrite or delete.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { checksumSha256Base64 } from "../core/batch";
import { isNotFound, isPreconditionFailed } from "./errors";

export type PutOutcome = "created" | "exists";

export interface ObjectStore {
  /** Creates the object unless the key exists. Transient errors are thrown for the caller to judge. */
  putIfAbsent(key: string, bytes: Uint8Array, contentType: string): Promise<PutOutcome>;
  get(key: string): Promise<Buffer | undefined>;
  /** Every key under a prefix, in S3's (lexicographic) order, after `startAfter` when given. */
  listKeys(prefix: string, startAfter?: string): AsyncIterable<string>;
}

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
