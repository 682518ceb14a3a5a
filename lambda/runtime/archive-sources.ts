/**
 * An archive source named by plain data, so another thread can open the same source: the verifier's
 * workers each read their own objects instead of being sent every object's bytes by the main thread,
 * which would then do a third of the work and copy every byte once more.
 */
import { type ArchiveSource, DirectorySource } from "../archive/source";
import { S3ArchiveSource } from "../aws/archive-source";
import { type AwsTarget, s3Client } from "../aws/clients";

export type ArchiveSourceSpec =
  /** A local copy of the bucket (`sealtrail verify --dir`). */
  | { readonly kind: "directory"; readonly root: string }
  /** The bucket itself; credentials from the environment, as the SDK finds them in every thread. */
  | { readonly kind: "s3"; readonly bucket: string; readonly aws: AwsTarget };

export function openArchiveSource(spec: ArchiveSourceSpec): ArchiveSource {
  return spec.kind === "directory"
    ? new DirectorySource(spec.root)
    : new S3ArchiveSource(s3Client(spec.aws), spec.bucket);
}
