/** A bucket as `verify --compare` reads it: its version listing, and each version's SHA-256. */
import { createHash } from "node:crypto";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ArchiveEntry } from "../archive/source";
import type { ComparedBucket } from "../verify/compare";
import { S3ArchiveSource } from "./archive-source";

/** A full-object SHA-256 checksum; a multipart upload's composite one ends in `-<parts>`. */
const FULL_OBJECT_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

export class S3ComparedBucket implements ComparedBucket {
  readonly description: string;
  private readonly listing: S3ArchiveSource;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {
    this.listing = new S3ArchiveSource(s3, bucket);
    this.description = this.listing.description;
  }

  list(prefix: string): AsyncIterable<ArchiveEntry> {
    return this.listing.list(prefix);
  }

  /**
   * The checksum S3 stored with the version (sealtrail writes every object with one, and S3
   * Replication keeps it), read by a HEAD; the bytes are hashed only for a version stored without one.
   */
  async sha256(key: string, versionId: string | undefined): Promise<string> {
    const head = await this.s3.send(
      new HeadObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId, ChecksumMode: "ENABLED" }),
    );
    if (head.ChecksumSHA256 !== undefined && FULL_OBJECT_SHA256.test(head.ChecksumSHA256)) {
      return head.ChecksumSHA256;
    }
    const object = await this.s3.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
    );
    const bytes = (await object.Body?.transformToByteArray()) ?? new Uint8Array();
    return createHash("sha256").update(bytes).digest("base64");
  }
}
