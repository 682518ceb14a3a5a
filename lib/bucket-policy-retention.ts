/**
 * A bucket policy lives exactly as long as its bucket: it gets the bucket's DeletionPolicy and
 * UpdateReplacePolicy. Without this a retained bucket loses its policy on `cdk destroy` (aws-cdk-lib
 * creates BucketPolicy resources with the default Delete), and the archive would survive without the
 * append-only statements that protect it.
 */
import type { IAspect } from "aws-cdk-lib";
import { Bucket, type CfnBucket, type CfnBucketPolicy } from "aws-cdk-lib/aws-s3";
import type { IConstruct } from "constructs";

export class BucketPolicyFollowsBucket implements IAspect {
  public visit(node: IConstruct): void {
    // An aspect, because a bucket's policy may be created after the bucket (every addToResourcePolicy,
    // and other buckets' server access logs, add to it).
    if (!(node instanceof Bucket) || node.policy === undefined) return;
    const bucket = node.node.defaultChild as CfnBucket;
    const policy = node.policy.node.defaultChild as CfnBucketPolicy;
    policy.cfnOptions.deletionPolicy = bucket.cfnOptions.deletionPolicy;
    policy.cfnOptions.updateReplacePolicy = bucket.cfnOptions.updateReplacePolicy;
  }
}
