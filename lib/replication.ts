/**
 * The source side of the locked replica: S3 Replication of every object of the archive bucket into a
 * `SealtrailReplica` bucket (lib/replica.ts) in another region and/or account, with a least-privilege
 * replication role and the two alarms on S3's own replication metrics (AWS/S3
 * OperationsFailedReplication and ReplicationLatency).
 */
import { Arn, ArnFormat, Duration, Stack, Token, Validations } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  Metric,
  type MetricOptions,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IKey } from "aws-cdk-lib/aws-kms";
import type { Bucket, CfnBucket } from "aws-cdk-lib/aws-s3";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";
import { wildcardFinding } from "./function";

/** Id of the one replication rule: the `RuleId` dimension of S3's replication metrics. */
export const REPLICATION_RULE_ID = "ReplicateArchive";

/** Replication latency, in minutes, that raises the latency alarm unless configured: S3 RTC's own bound. */
export const DEFAULT_REPLICATION_LATENCY_ALARM_MINUTES = 15;

/** IAM's limit on a role name. */
const MAX_ROLE_NAME = 64;
/** An S3 bucket ARN: `arn:aws:s3:::<bucket name>`. */
export const BUCKET_ARN_PATTERN = /^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** A KMS key ARN (not an alias): its region and account are the key's. */
export const KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/;
const ROLE_NAME = /^[\w+=,.@-]+$/;

/** Where and how the archive is replicated: `Sealtrail`'s `replica` prop. */
export interface SealtrailReplicaDestination {
  /**
   * ARN of the replica bucket (`arn:aws:s3:::<name>`): the replica stack's `ReplicaBucketArn` output.
   * It must be Object Lock COMPLIANCE and versioned, and admit this stack's replication role, as
   * `SealtrailReplica` does.
   */
  readonly bucketArn: string;
  /**
   * ARN of the replica bucket's KMS key (`arn:aws:kms:<region>:<account>:key/<id>`, not an alias): the
   * replica stack's `ReplicaKeyArn` output. Its region and account are the replica's.
   */
  readonly keyArn: string;
  /**
   * S3 Replication Time Control: 99.99% of objects replicated within 15 minutes, with S3's 15-minute
   * event threshold; billed per GB on top of replication.
   * @default false - replication without a time guarantee (S3's replication metrics still on)
   */
  readonly timeControl?: boolean;
  /**
   * Replication latency, in minutes, that raises the latency alarm when exceeded for 15 minutes.
   * @default 15
   */
  readonly latencyAlarmMinutes?: number;
  /**
   * Name of the replication role, which the replica's policies admit (give the replica stack its ARN,
   * `arn:aws:iam::<this account>:role/<name>`, before this stack exists).
   * @default "<stack name>-replication"
   */
  readonly roleName?: string;
}

/** The role name a stack's replication role gets unless `roleName` is given. */
export function defaultReplicationRoleName(stackName: string): string {
  return `${stackName}-replication`;
}

/** Every problem of a `replica` prop, each naming the field and the fix; skips unresolved Tokens. */
export function replicaDestinationProblems(
  replica: SealtrailReplicaDestination | undefined,
  stackName: string,
): string[] {
  if (replica === undefined) return [];
  const problems: string[] = [];
  const known = (value: unknown) => value !== undefined && !Token.isUnresolved(value);
  if (known(replica.bucketArn) && !BUCKET_ARN_PATTERN.test(replica.bucketArn)) {
    problems.push(
      `replica.bucketArn must be an S3 bucket ARN, got ${JSON.stringify(replica.bucketArn)}: pass the ` +
        "replica stack's ReplicaBucketArn output, e.g. arn:aws:s3:::my-archive-replica",
    );
  }
  if (known(replica.keyArn) && !KEY_ARN_PATTERN.test(replica.keyArn)) {
    problems.push(
      `replica.keyArn must be a KMS key ARN (not an alias), got ${JSON.stringify(replica.keyArn)}: pass ` +
        "the replica stack's ReplicaKeyArn output, e.g. arn:aws:kms:eu-central-1:222222222222:key/…",
    );
  }
  const minutes = replica.latencyAlarmMinutes;
  if (known(minutes) && (!Number.isInteger(minutes) || (minutes as number) < 1)) {
    problems.push(
      `replica.latencyAlarmMinutes must be a whole number of at least 1, got ${minutes}: ` +
        `pass minutes of replication latency (default ${DEFAULT_REPLICATION_LATENCY_ALARM_MINUTES})`,
    );
  }
  const roleName = replica.roleName ?? defaultReplicationRoleName(stackName);
  if (known(roleName) && (roleName.length > MAX_ROLE_NAME || !ROLE_NAME.test(roleName))) {
    problems.push(
      `replica.roleName ${JSON.stringify(roleName)} is not a valid IAM role name (at most ${MAX_ROLE_NAME} ` +
        "letters, digits and +=,.@_-)" +
        (replica.roleName === undefined ? ": the stack name is too long for the default, pass roleName" : ""),
    );
  }
  return problems;
}

export interface ArchiveReplicationProps {
  /** The archive bucket, the replication source. */
  readonly bucket: Bucket;
  /** The archive bucket's key: the replication role decrypts with it, through S3 only. */
  readonly key: IKey;
  readonly destination: SealtrailReplicaDestination;
  /** Where the replication alarms notify. */
  readonly alarmTopic: ITopic;
}

