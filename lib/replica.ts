/**
 * The locked replica of an archive, for another region and/or account: `SealtrailReplica` creates the
 * destination bucket (Object Lock COMPLIANCE, versioned, SSE-KMS under its own key, the archive's
 * append-only policy), its access-log bucket and the statements that admit the source's replication
 * role; `SealtrailReplicaStack` is the small stack the app deploys there. The source side (the
 * `replica` prop of `Sealtrail`, lib/replication.ts) takes this bucket's and key's ARNs.
 * docs/operations.md, "Replica", has the steps.
 */
import {
  Arn,
  ArnFormat,
  Aspects,
  CfnOutput,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
} from "aws-cdk-lib";
import { AccountPrincipal, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { Bucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { DEFAULT_RETENTION_DAYS } from "../lambda/core/object-lock";
import { accessLogBucket, lockedArchiveBucket } from "./archive-bucket";
import { BucketPolicyFollowsBucket } from "./bucket-policy-retention";
import { MAX_RETENTION_DAYS } from "./sealtrail";

/** An IAM role ARN: the account is what the replica admits, the whole ARN whom. */
export const ROLE_ARN_PATTERN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

export interface SealtrailReplicaProps {
  /**
   * ARN of the source archive's replication role: the source stack's `ReplicationRoleArn` output, which
   * is `arn:aws:iam::<source account>:role/<source stack name>-replication` unless `replica.roleName`
   * names it otherwise. The role need not exist yet: the replica admits it by condition
   * (aws:PrincipalArn), so the replica can be deployed first.
   */
  readonly sourceReplicationRoleArn: string;

  /**
   * Default Object Lock COMPLIANCE retention of the replica, in days: at least the source's
   * `retentionDays`. Replicas keep the retention of their source object; this default covers the rest.
   * A whole number from 1 to 36500, known at synthesis.
   * @default 2555 (7 years, DEFAULT_RETENTION_DAYS, as the source's default)
   */
  readonly retentionDays?: number;
}

/**
 * The destination of an archive's S3 Replication: as locked as the source, and writable only by the
 * source's replication role, only by replication (s3:ReplicateObject), never by a delete.
 */
export class SealtrailReplica extends Construct {
  /** Encrypts every replica (SSE-KMS with S3 Bucket Keys); the source's role may only encrypt with it. */
  public readonly key: Key;
  /** The replica: Object Lock COMPLIANCE, versioned, SSE-KMS, the archive's append-only policy. */
  public readonly bucket: Bucket;
  /** Destination of the replica bucket's server access logs (SSE-S3: log delivery cannot use SSE-KMS). */
  public readonly accessLogBucket: Bucket;

  constructor(scope: Construct, id: string, props: SealtrailReplicaProps) {
    super(scope, id);
    validateReplicaProps(props);
    Aspects.of(this).add(new BucketPolicyFollowsBucket());
    const retentionDays = props.retentionDays ?? DEFAULT_RETENTION_DAYS;
    const stack = Stack.of(this);
    const sourceAccount = Arn.split(props.sourceReplicationRoleArn, ArnFormat.SLASH_RESOURCE_NAME).account;
    // Admitted by condition, not as a principal: S3 and KMS refuse a policy that names a role that does
    // not exist yet, and the source's role is created after the replica (its rule names this bucket).
    const sourceRoleOnly = { ArnEquals: { "aws:PrincipalArn": props.sourceReplicationRoleArn } };

    this.key = new Key(this, "ReplicaKey", {
      description: "sealtrail: archive replica bucket",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: "AllowSourceReplicationToEncryptReplicas",
        principals: [new AccountPrincipal(sourceAccount)],
        actions: ["kms:Encrypt", "kms:GenerateDataKey"],
        resources: ["*"],
        conditions: {
          ...sourceRoleOnly,
          StringEquals: { "kms:ViaService": `s3.${stack.region}.${stack.urlSuffix}` },
        },
      }),
    );

    this.accessLogBucket = accessLogBucket(this);
    this.bucket = lockedArchiveBucket(this, "ReplicaBucket", {
      retentionDays,
      encryptionKey: this.key,
      accessLogBucket: this.accessLogBucket,
      accessLogPrefix: "replica/",
    });
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: "AllowSourceReplicationToReplicate",
        principals: [new AccountPrincipal(sourceAccount)],
        // Objects with their lock metadata, and their tags; not s3:ReplicateDelete (denied above).
        actions: ["s3:ReplicateObject", "s3:ReplicateTags"],
        resources: [this.bucket.arnForObjects("*")],
        conditions: sourceRoleOnly,
      }),
    );
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: "AllowSourceReplicationToReadVersioning",
        principals: [new AccountPrincipal(sourceAccount)],
        // S3 checks that the destination is versioned; nothing more (no s3:PutBucketVersioning).
        actions: ["s3:GetBucketVersioning"],
        resources: [this.bucket.bucketArn],
        conditions: sourceRoleOnly,
      }),
    );
  }
}

/** Checks every prop, skipping unresolved Tokens, and reports all problems at once. */
function validateReplicaProps(props: SealtrailReplicaProps): void {
  const problems: string[] = [];
  const roleArn = props.sourceReplicationRoleArn;
  if (!Token.isUnresolved(roleArn) && !ROLE_ARN_PATTERN.test(roleArn ?? "")) {
    problems.push(
      `sourceReplicationRoleArn must be an IAM role ARN, got ${JSON.stringify(roleArn)}: pass the source ` +
        "stack's ReplicationRoleArn output, e.g. arn:aws:iam::111111111111:role/Sealtrail-replication",
    );
  }
  const days = props.retentionDays;
  if (days !== undefined && Token.isUnresolved(days)) {
    problems.push("retentionDays must be a plain number, not a Token: pass the number of days itself");
  } else if (days !== undefined && (!Number.isInteger(days) || days < 1 || days > MAX_RETENTION_DAYS)) {
    problems.push(
      `retentionDays must be a whole number from 1 to ${MAX_RETENTION_DAYS}, got ${days}: pass at least ` +
        "the source archive's retentionDays",
    );
  }
  if (problems.length > 0) throw new Error(`Invalid SealtrailReplica props:\n- ${problems.join("\n- ")}`);
}

/** Stack props: the usual StackProps plus the replica's. */
export interface SealtrailReplicaStackProps extends StackProps, SealtrailReplicaProps {}

/**
 * The stack deployed in the replica's account and region: one `SealtrailReplica` and the outputs the
 * source side takes (ReplicaBucketArn, ReplicaKeyArn) plus ReplicaBucketName for `sealtrail verify`.
 */
export class SealtrailReplicaStack extends Stack {
  public readonly replica: SealtrailReplica;

  constructor(scope: Construct, id: string, props: SealtrailReplicaStackProps) {
    super(scope, id, props);
    this.replica = new SealtrailReplica(this, "Replica", {
      sourceReplicationRoleArn: props.sourceReplicationRoleArn,
      retentionDays: props.retentionDays,
    });
    new CfnOutput(this, "ReplicaBucketArn", {
      value: this.replica.bucket.bucketArn,
      description: "Replica bucket: the source's -c replicaBucketArn",
    });
    new CfnOutput(this, "ReplicaKeyArn", {
      value: this.replica.key.keyArn,
      description: "KMS key of the replica bucket: the source's -c replicaKeyArn",
    });
    new CfnOutput(this, "ReplicaBucketName", {
      value: this.replica.bucket.bucketName,
      description: "Replica bucket name, for sealtrail verify --bucket and --compare",
    });
  }
}
