/**
 * The buckets every archive has, one definition for the source (lib/sealtrail.ts) and its locked replica
 * (lib/replica.ts): the archive bucket itself (Object Lock COMPLIANCE, versioned, SSE-KMS, the
 * append-only policy of lib/append-only-policy.ts) and the bucket its server access logs go to.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { IKey } from "aws-cdk-lib/aws-kms";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectLockRetention,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { addAppendOnlyPolicy } from "./append-only-policy";

/** `AccessLogBucket` of `scope`: SSE-S3, because S3 server access log delivery cannot use SSE-KMS. */
export function accessLogBucket(scope: Construct): Bucket {
  return new Bucket(scope, "AccessLogBucket", {
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    versioned: true,
    removalPolicy: RemovalPolicy.RETAIN,
  });
}

export interface LockedArchiveBucketProps {
  /** Default Object Lock COMPLIANCE retention, in days. */
  readonly retentionDays: number;
  /** Encrypts every object (SSE-KMS with S3 Bucket Keys). */
  readonly encryptionKey: IKey;
  /** Destination of the bucket's server access logs (see `accessLogBucket`). */
  readonly accessLogBucket: Bucket;
  /** Prefix of its server access logs there, e.g. `archive/`. */
  readonly accessLogPrefix: string;
}

/** A locked, encrypted, retained archive bucket with the append-only policy. */
export function lockedArchiveBucket(scope: Construct, id: string, props: LockedArchiveBucketProps): Bucket {
  const bucket = new Bucket(scope, id, {
    objectLockEnabled: true,
    objectLockDefaultRetention: ObjectLockRetention.compliance(Duration.days(props.retentionDays)),
    versioned: true,
    encryption: BucketEncryption.KMS,
    encryptionKey: props.encryptionKey,
    bucketKeyEnabled: true,
    enforceSSL: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    // ACLs are disabled: every object, replicas included, belongs to this account without an owner override.
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: props.accessLogBucket,
    serverAccessLogsPrefix: props.accessLogPrefix,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  addAppendOnlyPolicy(bucket);
  return bucket;
}
