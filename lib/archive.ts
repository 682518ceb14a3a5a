/**
 * The archive of DESIGN.md ("Stored formats"): its KMS key (or the caller's), the Object-Locked archive
 * bucket with its append-only policy, the bucket its server access logs go to, and the DynamoDB index
 * table, plus the grant that gives a function the write path's access AND names the bucket and table in
 * its environment, so the variables lambda/runtime/config.ts reads and the permissions cannot drift apart.
 */
import { RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { type IKey, Key } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import type { Bucket } from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { GLOBAL_INDEXES, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from "../lambda/core/index-table";
import { CHAINS_PREFIX, EVENTS_PREFIX } from "../lambda/core/paths";
import { ENV } from "../lambda/runtime/config";
import { accessLogBucket, lockedArchiveBucket } from "./archive-bucket";
import { ownRole, wildcardFinding } from "./function";

export interface SealtrailArchiveProps {
  /** Default Object Lock COMPLIANCE retention of every object, in days. */
  readonly retentionDays: number;
  /**
   * Encrypts the archive bucket, the index table and the signer's and verifier's state buckets. Its key
   * policy is the caller's: every sealtrail role is granted its use in IAM, so the key policy must let
   * the account's IAM policies grant it (the default key policy does).
   * @default - a new customer managed key with rotation, retained
   */
  readonly key?: IKey;
  /**
   * Days of the table's point-in-time recovery window: with privacy on, the erasure horizon, since
   * the data keys live in this table and a destroyed one stays restorable this long.
   * @default - DynamoDB's default, 35 days
   */
  readonly recoveryPeriodDays?: number;
}

/** What a function may do with the archive: append (ingest, query) or only read (reindex). */
export interface WritePathAccess {
  readonly write: boolean;
}

/**
 * The key, the archive bucket, its access-log bucket and the index table.
 *
 * A part of `Sealtrail`, not a construct of its own: it builds in the scope it is given, under the
 * construct IDs (and so the CloudFormation logical IDs) deployed stacks already have. A construct
 * between them would move the retained bucket, table and key to new logical IDs, which CloudFormation
 * treats as new resources.
 */
export class SealtrailArchive {
  /** Customer managed key of the archive bucket and the index table (the caller's, if given). */
  public readonly key: IKey;
  /** The archive: Object Lock COMPLIANCE, versioned, SSE-KMS, append-only by bucket policy. */
  public readonly bucket: Bucket;
  /** Destination of the archive bucket's server access logs (SSE-S3: log delivery cannot use SSE-KMS). */
  public readonly accessLogBucket: Bucket;
  /** The index table, built from lambda/core/index-table.ts. */
  public readonly table: Table;

  constructor(
    private readonly scope: Construct,
    props: SealtrailArchiveProps,
  ) {
    this.key =
      props.key ??
      new Key(scope, "ArchiveKey", {
        description: "sealtrail: archive bucket and index table",
        enableKeyRotation: true,
        removalPolicy: RemovalPolicy.RETAIN,
      });

    this.accessLogBucket = accessLogBucket(scope);
    // Not itself logged: cdk-nag's AwsSolutions-S1 recognizes it as the archive bucket's log destination.

    this.bucket = lockedArchiveBucket(scope, "ArchiveBucket", {
      retentionDays: props.retentionDays,
      encryptionKey: this.key,
      accessLogBucket: this.accessLogBucket,
      accessLogPrefix: "archive/",
    });

    this.table = new Table(scope, "IndexTable", {
      partitionKey: { name: PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: SORT_KEY, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: true,
        ...(props.recoveryPeriodDays !== undefined ? { recoveryPeriodInDays: props.recoveryPeriodDays } : {}),
      },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const gsi of Object.values(GLOBAL_INDEXES)) {
      this.table.addGlobalSecondaryIndex({
        indexName: gsi.indexName,
        partitionKey: { name: gsi.partitionKey, type: AttributeType.STRING },
        sortKey: { name: gsi.sortKey, type: AttributeType.STRING },
        // The query path reads whole pointer items from the index.
        projectionType: ProjectionType.ALL,
      });
    }
  }

  /**
   * Gives `fn` the write path's access (lambda/ingest: append to or read events/ and chains/, the index
   * items, the key through S3 and DynamoDB) and sets SEALTRAIL_BUCKET and SEALTRAIL_TABLE (`ENV`) to
   * this archive, in one call.
   *
   * Explicit least-privilege statements instead of grantReadWrite (which includes s3:DeleteObject*):
   * no function may delete, change retention or legal hold, bypass governance, or write checkpoints/.
   */
  public bindWritePath(fn: NodejsFunction, access: WritePathAccess): void {
    fn.addEnvironment(ENV.bucket, this.bucket.bucketName);
    fn.addEnvironment(ENV.table, this.table.tableName);

    const role = ownRole(fn);
    const readablePrefixes = [EVENTS_PREFIX, CHAINS_PREFIX];
    const prefixArns = readablePrefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`));

    if (access.write) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: "AppendDataObjectsAndChainLinks",
          actions: ["s3:PutObject"],
          resources: prefixArns,
        }),
      );
    }
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadDataObjectsAndChainLinks",
        actions: ["s3:GetObject"],
        resources: prefixArns,
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ListChainLinks",
        actions: ["s3:ListBucket"],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": [`${CHAINS_PREFIX}*`] } },
      }),
    );
    const { region, urlSuffix } = Stack.of(this.scope);
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "UseArchiveKeyThroughS3AndDynamoDB",
        // S3 SSE-KMS needs GenerateDataKey (put) and Decrypt (get); DynamoDB with a customer managed key
        // calls KMS with the caller's permissions for Encrypt/Decrypt/GenerateDataKey.
        actions: ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: {
            "kms:ViaService": [`s3.${region}.${urlSuffix}`, `dynamodb.${region}.${urlSuffix}`],
          },
        },
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: "ReadWriteIndexItems",
        // No DeleteItem and no table administration. BatchWriteItem is one IAM action for puts and
        // deletes alike; the index is a rebuildable cache of the archive, which stays the truth.
        // BatchGetItem: the lease store reads every chain's lease in one request.
        actions: [
          "dynamodb:GetItem",
          "dynamodb:BatchGetItem",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
          "dynamodb:BatchWriteItem",
          "dynamodb:Query",
          "dynamodb:ConditionCheckItem",
        ],
        resources: [this.table.tableArn, `${this.table.tableArn}/index/*`],
      }),
    );

    for (const arn of prefixArns) {
      Validations.of(role).acknowledge({
        id: wildcardFinding(this.scope, arn),
        reason:
          "Objects under this prefix are content-addressed or sequence-numbered, so their keys are not " +
          "known in advance; the wildcard is limited to the one prefix the function reads or appends to.",
      });
    }
    Validations.of(role).acknowledge({
      id: wildcardFinding(this.scope, `${this.table.tableArn}/index/*`),
      reason:
        "Queries go through the index table's global secondary indexes (one per searched attribute); " +
        "the wildcard covers only the indexes of this one table.",
    });
  }
}
