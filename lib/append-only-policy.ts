/**
 * The append-only bucket policy of the threat model, one definition for every bucket that holds an
 * archive: the source (lib/sealtrail.ts) and its locked replica (lib/replica.ts), both built by
 * lib/archive-bucket.ts.
 */
import { AnyPrincipal, Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Bucket } from "aws-cdk-lib/aws-s3";

/**
 * Every principal, the account root included, is denied deletes, retention and legal hold changes,
 * lock configuration changes, and any PutObject that could replace an existing key (a new version)
 * instead of creating a new one. S3 Replication writes with s3:ReplicateObject, which these
 * statements leave to the replica's own policy; s3:ReplicateDelete (delete markers arriving by
 * replication) is denied with the deletes.
 */
export function addAppendOnlyPolicy(bucket: Bucket): void {
  const everyone = [new AnyPrincipal()];
  bucket.addToResourcePolicy(
    new PolicyStatement({
      sid: "DenyObjectDeletionAndLockChanges",
      effect: Effect.DENY,
      principals: everyone,
      actions: [
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:ReplicateDelete",
        "s3:PutObjectRetention",
        "s3:PutObjectLegalHold",
        "s3:BypassGovernanceRetention",
      ],
      resources: [bucket.arnForObjects("*")],
    }),
  );
  bucket.addToResourcePolicy(
    new PolicyStatement({
      sid: "DenyLockAndLifecycleChanges",
      effect: Effect.DENY,
      principals: everyone,
      // A lifecycle expiration rule would add delete markers to every current version.
      actions: ["s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration"],
      resources: [bucket.bucketArn],
    }),
  );
  // Two statements, because the conditions of one statement are ANDed: a PutObject is denied when the
  // If-None-Match header is absent, and (separately) when it is present with any value other than "*".
  // Multipart uploads and CopyObject cannot satisfy this and are refused: sealtrail writes single PUTs.
  bucket.addToResourcePolicy(
    new PolicyStatement({
      sid: "DenyPutWithoutIfNoneMatch",
      effect: Effect.DENY,
      principals: everyone,
      actions: ["s3:PutObject"],
      resources: [bucket.arnForObjects("*")],
      conditions: { Null: { "s3:if-none-match": "true" } },
    }),
  );
  bucket.addToResourcePolicy(
    new PolicyStatement({
      sid: "DenyPutWithOtherIfNoneMatch",
      effect: Effect.DENY,
      principals: everyone,
      actions: ["s3:PutObject"],
      resources: [bucket.arnForObjects("*")],
      conditions: { StringNotEquals: { "s3:if-none-match": "*" } },
    }),
  );
}
