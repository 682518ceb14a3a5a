/** The archive bucket as the signer and the verifier read it: version listings and current objects. */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { ArchiveEntry, ArchiveSource } from "../archive/source";
import { compareKeys } from "../archive/source";
import { isNotFound } from "./errors";
import { S3ObjectStore } from "./object-store";

export class S3ArchiveSource implements ArchiveSource {
  readonly seesVersions = true;
  readonly description: string;

  private readonly objects: S3ObjectStore;

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {
    this.description = `s3://${bucket}`;
    this.objects = new S3ObjectStore(s3, bucket);
  }

  async *list(prefix: string, keyMarker?: string): AsyncIterable<ArchiveEntry> {
    let marker = keyMarker;
    let versionMarker: string | undefined;
    let more = true;
    while (more) {
      const page = await this.s3.send(
        new ListObjectVersionsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          KeyMarker: marker,
          VersionIdMarker: versionMarker,
        }),
      );
      // A page lists versions and delete markers apart; merged, every key's entries are adjacent.
      const entries: ArchiveEntry[] = [
        ...(page.Versions ?? []).map((v) => ({
          key: v.Key ?? "",
          isObject: true,
          isLatest: v.IsLatest === true,
          versionId: v.VersionId,
          size: v.Size,
        })),
        ...(page.DeleteMarkers ?? []).map((m) => ({
          key: m.Key ?? "",
          isObject: false,
          isLatest: m.IsLatest === true,
          versionId: m.VersionId,
        })),
      ];
      entries.sort((a, b) => compareKeys(a.key, b.key));
      yield* entries;
      more = page.IsTruncated === true;
      marker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
    }
  }

  async listChildren(prefix: string): Promise<string[]> {
    const children: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: "/",
          ContinuationToken: token,
        }),
      );
      for (const common of page.CommonPrefixes ?? []) {
        const name = common.Prefix?.slice(prefix.length, -1);
        if (name) children.push(name);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return children;
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.objects.get(key);
  }

  async getVersion(key: string, versionId: string): Promise<Buffer | undefined> {
    try {
      const object = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
      );
      return Buffer.from((await object.Body?.transformToByteArray()) ?? new Uint8Array());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}
