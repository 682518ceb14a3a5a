/**
 * The private state bucket of a scheduled function (the checkpoint signer, lib/checkpoint.ts, and the
 * scheduled verifier, lib/scheduled-verifier.ts): versioned, SSE-KMS under the archive key, logged,
 * retained, and once its function's role exists, writable only by that role and deletable by nobody.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AnyPrincipal, Effect, type IRole, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";

/** Days a replaced version of a state is kept (the state is replaced on every run that saves). */
const STATE_NONCURRENT_DAYS = 90;

export interface StateBucketProps {
  /**
   * The archive key. The state is not secret beyond what the archive already holds (hashes of archive
   * objects, what verify prints), and the function uses the key through S3 anyway; what protects the
   * state is integrity, and that is the bucket policy of `reserveStateBucket`, not the key.
   */
  readonly archiveKey: IKey;
  /** Destination of the bucket's server access logs. */
  readonly accessLogBucket: IBucket;
  /** Prefix of its server access logs there, e.g. `checkpoint-state/`. */
  readonly accessLogPrefix: string;
}

/** The bucket, as construct `StateBucket` of `scope`. Its policy comes with `reserveStateBucket`. */
export function stateBucket(scope: Construct, props: StateBucketProps): Bucket {
  return new Bucket(scope, "StateBucket", {
    versioned: true,
    encryption: BucketEncryption.KMS,
    encryptionKey: props.archiveKey,
    bucketKeyEnabled: true,
    enforceSSL: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    serverAccessLogsBucket: props.accessLogBucket,
    serverAccessLogsPrefix: props.accessLogPrefix,
    // Retained, and never emptied by a custom resource (no autoDeleteObjects), so CloudFormation never
    // needs to delete objects here: the deletion deny cannot lock it out of anything it does.
    removalPolicy: RemovalPolicy.RETAIN,
    lifecycleRules: [
      {
        id: "ExpireReplacedStateVersions",
        // Every save replaces the state: without this, versions accumulate with every run. Only replaced
        // versions expire: current objects (the verifier's reports among them) are kept.
        noncurrentVersionExpiration: Duration.days(STATE_NONCURRENT_DAYS),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
    ],
  });
}

/** The statement ids of the two denies (each bucket keeps its own). */
export interface StateBucketSids {
  readonly denyWrites: string;
  readonly denyDeletion: string;
}

/**
 * Only `role` may put to `bucket`, whatever IAM policies say, and nobody may delete there: a deleted or
 * hidden state would make its function start over. Replaced versions expire by the lifecycle rule,
 * which S3 applies itself.
 */
export function reserveStateBucket(bucket: Bucket, role: IRole, sids: StateBucketSids): void {
  bucket.addToResourcePolicy(
    new PolicyStatement({
      sid: sids.denyWrites,
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ["s3:PutObject"],
      resources: [bucket.arnForObjects("*")],
      conditions: { ArnNotEquals: { "aws:PrincipalArn": role.roleArn } },
    }),
  );
  bucket.addToResourcePolicy(
    new PolicyStatement({
      sid: sids.denyDeletion,
      effect: Effect.DENY,
      principals: [new AnyPrincipal()],
      actions: ["s3:DeleteObject", "s3:DeleteObjectVersion"],
      resources: [bucket.arnForObjects("*")],
    }),
  );
}