/**
 * Replication of every object (lock metadata included, delete markers never) into the replica, its
 * role and alarms. The rule is written on the archive bucket's CloudFormation resource, because
 * aws-cdk-lib's `replicationRules` would have it create a role with s3:ReplicateDelete and, on the
 * destination, s3:PutBucketVersioning, which an append-only archive's replication never needs.
 */
export class ArchiveReplication extends Construct {
  /** Assumed by S3: reads the archive's versions, decrypts them, and replicates into the replica only. */
  public readonly role: Role;
  /** AWS/S3 OperationsFailedReplication ≥ 1 in 5 minutes, and ReplicationLatency above the bound. */
  public readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: ArchiveReplicationProps) {
    super(scope, id);
    const { bucket, destination } = props;
    const stack = Stack.of(this);
    const replicaKey = Arn.split(destination.keyArn, ArnFormat.SLASH_RESOURCE_NAME);
    const replicaBucketName = Arn.split(destination.bucketArn, ArnFormat.NO_RESOURCE_NAME).resource;
    const s3In = (region: string) => `s3.${region}.${stack.urlSuffix}`;

    this.role = new Role(this, "Role", {
      roleName: destination.roleName ?? defaultReplicationRoleName(stack.stackName),
      assumedBy: new ServicePrincipal("s3.amazonaws.com"),
      description: "sealtrail: S3 Replication of the archive into its locked replica",
    });
    const allow = (sid: string, actions: string[], resources: string[], conditions?: object) =>
      this.role.addToPolicy(
        new PolicyStatement({
          sid,
          actions,
          resources,
          conditions: conditions as Record<string, unknown> | undefined,
        }),
      );
    allow(
      "ReadReplicationConfiguration",
      ["s3:GetReplicationConfiguration", "s3:ListBucket"],
      [bucket.bucketArn],
    );
    // The version's bytes, ACL and tags, and its retention and legal hold: replicas keep their lock.
    allow(
      "ReadArchiveVersionsForReplication",
      [
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionTagging",
        "s3:GetObjectRetention",
        "s3:GetObjectLegalHold",
      ],
      [bucket.arnForObjects("*")],
    );
    allow("ReadReplicaVersioning", ["s3:GetBucketVersioning"], [destination.bucketArn]);
    allow("ReplicateIntoReplica", ["s3:ReplicateObject", "s3:ReplicateTags"], [`${destination.bucketArn}/*`]);
    allow("DecryptArchiveThroughS3", ["kms:Decrypt"], [props.key.keyArn], {
      StringEquals: { "kms:ViaService": s3In(stack.region) },
    });
    allow("EncryptReplicasThroughS3", ["kms:Encrypt", "kms:GenerateDataKey"], [destination.keyArn], {
      StringEquals: { "kms:ViaService": s3In(replicaKey.region as string) },
    });
    for (const objects of [bucket.arnForObjects("*"), `${destination.bucketArn}/*`]) {
      Validations.of(this.role).acknowledge({
        id: wildcardFinding(this, objects),
        reason:
          "Replication copies every object version of the archive, whose keys are content-addressed or " +
          "sequence-numbered and not known in advance; the wildcard covers the objects of one bucket only.",
      });
    }

    const cfnBucket = bucket.node.defaultChild as CfnBucket;
    cfnBucket.replicationConfiguration = {
      role: this.role.roleArn,
      rules: [
        {
          id: REPLICATION_RULE_ID,
          status: "Enabled",
          priority: 0,
          // Every object: data objects, chain links and checkpoints.
          filter: { prefix: "" },
          // The archive never has a delete marker; one that appears must not hide a replica's object.
          deleteMarkerReplication: { status: "Disabled" },
          // Every archive object is SSE-KMS: without this S3 would replicate none of them.
          sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
          destination: {
            bucket: destination.bucketArn,
            encryptionConfiguration: { replicaKmsKeyId: destination.keyArn },
            // S3 publishes the replication metrics the alarms watch only with this on.
            metrics: destination.timeControl
              ? { status: "Enabled", eventThreshold: { minutes: 15 } }
              : { status: "Enabled" },
            ...(destination.timeControl
              ? { replicationTime: { status: "Enabled", time: { minutes: 15 } } }
              : {}),
          },
        },
      ],
    };

    const metric = (metricName: string, options: MetricOptions) =>
      new Metric({
        namespace: "AWS/S3",
        metricName,
        dimensionsMap: {
          SourceBucket: bucket.bucketName,
          DestinationBucket: replicaBucketName,
          RuleId: REPLICATION_RULE_ID,
        },
        period: Duration.minutes(5),
        ...options,
      });
    const latencyMinutes = destination.latencyAlarmMinutes ?? DEFAULT_REPLICATION_LATENCY_ALARM_MINUTES;
    const failed = new Alarm(this, "FailedAlarm", {
      metric: metric("OperationsFailedReplication", { statistic: "Sum" }),
      alarmDescription:
        "sealtrail replication FAILED for archive objects: the replica is missing them. Check the replica " +
        "bucket's policy and key policy admit the replication role, then compare with sealtrail verify --compare",
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No replication, no data point: nothing failed.
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const latency = new Alarm(this, "LatencyAlarm", {
      metric: metric("ReplicationLatency", { statistic: "Maximum" }),
      alarmDescription:
        `sealtrail replication is late: objects took more than ${latencyMinutes} minutes to reach the ` +
        "replica for 15 minutes; the replica lags the archive (see docs/operations.md, Replica)",
      threshold: latencyMinutes * 60,
      evaluationPeriods: 3,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [failed, latency]) alarm.addAlarmAction(new SnsAction(props.alarmTopic));
    this.alarms = [failed, latency];
  }
}
